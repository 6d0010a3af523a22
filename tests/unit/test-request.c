/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

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

Test(request, valid_commands) {
        for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) {
                const struct ok_case *t = &ok_cases[i];
                struct command c;
                struct request_error err = { 0 };

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
};

Test(request, malformed_bodies_name_the_problem) {
        for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
                const struct bad_case *t = &bad_cases[i];
                struct command c = { .verb = VERB_STOP, .target = KIND_LIVELOGS };
                struct request_error err = { 0 };

                cr_assert_eq(command_parse(t->body, strlen(t->body), &c, &err), -EINVAL, "case %zu", i);
                cr_expect_str_eq(err.detail, t->detail, "case %zu (%s)", i, t->body);
                cr_expect_gt(strlen(err.message), 10, "case %zu has no message", i);
                /* out-parameter untouched on failure */
                cr_expect_eq(c.verb, VERB_STOP, "case %zu", i);
        }
}

Test(request, body_with_embedded_nul_is_not_json) {
        static const char body[] = "{\"command\":\"start_telemetry\"}\0garbage";
        struct command c;
        struct request_error err;

        cr_expect_eq(command_parse(body, sizeof body - 1, &c, &err), -EINVAL);
}

Test(request, content_type) {
        cr_expect(content_type_is_json("application/json"));
        cr_expect(content_type_is_json("application/json; charset=utf-8"));
        cr_expect(content_type_is_json("Application/JSON"));
        cr_expect_not(content_type_is_json(NULL));
        cr_expect_not(content_type_is_json("application/x-www-form-urlencoded"));
        cr_expect_not(content_type_is_json("application/jsonp"));
        cr_expect_not(content_type_is_json("text/plain"));
}
