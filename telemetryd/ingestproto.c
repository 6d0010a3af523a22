/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingestproto.h"
#include "macro.h"
#include "utf8.h"

#define FIELDS_MAX 4

struct field {
        const char *p;
        size_t len;
};

static bool field_is(const struct field *f, const char *s) {
        return f->len == strlen(s) && memcmp(f->p, s, f->len) == 0;
}

/* Split on single spaces. An empty field (a leading, trailing or doubled
 * space) makes the line malformed rather than being skipped: a client that
 * sends one has a bug worth hearing about. */
static int split(const char *line, size_t len, struct field *fields, size_t *n) {
        const char *p = line, *end = line + len;

        *n = 0;
        for (;;) {
                const char *sp = memchr(p, ' ', (size_t) (end - p));
                const char *stop = sp ? sp : end;

                if (stop == p || *n == FIELDS_MAX)
                        return -EINVAL;
                fields[(*n)++] = (struct field){ p, (size_t) (stop - p) };
                if (!sp)
                        return 0;
                p = sp + 1;
        }
}

bool ingest_metric_valid(const char *name, size_t len) {
        if (len == 0 || len >= INGEST_METRIC_MAX)
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) name[i];
                if (c <= ' ' || c == 0x7f)
                        return false;
        }
        /* The names end up in JSON text frames and Prometheus labels, both
         * UTF-8. */
        return utf8_valid(name, len);
}

static bool all_digits(const char *p, const char *end) {
        if (p == end)
                return false;
        for (; p < end; p++)
                if (!isdigit((unsigned char) *p))
                        return false;
        return true;
}

/* A decimal number: [+-] digits [. digits] [e [+-] digits], with digits on
 * at least one side of the point. strtod() alone would also take "nan",
 * "inf", hex and leading white space. The field is a put's value, always
 * followed by the space before the timestamp, so strtod() stops at its end
 * and can read it in place. */
static int parse_value(const struct field *f, double *ret) {
        const char *p = f->p, *end = f->p + f->len;
        size_t digits = 0;
        double v;
        char *e;

        if (*p == '+' || *p == '-')
                p++;
        while (p < end && isdigit((unsigned char) *p))
                p++, digits++;
        if (p < end && *p == '.') {
                p++;
                while (p < end && isdigit((unsigned char) *p))
                        p++, digits++;
        }
        if (digits == 0)
                return -EINVAL;
        if (p < end && (*p == 'e' || *p == 'E')) {
                p++;
                if (p < end && (*p == '+' || *p == '-'))
                        p++;
                if (!all_digits(p, end))
                        return -EINVAL;
                p = end;
        }
        if (p != end)
                return -EINVAL;

        v = strtod(f->p, &e);
        /* An underflow to zero or a subnormal is a fine value; only an
         * overflow to infinity is not. */
        if (e != end || !isfinite(v))
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_timestamp(const struct field *f, int64_t *ret) {
        const char *p = f->p, *end = f->p + f->len;
        bool negative = false;
        int64_t v = 0;

        if (*p == '+' || *p == '-')
                negative = *p++ == '-';
        if (!all_digits(p, end))
                return -EINVAL;
        for (; p < end; p++) {
                v = v * 10 + (*p - '0');
                if (v > INGEST_TIMESTAMP_MAX)
                        return -EINVAL;
        }
        *ret = negative ? -v : v;
        return 0;
}

int ingest_parse(const char *line, size_t len, struct ingest_request *ret) {
        struct field f[FIELDS_MAX];
        struct ingest_request req = { 0 };
        size_t n;
        int r;

        if (len > 0 && line[len - 1] == '\r')
                len--;
        if (len == 0)
                return -EINVAL;
        r = split(line, len, f, &n);
        if (r < 0)
                return r;

        if (n == 2 && field_is(&f[0], "get")) {
                req.command = INGEST_GET;
                req.all = field_is(&f[1], "*");
        } else if (n == 4 && field_is(&f[0], "put")) {
                req.command = INGEST_PUT;
                if (field_is(&f[1], "*") || parse_value(&f[2], &req.value) < 0 ||
                    parse_timestamp(&f[3], &req.timestamp) < 0)
                        return -EINVAL;
        } else
                return -EINVAL;

        if (!req.all) {
                if (!ingest_metric_valid(f[1].p, f[1].len))
                        return -EINVAL;
                memcpy(req.metric, f[1].p, f[1].len);
                req.metric[f[1].len] = '\0';
        }
        *ret = req;
        return 0;
}

size_t ingest_format_value(double v, char buf[static INGEST_VALUE_MAX]) {
        char digits[INGEST_VALUE_MAX];
        int lo = 1, hi = 17, exponent, decimals, n;

        /* The fewest significant digits that read back as v. 17 always do,
         * and when p do, p + 1 do as well (a p-digit decimal is one of
         * p + 1 digits, and rounding to p + 1 finds the nearest of those),
         * so a binary search finds it in five tries. */
        while (lo < hi) {
                int mid = (lo + hi) / 2;

                snprintf(digits, sizeof digits, "%.*e", mid - 1, v);
                if (strtod(digits, NULL) == v)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        snprintf(digits, sizeof digits, "%.*e", lo - 1, v);
        exponent = atoi(strchr(digits, 'e') + 1);

        if (exponent < -4 || exponent >= 16)
                return (size_t) snprintf(buf, INGEST_VALUE_MAX, "%s", digits);
        /* As many decimals as the digits reach below the point. */
        decimals = lo - 1 - exponent > 0 ? lo - 1 - exponent : 0;
        n = snprintf(buf, INGEST_VALUE_MAX, "%.*f", decimals, v);
        if (decimals == 0)
                n += snprintf(buf + n, INGEST_VALUE_MAX - (size_t) n, ".0");
        return (size_t) n;
}

size_t ingest_format_point(char *buf, size_t size, const char *metric, int64_t timestamp, double value) {
        char v[INGEST_VALUE_MAX];
        int n;

        ingest_format_value(value, v);
        n = snprintf(buf, size, "%s %s %" PRId64 "\n", metric, v, timestamp);
        return n < 0 ? 0 : (size_t) n;
}
