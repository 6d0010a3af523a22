/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http-url.h"

static bool host_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
               c == '_';
}

int http_url_parse(const char *url, struct http_url *ret) {
        struct http_url u = { 0 };
        const char *p, *auth_end, *host, *host_end, *port = NULL;
        unsigned char addr[16];
        size_t hl, pl;

        if (strncasecmp(url, "http://", 7) == 0) {
                p = url + 7;
        } else if (strncasecmp(url, "https://", 8) == 0) {
                u.tls = true;
                p = url + 8;
        } else
                return -EINVAL;
        auth_end = p + strcspn(p, "/?#");
        if (memchr(p, '@', (size_t) (auth_end - p)))
                return -EINVAL;
        if (*p == '[') {
                host = p + 1;
                host_end = memchr(host, ']', (size_t) (auth_end - host));
                if (!host_end)
                        return -EINVAL;
                if (host_end + 1 < auth_end) {
                        if (host_end[1] != ':')
                                return -EINVAL;
                        port = host_end + 2;
                }
        } else {
                host = p;
                host_end = memchr(p, ':', (size_t) (auth_end - p));
                if (host_end)
                        port = host_end + 1;
                else
                        host_end = auth_end;
        }
        hl = (size_t) (host_end - host);
        if (hl == 0 || hl >= sizeof u.host)
                return -EINVAL;
        memcpy(u.host, host, hl);
        if (*p == '[') {
                if (inet_pton(AF_INET6, u.host, addr) != 1)
                        return -EINVAL;
                u.literal = true;
        } else {
                for (size_t i = 0; i < hl; i++)
                        if (!host_char(u.host[i]))
                                return -EINVAL;
                u.literal = inet_pton(AF_INET, u.host, addr) == 1;
        }
        if (port) {
                unsigned v = 0;

                pl = (size_t) (auth_end - port);
                if (pl == 0 || pl > 5)
                        return -EINVAL;
                for (size_t i = 0; i < pl; i++) {
                        if (port[i] < '0' || port[i] > '9')
                                return -EINVAL;
                        v = v * 10 + (unsigned) (port[i] - '0');
                }
                if (v == 0 || v > 65535)
                        return -EINVAL;
                snprintf(u.port, sizeof u.port, "%u", v);
        } else
                snprintf(u.port, sizeof u.port, "%s", u.tls ? "443" : "80");
        snprintf(u.authority, sizeof u.authority, "%s%s%s%s%s", *p == '[' ? "[" : "", u.host, *p == '[' ? "]" : "",
                 port ? ":" : "", port ? u.port : "");
        pl = strlen(auth_end);
        while (pl > 0 && auth_end[pl - 1] == '/')
                pl--;
        if (pl + 1 >= sizeof u.path)
                return -EINVAL;
        if (pl > 0 && auth_end[0] != '/') /* a query right after the host */
                u.path[0] = '/';
        strncat(u.path, auth_end, pl);
        *ret = u;
        return 0;
}
