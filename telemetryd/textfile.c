/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <string.h>

#include "errors.h"
#include "macro.h"
#include "textfile.h"

/* Families typed in one file, remembered to refuse a second TYPE (merged
 * into /metrics it would make the whole scrape invalid); a file with more
 * is refused. */
#define FAMILIES_MAX 1024

struct seen {
        char (*names)[128];
        size_t n;
};

static bool name_start(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(char c) {
        return name_start(c) || (c >= '0' && c <= '9');
}

/* A metric name (colons allowed) or a label name (not); its length, or 0. */
static size_t name_len(const char *p, const char *end, bool colons) {
        size_t n = 0;

        if (p >= end || !name_start(*p) || (!colons && *p == ':'))
                return 0;
        while (p + n < end && name_char(p[n]) && (colons || p[n] != ':'))
                n++;
        return n;
}

/* The family a sample belongs to: histogram and summary series carry a
 * suffix their TYPE line does not. */
static ssize_t family_of(const struct seen *s, const char *name, size_t len) {
        static const char *const suffixes[] = { "", "_bucket", "_sum", "_count" };

        for (size_t k = 0; k < ELEMENTSOF(suffixes); k++) {
                size_t sl = strlen(suffixes[k]);

                if (sl > len || memcmp(name + len - sl, suffixes[k], sl) != 0)
                        continue;
                for (size_t i = 0; i < s->n; i++)
                        if (strlen(s->names[i]) == len - sl && memcmp(s->names[i], name, len - sl) == 0)
                                return (ssize_t) i;
        }
        return -1;
}

static int comment(struct seen *s, const char *p, const char *end, unsigned line, char *err, size_t errsz) {
        static const char *const types[] = { "counter", "gauge", "histogram", "summary", "untyped" };
        bool help = end - p >= 7 && memcmp(p, "# HELP ", 7) == 0;
        bool type = end - p >= 7 && memcmp(p, "# TYPE ", 7) == 0;
        size_t n;
        ssize_t f;

        if (!help && !type)
                return 0; /* a plain comment */
        p += 7;
        n = name_len(p, end, true);
        if (n == 0 || n >= sizeof s->names[0] || (p + n < end && p[n] != ' '))
                return fail_with(err, errsz, "line %u: %s without a valid metric name", line, help ? "HELP" : "TYPE");
        if (help)
                return 0;
        f = family_of(s, p, n);
        if (f >= 0 && strlen(s->names[f]) == n)
                return fail_with(err, errsz, "line %u: a second TYPE for %.*s", line, (int) n, p);
        if (s->n == FAMILIES_MAX)
                return fail_with(err, errsz, "line %u: more than %d families", line, FAMILIES_MAX);
        if (p + n == end)
                return fail_with(err, errsz, "line %u: TYPE without a type", line);
        for (size_t i = 0; i < ELEMENTSOF(types); i++)
                if ((size_t) (end - p - n - 1) == strlen(types[i]) && memcmp(p + n + 1, types[i], strlen(types[i])) == 0) {
                        memcpy(s->names[s->n], p, n);
                        s->names[s->n][n] = '\0';
                        s->n++;
                        return 0;
                }
        return fail_with(err, errsz, "line %u: unknown type \"%.*s\"", line, (int) (end - p - n - 1), p + n + 1);
}

static int labels(const char **pp, const char *end, unsigned line, char *err, size_t errsz) {
        const char *p = *pp + 1; /* past '{' */

        while (p < end && *p != '}') {
                size_t n = name_len(p, end, false);

                if (n == 0)
                        return fail_with(err, errsz, "line %u: a label without a valid name", line);
                p += n;
                if (end - p < 2 || p[0] != '=' || p[1] != '"')
                        return fail_with(err, errsz, "line %u: a label without =\"value\"", line);
                for (p += 2; p < end && *p != '"'; p++)
                        if (*p == '\\') {
                                if (p + 1 >= end || (p[1] != '\\' && p[1] != '"' && p[1] != 'n'))
                                        return fail_with(err, errsz, "line %u: a bad escape in a label value", line);
                                p++;
                        }
                if (p >= end)
                        return fail_with(err, errsz, "line %u: an unterminated label value", line);
                p++;
                if (p < end && *p == ',')
                        p++;
                else if (p < end && *p != '}')
                        return fail_with(err, errsz, "line %u: labels not separated by commas", line);
        }
        if (p >= end)
                return fail_with(err, errsz, "line %u: labels without a closing }", line);
        *pp = p + 1;
        return 0;
}

static bool valid_value(const char *p, size_t n) {
        char buf[64], *e;

        if (n == 0 || n >= sizeof buf)
                return false;
        memcpy(buf, p, n);
        buf[n] = '\0';
        if (streq(buf, "NaN") || streq(buf, "+Inf") || streq(buf, "-Inf") || streq(buf, "Inf"))
                return true;
        (void) strtod(buf, &e);
        return e != buf && *e == '\0' && !strpbrk(buf, "xXnNiI"); /* no hex, no spelled-out nan/inf */
}

static int sample(const char *p, const char *end, unsigned line, char *err, size_t errsz) {
        size_t n = name_len(p, end, true);
        const char *v;
        int r;

        if (n == 0)
                return fail_with(err, errsz, "line %u: not a metric name", line);
        p += n;
        if (p < end && *p == '{') {
                r = labels(&p, end, line, err, errsz);
                if (r < 0)
                        return r;
        }
        if (p >= end || (*p != ' ' && *p != '\t'))
                return fail_with(err, errsz, "line %u: no value", line);
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        for (v = p; p < end && *p != ' ' && *p != '\t'; p++)
                ;
        if (!valid_value(v, (size_t) (p - v)))
                return fail_with(err, errsz, "line %u: \"%.*s\" is not a number", line, (int) (p - v > 32 ? 32 : p - v), v);
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        if (p < end)
                return fail_with(err, errsz, "line %u: a timestamp (or more after the value), which textfiles may not carry",
                            line);
        return 0;
}

int textfile_validate(const char *buf, size_t len, char *err, size_t errsz) {
        _cleanup_free_ char (*names)[128] = calloc(FAMILIES_MAX, sizeof *names);
        struct seen s = { .names = names };
        const char *p = buf, *end = buf + len;
        unsigned line = 0;

        if (!names)
                return -ENOMEM;
        if (memchr(buf, '\0', len))
                return fail_with(err, errsz, "a NUL byte: not a text file");
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p)), *e = nl ? nl : end;
                int r = 0;

                line++;
                if (e - p > TEXTFILE_LINE_MAX)
                        return fail_with(err, errsz, "line %u: longer than %u bytes", line, TEXTFILE_LINE_MAX);
                if (e > p && e[-1] == '\r')
                        return fail_with(err, errsz, "line %u: ends in CR LF", line);
                if (p < e && *p == '#')
                        r = comment(&s, p, e, line, err, errsz);
                else if (p < e)
                        r = sample(p, e, line, err, errsz);
                if (r < 0)
                        return r;
                p = nl ? nl + 1 : end;
        }
        return 0;
}
