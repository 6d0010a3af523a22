/* SPDX-License-Identifier: MIT */
/* A configuration file: what an operator, or anyone who can write it, puts
 * in it. The bytes go into a memory file read through its /proc path, so
 * conf_load_file() runs as it does on a real one, without touching the
 * disk on every run. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        memfd = memfd_create("fuzz-conf", MFD_CLOEXEC);
        if (memfd < 0)
                abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
        log_set_max_level(-1);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct conf c;
        char err[512];

        if (ftruncate(memfd, 0) < 0 || pwrite(memfd, data, size, 0) != (ssize_t) size)
                abort();
        conf_defaults(&c);
        err[0] = '\0';
        if (conf_load_file(&c, path, err, sizeof err) < 0 && (!err[0] || !memchr(err, '\0', sizeof err)))
                abort(); /* an error always says what was wrong */
        return 0;
}
