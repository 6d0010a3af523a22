/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* What controld persists under state_dir: which workers should run and the
 * telemetry interval last asked for, so that a restarted controld (or node)
 * brings back what the operator had. */
struct desired_state {
        bool telemetry;
        bool livelogs;
        bool push;
        unsigned interval;
};

#define STATE_FILE "state.json"

/* Pure: parse and format. Parsing rejects anything but the exact shape. */
int state_parse(const char *json, struct desired_state *ret);
char *state_format(const struct desired_state *s);

/* -ENOENT when there is no state yet (first start). */
int state_load(const char *dir, struct desired_state *ret);
int state_save(const char *dir, const struct desired_state *s);
