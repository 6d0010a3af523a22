/* SPDX-License-Identifier: MIT */
/* Preloaded into resolvix-hub by tests to stand in for a slow or failing
 * disk under SQLite's WAL: fdatasync() and fsync() of a file whose name ends
 * in "-wal" first sleep RESOLVIX_SHIM_SYNC_DELAY_MS milliseconds, and fail
 * with EIO while the file RESOLVIX_SHIM_SYNC_FAIL names exists. Every other
 * call goes through untouched. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool is_wal(int fd) {
        char link[64], path[PATH_MAX];
        ssize_t n;

        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        n = readlink(link, path, sizeof path - 1);
        if (n < 4)
                return false;
        path[n] = '\0';
        return strcmp(path + n - 4, "-wal") == 0;
}

/* 0 to go on with the real call, or -1 with errno set. */
static int disk(int fd) {
        const char *delay = getenv("RESOLVIX_SHIM_SYNC_DELAY_MS"), *fail = getenv("RESOLVIX_SHIM_SYNC_FAIL");

        if (!is_wal(fd))
                return 0;
        if (delay) {
                long ms = strtol(delay, NULL, 10);
                struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
        }
        if (fail && access(fail, F_OK) == 0) {
                errno = EIO;
                return -1;
        }
        return 0;
}

int fdatasync(int fd) {
        static int (*real)(int);

        if (!real)
                real = (int (*)(int)) dlsym(RTLD_NEXT, "fdatasync");
        return disk(fd) < 0 ? -1 : real(fd);
}

int fsync(int fd) {
        static int (*real)(int);

        if (!real)
                real = (int (*)(int)) dlsym(RTLD_NEXT, "fsync");
        return disk(fd) < 0 ? -1 : real(fd);
}
