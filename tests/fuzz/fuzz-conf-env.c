/* SPDX-License-Identifier: MIT */
/* RESOLVIX_* environment variables: the input is the environment block,
 * one NAME=VALUE per line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

#define ENV_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct conf c;
        char *block = malloc(size + 1), *env[ENV_MAX + 1], *save = NULL, err[512];
        size_t n = 0;

        if (!block)
                return 0;
        memcpy(block, data, size);
        block[size] = '\0';
        for (char *e = strtok_r(block, "\n", &save); e && n < ENV_MAX; e = strtok_r(NULL, "\n", &save))
                env[n++] = e;
        env[n] = NULL;
        conf_defaults(&c);
        err[0] = '\0';
        if (conf_load_env(&c, env, err, sizeof err) < 0 && !err[0])
                abort();
        free(block);
        return 0;
}
