/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"

static const struct access_rules loopback = {
        .listen = "127.0.0.1", .port = 8754, .allowed_hosts = "", .allowed_origins = "",
};

Test(access, host_allowed) {
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

Test(access, host_allowed_by_listen_and_allowed_hosts) {
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

Test(access, origin_allowed) {
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
