/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "net.h"

static struct sockaddr_storage addr(const char *s) {
        struct sockaddr_storage ss = { 0 };
        struct sockaddr_in *in = (struct sockaddr_in *) &ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;

        if (inet_pton(AF_INET, s, &in->sin_addr) == 1)
                in->sin_family = AF_INET;
        else {
                cr_assert_eq(inet_pton(AF_INET6, s, &in6->sin6_addr), 1, "%s", s);
                in6->sin6_family = AF_INET6;
        }
        return ss;
}

Test(net, cidr_match) {
        static const struct {
                const char *range, *peer;
                bool match;
        } cases[] = {
                { "127.0.0.1/8", "127.0.0.1", true },
                { "127.0.0.1/8", "127.255.3.4", true },
                { "127.0.0.1/8", "128.0.0.1", false },
                { "127.0.0.1/8", "::ffff:127.0.0.9", true },
                { "127.0.0.1/8", "::1", false },
                { "::1", "::1", true },
                { "::1", "::2", false },
                { "::1", "127.0.0.1", false },
                { "10.1.2.3", "10.1.2.3", true },
                { "10.1.2.3", "10.1.2.4", false },
                { "192.168.0.0/23", "192.168.1.200", true },
                { "192.168.0.0/23", "192.168.2.1", false },
                { "0.0.0.0/0", "203.0.113.9", true },
                { "fd00::/8", "fd12:3456::1", true },
                { "fd00::/8", "fe80::1", false },
                { "fd00::/7", "fc00::1", true },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                struct sockaddr_storage ss = addr(cases[i].peer);
                struct cidr c;

                cr_assert_eq(cidr_parse(cases[i].range, &c), 0, "%s", cases[i].range);
                cr_assert_eq(cidr_match(&c, (struct sockaddr *) &ss), cases[i].match, "%s in %s", cases[i].peer,
                             cases[i].range);
        }
}

Test(net, cidr_list) {
        struct cidr list[2];
        size_t n = 99;

        cr_assert_eq(cidr_list_parse("  127.0.0.1/8   ::1 ", list, 2, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_eq(list[0].family, AF_INET);
        cr_assert_eq(list[0].prefix, 8);
        cr_assert_eq(list[1].family, AF_INET6);
        cr_assert_eq(list[1].prefix, 128);
        cr_assert_eq(cidr_list_parse("", list, 2, &n), 0);
        cr_assert_eq(n, 0);
        cr_assert_eq(cidr_list_parse("1.1.1.1 2.2.2.2 3.3.3.3", list, 2, &n), -E2BIG);
        cr_assert_eq(cidr_list_parse("1.1.1.1 nonsense", list, 2, &n), -EINVAL);
        cr_assert_eq(cidr_list_parse("1.1.1.1/x", list, 2, &n), -EINVAL);
}
