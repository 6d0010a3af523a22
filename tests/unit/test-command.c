/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"

struct ok_case {
        const char *body;
        enum command_verb verb;
        enum worker_kind target;
        bool has_interval;
        unsigned interval;
};

static const struct ok_case ok_cases[] = {
        { "{\"command\": \"start_telemetry\"}", VERB_START, KIND_TELEMETRY, false, 0 },
        { "{\"command\":\"start_telemetry\",\"interval\":5}", VERB_START, KIND_TELEMETRY, true, 5 },
        { "{\"interval\": 86400, \"command\": \"restart_telemetry\"}", VERB_RESTART, KIND_TELEMETRY, true, 86400 },
        { "{\"command\":\"start_telemetry\",\"interval\":1}", VERB_START, KIND_TELEMETRY, true, 1 },
        { "{\"command\":\"start_telemetry\",\"interval\":5.0}", VERB_START, KIND_TELEMETRY, true, 5 },
        { "{\"command\":\"stop_telemetry\"}", VERB_STOP, KIND_TELEMETRY, false, 0 },
        { " {\"command\":\"start_livelogs\"} \n", VERB_START, KIND_LIVELOGS, false, 0 },
        { "{\"command\":\"stop_livelogs\"}", VERB_STOP, KIND_LIVELOGS, false, 0 },
        { "{\"command\":\"restart_livelogs\"}", VERB_RESTART, KIND_LIVELOGS, false, 0 },
};

Test(command, valid_commands) {
        for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) {
                const struct ok_case *t = &ok_cases[i];
                struct command c;
                struct command_error err = { 0 };

                cr_assert_eq(command_parse(t->body, strlen(t->body), &c, &err), 0, "case %zu: %s", i, err.message);
                cr_expect_eq(c.verb, t->verb, "case %zu", i);
                cr_expect_eq(c.target, t->target, "case %zu", i);
                cr_expect_eq(c.has_interval, t->has_interval, "case %zu", i);
                cr_expect_eq(c.interval, t->interval, "case %zu", i);
        }
}

struct bad_case {
        const char *body;
        const char *detail;
};

static const struct bad_case bad_cases[] = {
        { "", "malformed_json" },
        { "{", "malformed_json" },
        { "command=start_telemetry", "malformed_json" },
        { "[\"start_telemetry\"]", "malformed_json" },
        { "\"start_telemetry\"", "malformed_json" },
        { "{\"command\":\"start_telemetry\"} trailing", "malformed_json" },
        { "{}", "missing_command" },
        { "{\"cmd\":\"start_telemetry\"}", "missing_command" },
        { "{\"command\":42}", "bad_field" },
        { "{\"command\":null}", "bad_field" },
        { "{\"command\":\"start_everything\"}", "unknown_command" },
        { "{\"command\":\"START_TELEMETRY\"}", "unknown_command" },
        { "{\"command\":\"\"}", "unknown_command" },
        { "{\"command\":\"start_telemetry\",\"interval\":0}", "bad_field" },
        { "{\"command\":\"start_telemetry\",\"interval\":86401}", "bad_field" },
        { "{\"command\":\"start_telemetry\",\"interval\":-5}", "bad_field" },
        { "{\"command\":\"start_telemetry\",\"interval\":2.5}", "bad_field" },
        { "{\"command\":\"start_telemetry\",\"interval\":\"5\"}", "bad_field" },
        { "{\"command\":\"start_telemetry\",\"interval\":1e300}", "bad_field" },
        { "{\"command\":\"start_telemetry\",\"intervall\":5}", "unknown_field" },
        { "{\"command\":\"stop_telemetry\",\"interval\":5}", "unknown_field" },
        { "{\"command\":\"start_livelogs\",\"interval\":5}", "unknown_field" },
        { "{\"command\":\"stop_telemetry\",\"command\":\"start_telemetry\"}", "duplicate_field" },
        { "{\"command\":\"start_telemetry\",\"interval\":5,\"interval\":6}", "duplicate_field" },
        { "{\"command\":\"bogus\",\"command\":\"start_telemetry\"}", "duplicate_field" },
        { "{\"command\":\"start_telemetry\",\"a\":1,\"b\":2,\"a\":3}", "duplicate_field" },
        /* names are case-sensitive: two different fields, one unknown */
        { "{\"command\":\"start_telemetry\",\"Command\":\"x\"}", "unknown_field" },
};

Test(command, malformed_bodies_name_the_problem) {
        for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
                const struct bad_case *t = &bad_cases[i];
                struct command c = { .verb = VERB_STOP, .target = KIND_LIVELOGS };
                struct command_error err = { 0 };

                cr_assert_eq(command_parse(t->body, strlen(t->body), &c, &err), -EINVAL, "case %zu", i);
                cr_expect_str_eq(err.detail, t->detail, "case %zu (%s)", i, t->body);
                cr_expect_gt(strlen(err.message), 10, "case %zu has no message", i);
                /* out-parameter untouched on failure */
                cr_expect_eq(c.verb, VERB_STOP, "case %zu", i);
        }
}

Test(command, body_with_embedded_nul_is_not_json) {
        static const char body[] = "{\"command\":\"start_telemetry\"}\0garbage";
        struct command c;
        struct command_error err;

        cr_expect_eq(command_parse(body, sizeof body - 1, &c, &err), -EINVAL);
}

Test(command, content_type) {
        cr_expect(content_type_is_json("application/json"));
        cr_expect(content_type_is_json("application/json; charset=utf-8"));
        cr_expect(content_type_is_json("Application/JSON"));
        cr_expect_not(content_type_is_json(NULL));
        cr_expect_not(content_type_is_json("application/x-www-form-urlencoded"));
        cr_expect_not(content_type_is_json("application/jsonp"));
        cr_expect_not(content_type_is_json("text/plain"));
}

/* Valid UTF-8 throughout, and at most ~48 bytes of what the client sent. */
static bool valid_utf8(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
                if (n == 0 || (n == 2 && *p < 0xc2))
                        return false;
                for (size_t i = 1; i < n; i++)
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                if (n == 3 && *p == 0xed && p[1] >= 0xa0)
                        return false; /* a surrogate */
                p += n;
        }
        return true;
}

Test(command, client_bytes_are_quoted_as_valid_utf8) {
        static const char *const bodies[] = {
                "{\"command\":\"start_telemetry\",\"\xff\xfe\":1}",
                "{\"command\":\"start_telemetry\",\"caf\xc3\":1}",
                /* 47 bytes and a two-byte character: the cut falls inside it */
                "{\"command\":\"start_telemetry\",\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9\":1}",
                "{\"command\":\"start_telemetry\",\"\xed\xa0\x80\":1}",
                "{\"command\":\"start_telemetry\",\"\xc0\xaf\":1,\"\xc0\xaf\":2}",
                "{\"command\":\"start_telemetry\",\"\xf4\x90\x80\x80\":1}",
        };

        for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
                struct command c;
                struct command_error err = { 0 };

                cr_assert_eq(command_parse(bodies[i], strlen(bodies[i]), &c, &err), -EINVAL, "case %zu", i);
                cr_expect(valid_utf8(err.message), "case %zu: %s", i, err.message);
                cr_expect(strstr(err.message, "\xef\xbf\xbd") != NULL, "case %zu: no U+FFFD in %s", i, err.message);
        }
}

Test(command, long_names_are_cut_in_messages) {
        char body[512];
        struct command c;
        struct command_error err = { 0 };

        snprintf(body, sizeof body, "{\"command\":\"start_telemetry\",\"%0300d\":1}", 7);
        cr_assert_eq(command_parse(body, strlen(body), &c, &err), -EINVAL);
        cr_expect_str_eq(err.detail, "unknown_field");
        cr_expect_lt(strlen(err.message), 120, "%s", err.message);
}

Test(command, many_fields_are_checked_for_duplicates_quickly) {
        /* Some ten thousand distinct fields in 64 KiB, then one twice. */
        size_t size = CONTROL_BODY_MAX, n = 0;
        char *body = malloc(size);
        struct command c;
        struct command_error err = { 0 };

        cr_assert_not_null(body);
        n += (size_t) snprintf(body + n, size - n, "{\"command\":\"start_telemetry\"");
        for (unsigned i = 0; n + 32 < size; i++)
                n += (size_t) snprintf(body + n, size - n, ",\"f%u\":0", i);
        n += (size_t) snprintf(body + n, size - n, ",\"f7\":1}");
        cr_assert_eq(command_parse(body, n, &c, &err), -EINVAL);
        cr_expect_str_eq(err.detail, "duplicate_field");
        cr_expect(strstr(err.message, "\"f7\"") != NULL, "%s", err.message);
        free(body);
}
