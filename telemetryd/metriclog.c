/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "fileio.h"
#include "grow.h"
#include "ingestproto.h"
#include "macro.h"
#include "metriclog.h"

#define LOCK_NAME "custom-metrics.lock"

struct metric_log {
        char path[PATH_MAX], tmp[PATH_MAX];
        int dir_fd, lock_fd, fd;
        char *queue;
        size_t queue_len, queue_size;
        uint64_t size, compacted;
        bool unsynced;
        /* A write failed part-way: what follows in the file could be glued
         * to half a line, so nothing more is appended until a compaction
         * has rewritten it from the store. */
        bool must_compact;
};

void metric_log_free(struct metric_log *l) {
        if (!l)
                return;
        if (l->fd >= 0) {
                (void) metric_log_flush(l);
                (void) metric_log_sync(l);
                close(l->fd);
        }
        if (l->lock_fd >= 0)
                close(l->lock_fd);
        if (l->dir_fd >= 0)
                close(l->dir_fd);
        free(l->queue);
        free(l);
}

static int write_all(int fd, const char *p, size_t len, size_t *written) {
        *written = 0;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += n;
                len -= (size_t) n;
                *written += (size_t) n;
        }
        return 0;
}

int metric_log_compact(struct metric_log *l, const struct metric_store *store) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        /* State-dir files are never opened through a symlink: one planted
         * at any of these names must not redirect a write elsewhere. */
        fd = create_file_new(l->tmp, 0644);
        if (fd < 0)
                return fd;
        f = fdopen(fd, "we");
        if (!f)
                goto fail;
        TAKE_FD(fd);
        for (size_t i = 0; i < metric_store_size(store); i++) {
                const struct metric *m = metric_store_at(store, i);

                for (size_t j = 0; j < metric_size(m); j++) {
                        struct metric_point p = metric_point_at(m, j);

                        /* Not the replies' shortest spelling, which takes
                         * several tries per value: a compaction rewrites
                         * every point, and 17 digits read back exactly. */
                        if (fprintf(f, "put %s %.17g %" PRId64 "\n", metric_name(m), p.value, p.timestamp) < 0)
                                goto fail;
                }
        }
        if (fflush(f) != 0 || fsync(fileno(f)) < 0 || fstat(fileno(f), &st) < 0)
                goto fail;
        r = fclose(TAKE_PTR(f));
        if (r != 0 || rename(l->tmp, l->path) < 0)
                goto fail;
        /* The rename is what makes the new content the log: make it durable
         * before appending to the new file. */
        (void) fsync(l->dir_fd);

        fd = open(l->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                /* The old descriptor now points at an unlinked file. */
                l->must_compact = true;
                return negative_errno();
        }
        if (l->fd >= 0)
                close(l->fd);
        l->fd = TAKE_FD(fd);
        l->size = l->compacted = (uint64_t) st.st_size;
        /* Whatever was queued is in the store, hence in the new file. */
        l->queue_len = 0;
        l->unsynced = false;
        l->must_compact = false;
        return 0;
fail:
        r = negative_errno();
        (void) unlink(l->tmp);
        return r;
}

int metric_log_compact_if_due(struct metric_log *l, const struct metric_store *store) {
        int r;

        if (!l->must_compact && l->size <= 2 * l->compacted + METRIC_LOG_COMPACT_MIN)
                return 0;
        r = metric_log_compact(l, store);
        return r < 0 ? r : 1;
}

static int replay(struct metric_log *l, struct metric_store *store, struct metric_log_replay *ret) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        struct metric_log_replay rp = { 0 };
        int fd = open(l->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        size_t size = 0;
        ssize_t n;

        if (fd < 0) {
                if (errno == ENOENT) {
                        *ret = rp;
                        return 0;
                }
                return negative_errno();
        }
        f = fdopen(fd, "re");
        if (!f) {
                close(fd);
                return negative_errno();
        }
        while ((n = getline(&line, &size, f)) > 0) {
                struct ingest_request req;
                int r;

                /* A line without its newline is the one a crash cut short:
                 * whatever it holds may be a prefix of the real value or
                 * timestamp. */
                if (line[n - 1] != '\n' || ingest_parse(line, (size_t) n - 1, &req) < 0 ||
                    req.command != INGEST_PUT) {
                        rp.bad++;
                        continue;
                }
                r = metric_store_put(store, req.metric, req.timestamp, req.value);
                if (r == -ENOSPC)
                        rp.refused++;
                else if (r < 0)
                        return r;
                else
                        rp.lines++;
        }
        if (ferror(f))
                return -EIO;
        *ret = rp;
        return 0;
}

int metric_log_open(const char *dir, struct metric_store *store, struct metric_log **ret,
                    struct metric_log_replay *replayed) {
        struct metric_log *l;
        char lock[PATH_MAX];
        int r;

        r = mkdir_parents(dir, 0755);
        if (r < 0)
                return r;
        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->dir_fd = l->lock_fd = l->fd = -1;
        if (snprintf(l->path, sizeof l->path, "%s/" METRIC_LOG_NAME, dir) >= (int) sizeof l->path ||
            snprintf(l->tmp, sizeof l->tmp, "%s.tmp", l->path) >= (int) sizeof l->tmp ||
            snprintf(lock, sizeof lock, "%s/" LOCK_NAME, dir) >= (int) sizeof lock) {
                r = -ENAMETOOLONG;
                goto fail;
        }
        l->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        l->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (l->dir_fd < 0 || l->lock_fd < 0) {
                r = negative_errno();
                goto fail;
        }
        /* Two processes appending and compacting one log would lose each
         * other's points. */
        if (flock(l->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                r = errno == EWOULDBLOCK ? -EBUSY : negative_errno();
                goto fail;
        }
        r = replay(l, store, replayed);
        if (r < 0)
                goto fail;
        /* Start from a file that holds exactly the store: no torn line for
         * the next append to be glued to, no history beyond the bounds. */
        r = metric_log_compact(l, store);
        if (r == -ENOSPC || r == -EDQUOT) {
                /* A full disk is no reason not to serve what was replayed:
                 * nothing is appended until a compaction works. */
                l->must_compact = true;
                replayed->unwritable = r;
        } else if (r < 0)
                goto fail;
        *ret = l;
        return 0;
fail:
        metric_log_free(l);
        return r;
}

int metric_log_append(struct metric_log *l, const char *request, size_t len) {
        if (GROW(l->queue, l->queue_size, l->queue_len + len + 1, 4096) < 0) {
                /* The store has the point: a rewrite saves it. */
                l->must_compact = true;
                return -ENOMEM;
        }
        memcpy(l->queue + l->queue_len, request, len);
        l->queue[l->queue_len + len] = '\n';
        l->queue_len += len + 1;
        return 0;
}

int metric_log_flush(struct metric_log *l) {
        size_t written;
        int r;

        if (l->queue_len == 0)
                return 0;
        if (l->must_compact) {
                l->queue_len = 0;
                return -EIO;
        }
        r = write_all(l->fd, l->queue, l->queue_len, &written);
        l->size += written;
        if (written > 0)
                l->unsynced = true;
        l->queue_len = 0;
        if (r < 0)
                l->must_compact = true;
        /* A queue grown by one large burst need not stay that large. */
        if (l->queue_size > (1u << 20)) {
                free(l->queue);
                l->queue = NULL;
                l->queue_size = 0;
        }
        return r;
}

int metric_log_sync(struct metric_log *l) {
        if (!l->unsynced)
                return 0;
        l->unsynced = false;
        if (fdatasync(l->fd) < 0) {
                /* What was written may not be on disk, and after a failed
                 * fsync the kernel may have dropped it: only a rewrite
                 * from the store is sure to hold it. */
                l->must_compact = true;
                return negative_errno();
        }
        return 0;
}

bool metric_log_unsynced(const struct metric_log *l) {
        return l->unsynced;
}

bool metric_log_writable(const struct metric_log *l) {
        return !l->must_compact;
}

uint64_t metric_log_size(const struct metric_log *l) {
        return l->size;
}

uint64_t metric_log_compacted_size(const struct metric_log *l) {
        return l->compacted;
}
