/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A TCP socket bound to addr:port (an IPv4 or IPv6 literal), with
 * SO_REUSEADDR, listening when listen_now. Returns the fd or a negative
 * errno (-EADDRINUSE for a taken port). */
int tcp_bind(const char *addr, uint16_t port, bool listen_now);

/* "127.0.0.1:8754" or "[::1]:8754". */
void format_host_port(const char *addr, uint16_t port, char *buf, size_t size);
/* The same of a socket address (AF_INET or AF_INET6; "?:0" otherwise). */
void format_sockaddr(const struct sockaddr *sa, char *buf, size_t size);

/* An address range such as 10.0.0.0/8 or fd00::/8; a bare address is a /32
 * or /128. */
struct cidr {
        int family; /* AF_INET or AF_INET6 */
        unsigned char addr[16];
        unsigned prefix;
};

int cidr_parse(const char *s, struct cidr *ret);

/* Parse a space-separated list into at most max entries; -E2BIG beyond. */
int cidr_list_parse(const char *s, struct cidr *ret, size_t max, size_t *n);

/* Whether the address sa (AF_INET or AF_INET6) falls in c. An IPv4 peer
 * seen through an IPv6 socket (::ffff:a.b.c.d) matches IPv4 ranges. */
bool cidr_match(const struct cidr *c, const struct sockaddr *sa);
