/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "macro.h"
#include "net.h"

int tcp_bind(const char *addr, uint16_t port, bool listen_now) {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } sa = { 0 };
        _cleanup_close_ int fd = -1;
        socklen_t len;
        int one = 1;

        if (inet_pton(AF_INET, addr, &sa.in.sin_addr) == 1) {
                sa.in.sin_family = AF_INET;
                sa.in.sin_port = htons(port);
                len = sizeof sa.in;
        } else if (inet_pton(AF_INET6, addr, &sa.in6.sin6_addr) == 1) {
                sa.in6.sin6_family = AF_INET6;
                sa.in6.sin6_port = htons(port);
                len = sizeof sa.in6;
        } else
                return -EINVAL;

        fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                return negative_errno();
        if (bind(fd, &sa.sa, len) < 0)
                return negative_errno();
        if (listen_now && listen(fd, SOMAXCONN) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

void format_host_port(const char *addr, uint16_t port, char *buf, size_t size) {
        bool v6 = strchr(addr, ':') != NULL;

        snprintf(buf, size, "%s%s%s:%u", v6 ? "[" : "", addr, v6 ? "]" : "", (unsigned) port);
}

void format_sockaddr(const struct sockaddr *sa, char *buf, size_t size) {
        char addr[INET6_ADDRSTRLEN] = "?";
        uint16_t port = 0;

        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *s = (const struct sockaddr_in *) (const void *) sa;

                inet_ntop(AF_INET, &s->sin_addr, addr, sizeof addr);
                port = ntohs(s->sin_port);
        } else if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *s = (const struct sockaddr_in6 *) (const void *) sa;

                inet_ntop(AF_INET6, &s->sin6_addr, addr, sizeof addr);
                port = ntohs(s->sin6_port);
        }
        format_host_port(addr, port, buf, size);
}

int cidr_parse(const char *s, struct cidr *ret) {
        char addr[INET6_ADDRSTRLEN];
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t) (slash - s) : strlen(s);
        struct cidr c = { 0 };
        unsigned max;

        if (len == 0 || len >= sizeof addr)
                return -EINVAL;
        memcpy(addr, s, len);
        addr[len] = '\0';
        if (inet_pton(AF_INET, addr, c.addr) == 1) {
                c.family = AF_INET;
                max = 32;
        } else if (inet_pton(AF_INET6, addr, c.addr) == 1) {
                c.family = AF_INET6;
                max = 128;
        } else
                return -EINVAL;
        c.prefix = max;
        if (slash) {
                char *end;
                unsigned long p;

                if (slash[1] < '0' || slash[1] > '9')
                        return -EINVAL;
                errno = 0;
                p = strtoul(slash + 1, &end, 10);
                if (errno != 0 || *end != '\0' || p > max)
                        return -EINVAL;
                c.prefix = (unsigned) p;
        }
        *ret = c;
        return 0;
}

int cidr_list_parse(const char *s, struct cidr *ret, size_t max, size_t *n) {
        size_t count = 0;

        for (const char *p = s; *p;) {
                char item[INET6_ADDRSTRLEN + 8];
                size_t len = strcspn(p, " \t");
                int r;

                if (len == 0) {
                        p++;
                        continue;
                }
                if (len >= sizeof item)
                        return -EINVAL;
                if (count == max)
                        return -E2BIG;
                memcpy(item, p, len);
                item[len] = '\0';
                r = cidr_parse(item, &ret[count]);
                if (r < 0)
                        return r;
                count++;
                p += len;
        }
        *n = count;
        return 0;
}

static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits) {
        unsigned bytes = bits / 8, rest = bits % 8;

        if (memcmp(a, b, bytes) != 0)
                return false;
        return rest == 0 || ((a[bytes] ^ b[bytes]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

bool cidr_match(const struct cidr *c, const struct sockaddr *sa) {
        static const unsigned char v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        const unsigned char *a;

        if (sa->sa_family == AF_INET) {
                a = (const unsigned char *) &((const struct sockaddr_in *) (const void *) sa)->sin_addr;
                return c->family == AF_INET && prefix_equal(a, c->addr, c->prefix);
        }
        if (sa->sa_family != AF_INET6)
                return false;
        a = (const unsigned char *) &((const struct sockaddr_in6 *) (const void *) sa)->sin6_addr;
        if (c->family == AF_INET6)
                return prefix_equal(a, c->addr, c->prefix);
        return memcmp(a, v4_mapped, sizeof v4_mapped) == 0 && prefix_equal(a + 12, c->addr, c->prefix);
}
