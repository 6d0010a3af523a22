/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "worker.h"

/* What a request to controld carries, checked: the body of POST /control,
 * its Content-Type, Host and Origin. Pure: bytes in, answer out, so every
 * malformed request is a unit test. */

enum command_verb {
        VERB_START,
        VERB_STOP,
        VERB_RESTART,
};

struct command {
        enum command_verb verb;
        enum worker_kind target;
        const char *name; /* "start_telemetry" */
        bool has_interval;
        unsigned interval;
};

struct request_error {
        const char *detail; /* machine word */
        char message[256];  /* human sentence */
};

#define CONTROL_BODY_MAX (64 * 1024)

/* 0 and *ret filled, or -EINVAL with err filled (-ENOMEM: out of memory).
 * A field given twice is refused (duplicate_field): which one counts would
 * be a guess. Nothing the client sent is quoted back but as valid UTF-8. */
int command_parse(const char *body, size_t len, struct command *ret, struct request_error *err);

/* "application/json", optionally with parameters such as charset. */
bool content_type_is_json(const char *value);

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
