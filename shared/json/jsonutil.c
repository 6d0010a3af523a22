/* SPDX-License-Identifier: MIT */
#include <math.h>

#include "jsonutil.h"

double round2(double v) {
        if (!isfinite(v))
                return 0.0;
        return round(v * 100.0) / 100.0;
}

cJSON *json_add_round2(cJSON *obj, const char *name, double v) {
        return cJSON_AddNumberToObject(obj, name, round2(v));
}

const char *json_string(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        return cJSON_IsString(v) ? v->valuestring : NULL;
}

double json_number(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}
