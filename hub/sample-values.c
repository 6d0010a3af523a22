/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Append ".component" (no dot at the start), escaping '.' and '\'. Returns
 * false, leaving the path as it was, when it would be too long. */
static bool push(struct walk *w, const char *component) {
        size_t len = w->len;

        /* An empty key names nothing a query could ask for. */
        if (!*component)
                return false;
        if (len > 0) {
                if (len + 1 > STORE_METRIC_MAX)
                        return false;
                w->path[len++] = '.';
        }
        for (const char *c = component; *c; c++) {
                if (len + (*c == '.' || *c == '\\') + 1 > STORE_METRIC_MAX) {
                        w->path[w->len] = 0;
                        return false;
                }
                if (*c == '.' || *c == '\\')
                        w->path[len++] = '\\';
                w->path[len++] = *c;
        }
        w->path[len] = 0;
        w->len = len;
        return true;
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
                        if (!push(w, c->string)) {
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
                char index[24];
                size_t saved = w->len;

                snprintf(index, sizeof(index), "%zu", i);
                if (!push(w, index)) {
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
 * the report uses ("cpu", "mem", "storage"); its clients post "cpu_load". */
static void walk_client_record(struct walk *w, const cJSON *j) {
        static const struct {
                const char *name, *alias;
        } fields[] = {
                { "cpu", "cpu_load" },
                { "mem", NULL },
                { "storage", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, fields[i].name);

                if (!cJSON_IsNumber(v) && fields[i].alias)
                        v = cJSON_GetObjectItemCaseSensitive(j, fields[i].alias);
                if (!cJSON_IsNumber(v))
                        continue;
                push(w, fields[i].name);
                emit(w, v->valuedouble);
                pop(w, 0);
        }
}

enum sample_root sample_root_of(const cJSON *sample) {
        if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(sample, "metrics")))
                return SAMPLE_ROOT_METRICS;
        if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(sample, "stats")))
                return SAMPLE_ROOT_STATS;
        return SAMPLE_ROOT_CLIENT;
}

int sample_values_flatten(const cJSON *sample, struct sample_values *out) {
        struct walk w = { .out = out };
        const cJSON *inner;

        if (!cJSON_IsObject(sample))
                return -EINVAL;
        out->n = out->skipped = out->names_used = 0;

        inner = cJSON_GetObjectItemCaseSensitive(sample, "metrics");
        if (!cJSON_IsObject(inner))
                inner = cJSON_GetObjectItemCaseSensitive(sample, "stats");
        if (cJSON_IsObject(inner))
                walk_children(&w, inner, 1);
        else
                walk_client_record(&w, sample);
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
        char keys[SCAN_KEYS_MAX]; /* NUL-terminated, one after the other */
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

/* The string at s->p, decoded into dec (size cap) unless dec is NULL. */
static int scan_string(struct scan *s, char *dec, size_t cap) {
        size_t n = 0;

        if (dec && cap == 0)
                return -EAGAIN;
        for (s->p++;;) {
                unsigned char c;

                if (s->p >= s->end)
                        return -EAGAIN;
                c = (unsigned char) *s->p++;
                if (c == '"')
                        break;
                if (c < 0x20)
                        return -EAGAIN;
                if (c == '\\') {
                        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
                        const char *e = s->p < s->end && *s->p ? strchr(from, *s->p) : NULL;

                        /* \u, and what cJSON refuses. */
                        if (!e)
                                return -EAGAIN;
                        c = (unsigned char) to[e - from];
                        s->p++;
                }
                if (dec) {
                        if (n + 1 >= cap)
                                return -EAGAIN;
                        dec[n++] = (char) c;
                }
        }
        if (dec)
                dec[n] = '\0';
        return 0;
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

static bool named_before(const char *from, const char *to, const char *key) {
        for (const char *k = from; k < to; k += strlen(k) + 1)
                if (streq(k, key))
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

static int scan_object(struct scan *s, enum scan_mode mode, unsigned level) {
        size_t first = s->keys_used;
        bool more;
        int r = scan_open(s, level, '}', &more);

        while (r >= 0 && more) {
                char *key = s->keys + s->keys_used;

                if (!at(s, '"'))
                        return -EAGAIN;
                if (mode == SCAN_NAME)
                        r = scan_string(s, key, sizeof s->keys - s->keys_used < STORE_METRIC_MAX + 1
                                                        ? sizeof s->keys - s->keys_used
                                                        : STORE_METRIC_MAX + 1);
                else
                        r = scan_string(s, NULL, 0);
                if (r < 0)
                        return r;
                scan_blank(s);
                if (!at(s, ':'))
                        return -EAGAIN;
                s->p++;
                scan_blank(s);
                if (mode != SCAN_NAME)
                        r = scan_value(s, mode, level + 1);
                else if (named_before(s->keys + first, key, key))
                        r = scan_value(s, SCAN_SKIP, level + 1);
                else {
                        size_t saved = s->w.len;

                        s->keys_used += strlen(key) + 1;
                        if (push(&s->w, key)) {
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
                        char index[24];
                        double v;

                        r = scan_number(s, &v);
                        if (r < 0)
                                return r;
                        snprintf(index, sizeof index, "%zu", i);
                        if (push(&s->w, index)) {
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
                return scan_string(s, NULL, 0);
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
                return scan_string(s, buf, size);
        }
        if (at(s, '-') || digit_at(s)) {
                *m = (struct json_member){ .kind = JSON_NUMBER };
                return scan_number(s, &m->number);
        }
        *m = (struct json_member){ .kind = JSON_OTHER };
        return scan_value(s, SCAN_SKIP, 1);
}

int sample_scan(const char *json, size_t len, struct sample_values *out, struct sample_scan *ret) {
        static const char *const members[] = { "stream", "seq", "timestamp" };
        /* walk_client_record()'s, in its order; "cpu_load" stands for "cpu". */
        static const char *const record[] = { "cpu", "cpu_load", "mem", "storage" };
        struct json_member *mine[] = { &ret->stream, &ret->seq, &ret->timestamp }, figures[ELEMENTSOF(record)] = { 0 };
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
        for (size_t k = 0; k < ELEMENTSOF(mine); k++)
                *mine[k] = (struct json_member){ .kind = JSON_ABSENT };
        scan_blank(s);
        if (!at(s, '{'))
                return -EAGAIN;
        (void) scan_open(s, 0, '}', &more);
        while (more) {
                size_t k;

                if (!at(s, '"') || scan_string(s, key, sizeof key) < 0)
                        return -EAGAIN;
                scan_blank(s);
                if (!at(s, ':'))
                        return -EAGAIN;
                s->p++;
                scan_blank(s);
                /* The first of each name counts, as cJSON finds it. */
                if (streq(key, "metrics") && !metrics_seen) {
                        metrics_seen = true;
                        named = at(s, '{');
                        r = scan_value(s, named ? SCAN_NAME : SCAN_SKIP, 1);
                } else if (streq(key, "stats") && !stats_seen) {
                        stats_seen = true;
                        stats = at(s, '{') ? s->p : NULL;
                        r = scan_value(s, SCAN_SKIP, 1);
                } else {
                        for (k = 0; k < ELEMENTSOF(members) && !streq(key, members[k]); k++)
                                ;
                        if (k < ELEMENTSOF(members) && mine[k]->kind == JSON_ABSENT)
                                r = scan_member(s, mine[k], ret->strings[k], sizeof ret->strings[k]);
                        else {
                                for (k = 0; k < ELEMENTSOF(record) && !streq(key, record[k]); k++)
                                        ;
                                if (k < ELEMENTSOF(record) && figures[k].kind == JSON_ABSENT &&
                                    (at(s, '-') || digit_at(s))) {
                                        figures[k].kind = JSON_NUMBER;
                                        r = scan_number(s, &figures[k].number);
                                } else {
                                        if (k < ELEMENTSOF(record) && figures[k].kind == JSON_ABSENT)
                                                figures[k].kind = JSON_OTHER;
                                        r = scan_value(s, SCAN_SKIP, 1);
                                }
                        }
                }
                if (r < 0 || scan_next(s, '}', &more) < 0)
                        return -EAGAIN;
        }
        scan_blank(s);
        if (s->p != s->end)
                return -EAGAIN;

        if (named)
                ret->root = SAMPLE_ROOT_METRICS;
        else if (stats) {
                ret->root = SAMPLE_ROOT_STATS;
                s->p = stats;
                r = scan_object(s, SCAN_NAME, 1);
                if (r < 0)
                        return r;
        } else {
                ret->root = SAMPLE_ROOT_CLIENT;
                for (size_t k = 0; k < ELEMENTSOF(record); k++) {
                        const struct json_member *m = &figures[k];

                        if (k == 0 && m->kind != JSON_NUMBER)
                                m = &figures[1];
                        if (k == 1 || m->kind != JSON_NUMBER)
                                continue;
                        push(&s->w, record[k]);
                        emit(&s->w, m->number);
                        pop(&s->w, 0);
                }
        }
        return (int) out->n;
}
