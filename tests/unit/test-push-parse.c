/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "push-parse.h"

/* 2024-01-15T10:30:45Z */
#define NOW_MS 1705314645000LL

#define LINE(stream, seq, ts) "{\"timestamp\":\"" ts "\",\"node_id\":\"n1\",\"metrics\":{\"cpu\":{\"cpu_usage_percent\":4.5}},\"stream\":\"" stream "\",\"seq\":" #seq "}"

Test(push_parse, good_batch) {
        const char *body = LINE("boot-a", 1, "2024-01-15T10:30:40Z") "\n"
                           "\r\n"
                           LINE("boot-a", 2, "2024-01-15T10:30:41.250Z") "\r\n"
                           "   \n" LINE("boot-b", 7, "2024-01-15T11:30:41+01:00");
        struct push_line *lines;
        struct push_error err;
        size_t n;

        cr_assert_eq(push_parse(body, strlen(body), NOW_MS, &lines, &n, &err), 0, "%s", err.message);
        cr_assert_eq(n, 3);
        cr_assert_eq(lines[0].line, 1);
        cr_assert_str_eq(lines[0].stream, "boot-a");
        cr_assert_eq(lines[0].seq, 1);
        cr_assert_eq(lines[0].ts, NOW_MS - 5000);
        cr_assert_eq(lines[1].line, 3);
        cr_assert_eq(lines[1].ts, NOW_MS - 3750);
        cr_assert_eq(lines[1].len, strlen(LINE("boot-a", 2, "2024-01-15T10:30:41.250Z")), "\\r is not part of the line");
        cr_assert_eq(lines[2].line, 5);
        cr_assert_str_eq(lines[2].stream, "boot-b");
        cr_assert_eq(lines[2].ts, NOW_MS - 4000);
        push_lines_free(lines, n);
}

/* A line the one-pass scan takes, and the same line with a \u escape,
 * which it hands to cJSON: both read the same, and the writer names the
 * second's values from its tree as the scan named the first's. */
Test(push_parse, scanned_and_parsed_lines_read_the_same) {
        const char *body = "{\"timestamp\":\"2024-01-15T10:30:40Z\",\"metrics\":{\"cpu\":{\"cpu_usage_percent\":4.5},"
                           "\"n\":[1,2]},\"stream\":\"abc\",\"seq\":1}\n"
                           "{\"timestamp\":\"2024-01-15T10:30:40Z\",\"metrics\":{\"cpu\":{\"cpu_usage_percent\":4.5},"
                           "\"n\":[1,2]},\"stream\":\"\\u0061bc\",\"seq\":1}\n";
        struct sample_values *tree_vals = malloc(sizeof(*tree_vals));
        struct push_line *lines;
        struct push_error err;
        size_t n;

        cr_assert_not_null(tree_vals);
        cr_assert_eq(push_parse(body, strlen(body), NOW_MS, &lines, &n, &err), 0, "%s", err.message);
        cr_assert_eq(n, 2);
        cr_assert_null(lines[0].tree);
        cr_assert_eq(lines[0].root, SAMPLE_ROOT_METRICS);
        cr_assert_eq(lines[0].n_values, 3);
        cr_assert_str_eq(lines[0].values[0].path, "cpu.cpu_usage_percent");
        cr_assert_float_eq(lines[0].values[0].value, 4.5, 0);
        cr_assert_str_eq(lines[0].values[2].path, "n.1");
        cr_assert_null(lines[1].values);
        cr_assert_not_null(lines[1].tree);
        for (size_t i = 0; i < n; i++) {
                cr_assert_str_eq(lines[i].stream, "abc");
                cr_assert_eq(lines[i].seq, 1);
                cr_assert_eq(lines[i].ts, NOW_MS - 5000);
        }
        cr_assert_eq(sample_values_flatten(lines[1].tree, tree_vals), 3);
        for (size_t i = 0; i < 3; i++) {
                cr_assert_str_eq(tree_vals->v[i].path, lines[0].values[i].path);
                cr_assert_float_eq(tree_vals->v[i].value, lines[0].values[i].value, 0);
        }
        push_lines_free(lines, n);
        free(tree_vals);
}

/* Every way a line can be wrong is refused, naming that line. */
Test(push_parse, bad_lines_name_their_number) {
        static const struct {
                const char *third;
                const char *why;
        } cases[] = {
                { "{\"stream\":\"a\",\"seq\":3", "not valid JSON" },
                { "{\"stream\":\"a\",\"seq\":3,\"timestamp\":1} trailing", "not valid JSON" },
                { "[1,2]", "not a JSON object" },
                { "{\"seq\":3,\"timestamp\":\"2024-01-15T10:30:40Z\"}", "\"stream\"" },
                { "{\"stream\":5,\"seq\":3,\"timestamp\":\"2024-01-15T10:30:40Z\"}", "\"stream\"" },
                { "{\"stream\":\"a\",\"timestamp\":\"2024-01-15T10:30:40Z\"}", "\"seq\"" },
                { "{\"stream\":\"a\",\"seq\":-1,\"timestamp\":\"2024-01-15T10:30:40Z\"}", "\"seq\"" },
                { "{\"stream\":\"a\",\"seq\":1.5,\"timestamp\":\"2024-01-15T10:30:40Z\"}", "\"seq\"" },
                { "{\"stream\":\"a\",\"seq\":\"3\",\"timestamp\":\"2024-01-15T10:30:40Z\"}", "\"seq\"" },
                { "{\"stream\":\"a\",\"seq\":3}", "no \"timestamp\"" },
                { "{\"stream\":\"a\",\"seq\":3,\"timestamp\":\"yesterday\"}", "ISO-8601" },
                { "{\"stream\":\"a\",\"seq\":3,\"timestamp\":\"2024-02-30T10:30:40Z\"}", "ISO-8601" },
                { "{\"stream\":\"a\",\"seq\":3,\"timestamp\":\"2024-01-15T10:30:40\"}", "ISO-8601" },
                { "{\"stream\":\"a\",\"seq\":3,\"timestamp\":\"2024-01-15T10:41:00Z\"}", "ahead of the hub's clock" },
                { "{\"stream\":\"a\",\"seq\":3,\"timestamp\":-5}", "ISO-8601" },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                char body[1024];
                struct push_line *lines = NULL;
                struct push_error err = { 0 };
                size_t n = 0;

                snprintf(body, sizeof body, "%s\n%s\n%s\n%s\n", LINE("a", 1, "2024-01-15T10:30:40Z"),
                         LINE("a", 2, "2024-01-15T10:30:40Z"), cases[i].third, LINE("a", 4, "2024-01-15T10:30:40Z"));
                cr_assert_eq(push_parse(body, strlen(body), NOW_MS, &lines, &n, &err), -EBADMSG, "%s", cases[i].third);
                cr_assert_eq(err.line, 3, "%s", cases[i].third);
                cr_assert(strncmp(err.message, "line 3: ", 8) == 0, "%s", err.message);
                cr_assert(strstr(err.message, cases[i].why), "%s: %s", cases[i].third, err.message);
        }
}

Test(push_parse, ten_minutes_ahead_is_the_limit) {
        const char *ok = LINE("a", 1, "2024-01-15T10:40:45Z");
        const char *late = LINE("a", 1, "2024-01-15T10:40:46Z");
        struct push_line *lines;
        struct push_error err;
        size_t n;

        cr_assert_eq(push_parse(ok, strlen(ok), NOW_MS, &lines, &n, &err), 0, "%s", err.message);
        push_lines_free(lines, n);
        cr_assert_eq(push_parse(late, strlen(late), NOW_MS, &lines, &n, &err), -EBADMSG);
}

Test(push_parse, empty_and_oversized_batches) {
        struct push_line *lines;
        struct push_error err;
        size_t n, len = 0;
        const char *one = "{\"stream\":\"a\",\"seq\":1,\"timestamp\":1}\n";
        char *many = malloc((PUSH_LINES_MAX + 1) * strlen(one) + 1);

        cr_assert_eq(push_parse("\n \n", 3, NOW_MS, &lines, &n, &err), -EBADMSG);
        cr_assert_eq(err.line, 0);
        cr_assert(strstr(err.message, "no sample"));
        for (int i = 0; i <= PUSH_LINES_MAX; i++) {
                memcpy(many + len, one, strlen(one));
                len += strlen(one);
        }
        cr_assert_eq(push_parse(many, len, NOW_MS, &lines, &n, &err), -E2BIG);
        cr_assert_eq(push_parse(many, len - strlen(one), NOW_MS, &lines, &n, &err), 0);
        cr_assert_eq(n, PUSH_LINES_MAX);
        push_lines_free(lines, n);
        free(many);
}

Test(push_parse, iso8601) {
        int64_t ms;

        cr_assert_eq(parse_iso8601_ms("1970-01-01T00:00:00Z", &ms), 0);
        cr_assert_eq(ms, 0);
        cr_assert_eq(parse_iso8601_ms("2024-01-15T10:30:45.123456Z", &ms), 0);
        cr_assert_eq(ms, NOW_MS + 123);
        cr_assert_eq(parse_iso8601_ms("2024-01-15T05:30:45-05:00", &ms), 0);
        cr_assert_eq(ms, NOW_MS);
        cr_assert_eq(parse_iso8601_ms("2024-01-15 10:30:45Z", &ms), 0);
        cr_assert_eq(ms, NOW_MS);
        cr_assert_eq(parse_iso8601_ms("2024-01-15T10:30:45.Z", &ms), -EINVAL);
        cr_assert_eq(parse_iso8601_ms("2024-13-15T10:30:45Z", &ms), -EINVAL);
        cr_assert_eq(parse_iso8601_ms("2024-01-15T10:30:45Zjunk", &ms), -EINVAL);
}

static size_t gzip(const char *in, size_t len, unsigned char *out, size_t cap) {
        z_stream z = { 0 };

        cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
        z.next_in = (Bytef *) in;
        z.avail_in = (uInt) len;
        z.next_out = out;
        z.avail_out = (uInt) cap;
        cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
        deflateEnd(&z);
        return cap - z.avail_out;
}

Test(push_parse, gunzip_bounds) {
        static char plain[200000];
        static unsigned char packed[300000];
        char *out;
        size_t n, len;

        for (size_t i = 0; i < sizeof plain; i++)
                plain[i] = (char) ('a' + i % 7);
        n = gzip(plain, sizeof plain, packed, sizeof packed);
        cr_assert_eq(gunzip_capped(packed, n, sizeof plain, &out, &len), 0);
        cr_assert_eq(len, sizeof plain);
        cr_assert_eq(memcmp(out, plain, len), 0);
        cr_assert_eq(out[len], '\0');
        free(out);
        /* A small body that inflates past the cap: a zip bomb stops at it. */
        cr_assert_eq(gunzip_capped(packed, n, sizeof plain - 1, &out, &len), -EFBIG);
        cr_assert_eq(gunzip_capped(packed, n - 10, sizeof plain, &out, &len), -EBADMSG);
        cr_assert_eq(gunzip_capped("not gzip at all", 15, 1000, &out, &len), -EBADMSG);
}
