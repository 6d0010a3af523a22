/* SPDX-License-Identifier: MIT */
/* A program's command line, through conf_load_args(): the input is argv[1..]
 * separated by NUL bytes.
 *
 * --config makes it open a file by name. So that a generated name cannot
 * reach a device or a FIFO (which could block or, for some devices, act on
 * being opened), arguments holding a '/' are skipped and the harness runs in
 * a directory of its own, which holds the only files a bare name can reach. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

#define ARGS_MAX 32

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct conf_flag flags[] = {
        { "port", 'p', "telemetry", "port", "PORT", "port to listen on" },
        { "interval", 'i', "telemetry", "interval", "SECONDS", "sampling interval" },
        { "state-dir", 's', "control", "state_dir", "DIR", "state directory" },
        { 0 },
};

static char dir[] = "/tmp/resolvix-fuzz-conf-args-XXXXXX";

/* libFuzzer ends a run with exit(): the directory goes with it. */
static void remove_dir(void) {
        (void) unlink("resolvix.conf");
        (void) rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        FILE *f;

        if (!mkdtemp(dir) || chdir(dir) < 0 || atexit(remove_dir) != 0)
                abort();
        f = fopen("resolvix.conf", "w");
        if (!f)
                abort();
        fputs("[telemetry]\ninterval = 5\n[livelogs]\nbacklog = 3\n", f);
        fclose(f);
        /* No default file: only what the arguments name is read. */
        setenv("RESOLVIX_CONFIG", "", 1);
        /* --help prints its usage there. */
        if (!freopen("/dev/null", "w", stdout))
                abort();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct conf c;
        char *block = malloc(size + 1), *argv[ARGS_MAX + 2];
        struct conf_cli cli;
        int argc = 0;

        if (!block)
                return 0;
        memcpy(block, data, size);
        block[size] = '\0';
        argv[argc++] = "fuzz";
        for (char *p = block; p < block + size && argc <= ARGS_MAX; p += strlen(p) + 1) {
                if (strchr(p, '/'))
                        goto out;
                argv[argc++] = p;
        }
        argv[argc] = NULL;
        log_set_max_level(-1); /* --verbose raises it */
        (void) conf_load_args(argc, argv, "fuzz", flags, &c, &cli);
out:
        free(block);
        return 0;
}
