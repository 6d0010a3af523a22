/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "grow.h"
#include "macro.h"
#include "procfile.h"

int procfile_open(struct procfile *pf, int dirfd, const char *path) {
        if (pf->fd >= 0)
                return 0;
        pf->fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (pf->fd < 0)
                return negative_errno();
        return 1;
}

static bool read_reached_end(const struct procfile *pf, size_t got, size_t asked) {
        if (got >= asked || pf->record_max == 0)
                return false;
        return pf->record_max == PROCFILE_WHOLE || got + pf->record_max <= PROCFILE_KERNEL_BUFFER;
}

ssize_t procfile_read(struct procfile *pf) {
        size_t len = 0;
        int r;

        for (;;) {
                size_t asked;
                ssize_t n;

                if (pf->size - len < 2) {
                        if (pf->size >= PROCFILE_MAX)
                                return -EFBIG;
                        r = GROW(pf->data, pf->size, len + 2, 4096);
                        if (r < 0)
                                return r;
                }
                asked = pf->size - 1 - len;
                n = pread(pf->fd, pf->data + len, asked, (off_t) len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = negative_errno();
                        pf->fd = safe_close(pf->fd);
                        return r;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (read_reached_end(pf, (size_t) n, asked))
                        break;
        }
        pf->data[len] = '\0';
        return (ssize_t) len;
}

void procfile_close(struct procfile *pf) {
        safe_close(pf->fd);
        free(pf->data);
        *pf = PROCFILE_NULL;
}

ssize_t read_once_at(int dirfd, const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        ssize_t n;

        if (fd < 0)
                return negative_errno();
        do
                n = read(fd, buf, size - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        buf[n] = '\0';
        return n;
}
