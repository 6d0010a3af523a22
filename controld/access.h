/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* Whom controld answers: the Host and Origin of a request, checked against
 * its own names and [control] allowed_hosts / allowed_origins. Pure, so every
 * case is a unit test. */

/* Whom controld answers, from [control]. */
struct access_rules {
        const char *listen;          /* the listen address */
        unsigned port;               /* the listen port */
        const char *allowed_hosts;   /* space-separated names beside its own */
        const char *allowed_origins; /* space-separated origins beside its own page's */
};

/* Is the Host header (NULL: none, which no browser sends) one of controld's
 * own names: localhost, 127.0.0.1, [::1], the listen address (any address
 * literal when that is a wildcard) or allowed_hosts, with or without a port?
 * A web page whose name an attacker rebound to 127.0.0.1 sends its own name,
 * and is refused. */
bool host_allowed(const char *host, const struct access_rules *rules);

/* May a browser page of this Origin (NULL: not a browser) send commands? Its
 * own page may: the Origin is the Host the request was sent to, or one of
 * controld's names on its port; so may any of allowed_origins. */
bool origin_allowed(const char *origin, const char *host, const struct access_rules *rules);
