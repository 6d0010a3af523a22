/* SPDX-License-Identifier: MIT */
/* json_print() (shared/json/jsonutil.c) must print whatever cJSON parses
 * exactly as cJSON_PrintUnformatted() does: the input is parsed, then
 * printed both ways. Numbers in the input reach every double cJSON can
 * make; strings every byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        cJSON *j = cJSON_ParseWithLength((const char *) data, size);
        char *want, *got;

        if (!j)
                return 0;
        want = cJSON_PrintUnformatted(j);
        got = json_print(j);
        if (want && (!got || strcmp(want, got) != 0))
                abort();
        free(want);
        free(got);
        cJSON_Delete(j);
        return 0;
}
