/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "macro.h"
#include "sample-values.h"

struct walk {
        struct sample_values *out;
        char path[STORE_METRIC_MAX + 1];
        size_t len;
};

static void emit(struct walk *w, double v) {
        struct sample_values *o = w->out;

        if (o->n >= STORE_VALUES_MAX || !isfinite(v) || o->names_used + w->len + 1 > sizeof(o->names)) {
                o->skipped++;
                return;
        }
        memcpy(o->names + o->names_used, w->path, w->len + 1);
        o->v[o->n++] = (struct store_value){ .path = o->names + o->names_used, .value = v };
        o->names_used += w->len + 1;
}

/* Append ".component" (n bytes, no dot at the start), escaping '.' and '\'.
 * Returns false, leaving the path as it was, when it would be too long. */
static bool push(struct walk *w, const char *component, size_t n) {
        const char *dot = memchr(component, '.', n), *backslash = memchr(component, '\\', n);
        size_t len = w->len, escapes = 0, plain = n; /* the bytes before the first to escape */

        /* An empty key names nothing a query could ask for. */
        if (n == 0)
                return false;
        if (dot)
                plain = (size_t) (dot - component);
        if (backslash && (size_t) (backslash - component) < plain)
                plain = (size_t) (backslash - component);
        for (size_t i = plain; i < n; i++)
                escapes += component[i] == '.' || component[i] == '\\';
        if (len + (len > 0) + n + escapes > STORE_METRIC_MAX)
                return false;
        if (len > 0)
                w->path[len++] = '.';
        memcpy(w->path + len, component, plain);
        len += plain;
        for (size_t i = plain; i < n; i++) {
                if (component[i] == '.' || component[i] == '\\')
                        w->path[len++] = '\\';
                w->path[len++] = component[i];
        }
        w->path[len] = 0;
        w->len = len;
        return true;
}

/* Append an array's index i. */
static bool push_index(struct walk *w, size_t i) {
        char digits[24];
        size_t n = sizeof digits;

        do
                digits[--n] = (char) ('0' + i % 10);
        while (i /= 10);
        return push(w, digits + n, sizeof digits - n);
}

static void pop(struct walk *w, size_t len) {
        w->len = len;
        w->path[len] = 0;
}

/* Values a subtree would have produced, for counting what a bound cut off. */
static size_t count_numbers(const cJSON *j) {
        size_t n = 0;

        if (cJSON_IsNumber(j))
                return 1;
        if (cJSON_IsObject(j) || cJSON_IsArray(j))
                for (const cJSON *c = j->child; c; c = c->next)
                        n += count_numbers(c);
        return n;
}

static bool earlier_sibling_named(const cJSON *obj, const cJSON *item) {
        for (const cJSON *c = obj->child; c && c != item; c = c->next)
                if (c->string && item->string && streq(c->string, item->string))
                        return true;
        return false;
}

static void walk_value(struct walk *w, const cJSON *j, unsigned depth);

static void walk_children(struct walk *w, const cJSON *j, unsigned depth) {
        if (cJSON_IsObject(j)) {
                for (const cJSON *c = j->child; c; c = c->next) {
                        size_t saved = w->len;

                        if (!c->string || earlier_sibling_named(j, c))
                                continue;
                        if (!push(w, c->string, strlen(c->string))) {
                                w->out->skipped += count_numbers(c);
                                continue;
                        }
                        walk_value(w, c, depth);
                        pop(w, saved);
                }
                return;
        }

        /* An array: only an array of numbers is a set of series. */
        for (const cJSON *c = j->child; c; c = c->next)
                if (!cJSON_IsNumber(c))
                        return;
        size_t i = 0;
        for (const cJSON *c = j->child; c; c = c->next, i++) {
                size_t saved = w->len;

                if (!push_index(w, i)) {
                        w->out->skipped++;
                        continue;
                }
                emit(w, c->valuedouble);
                pop(w, saved);
        }
}

static void walk_value(struct walk *w, const cJSON *j, unsigned depth) {
        if (cJSON_IsNumber(j)) {
                emit(w, j->valuedouble);
                return;
        }
        if (!cJSON_IsObject(j) && !cJSON_IsArray(j))
                return;
        if (depth >= SAMPLE_VALUES_DEPTH_MAX) {
                w->out->skipped += count_numbers(j);
                return;
        }
        walk_children(w, j, depth + 1);
}

/* A record of the collection server's client API (docs/fleet.md, "Flask
 * system-monitor API"): the three figures its reports carry, under the names
 * the report uses ("cpu", "mem", "storage"); its clients post "cpu_load",
 * which stands for "cpu" when that is not a number. */
static const char *const client_fields[] = { "cpu", "cpu_load", "mem", "storage" };

/* figures[i]: the first member named client_fields[i]. */
static void name_client_record(struct walk *w, const struct json_member figures[static ELEMENTSOF(client_fields)]) {
        for (size_t i = 0; i < ELEMENTSOF(client_fields); i++) {
                const struct json_member *m = i == 0 && figures[0].kind != JSON_NUMBER ? &figures[1] : &figures[i];

                if (i == 1 || m->kind != JSON_NUMBER)
                        continue;
                push(w, client_fields[i], strlen(client_fields[i]));
                emit(w, m->number);
                pop(w, 0);
        }
}

void json_member_of(const cJSON *object, const char *name, struct json_member *ret) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

        if (!item)
                *ret = (struct json_member){ .kind = JSON_ABSENT };
        else if (cJSON_IsString(item))
                *ret = (struct json_member){ .kind = JSON_STRING, .string = item->valuestring };
        else if (cJSON_IsNumber(item))
                *ret = (struct json_member){ .kind = JSON_NUMBER, .number = item->valuedouble };
        else
                *ret = (struct json_member){ .kind = JSON_OTHER };
}

int sample_values_flatten(const cJSON *sample, struct sample_values *out) {
        const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(sample, "metrics"),
                    *stats = cJSON_GetObjectItemCaseSensitive(sample, "stats");
        struct json_member figures[ELEMENTSOF(client_fields)];
        struct walk w = { .out = out };

        out->n = out->skipped = out->names_used = 0;
        out->root = SAMPLE_ROOT_CLIENT;
        if (!cJSON_IsObject(sample))
                return -EINVAL;
        if (cJSON_IsObject(metrics)) {
                out->root = SAMPLE_ROOT_METRICS;
                walk_children(&w, metrics, 1);
        } else if (cJSON_IsObject(stats)) {
                out->root = SAMPLE_ROOT_STATS;
                walk_children(&w, stats, 1);
        } else {
                for (size_t i = 0; i < ELEMENTSOF(client_fields); i++)
                        json_member_of(sample, client_fields[i], &figures[i]);
                name_client_record(&w, figures);
        }
        return (int) out->n;
}

/* ---- one pass, without a tree -------------------------------------------- */

/* A container at this nesting (the sample's object is 0) would be cut by
 * SAMPLE_VALUES_DEPTH_MAX if it held values: such a sample goes to cJSON. */
#define SCAN_LEVEL_MAX (SAMPLE_VALUES_DEPTH_MAX + 1)
/* The keys of the open objects being named, to find a key seen twice. */
#define SCAN_KEYS_MAX 8192

enum scan_mode {
        SCAN_SKIP,  /* only check it */
        SCAN_COUNT, /* and count its numbers as skipped, as count_numbers() */
        SCAN_NAME,  /* and name its values, as walk_value() */
};

struct scan {
        struct walk w;
        const char *p, *end;
        char keys[SCAN_KEYS_MAX]; /* one after the other: length, bytes, NUL */
        size_t keys_used;
};

static int scan_value(struct scan *s, enum scan_mode mode, unsigned level);

static bool at(const struct scan *s, char c) {
        return s->p < s->end && *s->p == c;
}

static bool digit_at(const struct scan *s) {
        return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

static void scan_blank(struct scan *s) {
        while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
                s->p++;
}

/* The bytes that end a run of a string's plain bytes. */
static const bool string_stop[256] = { [0 ... 0x1f] = true, ['"'] = true, ['\\'] = true };

/* The string at s->p, decoded into dec (size cap, with a NUL) unless dec is
 * NULL. Returns its decoded length. */
static ssize_t scan_string(struct scan *s, char *dec, size_t cap) {
        size_t n = 0;

        if (dec && cap == 0)
                return -EAGAIN;
        for (s->p++;;) {
                const char *run = s->p;
                unsigned char c;

                /* Most bytes stand for themselves: take them as a run. */
                while (s->p < s->end && !string_stop[(unsigned char) *s->p])
                        s->p++;
                if (dec) {
                        if (n + (size_t) (s->p - run) >= cap)
                                return -EAGAIN;
                        memcpy(dec + n, run, (size_t) (s->p - run));
                }
                n += (size_t) (s->p - run);
                if (s->p >= s->end)
                        return -EAGAIN;
                c = (unsigned char) *s->p++;
                if (c == '"')
                        break;
                if (c < 0x20)
                        return -EAGAIN;

                /* A backslash. */
                static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
                const char *e = s->p < s->end && *s->p ? strchr(from, *s->p) : NULL;

                /* \u, and what cJSON refuses. */
                if (!e)
                        return -EAGAIN;
                s->p++;
                if (dec) {
                        if (n + 1 >= cap)
                                return -EAGAIN;
                        dec[n] = to[e - from];
                }
                n++;
        }
        if (dec)
                dec[n] = '\0';
        return (ssize_t) n;
}

static bool number_char(char c) {
        return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'e' || c == 'E' || c == '.';
}

/* A number as JSON spells it, read as cJSON reads it: strtod() of the same
 * characters, of which it takes at most 63. Up to 15 digits and no
 * exponent, the digits divided by a power of ten give the same double,
 * rounded once, for a tenth of the cost. */
static int scan_number(struct scan *s, double *ret) {
        static const double pow10[] = { 1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
        const char *start = s->p;
        uint64_t m = 0;
        unsigned digits = 0, frac = 0;
        bool exponent = false;
        char copy[64];

        if (at(s, '-'))
                s->p++;
        if (!digit_at(s))
                return -EAGAIN;
        if (at(s, '0')) {
                s->p++;
                digits++;
        } else
                for (; digit_at(s); s->p++, digits++)
                        m = m * 10 + (uint64_t) (*s->p - '0');
        if (at(s, '.')) {
                s->p++;
                if (!digit_at(s))
                        return -EAGAIN;
                for (; digit_at(s); s->p++, digits++, frac++)
                        m = m * 10 + (uint64_t) (*s->p - '0');
        }
        if (at(s, 'e') || at(s, 'E')) {
                exponent = true;
                s->p++;
                if (at(s, '+') || at(s, '-'))
                        s->p++;
                if (!digit_at(s))
                        return -EAGAIN;
                while (digit_at(s))
                        s->p++;
        }
        if ((s->p < s->end && number_char(*s->p)) || s->p - start >= (ptrdiff_t) sizeof copy)
                return -EAGAIN;
        if (!exponent && digits <= 15) {
                double v = (double) m / pow10[frac];

                *ret = *start == '-' ? -v : v;
                return 0;
        }
        memcpy(copy, start, (size_t) (s->p - start));
        copy[s->p - start] = '\0';
        *ret = strtod(copy, NULL);
        return 0;
}

static int scan_literal(struct scan *s) {
        static const char *const literals[] = { "true", "false", "null" };

        for (size_t i = 0; i < ELEMENTSOF(literals); i++) {
                size_t n = strlen(literals[i]);

                if ((size_t) (s->end - s->p) >= n && memcmp(s->p, literals[i], n) == 0) {
                        s->p += n;
                        return 0;
                }
        }
        return -EAGAIN;
}

/* After a member or an element: on to the next (true), or past the end. */
static int scan_next(struct scan *s, char close, bool *more) {
        scan_blank(s);
        if (at(s, ',')) {
                s->p++;
                scan_blank(s);
                *more = true;
                return 0;
        }
        if (!at(s, close))
                return -EAGAIN;
        s->p++;
        *more = false;
        return 0;
}

/* Whether the keys kept from from to to (each its length in a byte, then
 * itself and a NUL) hold key (n bytes). */
static bool named_before(const char *from, const char *to, const char *key, size_t n) {
        for (const char *k = from; k < to; k += 2 + (unsigned char) k[0])
                if ((unsigned char) k[0] == n && memcmp(k + 1, key, n) == 0)
                        return true;
        return false;
}

/* Past a container's opening bracket, and past its closing one too when it
 * is empty (*more false). */
static int scan_open(struct scan *s, unsigned level, char close, bool *more) {
        if (level >= SCAN_LEVEL_MAX)
                return -EAGAIN;
        s->p++;
        scan_blank(s);
        *more = !at(s, close);
        if (!*more)
                s->p++;
        return 0;
}

/* A member's name, decoded into dec unless it is NULL, and the ':' after it.
 * Returns the name's length. */
static ssize_t scan_key(struct scan *s, char *dec, size_t cap) {
        ssize_t n;

        if (!at(s, '"'))
                return -EAGAIN;
        n = scan_string(s, dec, cap);
        if (n < 0)
                return n;
        scan_blank(s);
        if (!at(s, ':'))
                return -EAGAIN;
        s->p++;
        scan_blank(s);
        return n;
}

/* The size a kept key may take, its NUL included, after its length byte. */
static size_t key_room(const struct scan *s) {
        size_t room = sizeof s->keys - s->keys_used;

        if (room <= 1)
                return 0;
        return room - 1 < STORE_METRIC_MAX + 1 ? room - 1 : STORE_METRIC_MAX + 1;
}

static int scan_object(struct scan *s, enum scan_mode mode, unsigned level) {
        size_t first = s->keys_used;
        bool more;
        int r = scan_open(s, level, '}', &more);

        while (r >= 0 && more) {
                /* Kept as its length, then itself. */
                char *slot = s->keys + s->keys_used, *key = slot + 1;
                ssize_t n;

                if (mode != SCAN_NAME) {
                        n = scan_key(s, NULL, 0);
                        r = n < 0 ? (int) n : scan_value(s, mode, level + 1);
                } else if ((n = scan_key(s, key, key_room(s))) < 0)
                        r = (int) n;
                else if (named_before(s->keys + first, slot, key, (size_t) n))
                        r = scan_value(s, SCAN_SKIP, level + 1);
                else {
                        size_t saved = s->w.len;

                        slot[0] = (char) n;
                        s->keys_used += 2 + (size_t) n;
                        if (push(&s->w, key, (size_t) n)) {
                                r = scan_value(s, SCAN_NAME, level + 1);
                                pop(&s->w, saved);
                        } else
                                r = scan_value(s, SCAN_COUNT, level + 1);
                }
                if (r >= 0)
                        r = scan_next(s, '}', &more);
        }
        s->keys_used = first;
        return r;
}

/* Named only when every element is a number, as walk_children() does: what
 * the first ones named is taken back at the first that is not. */
static int scan_array(struct scan *s, enum scan_mode mode, unsigned level) {
        struct sample_values *o = s->w.out;
        size_t n = o->n, used = o->names_used, skipped = o->skipped;
        bool numbers = mode == SCAN_NAME, more;
        int r = scan_open(s, level, ']', &more);

        for (size_t i = 0; r >= 0 && more; i++) {
                if (numbers && (at(s, '-') || digit_at(s))) {
                        size_t saved = s->w.len;
                        double v;

                        r = scan_number(s, &v);
                        if (r < 0)
                                return r;
                        if (push_index(&s->w, i)) {
                                emit(&s->w, v);
                                pop(&s->w, saved);
                        } else
                                o->skipped++;
                } else {
                        if (numbers) {
                                o->n = n;
                                o->names_used = used;
                                o->skipped = skipped;
                                numbers = false;
                        }
                        r = scan_value(s, mode == SCAN_COUNT ? SCAN_COUNT : SCAN_SKIP, level + 1);
                }
                if (r >= 0)
                        r = scan_next(s, ']', &more);
        }
        return r;
}

static int scan_value(struct scan *s, enum scan_mode mode, unsigned level) {
        double v;
        int r;

        if (at(s, '{'))
                return scan_object(s, mode, level);
        if (at(s, '['))
                return scan_array(s, mode, level);
        if (at(s, '"'))
                return scan_string(s, NULL, 0) < 0 ? -EAGAIN : 0;
        if (at(s, '-') || digit_at(s)) {
                r = scan_number(s, &v);
                if (r < 0)
                        return r;
                if (mode == SCAN_NAME)
                        emit(&s->w, v);
                else if (mode == SCAN_COUNT)
                        s->w.out->skipped++;
                return 0;
        }
        return scan_literal(s);
}

/* A member the hub reads itself; buf holds its string, if it is one. */
static int scan_member(struct scan *s, struct json_member *m, char *buf, size_t size) {
        if (at(s, '"')) {
                *m = (struct json_member){ .kind = JSON_STRING, .string = buf };
                return scan_string(s, buf, size) < 0 ? -EAGAIN : 0;
        }
        if (at(s, '-') || digit_at(s)) {
                *m = (struct json_member){ .kind = JSON_NUMBER };
                return scan_number(s, &m->number);
        }
        *m = (struct json_member){ .kind = JSON_OTHER };
        return scan_value(s, SCAN_SKIP, 1);
}

/* streq(), deciding most keys on their first byte. */
static bool key_is(const char *key, const char *name) {
        return key[0] == name[0] && streq(key, name);
}

int sample_scan(const char *json, size_t len, struct sample_values *out, struct sample_scan *ret) {
        /* The members read here: the envelope's, then the client record's. */
        static const char *const envelope[] = { "stream", "seq", "timestamp" };
        struct json_member found[ELEMENTSOF(envelope) + ELEMENTSOF(client_fields)] = { 0 };
        const char *stats = NULL;
        bool metrics_seen = false, stats_seen = false, named = false, more;
        char key[STORE_METRIC_MAX + 1];
        struct scan scan, *s = &scan;
        int r = 0;

        /* Not zeroed as a whole: the keys are most of it, and written before
         * they are read. */
        s->w.out = out;
        s->w.len = 0;
        s->w.path[0] = '\0';
        s->p = json;
        s->end = json + len;
        s->keys_used = 0;
        out->n = out->skipped = out->names_used = 0;
        scan_blank(s);
        if (!at(s, '{'))
                return -EAGAIN;
        (void) scan_open(s, 0, '}', &more);
        while (more) {
                size_t k = 0;

                if (scan_key(s, key, sizeof key) < 0)
                        return -EAGAIN;
                /* The first of each name counts, as cJSON finds it. */
                if (key_is(key, "metrics") && !metrics_seen) {
                        metrics_seen = true;
                        named = at(s, '{');
                        r = scan_value(s, named ? SCAN_NAME : SCAN_SKIP, 1);
                } else if (key_is(key, "stats") && !stats_seen) {
                        stats_seen = true;
                        stats = at(s, '{') ? s->p : NULL;
                        r = scan_value(s, SCAN_SKIP, 1);
                } else {
                        while (k < ELEMENTSOF(found) &&
                               !key_is(key, k < ELEMENTSOF(envelope) ? envelope[k]
                                                                     : client_fields[k - ELEMENTSOF(envelope)]))
                                k++;
                        if (k < ELEMENTSOF(found) && found[k].kind == JSON_ABSENT)
                                /* The client record's strings are never read. */
                                r = k < ELEMENTSOF(envelope)
                                            ? scan_member(s, &found[k], ret->strings[k], sizeof ret->strings[k])
                                            : scan_member(s, &found[k], NULL, 0);
                        else
                                r = scan_value(s, SCAN_SKIP, 1);
                }
                if (r < 0 || scan_next(s, '}', &more) < 0)
                        return -EAGAIN;
        }
        scan_blank(s);
        if (s->p != s->end)
                return -EAGAIN;

        ret->stream = found[0];
        ret->seq = found[1];
        ret->timestamp = found[2];
        if (named)
                out->root = SAMPLE_ROOT_METRICS;
        else if (stats) {
                out->root = SAMPLE_ROOT_STATS;
                s->p = stats;
                r = scan_object(s, SCAN_NAME, 1);
                if (r < 0)
                        return r;
        } else {
                out->root = SAMPLE_ROOT_CLIENT;
                name_client_record(&s->w, found + ELEMENTSOF(envelope));
        }
        return (int) out->n;
}
