/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"

ssize_t read_file(const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        size_t len = 0;

        if (fd < 0)
                return negative_errno();
        if (size == 0)
                return -EFBIG;
        for (;;) {
                ssize_t n = read(fd, buf + len, size - 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len == size - 1) {
                        char extra;
                        if (read(fd, &extra, 1) > 0)
                                return -EFBIG;
                        break;
                }
        }
        buf[len] = '\0';
        return (ssize_t) len;
}

int create_file_new(const char *path, mode_t mode) {
        int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
        int fd = open(path, flags, mode);

        /* Left by a crash, or planted: unlink() removes a link itself, and
         * should another appear in between, O_EXCL fails rather than
         * follow it. */
        if (fd < 0 && errno == EEXIST) {
                if (unlink(path) < 0 && errno != ENOENT)
                        return negative_errno();
                fd = open(path, flags, mode);
        }
        return fd < 0 ? negative_errno() : fd;
}

int write_file_atomic(const char *path, const void *data, size_t len) {
        return write_file_atomic_mode(path, data, len, 0644);
}

int write_file_atomic_mode(const char *path, const void *data, size_t len, mode_t mode) {
        char tmp[PATH_MAX], dir[PATH_MAX];
        _cleanup_close_ int fd = -1, dfd = -1;
        const char *p = data;
        int r;

        if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int) getpid()) >= (int) sizeof tmp)
                return -ENAMETOOLONG;
        fd = create_file_new(tmp, mode);
        if (fd < 0)
                return fd;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        goto fail;
                }
                p += n;
                len -= (size_t) n;
        }
        if (fsync(fd) < 0 || rename(tmp, path) < 0) {
                r = negative_errno();
                goto fail;
        }
        /* Make the rename itself durable. */
        snprintf(dir, sizeof dir, "%s", path);
        dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        return 0;
fail:
        (void) unlink(tmp);
        return r;
}

int mkdir_parents(const char *path, mode_t mode) {
        char buf[PATH_MAX];

        if (snprintf(buf, sizeof buf, "%s", path) >= (int) sizeof buf)
                return -ENAMETOOLONG;
        for (char *p = buf + 1;; p++) {
                if (*p != '/' && *p != '\0')
                        continue;
                char saved = *p;
                *p = '\0';
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                *p = saved;
                if (saved == '\0')
                        return 0;
        }
}

unsigned long fd_limit_reserve(unsigned n) {
        static unsigned long reserved;
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 0;
        reserved += n;
        if (rl.rlim_cur < reserved) {
                rl.rlim_cur = reserved < rl.rlim_max ? reserved : rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        return rl.rlim_cur;
}
