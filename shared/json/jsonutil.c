/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "jsonutil.h"

double round2(double v) {
        if (!isfinite(v))
                return 0.0;
        return round(v * 100.0) / 100.0;
}

cJSON *json_add_round2(cJSON *obj, const char *name, double v) {
        return cJSON_AddNumberToObject(obj, name, round2(v));
}

const char *json_string(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        return cJSON_IsString(v) ? v->valuestring : NULL;
}

double json_number(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* ---- printing ------------------------------------------------------------ */

static bool out_reserve(struct json_writer *o, size_t n) {
        if (o->full)
                return false;
        if (o->size - o->len > n) /* room for n and the NUL */
                return true;
        if (o->fixed || GROW(o->p, o->size, o->len + n + 1, 256) < 0) {
                o->full = true;
                return false;
        }
        return true;
}

static void out_put(struct json_writer *o, const char *s, size_t n) {
        if (!out_reserve(o, n))
                return;
        memcpy(o->p + o->len, s, n);
        o->len += n;
}

static void out_char(struct json_writer *o, char c) {
        out_put(o, &c, 1);
}

/* Digits of v, |v| < 10^19, at the end of buf; their start. */
static char *digits(uint64_t v, char *end) {
        do
                *--end = (char) ('0' + v % 10);
        while (v /= 10);
        return end;
}

/* What "%1.15g" gives, without printf: an integer below 10^15, or a
 * multiple of 0.01 below 10^11. Such a number has at most 13 significant
 * digits, and the double nearest it is within 10^-16 of it, relatively: at
 * 15 digits it rounds back to the same decimal, and "%g" strips the
 * trailing zeros. Anything else (and -0, which "%g" writes with its sign)
 * returns 0. */
static size_t short_number(double d, char buf[static 32]) {
        char *end = buf + 32, *s;
        bool neg = d < 0;
        double a = fabs(d);
        uint64_t k;

        if (d == 0 && signbit(d))
                return 0;
        if (a < 1e15 && a == floor(a)) {
                s = digits((uint64_t) a, end);
        } else if (a < 1e11) {
                k = (uint64_t) llround(a * 100.0);
                if ((double) k / 100.0 != a)
                        return 0;
                s = end;
                if (k % 10 != 0)
                        *--s = (char) ('0' + k % 10);
                *--s = (char) ('0' + k / 10 % 10);
                *--s = '.';
                s = digits(k / 100, s);
        } else
                return 0;
        if (neg)
                *--s = '-';
        memmove(buf, s, (size_t) (end - s));
        return (size_t) (end - s);
}

static void put_number(struct json_writer *o, double d) {
        char buf[32];
        size_t n;

        if (isnan(d) || isinf(d)) {
                out_put(o, "null", 4);
                return;
        }
        n = short_number(d, buf);
        if (n == 0) {
                /* cJSON's own way: 15 digits unless they do not read back
                 * (within one DBL_EPSILON), then 17. */
                double back;
                int len = snprintf(buf, sizeof buf, "%1.15g", d);

                back = strtod(buf, NULL);
                if (!(fabs(back - d) <= fmax(fabs(back), fabs(d)) * DBL_EPSILON))
                        len = snprintf(buf, sizeof buf, "%1.17g", d);
                n = (size_t) len;
        }
        out_put(o, buf, n);
}

static void put_string(struct json_writer *o, const char *s) {
        static const char hex[] = "0123456789abcdef";

        out_char(o, '"');
        for (const char *run = s ? s : "";;) {
                const char *c = run;
                char esc[6] = { '\\' };
                size_t n = 2;

                while ((unsigned char) *c >= 0x20 && *c != '"' && *c != '\\')
                        c++;
                out_put(o, run, (size_t) (c - run));
                if (!*c)
                        break;
                switch (*c) {
                case '"': case '\\': esc[1] = *c; break;
                case '\b': esc[1] = 'b'; break;
                case '\f': esc[1] = 'f'; break;
                case '\n': esc[1] = 'n'; break;
                case '\r': esc[1] = 'r'; break;
                case '\t': esc[1] = 't'; break;
                default:
                        memcpy(esc + 1, "u00", 3);
                        esc[4] = hex[(unsigned char) *c >> 4];
                        esc[5] = hex[*c & 0xf];
                        n = 6;
                }
                out_put(o, esc, n);
                run = c + 1;
        }
        out_char(o, '"');
}

static bool put_value(struct json_writer *o, const cJSON *j) {
        switch (j->type & 0xff) {
        case cJSON_NULL:
                out_put(o, "null", 4);
                return true;
        case cJSON_False:
                out_put(o, "false", 5);
                return true;
        case cJSON_True:
                out_put(o, "true", 4);
                return true;
        case cJSON_Number:
                put_number(o, j->valuedouble);
                return true;
        case cJSON_String:
                put_string(o, j->valuestring);
                return true;
        case cJSON_Raw:
                if (!j->valuestring)
                        return false;
                out_put(o, j->valuestring, strlen(j->valuestring));
                return true;
        case cJSON_Array:
        case cJSON_Object: {
                bool object = (j->type & 0xff) == cJSON_Object;

                out_char(o, object ? '{' : '[');
                for (const cJSON *c = j->child; c; c = c->next) {
                        if (c != j->child)
                                out_char(o, ',');
                        if (object) {
                                if (!c->string)
                                        return false;
                                put_string(o, c->string);
                                out_char(o, ':');
                        }
                        if (!put_value(o, c))
                                return false;
                }
                out_char(o, object ? '}' : ']');
                return true;
        }
        default:
                return false;
        }
}

char *json_print(const cJSON *j) {
        struct json_writer o = { 0 };

        if (!j || !put_value(&o, j) || !out_reserve(&o, 0)) {
                free(o.p);
                return NULL;
        }
        o.p[o.len] = '\0';
        return o.p;
}

ssize_t json_print_into(const cJSON *j, char *buf, size_t size) {
        struct json_writer o = { .p = buf, .size = size, .fixed = true };

        if (!j || !put_value(&o, j))
                return -EINVAL;
        if (!out_reserve(&o, 0))
                return -ENOBUFS;
        o.p[o.len] = '\0';
        return (ssize_t) o.len;
}

/* ---- writing as it goes ---------------------------------------------------- */

void json_writer_into(struct json_writer *w, char *buf, size_t size) {
        *w = (struct json_writer){ .p = buf, .size = size, .fixed = true };
}

/* The comma before anything but the first at its level, then the key. */
static void write_key(struct json_writer *w, const char *key) {
        if (w->comma)
                out_char(w, ',');
        w->comma = true;
        if (key) {
                put_string(w, key);
                out_char(w, ':');
        }
}

void json_write_open(struct json_writer *w, const char *key, char bracket) {
        write_key(w, key);
        out_char(w, bracket);
        w->comma = false;
}

void json_write_close(struct json_writer *w, char bracket) {
        out_char(w, bracket);
        w->comma = true;
}

void json_write_number(struct json_writer *w, const char *key, double v) {
        write_key(w, key);
        put_number(w, v);
}

void json_write_round2(struct json_writer *w, const char *key, double v) {
        json_write_number(w, key, round2(v));
}

void json_write_string(struct json_writer *w, const char *key, const char *s) {
        write_key(w, key);
        put_string(w, s);
}

void json_write_failed(struct json_writer *w) {
        w->failed = true;
}

ssize_t json_writer_end(struct json_writer *w) {
        if (w->failed)
                return -ENOMEM;
        if (!out_reserve(w, 0))
                return w->fixed ? -ENOBUFS : -ENOMEM;
        w->p[w->len] = '\0';
        return (ssize_t) w->len;
}
