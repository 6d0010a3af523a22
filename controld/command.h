/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "worker.h"

/* A command to controld: the body of POST /control and its Content-Type,
 * checked. Pure: bytes in, answer out, so every malformed request is a unit
 * test. */

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

struct command_error {
        const char *detail; /* machine word */
        char message[256];  /* human sentence */
};

#define CONTROL_BODY_MAX (64 * 1024)

/* 0 and *ret filled, or -EINVAL with err filled (-ENOMEM: out of memory).
 * A field given twice is refused (duplicate_field): which one counts would
 * be a guess. Nothing the client sent is quoted back but as valid UTF-8. */
int command_parse(const char *body, size_t len, struct command *ret, struct command_error *err);

/* "application/json", optionally with parameters such as charset. */
bool content_type_is_json(const char *value);
