/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reading /proc cheaply (docs/architecture.md). */

/* A /proc file read on every sample. It stays open and is read again from
 * offset 0 (which makes the kernel produce it afresh): opening and closing
 * cost more than reading. Its buffer grows to what the machine needs, up to
 * PROCFILE_MAX. */
struct procfile {
        int fd;
        char *data;
        size_t size;
        /* How the kernel makes the file, which tells when a read that
         * returned less than it asked for has reached the end, sparing the
         * read that would return nothing (a system call on each tick):
         * PROCFILE_WHOLE: in one piece (single_open(); a regular file too),
         * so always. N: in records (lines) of at most N bytes, put in a
         * buffer of at least PROCFILE_KERNEL_BUFFER bytes, which stops
         * short only when the next one does not fit: when one more would
         * have. 0: not known, so only a read that returns nothing. */
        size_t record_max;
};

#define PROCFILE_NULL ((struct procfile){ .fd = -1 })
#define PROCFILE_WHOLE SIZE_MAX
#define PROCFILE_KERNEL_BUFFER 4096 /* seq_file's first buffer: a page */
#define PROCFILE_MAX (16u << 20) /* no /proc file we read is anywhere near this */

/* Open path under dirfd unless already open: 1 when it was opened now, 0
 * when it was open, or a negative errno. */
int procfile_open(struct procfile *pf, int dirfd, const char *path);

/* The whole file, NUL-terminated, in pf->data; returns its length. A failed
 * read closes the file, so that the next open starts afresh. */
ssize_t procfile_read(struct procfile *pf);

void procfile_close(struct procfile *pf);

/* Per-process files are read with one read(): they are produced whole on
 * the first read, and a second read() just to see EOF would be a third more
 * system calls in the one loop that scales with the machine. */
ssize_t read_once_at(int dirfd, const char *path, char *buf, size_t size);
