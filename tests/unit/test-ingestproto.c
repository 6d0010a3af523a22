/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <math.h>
#include <string.h>

#include "ingestproto.h"

static int parse(const char *line, struct ingest_request *req) {
        return ingest_parse(line, strlen(line), req);
}

static const struct {
        const char *line;
        enum ingest_command command;
        const char *metric; /* NULL: get * */
        double value;
        int64_t timestamp;
} good[] = {
        { "put palm.cpu 0.5 1150864247", INGEST_PUT, "palm.cpu", 0.5, 1150864247 },
        { "put palm.cpu 2 1150864248", INGEST_PUT, "palm.cpu", 2.0, 1150864248 },
        { "put m -2.5 0", INGEST_PUT, "m", -2.5, 0 },
        { "put m +3 -5", INGEST_PUT, "m", 3.0, -5 },
        { "put m .5 +7", INGEST_PUT, "m", 0.5, 7 },
        { "put m 5. 007", INGEST_PUT, "m", 5.0, 7 },
        { "put m 1e3 1", INGEST_PUT, "m", 1000.0, 1 },
        { "put m 1.5E-3 1", INGEST_PUT, "m", 0.0015, 1 },
        { "put m 1e-400 1", INGEST_PUT, "m", 0.0, 1 }, /* underflow: zero, as Python's float() */
        { "put m 1 9007199254740991", INGEST_PUT, "m", 1.0, INGEST_TIMESTAMP_MAX },
        { "put m 1 -9007199254740991", INGEST_PUT, "m", 1.0, -INGEST_TIMESTAMP_MAX },
        { "put palm.cpu 0.5 1150864247\r", INGEST_PUT, "palm.cpu", 0.5, 1150864247 }, /* telnet */
        { "put \xc3\xa9t\xc3\xa9.cpu 1 2", INGEST_PUT, "\xc3\xa9t\xc3\xa9.cpu", 1.0, 2 },
        { "put a/b:c{d}\"e 1 2", INGEST_PUT, "a/b:c{d}\"e", 1.0, 2 },
        { "get palm.cpu", INGEST_GET, "palm.cpu", 0, 0 },
        { "get *", INGEST_GET, NULL, 0, 0 },
        { "get *\r", INGEST_GET, NULL, 0, 0 },
        { "get **", INGEST_GET, "**", 0, 0 },
        /* Trailing spaces and tabs are forgiven, with or without the \r. */
        { "get test_key ", INGEST_GET, "test_key", 0, 0 },
        { "get test_key \r", INGEST_GET, "test_key", 0, 0 },
        { "get test_key\t \t", INGEST_GET, "test_key", 0, 0 },
        { "get * ", INGEST_GET, NULL, 0, 0 },
        { "put m 1 2 ", INGEST_PUT, "m", 1.0, 2 },
        { "put m -1.5 2\t\r", INGEST_PUT, "m", -1.5, 2 },
        { "put m 1 2  \t  ", INGEST_PUT, "m", 1.0, 2 },
};

Test(ingest_proto, well_formed_requests) {
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
                struct ingest_request req;

                cr_assert_eq(parse(good[i].line, &req), 0, "'%s' refused", good[i].line);
                cr_assert_eq(req.command, good[i].command, "%s", good[i].line);
                if (!good[i].metric) {
                        cr_assert(req.all, "%s", good[i].line);
                        continue;
                }
                cr_assert_not(req.all, "%s", good[i].line);
                cr_assert_str_eq(req.metric, good[i].metric);
                if (req.command == INGEST_PUT) {
                        cr_assert_eq(req.value, good[i].value, "%s: %g", good[i].line, req.value);
                        cr_assert_eq(req.timestamp, good[i].timestamp, "%s", good[i].line);
                }
        }
}

static const char *const bad[] = {
        "",
        "\r",
        "got test_key",
        "PUT m 1 2",
        "Get m",
        "get",
        "get ",
        "get a b",
        "get  a",
        " get a",
        " ",                    /* nothing but white space */
        "\t \r",
        "get \t",               /* the metric is missing, not blank */
        "\tget a",              /* leading white space stays an error */
        "get\ta",               /* a tab is no separator */
        "get a\tb",
        "put m 1\t2",
        "put m\t1 2 ",
        "get a\r ",             /* a \r is the line's end, not white space */
        "put m 1",
        "put m 1 2 3",
        "put m 1  2",
        "put my metric 1 2",     /* a name with a space is one field too many */
        "put m\tx 1 2",         /* nor any other white space */
        "put m\x01x 1 2",       /* or control character */
        "put m\x7fx 1 2",
        "put \xff\xfe 1 2",     /* not UTF-8 */
        "put \xc3 1 2",         /* cut short */
        "put \xc0\xaf 1 2",     /* overlong */
        "put * 1 2",            /* names every metric, so none */
        "put m abc 2",
        "put m 1.2.3 2",
        "put m 1e 2",
        "put m e5 2",
        "put m . 2",
        "put m - 2",
        "put m nan 2",
        "put m inf 2",
        "put m -Infinity 2",
        "put m 0x10 2",
        "put m 1e999 2",        /* overflows to infinity */
        "put m 1,5 2",
        "put m 1_000 2",
        "put m 1 1.5",
        "put m 1 1e9",
        "put m 1 abc",
        "put m 1 -",
        "put m 1 9007199254740992", /* beyond what JSON holds exactly */
        "put m 1 99999999999999999999999",
        "put m 1 2\r\r",
        "put m 1 2 3 ",
};

Test(ingest_proto, malformed_requests) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                struct ingest_request req;

                cr_assert_eq(parse(bad[i], &req), -EINVAL, "'%s' accepted", bad[i]);
        }
}

Test(ingest_proto, length_is_what_counts_not_the_nul) {
        struct ingest_request req;
        const char line[] = "get ab\0cd";

        cr_assert_eq(ingest_parse(line, 6, &req), 0);
        cr_assert_str_eq(req.metric, "ab");
        /* A NUL inside the line is a control character like any other. */
        cr_assert_eq(ingest_parse(line, sizeof line - 1, &req), -EINVAL);
}

Test(ingest_proto, metric_name_length) {
        char line[INGEST_METRIC_MAX + 16], name[INGEST_METRIC_MAX + 1];
        struct ingest_request req;

        memset(name, 'n', INGEST_METRIC_MAX - 1);
        name[INGEST_METRIC_MAX - 1] = '\0';
        snprintf(line, sizeof line, "put %s 1 2", name);
        cr_assert_eq(parse(line, &req), 0);
        cr_assert_str_eq(req.metric, name);
        strcat(name, "n");
        snprintf(line, sizeof line, "get %s", name);
        cr_assert_eq(parse(line, &req), -EINVAL);
}

/* Expected strings are Python's repr() of the same doubles. */
static const struct {
        double v;
        const char *repr;
} values[] = {
        { 0.5, "0.5" },
        { 2.0, "2.0" },
        { 0.0, "0.0" },
        { -0.0, "-0.0" },
        { 1e16, "1e+16" },
        { 1e15, "1000000000000000.0" },
        { 123456789.0, "123456789.0" },
        { 1.5e-5, "1.5e-05" },
        { 0.0001, "0.0001" },
        { -1e-05, "-1e-05" },
        { 0.1, "0.1" },
        { 1.0 / 3, "0.3333333333333333" },
        { 0.30000000000000004, "0.30000000000000004" },
        { -2.5, "-2.5" },
        { 23.7, "23.7" },
        { 100.0, "100.0" },
        { 1e22, "1e+22" },
        { 5e-324, "5e-324" },
        { 1.7976931348623157e308, "1.7976931348623157e+308" },
        { -2.2250738585072014e-308, "-2.2250738585072014e-308" },
        { 1234567890123456.0, "1234567890123456.0" },
        { 12345678901234567.0, "1.2345678901234568e+16" },
        { 9007199254740993.0, "9007199254740992.0" },
};

Test(ingest_proto, values_are_spelled_as_python_does) {
        for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
                char buf[INGEST_VALUE_MAX];
                size_t n = ingest_format_value(values[i].v, buf);

                cr_assert_str_eq(buf, values[i].repr);
                cr_assert_eq(n, strlen(values[i].repr));
        }
}

/* Whatever the value, what is written reads back as the same double: the
 * log and the replies lose nothing. */
Test(ingest_proto, values_round_trip) {
        srand(3);
        for (int i = 0; i < 100000; i++) {
                union {
                        uint64_t bits;
                        double v;
                } u;
                char buf[INGEST_VALUE_MAX], line[INGEST_POINT_MAX + 8];
                struct ingest_request req;

                u.bits = ((uint64_t) rand() << 42) ^ ((uint64_t) rand() << 21) ^ (uint64_t) rand();
                if (!isfinite(u.v))
                        continue;
                ingest_format_value(u.v, buf);
                snprintf(line, sizeof line, "put m %s 1", buf);
                cr_assert_eq(parse(line, &req), 0, "%s", line);
                cr_assert_eq(memcmp(&req.value, &u.v, sizeof u.v), 0, "%s read back as %.17g", buf, req.value);
        }
}

Test(ingest_proto, point_lines) {
        char buf[INGEST_POINT_MAX];

        cr_assert_eq(ingest_format_point(buf, sizeof buf, "palm.cpu", 1150864247, 0.5), 24);
        cr_assert_str_eq(buf, "palm.cpu 0.5 1150864247\n");
        ingest_format_point(buf, sizeof buf, "m", -INGEST_TIMESTAMP_MAX, -2.2250738585072014e-308);
        cr_assert_str_eq(buf, "m -2.2250738585072014e-308 -9007199254740991\n");
}
