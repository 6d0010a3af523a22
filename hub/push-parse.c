/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "macro.h"
#include "push-parse.h"
#include "store.h"

/* Year 9999 ends here: the store keeps nothing later. */
#define TS_MAX_MS 253402300799999LL

static int two_digits(const char *s, int *ret) {
        if (!isdigit((unsigned char) s[0]) || !isdigit((unsigned char) s[1]))
                return -EINVAL;
        *ret = (s[0] - '0') * 10 + (s[1] - '0');
        return 0;
}

int parse_iso8601_ms(const char *s, int64_t *ret) {
        struct tm tm = { 0 };
        int year = 0, mon, mday, hour, min, sec, oh = 0, om = 0, sign = 0;
        int64_t ms = 0, t;
        const char *p = s;

        for (int i = 0; i < 4; i++, p++) {
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                year = year * 10 + (*p - '0');
        }
        if (*p++ != '-' || two_digits(p, &mon) < 0 || p[2] != '-' || two_digits(p + 3, &mday) < 0)
                return -EINVAL;
        p += 5;
        if (*p != 'T' && *p != 't' && *p != ' ')
                return -EINVAL;
        p++;
        if (two_digits(p, &hour) < 0 || p[2] != ':' || two_digits(p + 3, &min) < 0 || p[5] != ':' ||
            two_digits(p + 6, &sec) < 0)
                return -EINVAL;
        p += 8;
        if (*p == '.') {
                int digits = 0;

                for (p++; isdigit((unsigned char) *p); p++, digits++)
                        if (digits < 3)
                                ms = ms * 10 + (*p - '0');
                if (digits == 0)
                        return -EINVAL;
                for (; digits < 3; digits++)
                        ms *= 10;
        }
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                sign = *p == '+' ? 1 : -1;
                if (two_digits(p + 1, &oh) < 0 || p[3] != ':' || two_digits(p + 4, &om) < 0 || oh > 23 || om > 59)
                        return -EINVAL;
                p += 6;
        } else
                return -EINVAL;
        if (*p != '\0')
                return -EINVAL;
        if (mon < 1 || mon > 12 || mday < 1 || mday > 31 || hour > 23 || min > 59 || sec > 60)
                return -EINVAL;

        tm = (struct tm){ .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = mday,
                          .tm_hour = hour, .tm_min = min, .tm_sec = sec };
        t = (int64_t) timegm(&tm);
        if (tm.tm_mday != mday) /* 2024-02-30 normalised into March */
                return -EINVAL;
        t -= sign * (oh * 3600 + om * 60);
        *ret = t * 1000 + ms;
        return 0;
}

int sample_timestamp_ms(const struct json_member *value, int64_t *ret) {
        int64_t ts;

        if (value->kind == JSON_STRING) {
                if (parse_iso8601_ms(value->string, &ts) < 0)
                        return -EINVAL;
        } else if (value->kind == JSON_NUMBER) {
                if (!isfinite(value->number) || value->number < 0 || value->number > (double) TS_MAX_MS / 1000)
                        return -ERANGE;
                ts = (int64_t) llround(value->number * 1000);
        } else
                return -EINVAL;
        if (ts < 0 || ts > TS_MAX_MS)
                return -ERANGE;
        *ret = ts;
        return 0;
}

_printf_(3, 4) static int fail(struct push_error *err, size_t line, const char *fmt, ...) {
        va_list ap;
        int n = 0;

        err->line = line;
        if (line > 0)
                n = snprintf(err->message, sizeof err->message, "line %zu: ", line);
        va_start(ap, fmt);
        vsnprintf(err->message + n, sizeof err->message - (size_t) n, fmt, ap);
        va_end(ap);
        return -EBADMSG;
}

static bool blank(const char *p, size_t len) {
        for (size_t i = 0; i < len; i++)
                if (!isspace((unsigned char) p[i]))
                        return false;
        return true;
}

/* The values and the stream, out of the scan's buffers into a block of the
 * line's own. */
static int keep_scanned(struct push_line *l, const struct sample_values *v, const char *stream) {
        size_t n = v->n, stream_len = strlen(stream) + 1;
        struct store_value *values;
        char *names;

        l->scanned = malloc(n * sizeof *values + v->names_used + stream_len);
        if (!l->scanned)
                return -ENOMEM;
        values = l->scanned;
        names = (char *) (values + n);
        memcpy(names, v->names, v->names_used);
        for (size_t i = 0; i < n; i++)
                values[i] = (struct store_value){ .path = names + (v->v[i].path - v->names), .value = v->v[i].value };
        l->stream = memcpy(names + v->names_used, stream, stream_len);
        l->values = values;
        l->n_values = n;
        l->root = v->root;
        return 0;
}

/* Read in one pass when the scan takes the line, else parsed by cJSON,
 * which also says what is wrong with it; then checked the same way. */
static int parse_line(struct push_line *l, struct sample_values *scratch, int64_t now_ms, struct push_error *err) {
        struct json_member stream, seq, ts;
        struct sample_scan sc;
        const char *end = NULL;
        double s;
        int n;

        if (l->len > STORE_SAMPLE_MAX)
                return fail(err, l->line, "sample of %zu bytes, more than %d", l->len, STORE_SAMPLE_MAX);
        n = sample_scan(l->json, l->len, scratch, &sc);
        if (n >= 0) {
                stream = sc.stream;
                seq = sc.seq;
                ts = sc.timestamp;
        } else {
                l->tree = cJSON_ParseWithLengthOpts(l->json, l->len, &end, false);
                if (!l->tree || !blank(end, l->len - (size_t) (end - l->json)))
                        return fail(err, l->line, "not valid JSON");
                if (!cJSON_IsObject(l->tree))
                        return fail(err, l->line, "not a JSON object");
                json_member_of(l->tree, "stream", &stream);
                json_member_of(l->tree, "seq", &seq);
                json_member_of(l->tree, "timestamp", &ts);
        }
        if (stream.kind != JSON_STRING || strlen(stream.string) > STORE_STREAM_MAX)
                return fail(err, l->line, "\"stream\" must be a string of at most %d bytes", STORE_STREAM_MAX);
        for (const char *p = stream.string; *p; p++)
                if ((unsigned char) *p < 0x20)
                        return fail(err, l->line, "\"stream\" holds a control character");
        s = seq.kind == JSON_NUMBER ? seq.number : -1;
        if (seq.kind != JSON_NUMBER || s < 0 || s > 9007199254740991.0 || s != floor(s))
                return fail(err, l->line, "\"seq\" must be a whole number from 0 to 2^53-1");
        if (ts.kind == JSON_ABSENT)
                return fail(err, l->line, "no \"timestamp\"");
        if (sample_timestamp_ms(&ts, &l->ts) < 0)
                return fail(err, l->line, "\"timestamp\" must be ISO-8601 (2024-01-15T10:30:45Z) or Unix seconds");
        if (l->ts > now_ms + PUSH_FUTURE_MAX_MS)
                return fail(err, l->line, "\"timestamp\" is %lld s ahead of the hub's clock (at most %d s allowed)",
                            (long long) ((l->ts - now_ms) / 1000), PUSH_FUTURE_MAX_MS / 1000);
        l->seq = (int64_t) s;
        if (n >= 0)
                return keep_scanned(l, scratch, stream.string);
        l->stream = stream.string;
        return 0;
}

int push_parse(const char *body, size_t len, int64_t now_ms, struct push_line **ret, size_t *ret_n,
               struct push_error *err) {
        /* The scan's values, copied out of it line by line: one per thread,
         * not a malloc per push. At 32 KiB, each malloc of it had glibc
         * consolidate the small chunks freed since, a quarter of the hub's
         * CPU with 10,000 nodes pushing one sample each. */
        static _Thread_local struct sample_values scratch_values;
        struct sample_values *scratch = &scratch_values;
        struct push_line *lines = NULL;
        size_t n = 0, cap = 0, number = 0;
        int r;

        for (size_t pos = 0; pos < len;) {
                const char *start = body + pos, *nl = memchr(start, '\n', len - pos);
                size_t l = nl ? (size_t) (nl - start) : len - pos;

                pos += l + (nl ? 1 : 0);
                number++;
                if (l > 0 && start[l - 1] == '\r')
                        l--;
                if (blank(start, l))
                        continue;
                if (n == PUSH_LINES_MAX) {
                        push_lines_free(lines, n);
                        fail(err, 0, "more than %d samples in one batch", PUSH_LINES_MAX);
                        return -E2BIG;
                }
                if (n == cap) {
                        struct push_line *p;

                        cap = cap ? cap * 2 : 64;
                        p = realloc(lines, cap * sizeof *p);
                        if (!p) {
                                push_lines_free(lines, n);
                                return -ENOMEM;
                        }
                        lines = p;
                }
                lines[n] = (struct push_line){ .line = number, .json = start, .len = l };
                r = parse_line(&lines[n], scratch, now_ms, err);
                n++;
                if (r < 0) {
                        push_lines_free(lines, n);
                        return r;
                }
        }
        if (n == 0) {
                free(lines);
                return fail(err, 0, "no sample in the batch");
        }
        *ret = lines;
        *ret_n = n;
        return 0;
}

void push_lines_free(struct push_line *lines, size_t n) {
        for (size_t i = 0; i < n; i++) {
                cJSON_Delete(lines[i].tree);
                free(lines[i].scanned);
        }
        free(lines);
}

int gunzip_capped(const void *in, size_t len, size_t max, char **ret, size_t *ret_len) {
        z_stream z = { 0 };
        _cleanup_free_ char *out = NULL;
        size_t cap = len * 4 < 65536 ? 65536 : len * 4, used = 0;
        int zr;

        if (cap > max + 1)
                cap = max + 1;
        out = malloc(cap + 1);
        if (!out)
                return -ENOMEM;
        /* 16 + MAX_WBITS: gzip framing only, as Content-Encoding: gzip says. */
        if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
                return -ENOMEM;
        z.next_in = (Bytef *) (uintptr_t) in;
        z.avail_in = (uInt) len;
        for (;;) {
                if (used == cap) {
                        char *p;

                        if (cap > max) {
                                inflateEnd(&z);
                                return -EFBIG;
                        }
                        cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
                        p = realloc(out, cap + 1);
                        if (!p) {
                                inflateEnd(&z);
                                return -ENOMEM;
                        }
                        out = p;
                }
                z.next_out = (Bytef *) out + used;
                z.avail_out = (uInt) (cap - used);
                zr = inflate(&z, Z_NO_FLUSH);
                used = cap - z.avail_out;
                if (zr == Z_STREAM_END)
                        break;
                if (zr != Z_OK && !(zr == Z_BUF_ERROR && z.avail_out == 0)) {
                        inflateEnd(&z);
                        return -EBADMSG;
                }
                if (z.avail_in == 0 && z.avail_out > 0) {
                        /* Input ended before the gzip trailer. */
                        inflateEnd(&z);
                        return -EBADMSG;
                }
        }
        inflateEnd(&z);
        if (used > max)
                return -EFBIG;
        out[used] = '\0';
        *ret = TAKE_PTR(out);
        *ret_len = used;
        return 0;
}
