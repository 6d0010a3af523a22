/* SPDX-License-Identifier: MIT */
#pragma once

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
