/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
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
        { "{\"command\":\"stop_telemetry\",\"command\":\"start_telemetry\"}", "duplicate_field" },
        { "{\"command\":\"start_telemetry\",\"interval\":5,\"interval\":6}", "duplicate_field" },
        { "{\"command\":\"bogus\",\"command\":\"start_telemetry\"}", "duplicate_field" },
        { "{\"command\":\"start_telemetry\",\"a\":1,\"b\":2,\"a\":3}", "duplicate_field" },
        /* names are case-sensitive: two different fields, one unknown */
        { "{\"command\":\"start_telemetry\",\"Command\":\"x\"}", "unknown_field" },
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

Test(request, client_bytes_are_quoted_as_valid_utf8) {
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
                struct request_error err = { 0 };

                cr_assert_eq(command_parse(bodies[i], strlen(bodies[i]), &c, &err), -EINVAL, "case %zu", i);
                cr_expect(valid_utf8(err.message), "case %zu: %s", i, err.message);
                cr_expect(strstr(err.message, "\xef\xbf\xbd") != NULL, "case %zu: no U+FFFD in %s", i, err.message);
        }
}

Test(request, long_names_are_cut_in_messages) {
        char body[512];
        struct command c;
        struct request_error err = { 0 };

        snprintf(body, sizeof body, "{\"command\":\"start_telemetry\",\"%0300d\":1}", 7);
        cr_assert_eq(command_parse(body, strlen(body), &c, &err), -EINVAL);
        cr_expect_str_eq(err.detail, "unknown_field");
        cr_expect_lt(strlen(err.message), 120, "%s", err.message);
}

Test(request, many_fields_are_checked_for_duplicates_quickly) {
        /* Some ten thousand distinct fields in 64 KiB, then one twice. */
        size_t size = CONTROL_BODY_MAX, n = 0;
        char *body = malloc(size);
        struct command c;
        struct request_error err = { 0 };

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

static const struct access_rules loopback = {
        .listen = "127.0.0.1", .port = 8754, .allowed_hosts = "", .allowed_origins = "",
};

Test(request, host_allowed) {
        static const struct {
                const char *host;
                bool ok;
        } cases[] = {
                { NULL, true }, /* HTTP/1.0 without Host: not a browser */
                { "localhost", true }, { "localhost:8754", true }, { "LOCALHOST:8754", true },
                { "127.0.0.1", true }, { "127.0.0.1:8754", true }, { "127.0.0.1:1", true },
                { "[::1]", true }, { "[::1]:8754", true }, { "[0:0:0:0:0:0:0:1]:8754", true },
                { "evil.example", false }, { "evil.example:8754", false }, { "localhost.evil.example", false },
                { "127.0.0.1.nip.io", false }, { "localhost.", false }, { "127.0.0.2", false },
                { "[::2]", false }, { "::1", false }, { "localhost:http", false }, { "localhost:", false },
                { "localhost:0", false }, { "localhost:65536", false }, { "localhost:123456", false },
                { "[::1", false }, { "[::1]x", false }, { "", false }, { "local host", false },
                { "127.1", false }, { "[127.0.0.1]", false }, { "localhost:8754/", false }, { "user@localhost", false },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                cr_expect_eq(host_allowed(cases[i].host, &loopback), cases[i].ok, "%s", cases[i].host ?: "(none)");
}

Test(request, host_allowed_by_listen_and_allowed_hosts) {
        const struct access_rules named = {
                .listen = "192.0.2.7", .port = 8754, .allowed_hosts = "node7.example.com [2001:db8::7] Node8",
        };
        const struct access_rules v6 = { .listen = "2001:db8::1", .port = 8754, .allowed_hosts = "" };
        const struct access_rules any4 = { .listen = "0.0.0.0", .port = 8754, .allowed_hosts = "" };
        const struct access_rules any6 = { .listen = "::", .port = 8754, .allowed_hosts = "" };

        cr_expect(host_allowed("192.0.2.7:8754", &named));
        cr_expect(host_allowed("node7.example.com", &named));
        cr_expect(host_allowed("NODE7.example.com:8754", &named));
        cr_expect(host_allowed("node8", &named));
        cr_expect(host_allowed("[2001:db8:0::7]:8754", &named));
        cr_expect(host_allowed("localhost", &named));
        cr_expect_not(host_allowed("192.0.2.8", &named));
        cr_expect_not(host_allowed("node7.example.com.evil", &named));
        cr_expect_not(host_allowed("example.com", &named));
        cr_expect(host_allowed("[2001:db8::1]:8754", &v6));
        cr_expect_not(host_allowed("[2001:db8::2]:8754", &v6));
        /* A wildcard listens on every address: any literal is one of ours,
         * and a literal cannot be rebound. Names still need the list. */
        cr_expect(host_allowed("192.0.2.99:8754", &any4));
        cr_expect(host_allowed("[2001:db8::99]", &any6));
        cr_expect_not(host_allowed("node9.example.com", &any4));
}

Test(request, origin_allowed) {
        const struct access_rules listed = {
                .listen = "127.0.0.1", .port = 8754, .allowed_hosts = "ops.example.com",
                .allowed_origins = "https://ops.example.com http://10.1.2.3:9000",
        };

        cr_expect(origin_allowed(NULL, "127.0.0.1:8754", &loopback)); /* not a browser */
        cr_expect(origin_allowed("http://127.0.0.1:8754", "127.0.0.1:8754", &loopback));
        cr_expect(origin_allowed("http://localhost:8754", "127.0.0.1:8754", &loopback));
        cr_expect(origin_allowed("http://[::1]:8754", "localhost:8754", &loopback));
        cr_expect(origin_allowed("HTTP://LocalHost:8754", "localhost:8754", &loopback));
        /* through a tunnel: the page and the API share the tunnel's port */
        cr_expect(origin_allowed("http://localhost:9000", "localhost:9000", &loopback));
        cr_expect_not(origin_allowed("http://localhost:9000", "localhost:8754", &loopback));
        cr_expect_not(origin_allowed("http://evil.example", "127.0.0.1:8754", &loopback));
        cr_expect_not(origin_allowed("http://evil.example:8754", "evil.example:8754", &loopback));
        cr_expect_not(origin_allowed("null", "127.0.0.1:8754", &loopback));
        cr_expect_not(origin_allowed("", "127.0.0.1:8754", &loopback));
        cr_expect_not(origin_allowed("https://127.0.0.1:8754", "127.0.0.1:8754", &loopback));
        cr_expect_not(origin_allowed("http://127.0.0.1:8754/", "127.0.0.1:8754", &loopback));
        cr_expect_not(origin_allowed("http://127.0.0.1", "127.0.0.1:8754", &loopback));
        cr_expect(origin_allowed("https://ops.example.com", "ops.example.com", &listed));
        cr_expect(origin_allowed("http://10.1.2.3:9000", "ops.example.com", &listed));
        cr_expect(origin_allowed("http://ops.example.com:8754", "127.0.0.1:8754", &listed));
        cr_expect_not(origin_allowed("https://evil.example.com", "ops.example.com", &listed));
}
