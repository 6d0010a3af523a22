/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/types.h>

#include <cjson/cJSON.h>

#include "macro.h"

/* The wire format rounds every measured quantity to two decimals. */
double round2(double v);

/* cJSON_AddNumberToObject with the value rounded to two decimals. */
cJSON *json_add_round2(cJSON *obj, const char *name, double v);

/* o's member key if it is a string (a number), else NULL (NAN). */
const char *json_string(const cJSON *o, const char *key);
double json_number(const cJSON *o, const char *key);

static inline void cjson_deletep(cJSON **j) {
        cJSON_Delete(*j);
}
#define _cleanup_json_ _cleanup_(cjson_deletep)

/* j as cJSON_PrintUnformatted() prints it, byte for byte, for a fraction
 * of its cost (docs/performance.md, "One telemetry sample"): cJSON writes
 * every number with "%1.15g" and reads it back with sscanf() to see
 * whether it needs 17 digits, and most of ours are integers or hundredths,
 * which are written here digit by digit. A malloc'd string, or NULL (out
 * of memory, or a node cJSON cannot print either). */
char *json_print(const cJSON *j);

/* The same into buf (NUL-terminated): its length, -ENOBUFS when it does
 * not fit in size, -EINVAL for a node cJSON cannot print. */
ssize_t json_print_into(const cJSON *j, char *buf, size_t size);
