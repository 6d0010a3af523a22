/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "pyjson.h"

/* Expected outputs are what CPython 3.11's json.dumps(json.loads(input))
 * printed for each input. */
Test(pyjson, respells_like_python) {
        static const struct {
                const char *in, *want;
        } cases[] = {
                { "{\"type\":\"HELLO\"}",
                  "{\"type\": \"HELLO\"}" },
                { "{\"type\": \"CLIENT_DATA\", \"data\": {\"cpu\": 18, \"mem\": 8513, \"storage\": 81720, \"unix_time\": 1651155333}, \"interval\": 1, \"client_id\": \"d29vZDoxMjM=\"}",
                  "{\"type\": \"CLIENT_DATA\", \"data\": {\"cpu\": 18, \"mem\": 8513, \"storage\": 81720, \"unix_time\": 1651155333}, \"interval\": 1, \"client_id\": \"d29vZDoxMjM=\"}" },
                { "{\"cpu\": 20.5, \"x\": 25.0, \"y\": 1e5, \"z\": -0, \"w\": -0.0, \"v\": 1E-7, \"u\": 0.1}",
                  "{\"cpu\": 20.5, \"x\": 25.0, \"y\": 100000.0, \"z\": 0, \"w\": -0.0, \"v\": 1e-07, \"u\": 0.1}" },
                { "{\"big\": 123456789012345678901234567890, \"f\": 1.7976931348623157e308, \"g\": 1e400, \"h\": -1e400}",
                  "{\"big\": 123456789012345678901234567890, \"f\": 1.7976931348623157e+308, \"g\": Infinity, \"h\": -Infinity}" },
                { "{\"s\": \"caf\xc3""\xa9"" \\u00e9 \\ud83d\\ude00 tab\\t nl\\n q\\\" bs\\\\ sl/ ctl\\u0001 del\\u007f\"}",
                  "{\"s\": \"caf\\u00e9 \\u00e9 \\ud83d\\ude00 tab\\t nl\\n q\\\" bs\\\\ sl/ ctl\\u0001 del\\u007f\"}" },
                { "{\"a\": 1, \"b\": [1, 2.5, [], {}], \"a\": 3}",
                  "{\"a\": 3, \"b\": [1, 2.5, [], {}]}" },
                { "[true, false, null, \"x\", 0.30000000000000004, 100.0, 1e16, 1e15, 0.0001, 0.00001, 123.456e2]",
                  "[true, false, null, \"x\", 0.30000000000000004, 100.0, 1e+16, 1000000000000000.0, 0.0001, 1e-05, 12345.6]" },
                { "  {\"k\" : [ 1 , 2 ] }  ",
                  "{\"k\": [1, 2]}" },
                { "{\"raw\": \"\xe4""\xb8""\xad""\xe6""\x96""\x87""\", \"emoji\": \"\xf0""\x9f""\x98""\x80""\", \"k\xc3""\xa9""y\": 1}",
                  "{\"raw\": \"\\u4e2d\\u6587\", \"emoji\": \"\\ud83d\\ude00\", \"k\\u00e9y\": 1}" },
                { "3.14",
                  "3.14" },
                { "{\"n\": 9007199254740993, \"m\": 2.5e-320, \"p\": 5e-324, \"q\": 1.5e-5, \"r\": 123456789.125, \"t\": -2.5e+20}",
                  "{\"n\": 9007199254740993, \"m\": 2.5e-320, \"p\": 5e-324, \"q\": 1.5e-05, \"r\": 123456789.125, \"t\": -2.5e+20}" },
                { "{\"nested\": {\"deep\": {\"deeper\": [{\"x\": -1.0}]}}, \"empty_s\": \"\"}",
                  "{\"nested\": {\"deep\": {\"deeper\": [{\"x\": -1.0}]}}, \"empty_s\": \"\"}" },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                cJSON *j = pyjson_parse(cases[i].in, strlen(cases[i].in));
                char *out;

                cr_assert_not_null(j, "%s", cases[i].in);
                out = pyjson_print_alloc(j, NULL);
                cr_assert_str_eq(out, cases[i].want, "input %s", cases[i].in);
                free(out);
                cJSON_Delete(j);
        }
}

Test(pyjson, float_repr) {
        static const struct {
                double v;
                const char *want;
        } cases[] = {
                { 25.0, "25.0" },
                { 0.1, "0.1" },
                { 1e+16, "1e+16" },
                { 1000000000000000.0, "1000000000000000.0" },
                { 1e-05, "1e-05" },
                { 0.0001, "0.0001" },
                { -0.0, "-0.0" },
                { 7.0, "7.0" },
                { 3.6, "3.6" },
                { 123.456, "123.456" },
                { 2.5e-320, "2.5e-320" },
                { 1.7976931348623157e+308, "1.7976931348623157e+308" },
                { 0.3333333333333333, "0.3333333333333333" },
                { 6.666666666666667e-11, "6.666666666666667e-11" },
                { 6.02214076e+23, "6.02214076e+23" },
                { 99.99, "99.99" },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                char buf[64];

                pyjson_float_repr(cases[i].v, buf, sizeof buf);
                cr_assert_str_eq(buf, cases[i].want);
        }
}

Test(pyjson, refuses_what_python_refuses) {
        static const char *bad[] = { "", "{", "{\"a\": }", "{\"type\": \"HELLO\"} x", "[1,]", "nope" };

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                cr_assert_null(pyjson_parse(bad[i], strlen(bad[i])), "%s", bad[i]);
}

/* Numbers built in code: integral ones print as integers unless added as
 * floats, as Python's int and float would. */
Test(pyjson, built_numbers) {
        cJSON *j = cJSON_CreateObject();
        char *out;

        cJSON_AddNumberToObject(j, "count", 3);
        pyjson_add_float(j, "load", 7);
        pyjson_add_float(j, "percent", 25.8);
        cJSON_AddStringToObject(j, "units", "MB");
        out = pyjson_print_alloc(j, NULL);
        cr_assert_str_eq(out, "{\"count\": 3, \"load\": 7.0, \"percent\": 25.8, \"units\": \"MB\"}");
        free(out);
        cJSON_Delete(j);
}
