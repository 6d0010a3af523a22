/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fileio.h"
#include "grow.h"
#include "log.h"
#include "macro.h"
#include "spool.h"
#include "timeutil.h"

#define POSITION_FILE "position"

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}
#define SEGMENT_SUFFIX ".seg"

struct segment {
        uint64_t first; /* from the name: the first seq it may hold */
        uint64_t last;  /* last valid seq in it, 0 = none */
        uint64_t size;
};

struct spool {
        char dir[PATH_MAX];
        uint64_t max_bytes, segment_bytes;
        struct segment *segs;
        size_t n_segs, cap_segs;
        int fd; /* the active (last) segment, open for append */
        bool dirty;
        struct spool_position pos;
        uint64_t next_seq, last_ack, torn, bytes;
        uint64_t *ahead; /* sorted: seqs > pos.done already done */
        size_t n_ahead, cap_ahead;
};

static void segment_path(const struct spool *s, uint64_t first, char *buf, size_t size) {
        snprintf(buf, size, "%s/%020" PRIu64 SEGMENT_SUFFIX, s->dir, first);
}

int spool_save(struct spool *s) {
        char path[PATH_MAX], text[256];
        int n = spool_position_format(&s->pos, text, sizeof text), r;

        if (n < 0)
                return n;
        snprintf(path, sizeof path, "%s/" POSITION_FILE, s->dir);
        r = write_file_atomic(path, text, (size_t) n);
        if (r < 0)
                return log_error_errno(r, "Cannot save the spool position in %s: %m", path);
        return 0;
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static int record_done(struct spool *s, uint64_t seq);

/* Seqs between two valid records were in the corrupt bytes between them:
 * they can never be sent, so they are done, and counted as dropped. */
static int lost(struct spool *s, uint64_t from, uint64_t to) {
        uint64_t n = 0;

        for (uint64_t q = from > s->pos.done ? from : s->pos.done + 1; q <= to; q++) {
                if (s->n_ahead > 0 && bsearch(&q, s->ahead, s->n_ahead, sizeof *s->ahead, compare_u64))
                        continue;
                if (record_done(s, q) < 0)
                        return -ENOMEM;
                n++;
        }
        if (n > 0) {
                s->pos.dropped += n;
                log_warning("Spool: %" PRIu64 " samples (seq %" PRIu64 " to %" PRIu64
                            ") were in corrupt records; counted as dropped",
                            n, from, to);
        }
        return 0;
}

/* Read one segment: its last valid seq and size, cutting a torn tail off
 * when it is the one appended to. */
static int scan_segment(struct spool *s, struct segment *seg, bool active, uint64_t *prev_seq) {
        char path[PATH_MAX];
        _cleanup_close_ int fd = -1;
        struct stat st;
        const unsigned char *map = NULL;
        size_t off = 0, good_end = 0;

        segment_path(s, seg->first, path, sizeof path);
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return log_error_errno(errno, "Cannot open spool segment %s: %m", path);
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_size > 0) {
                map = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
                if (map == MAP_FAILED)
                        return log_error_errno(errno, "Cannot map spool segment %s: %m", path);
        }
        while (off < (size_t) st.st_size) {
                struct spool_record rec;
                ssize_t n = spool_record_parse(map + off, (size_t) st.st_size - off, &rec);

                if (n > 0 && rec.seq > *prev_seq) {
                        if (rec.seq > *prev_seq + 1 && lost(s, *prev_seq + 1, rec.seq - 1) < 0) {
                                munmap((void *) map, (size_t) st.st_size);
                                return -ENOMEM;
                        }
                        *prev_seq = seg->last = rec.seq;
                        off += (size_t) n;
                        good_end = off;
                        continue;
                }
                if (n == 0)
                        break; /* the start of a record, then the end of the file */
                /* Not a record, or one out of order: skip to the next good one. */
                size_t next = off + spool_record_resync(map + off, (size_t) st.st_size - off);
                log_warning("Spool segment %s: %zu corrupt bytes at offset %zu skipped", path, next - off, off);
                s->torn += next - off;
                off = next;
        }
        if (map)
                (void) munmap((void *) map, (size_t) st.st_size);
        seg->size = (uint64_t) st.st_size;
        if (good_end < (size_t) st.st_size && off >= good_end && active) {
                /* A record cut short by a crash: it was never acknowledged
                 * (a sample is sent only once written), so cutting it off
                 * loses nothing the hub holds, and appends follow good data. */
                uint64_t cut = (uint64_t) st.st_size - good_end;
                log_warning("Spool segment %s: a torn record of %" PRIu64 " bytes at its end was skipped", path, cut);
                s->torn += cut;
                if (ftruncate(fd, (off_t) good_end) < 0)
                        return log_error_errno(errno, "Cannot cut the torn tail of %s: %m", path);
                seg->size = good_end;
        }
        return 0;
}

static int list_segments(struct spool *s) {
        _cleanup_(closedirp) DIR *d = opendir(s->dir);
        struct dirent *de;

        if (!d)
                return log_error_errno(errno, "Cannot read the spool %s: %m", s->dir);
        while ((de = readdir(d))) {
                char *end;
                unsigned long long first;
                size_t l = strlen(de->d_name);

                if (l != 20 + strlen(SEGMENT_SUFFIX) || !streq(de->d_name + 20, SEGMENT_SUFFIX))
                        continue;
                errno = 0;
                first = strtoull(de->d_name, &end, 10);
                if (errno != 0 || end != de->d_name + 20 || first == 0)
                        continue;
                if (GROW(s->segs, s->cap_segs, s->n_segs + 1, 16) < 0)
                        return -ENOMEM;
                s->segs[s->n_segs++] = (struct segment){ .first = first };
        }
        if (s->n_segs > 1)
                qsort(s->segs, s->n_segs, sizeof *s->segs, compare_u64); /* first is the first member */
        return 0;
}

static int new_stream(struct spool_position *p) {
        uint32_t rnd;

        if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
                return -EIO;
        snprintf(p->stream, sizeof p->stream, "spool-%" PRIu64 "-%08" PRIx32, (uint64_t) (now_usec(CLOCK_REALTIME) / USEC_PER_SEC),
                 rnd);
        return 0;
}

static int open_active(struct spool *s) {
        char path[PATH_MAX];
        struct segment *seg = &s->segs[s->n_segs - 1];

        if (s->fd >= 0)
                (void) close(s->fd);
        segment_path(s, seg->first, path, sizeof path);
        s->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (s->fd < 0)
                return log_error_errno(errno, "Cannot open spool segment %s: %m", path);
        return 0;
}

static int add_segment(struct spool *s, uint64_t first) {
        if (GROW(s->segs, s->cap_segs, s->n_segs + 1, 16) < 0)
                return -ENOMEM;
        s->segs[s->n_segs++] = (struct segment){ .first = first };
        return open_active(s);
}

int spool_open(const char *dir, uint64_t max_bytes, struct spool **ret) {
        _cleanup_free_ struct spool *s = calloc(1, sizeof *s);
        char path[PATH_MAX], text[512];
        uint64_t prev = 0;
        ssize_t n;
        int r;

        if (!s)
                return -ENOMEM;
        s->fd = -1;
        snprintf(s->dir, sizeof s->dir, "%s", dir);
        s->max_bytes = max_bytes;
        /* Sixteen segments to the bound: dropping one gives back a
         * sixteenth, and a segment is never so small that files abound. */
        s->segment_bytes = max_bytes / 16;
        if (s->segment_bytes < 64 * 1024)
                s->segment_bytes = 64 * 1024;
        if (s->segment_bytes > 16 * 1024 * 1024)
                s->segment_bytes = 16 * 1024 * 1024;
        r = mkdir_parents(dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Cannot create the spool %s: %m", dir);

        snprintf(path, sizeof path, "%s/" POSITION_FILE, dir);
        n = read_file(path, text, sizeof text);
        if (n == -ENOENT || (n >= 0 && spool_position_parse(text, &s->pos) < 0)) {
                if (n >= 0)
                        log_warning("Spool position %s is unreadable: starting a new stream", path);
                s->pos = (struct spool_position){ 0 };
                r = new_stream(&s->pos);
                if (r < 0)
                        return r;
        } else if (n < 0)
                return log_error_errno((int) n, "Cannot read %s: %m", path);

        r = list_segments(s);
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < s->n_segs; i++) {
                r = scan_segment(s, &s->segs[i], i + 1 == s->n_segs, &prev);
                if (r < 0)
                        goto fail;
                s->bytes += s->segs[i].size;
        }
        s->next_seq = (prev > s->pos.done ? prev : s->pos.done) + 1;
        if (s->n_segs == 0 || s->segs[s->n_segs - 1].size >= s->segment_bytes)
                r = add_segment(s, s->next_seq);
        else
                r = open_active(s);
        if (r < 0)
                goto fail;
        r = spool_save(s);
        if (r < 0)
                goto fail;
        *ret = TAKE_PTR(s);
        return 0;
fail:
        if (s->fd >= 0)
                (void) close(s->fd);
        free(s->segs);
        return r;
}

void spool_free(struct spool *s) {
        if (!s)
                return;
        (void) spool_sync(s);
        if (s->fd >= 0)
                (void) close(s->fd);
        free(s->segs);
        free(s->ahead);
        free(s);
}

uint64_t spool_next_seq(const struct spool *s) {
        return s->next_seq;
}

bool spool_is_pending(const struct spool *s, uint64_t seq) {
        if (seq <= s->pos.done || seq >= s->next_seq)
                return false;
        return s->n_ahead == 0 || !bsearch(&seq, s->ahead, s->n_ahead, sizeof *s->ahead, compare_u64);
}

static uint64_t pending_in(const struct spool *s, const struct segment *seg) {
        uint64_t n = 0, from;

        if (seg->last == 0 || seg->last <= s->pos.done)
                return 0;
        from = seg->first > s->pos.done + 1 ? seg->first : s->pos.done + 1;
        n = seg->last - from + 1;
        for (size_t i = 0; i < s->n_ahead; i++)
                if (s->ahead[i] >= from && s->ahead[i] <= seg->last)
                        n--;
        return n;
}

static void forget_ahead_upto(struct spool *s, uint64_t upto) {
        size_t k = 0;

        while (k < s->n_ahead && s->ahead[k] <= upto)
                k++;
        if (k == 0)
                return;
        memmove(s->ahead, s->ahead + k, (s->n_ahead - k) * sizeof *s->ahead);
        s->n_ahead -= k;
}

static int unlink_first(struct spool *s) {
        char path[PATH_MAX];

        segment_path(s, s->segs[0].first, path, sizeof path);
        if (unlink(path) < 0 && errno != ENOENT)
                return log_error_errno(errno, "Cannot remove spool segment %s: %m", path);
        s->bytes -= s->segs[0].size;
        memmove(s->segs, s->segs + 1, (s->n_segs - 1) * sizeof *s->segs);
        s->n_segs--;
        return 0;
}

/* Segments whose every record is done are of no more use. */
static int trim(struct spool *s) {
        while (s->n_segs > 1 && (s->segs[0].last == 0 || s->segs[0].last <= s->pos.done)) {
                int r = unlink_first(s);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Over the bound: the oldest segment goes, and what it held unsent is
 * dropped and counted (docs/fleet.md, "The spool"). */
static int enforce_bound(struct spool *s) {
        bool changed = false;
        int r;

        while (s->bytes > s->max_bytes && s->n_segs > 1) {
                uint64_t lost = pending_in(s, &s->segs[0]);

                if (s->segs[0].last > s->pos.done) {
                        s->pos.done = s->segs[0].last;
                        forget_ahead_upto(s, s->pos.done);
                }
                s->pos.dropped += lost;
                if (lost > 0)
                        log_warning("Spool over %" PRIu64 " MiB: dropped %" PRIu64 " unsent samples (seq %" PRIu64
                                    " to %" PRIu64 ")",
                                    s->max_bytes / (1024 * 1024), lost, s->segs[0].first, s->segs[0].last);
                r = unlink_first(s);
                if (r < 0)
                        return r;
                changed = true;
        }
        /* Pending seqs of later segments may follow the dropped one directly. */
        while (s->n_ahead > 0 && s->ahead[0] == s->pos.done + 1) {
                s->pos.done++;
                forget_ahead_upto(s, s->pos.done);
        }
        return changed ? spool_save(s) : 0;
}

int spool_append(struct spool *s, const char *payload, size_t len) {
        unsigned char hdr[SPOOL_RECORD_HEADER];
        struct segment *seg = &s->segs[s->n_segs - 1];
        struct iovec iov[2];
        ssize_t n;
        int r;

        if (len == 0 || len > SPOOL_RECORD_MAX)
                return -EMSGSIZE;
        if (seg->size > 0 && seg->size + SPOOL_RECORD_HEADER + len > s->segment_bytes) {
                r = spool_sync(s);
                if (r < 0)
                        return r;
                r = add_segment(s, s->next_seq);
                if (r < 0)
                        return r;
                seg = &s->segs[s->n_segs - 1];
        }
        spool_record_header(s->next_seq, payload, len, hdr);
        iov[0] = (struct iovec){ hdr, sizeof hdr };
        iov[1] = (struct iovec){ (void *) payload, len };
        n = writev(s->fd, iov, 2);
        if (n < 0 || (size_t) n != sizeof hdr + len) {
                r = n < 0 ? negative_errno() : -EIO;
                /* Leave no half record behind for the next append to follow. */
                if (ftruncate(s->fd, (off_t) seg->size) < 0)
                        log_warning_errno(errno, "Cannot cut a failed append from the spool: %m");
                return log_error_errno(r, "Cannot append to the spool in %s: %m", s->dir);
        }
        seg->size += (uint64_t) n;
        seg->last = s->next_seq++;
        s->bytes += (uint64_t) n;
        s->dirty = true;
        return enforce_bound(s);
}

int spool_sync(struct spool *s) {
        if (!s->dirty || s->fd < 0)
                return 0;
        if (fdatasync(s->fd) < 0)
                return log_error_errno(errno, "Cannot sync the spool in %s: %m", s->dir);
        s->dirty = false;
        return 0;
}

int spool_read(struct spool *s, uint64_t from, size_t max_n, spool_record_fn fn, void *userdata) {
        size_t taken = 0;

        if (from <= s->pos.done)
                from = s->pos.done + 1;
        for (size_t i = 0; i < s->n_segs && taken < max_n; i++) {
                struct segment *seg = &s->segs[i];
                char path[PATH_MAX];
                _cleanup_close_ int fd = -1;
                const unsigned char *map;
                size_t off = 0;
                bool stop = false;

                if (seg->last == 0 || seg->last < from || seg->size == 0)
                        continue;
                segment_path(s, seg->first, path, sizeof path);
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0)
                        return log_error_errno(errno, "Cannot open spool segment %s: %m", path);
                map = mmap(NULL, (size_t) seg->size, PROT_READ, MAP_PRIVATE, fd, 0);
                if (map == MAP_FAILED)
                        return log_error_errno(errno, "Cannot map spool segment %s: %m", path);
                while (off < seg->size && taken < max_n && !stop) {
                        struct spool_record rec;
                        ssize_t n = spool_record_parse(map + off, (size_t) seg->size - off, &rec);

                        if (n == 0)
                                break;
                        if (n < 0) {
                                off += spool_record_resync(map + off, (size_t) seg->size - off);
                                continue;
                        }
                        off += (size_t) n;
                        if (rec.seq < from || !spool_is_pending(s, rec.seq))
                                continue;
                        if (!fn(&rec, userdata))
                                stop = true;
                        else
                                taken++;
                }
                (void) munmap((void *) map, (size_t) seg->size);
                if (stop)
                        break;
        }
        return (int) taken;
}

static int record_done(struct spool *s, uint64_t seq) {
        size_t i;

        if (seq == s->pos.done + 1) {
                s->pos.done = seq;
                while (s->n_ahead > 0 && s->ahead[0] == s->pos.done + 1) {
                        s->pos.done++;
                        forget_ahead_upto(s, s->pos.done);
                }
        } else {
                if (GROW(s->ahead, s->cap_ahead, s->n_ahead + 1, 64) < 0)
                        return -ENOMEM;
                for (i = s->n_ahead; i > 0 && s->ahead[i - 1] > seq; i--)
                        s->ahead[i] = s->ahead[i - 1];
                s->ahead[i] = seq;
                s->n_ahead++;
        }
        return 1;
}

static int mark_done(struct spool *s, uint64_t seq) {
        if (!spool_is_pending(s, seq))
                return 0;
        return record_done(s, seq);
}

int spool_ack(struct spool *s, uint64_t seq) {
        int r = mark_done(s, seq);

        if (r <= 0)
                return r;
        if (seq > s->last_ack)
                s->last_ack = seq;
        r = trim(s);
        return r < 0 ? r : 1;
}

int spool_drop(struct spool *s, uint64_t seq) {
        int r = mark_done(s, seq);

        if (r <= 0)
                return r;
        s->pos.dropped++;
        r = trim(s);
        return r < 0 ? r : 1;
}

void spool_get_figures(const struct spool *s, struct spool_figures *ret) {
        uint64_t pending = s->next_seq - 1 - s->pos.done - s->n_ahead;

        *ret = (struct spool_figures){
                .stream = s->pos.stream,
                .next_seq = s->next_seq,
                .done = s->pos.done,
                .last_ack = s->last_ack,
                .pending = pending,
                .dropped = s->pos.dropped,
                .bytes = s->bytes,
                .torn = s->torn,
        };
}
