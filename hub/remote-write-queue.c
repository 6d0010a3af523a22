/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "fileio.h"
#include "grow.h"
#include "log.h"
#include "macro.h"
#include "remote-write-queue.h"
#include "timeutil.h"

static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

#define RECORD_MAGIC 0x31515752u /* "RWQ1" */
#define SEGMENT_MIN (64 * 1024)
#define SEGMENT_MAX (16 * 1024 * 1024)

/* Before every payload, in the machine's byte order (the queue never
 * leaves the machine). */
struct record_header {
        uint32_t magic;
        uint32_t len;
        uint32_t samples;
        uint32_t crc; /* of the payload */
};

struct segment {
        uint64_t id;
        uint64_t bytes;
        uint64_t samples;
};

struct rwq {
        pthread_mutex_t lock;
        pthread_cond_t more;
        char *dir;
        uint64_t max_bytes, segment_max;
        struct segment *seg; /* by id; the last one is written */
        size_t n_seg, cap_seg;
        int write_fd;
        /* The reader: its segment, the offset of the next record there and
         * the samples before that offset. */
        uint64_t read_id, read_off, read_samples;
        int read_fd;
        uint64_t read_fd_id;
        uint64_t total_bytes, queued_samples, dropped_samples;
        bool woken;
};

static void segment_path(const struct rwq *q, uint64_t id, char *buf, size_t size) {
        snprintf(buf, size, "%s/%016" PRIx64 ".seg", q->dir, id);
}

/* The header of the record at off, if it is one. */
static bool header_at(int fd, uint64_t off, struct record_header *h) {
        return pread(fd, h, sizeof *h, (off_t) off) == (ssize_t) sizeof *h && h->magic == RECORD_MAGIC;
}

/* Its payload into dst, if it is whole and matches its CRC. */
static bool payload_at(int fd, uint64_t off, const struct record_header *h, uint8_t *dst) {
        return pread(fd, dst, h->len, (off_t) (off + sizeof *h)) == (ssize_t) h->len &&
               (uint32_t) crc32(0, dst, h->len) == h->crc;
}

/* Walk the records of fd up to limit (or its end): their bytes and samples.
 * Stops at the first record that is torn or damaged. */
static void scan(int fd, uint64_t limit, uint64_t *ret_bytes, uint64_t *ret_samples) {
        uint64_t off = 0, samples = 0;
        _cleanup_free_ uint8_t *buf = NULL;
        size_t cap = 0;

        while (off < limit) {
                struct record_header h;

                if (!header_at(fd, off, &h) || GROW(buf, cap, h.len, 4096) < 0 || !payload_at(fd, off, &h, buf))
                        break;
                off += sizeof h + h.len;
                samples += h.samples;
        }
        *ret_bytes = off;
        *ret_samples = samples;
}

static int cmp_id(const void *a, const void *b) {
        uint64_t x = ((const struct segment *) a)->id, y = ((const struct segment *) b)->id;

        return x < y ? -1 : x > y;
}

static int load(struct rwq *q) {
        _cleanup_(closedirp) DIR *d = opendir(q->dir);
        char path[PATH_MAX], pos[64];
        struct dirent *de;
        uint64_t pid = 0, poff = 0;

        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                char *end;
                uint64_t id;

                if (strlen(de->d_name) != 20 || !streq(de->d_name + 16, ".seg"))
                        continue;
                errno = 0;
                id = strtoull(de->d_name, &end, 16);
                if (errno || end != de->d_name + 16)
                        continue;
                if (GROW(q->seg, q->cap_seg, q->n_seg + 1, 16) < 0)
                        return -ENOMEM;
                q->seg[q->n_seg++] = (struct segment){ .id = id };
        }
        if (q->n_seg > 1)
                qsort(q->seg, q->n_seg, sizeof *q->seg, cmp_id);

        snprintf(path, sizeof path, "%s/position", q->dir);
        if (read_file(path, pos, sizeof pos) > 0 && sscanf(pos, "%" SCNx64 " %" SCNu64, &pid, &poff) != 2)
                pid = poff = 0;

        for (size_t i = 0; i < q->n_seg; i++) {
                struct segment *s = &q->seg[i];
                _cleanup_close_ int fd = -EBADF;
                struct stat st;

                segment_path(q, s->id, path, sizeof path);
                fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0 || fstat(fd, &st) < 0)
                        return log_error_errno(errno, "Cannot open %s: %m", path);
                scan(fd, (uint64_t) st.st_size, &s->bytes, &s->samples);
                if (s->bytes < (uint64_t) st.st_size) {
                        log_warning("%s: cutting off %" PRIu64 " bytes of a torn or damaged record", path,
                                    (uint64_t) st.st_size - s->bytes);
                        if (ftruncate(fd, (off_t) s->bytes) < 0)
                                return log_error_errno(errno, "Cannot truncate %s: %m", path);
                }
                if (s->id < pid) {
                        /* Sent before the restart. */
                        (void) unlink(path);
                        continue;
                }
                q->total_bytes += s->bytes;
                q->queued_samples += s->samples;
        }
        /* Keep only the segments not yet sent. */
        {
                size_t keep = 0;

                for (size_t i = 0; i < q->n_seg; i++)
                        if (q->seg[i].id >= pid)
                                q->seg[keep++] = q->seg[i];
                q->n_seg = keep;
        }
        if (q->n_seg > 0 && q->seg[0].id == pid && poff <= q->seg[0].bytes) {
                _cleanup_close_ int fd = -EBADF;
                uint64_t bytes, samples;

                segment_path(q, pid, path, sizeof path);
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0)
                        return negative_errno();
                scan(fd, poff, &bytes, &samples);
                q->read_id = pid;
                q->read_off = bytes;
                q->read_samples = samples;
                q->queued_samples -= samples;
        } else if (q->n_seg > 0) {
                q->read_id = q->seg[0].id;
                q->read_off = q->read_samples = 0;
        } else
                /* Numbering goes on after the position saved, so that it
                 * never points into a segment written later. */
                q->read_id = pid + 1;
        return 0;
}

int rwq_open(const char *dir, uint64_t max_bytes, struct rwq **ret) {
        struct rwq *q;
        int r;

        r = mkdir_parents(dir, 0700);
        if (r < 0 && r != -EEXIST)
                return log_error_errno(r, "Cannot create %s: %m", dir);
        q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->dir = strdup(dir);
        q->max_bytes = max_bytes;
        q->segment_max = max_bytes / 8;
        if (q->segment_max < SEGMENT_MIN)
                q->segment_max = SEGMENT_MIN;
        if (q->segment_max > SEGMENT_MAX)
                q->segment_max = SEGMENT_MAX;
        q->write_fd = q->read_fd = -EBADF;
        pthread_mutex_init(&q->lock, NULL);
        pthread_cond_init(&q->more, NULL);
        if (!q->dir) {
                rwq_free(q);
                return -ENOMEM;
        }
        r = load(q);
        if (r < 0) {
                rwq_free(q);
                return log_error_errno(r, "Cannot read the remote-write queue in %s: %m", dir);
        }
        *ret = q;
        return 0;
}

void rwq_free(struct rwq *q) {
        if (!q)
                return;
        safe_close(q->write_fd);
        safe_close(q->read_fd);
        pthread_cond_destroy(&q->more);
        pthread_mutex_destroy(&q->lock);
        free(q->seg);
        free(q->dir);
        free(q);
}

/* Called locked. Make room by dropping the oldest segments, never the one
 * being written. */
static void drop_oldest(struct rwq *q) {
        char path[PATH_MAX];

        while (q->total_bytes > q->max_bytes && q->n_seg > 1) {
                struct segment s = q->seg[0];
                uint64_t lost = s.samples;

                if (s.id == q->read_id) {
                        lost -= q->read_samples;
                        q->read_id = q->seg[1].id;
                        q->read_off = q->read_samples = 0;
                }
                segment_path(q, s.id, path, sizeof path);
                (void) unlink(path);
                memmove(q->seg, q->seg + 1, (q->n_seg - 1) * sizeof *q->seg);
                q->n_seg--;
                q->total_bytes -= s.bytes;
                q->queued_samples -= lost;
                q->dropped_samples += lost;
        }
}

static int open_segment(struct rwq *q, uint64_t id) {
        char path[PATH_MAX];
        int fd;

        segment_path(q, id, path, sizeof path);
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        return fd;
}

int rwq_append(struct rwq *q, const void *data, size_t len, uint32_t samples) {
        struct record_header h = { RECORD_MAGIC, (uint32_t) len, samples, (uint32_t) crc32(0, data, (uInt) len) };
        struct iovec iov[2] = { { &h, sizeof h }, { (void *) data, len } };
        struct segment *last;
        ssize_t n;
        int r = 0;

        if (len > UINT32_MAX)
                return -EFBIG;
        pthread_mutex_lock(&q->lock);
        last = q->n_seg ? &q->seg[q->n_seg - 1] : NULL;
        if (!last || last->bytes + sizeof h + len > q->segment_max || q->write_fd < 0) {
                uint64_t id = last ? last->id + 1 : q->read_id;
                int fd;

                /* A segment left from before a restart is not appended to
                 * (write_fd < 0): a new one starts clean. */
                if (GROW(q->seg, q->cap_seg, q->n_seg + 1, 16) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
                fd = open_segment(q, id);
                if (fd < 0) {
                        r = fd;
                        goto out;
                }
                safe_close(q->write_fd);
                q->write_fd = fd;
                q->seg[q->n_seg++] = (struct segment){ .id = id };
                if (q->n_seg == 1) {
                        q->read_id = id;
                        q->read_off = q->read_samples = 0;
                }
                last = &q->seg[q->n_seg - 1];
        }
        n = writev(q->write_fd, iov, 2);
        if (n != (ssize_t) (sizeof h + len)) {
                r = n < 0 ? negative_errno() : -EIO;
                /* Whatever part went out is cut off again, so the segment
                 * stays a sequence of whole records. */
                if (ftruncate(q->write_fd, (off_t) last->bytes) < 0) {
                        safe_close(q->write_fd);
                        q->write_fd = -EBADF;
                }
                goto out;
        }
        last->bytes += sizeof h + len;
        last->samples += samples;
        q->total_bytes += sizeof h + len;
        q->queued_samples += samples;
        drop_oldest(q);
        q->woken = true;
        pthread_cond_signal(&q->more);
out:
        pthread_mutex_unlock(&q->lock);
        return r;
}

bool rwq_wait(struct rwq *q, int timeout_ms) {
        struct timespec ts = timespec_after(CLOCK_REALTIME, (uint64_t) timeout_ms * USEC_PER_MSEC);
        bool any;

        pthread_mutex_lock(&q->lock);
        while (!q->woken && pthread_cond_timedwait(&q->more, &q->lock, &ts) == 0)
                ;
        any = q->woken;
        q->woken = false;
        pthread_mutex_unlock(&q->lock);
        return any;
}

void rwq_wake(struct rwq *q) {
        pthread_mutex_lock(&q->lock);
        q->woken = true;
        pthread_cond_broadcast(&q->more);
        pthread_mutex_unlock(&q->lock);
}

static struct segment *find(struct rwq *q, uint64_t id) {
        for (size_t i = 0; i < q->n_seg; i++)
                if (q->seg[i].id == id)
                        return &q->seg[i];
        return NULL;
}

/* Called locked: the reader is at the end of a segment that is no longer
 * written; go on to the next and delete it. */
static void next_segment(struct rwq *q) {
        char path[PATH_MAX];

        if (q->n_seg < 2 || q->seg[0].id != q->read_id || q->read_off < q->seg[0].bytes)
                return;
        segment_path(q, q->seg[0].id, path, sizeof path);
        (void) unlink(path);
        q->total_bytes -= q->seg[0].bytes;
        memmove(q->seg, q->seg + 1, (q->n_seg - 1) * sizeof *q->seg);
        q->n_seg--;
        q->read_id = q->seg[0].id;
        q->read_off = q->read_samples = 0;
}

int rwq_read(struct rwq *q, size_t max_bytes, uint8_t **buf, size_t *cap, size_t *len, struct rwq_cursor *cursor) {
        uint64_t id, off, end, samples = 0;
        struct segment *s;
        int records = 0;

        pthread_mutex_lock(&q->lock);
        next_segment(q);
        s = find(q, q->read_id);
        id = q->read_id;
        off = q->read_off;
        end = s ? s->bytes : 0;
        pthread_mutex_unlock(&q->lock);
        *len = 0;
        if (!s || off >= end)
                return 0;

        if (q->read_fd < 0 || q->read_fd_id != id) {
                char path[PATH_MAX];

                safe_close(q->read_fd);
                segment_path(q, id, path, sizeof path);
                q->read_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                /* Dropped for room just now: the next read starts at the
                 * segment after it. */
                if (q->read_fd < 0 && errno == ENOENT)
                        return 0;
                if (q->read_fd < 0)
                        return negative_errno();
                q->read_fd_id = id;
        }
        cursor->id = id;
        cursor->start = off;
        while (off < end) {
                struct record_header h;

                if (!header_at(q->read_fd, off, &h))
                        goto damaged;
                if (records > 0 && *len + h.len > max_bytes)
                        break;
                if (GROW(*buf, *cap, *len + h.len, 64 * 1024) < 0)
                        return -ENOMEM;
                if (!payload_at(q->read_fd, off, &h, *buf + *len))
                        goto damaged;
                *len += h.len;
                off += sizeof h + h.len;
                samples += h.samples;
                records++;
        }
        cursor->end = off;
        cursor->samples = samples;
        return records;

damaged:
        /* Changed under us (the disk, or a hand): what is left of this
         * segment cannot be trusted, so it is counted as dropped. */
        pthread_mutex_lock(&q->lock);
        s = find(q, id);
        if (s && q->read_id == id && q->read_off == cursor->start) {
                uint64_t lost = s->samples - q->read_samples;

                q->dropped_samples += lost;
                q->queued_samples -= lost;
                q->read_off = s->bytes;
                q->read_samples = s->samples;
        }
        pthread_mutex_unlock(&q->lock);
        return -EBADMSG;
}

bool rwq_consume(struct rwq *q, const struct rwq_cursor *cursor) {
        char path[PATH_MAX], pos[64];
        bool ok;
        int r;

        pthread_mutex_lock(&q->lock);
        ok = q->read_id == cursor->id && q->read_off == cursor->start;
        if (ok) {
                q->read_off = cursor->end;
                q->read_samples += cursor->samples;
                q->queued_samples -= cursor->samples;
        }
        snprintf(pos, sizeof pos, "%" PRIx64 " %" PRIu64 "\n", q->read_id, q->read_off);
        next_segment(q);
        pthread_mutex_unlock(&q->lock);
        snprintf(path, sizeof path, "%s/position", q->dir);
        r = write_file_atomic(path, pos, strlen(pos));
        if (r < 0)
                log_warning_errno(r, "Cannot save the remote-write queue position in %s: %m", path);
        return ok;
}

void rwq_get_stats(struct rwq *q, struct rwq_stats *ret) {
        pthread_mutex_lock(&q->lock);
        *ret = (struct rwq_stats){ .queued_samples = q->queued_samples,
                                   .queued_bytes = q->total_bytes,
                                   .dropped_samples = q->dropped_samples };
        pthread_mutex_unlock(&q->lock);
}
