/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* A hub URL as pushd reaches it (docs/fleet.md, "pushd on every node"):
 * http or https, a host name or an IP literal (IPv6 in brackets), an
 * optional port, and a path prefix the request paths are appended to. */
struct http_url {
        bool tls;
        bool literal;        /* host is an IP address: no name lookup, no SNI */
        char host[256];      /* without the brackets of an IPv6 literal */
        char port[6];        /* digits; 80 or 443 when the URL names none */
        char authority[300]; /* what the Host header says */
        char path[1024];     /* "" or "/prefix", without a trailing slash */
};

/* Pure: -EINVAL for anything else than the above (user info, an empty or
 * bad host, a port out of 1..65535, an unknown scheme). */
int http_url_parse(const char *url, struct http_url *ret);
