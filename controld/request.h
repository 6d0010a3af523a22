/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "supervisor.h"

/* The body of POST /control, parsed and checked. Pure: bytes in, struct out,
 * so every malformed body is a unit test. */

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

/* 0 and *ret filled, or -EINVAL with err filled. */
int command_parse(const char *body, size_t len, struct command *ret, struct request_error *err);

/* "application/json", optionally with parameters such as charset. */
bool content_type_is_json(const char *value);
