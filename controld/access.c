/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "conf.h"
#include "macro.h"

/* A host as it appears in a Host header or an origin: a name, an IPv4
 * address, or an IPv6 address in brackets; optionally ":port". The host is
 * copied out (brackets kept); *ret_port is 0 when there is none. */
static int split_host_port(const char *value, char *host, size_t size, unsigned *ret_port) {
        const char *rest;
        size_t n;
        unsigned port = 0;

        if (value[0] == '[') {
                rest = strchr(value, ']');
                if (!rest)
                        return -EINVAL;
                rest++;
        } else
                rest = value + strcspn(value, ":");
        n = (size_t) (rest - value);
        if (n == 0 || n >= size)
                return -EINVAL;
        memcpy(host, value, n);
        host[n] = '\0';
        if (strspn(host, value[0] == '[' ? "[]0123456789abcdefABCDEF:." :
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != n)
                return -EINVAL;
        if (*rest == ':') {
                size_t digits = strspn(rest + 1, "0123456789");
                if (digits == 0 || digits > 5 || rest[1 + digits] != '\0')
                        return -EINVAL;
                port = (unsigned) strtoul(rest + 1, NULL, 10);
                if (port == 0 || port > 65535)
                        return -EINVAL;
        } else if (*rest != '\0')
                return -EINVAL;
        *ret_port = port;
        return 0;
}

struct address {
        int family; /* 0: not an address literal */
        unsigned char bytes[16];
};

/* "192.0.2.7", "[2001:db8::7]", or (as a listen address is written)
 * "2001:db8::7". */
static struct address parse_address(const char *host) {
        struct address a = { 0 };
        char inner[INET6_ADDRSTRLEN + 2];
        size_t n = strlen(host);

        if (inet_pton(AF_INET, host, a.bytes) == 1)
                a.family = AF_INET;
        else if (host[0] == '[' && n > 2 && host[n - 1] == ']' && n - 2 < sizeof inner) {
                memcpy(inner, host + 1, n - 2);
                inner[n - 2] = '\0';
                if (inet_pton(AF_INET6, inner, a.bytes) == 1)
                        a.family = AF_INET6;
        } else if (inet_pton(AF_INET6, host, a.bytes) == 1)
                a.family = AF_INET6;
        return a;
}

static bool same_host(const char *a, const char *b) {
        struct address x, y;

        if (strcasecmp(a, b) == 0)
                return true;
        x = parse_address(a);
        y = parse_address(b);
        return x.family != 0 && x.family == y.family &&
               memcmp(x.bytes, y.bytes, x.family == AF_INET ? 4 : 16) == 0;
}

static bool host_in(const char *host, const char *list) {
        char copy[CONF_ORIGINS_MAX];
        char *save = NULL;

        snprintf(copy, sizeof copy, "%s", list);
        for (char *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
                if (same_host(host, tok))
                        return true;
        return false;
}

/* The host part of a Host header, checked; port as split_host_port(). */
static bool host_served(const char *value, const struct access_rules *rules, unsigned *ret_port) {
        char host[256];
        struct address listen;

        if (split_host_port(value, host, sizeof host, ret_port) < 0)
                return false;
        if (host_in(host, "localhost 127.0.0.1 [::1]") || host_in(host, rules->allowed_hosts) ||
            same_host(host, rules->listen))
                return true;
        /* Listening on every address, it serves every address of the node;
         * and a literal address cannot have been rebound. */
        listen = parse_address(rules->listen);
        if (listen.family == 0 || memcmp(listen.bytes, (unsigned char[16]){ 0 }, 16) != 0)
                return false;
        return parse_address(host).family != 0;
}

bool host_allowed(const char *host, const struct access_rules *rules) {
        unsigned port;

        return !host || host_served(host, rules, &port);
}

bool origin_allowed(const char *origin, const char *host, const struct access_rules *rules) {
        char list[CONF_ORIGINS_MAX];
        char *save = NULL;
        unsigned port;

        if (!origin)
                return true;
        snprintf(list, sizeof list, "%s", rules->allowed_origins);
        for (char *tok = strtok_r(list, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
                if (strcasecmp(tok, origin) == 0)
                        return true;
        /* The dashboard is served over plain HTTP: its origin is
         * http://<Host it was loaded from>. */
        if (strncasecmp(origin, "http://", 7) != 0)
                return false;
        origin += 7;
        if (host && strcasecmp(origin, host) == 0 && host_allowed(host, rules))
                return true;
        return host_served(origin, rules, &port) && port == rules->port;
}
