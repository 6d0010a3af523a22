/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "follower.h"
#include "linesplit.h"
#include "log.h"
#include "macro.h"
#include "timeutil.h"

/* One read per call per file: large enough that a busy file costs few
 * syscalls per line, small enough that the clients are served between two
 * reads of a file that grows faster than they read. */
#define READ_CHUNK (128 * 1024)

/* After a rotation the writer may go on writing to the old file until it
 * reopens (logrotate renames and creates, then signals the daemon): the old
 * file stays open and watched until it has been quiet this long. */
#define PREVIOUS_GRACE_USEC (10 * 1000 * 1000ULL)

#define WATCH_FILE (IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)
/* No IN_MODIFY on the directory: in /var/log that would wake us for every
 * other busy log. */
#define WATCH_DIR (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

/* The last bytes read are kept to notice a truncation followed by more
 * writing than had been read before the follower looked: the size alone
 * then never drops below the offset (both arrive as IN_MODIFY). */
#define MARK_MAX 32

/* An open file being read. */
struct tailed {
        int fd;
        int wd;
        dev_t dev;
        ino_t ino;
        off_t offset; /* how far it has been read */
        uint64_t last_read_usec;
        struct line_splitter *split;
        char mark[MARK_MAX]; /* the bytes just before offset */
        size_t mark_len;
};

struct follower {
        char *path;
        char *dir;
        const char *name; /* in path */

        unsigned backlog;
        size_t backlog_bytes;
        line_sink_t sink;
        void *userdata;

        int inotify_fd;
        int dir_wd;
        struct tailed cur;  /* the file at path, as last seen */
        struct tailed prev; /* the one before a rotation, in its grace period */
        bool cur_more;      /* cur was left unread to let the loop breathe */

        /* What was said about the path, so that a safety-net tick does not
         * repeat it every second. */
        int path_state;
        bool dir_warned;

        char buf[READ_CHUNK];
};

enum {
        PATH_OK,
        PATH_MISSING,
        PATH_UNREADABLE,
};

static void tailed_init(struct tailed *t) {
        *t = (struct tailed){ .fd = -1, .wd = -1 };
}

static int sink_line(const char *line, size_t len, bool continues, void *userdata) {
        struct follower *f = userdata;

        return f->sink(line, len, continues, NULL, f->userdata);
}

/* The last line of a file that is gone for good comes out even without its
 * newline: nothing will ever complete it. */
static void tailed_close(struct follower *f, struct tailed *t) {
        if (t->split)
                (void) line_splitter_flush(t->split, sink_line, f);
        /* The current and the previous file are different inodes, so their
         * watches are never shared. */
        if (t->wd >= 0)
                (void) inotify_rm_watch(f->inotify_fd, t->wd);
        closep(&t->fd);
        line_splitter_free(t->split);
        tailed_init(t);
}

int follower_new(const char *path, unsigned backlog, size_t backlog_bytes, line_sink_t sink, void *userdata,
                 struct follower **ret) {
        _cleanup_(follower_freep) struct follower *f = NULL;
        _cleanup_free_ char *copy = NULL;

        if (path[0] != '/')
                return -EINVAL;
        f = calloc(1, sizeof *f);
        if (!f)
                return -ENOMEM;
        f->inotify_fd = -1;
        f->dir_wd = -1;
        tailed_init(&f->cur);
        tailed_init(&f->prev);
        f->path = strdup(path);
        copy = strdup(path);
        if (!f->path || !copy)
                return -ENOMEM;
        f->dir = strdup(dirname(copy));
        if (!f->dir)
                return -ENOMEM;
        f->name = strrchr(f->path, '/') + 1;
        f->backlog = backlog;
        f->backlog_bytes = backlog_bytes;
        f->sink = sink;
        f->userdata = userdata;

        f->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (f->inotify_fd < 0)
                return -errno;

        *ret = TAKE_PTR(f);
        return 0;
}

void follower_free(struct follower *f) {
        if (!f)
                return;
        closep(&f->cur.fd);
        closep(&f->prev.fd);
        line_splitter_free(f->cur.split);
        line_splitter_free(f->prev.split);
        closep(&f->inotify_fd);
        free(f->path);
        free(f->dir);
        free(f);
}

int follower_fd(const struct follower *f) {
        return f->inotify_fd;
}

static void say(struct follower *f, int state, int err) {
        if (f->path_state == state)
                return;
        f->path_state = state;
        switch (state) {
        case PATH_MISSING:
                log_info("%s does not exist (yet); waiting for it to appear", f->path);
                break;
        case PATH_UNREADABLE:
                log_warning_errno(err, "Cannot read %s, waiting for that to change: %m", f->path);
                break;
        }
}

static void watch_dir(struct follower *f) {
        if (f->dir_wd >= 0)
                return;
        f->dir_wd = inotify_add_watch(f->inotify_fd, f->dir, WATCH_DIR | IN_ONLYDIR);
        if (f->dir_wd < 0 && !f->dir_warned)
                log_warning_errno(errno, "Cannot watch directory %s, checking it every second: %m", f->dir);
        f->dir_warned = f->dir_wd < 0;
}

static void remember(struct tailed *t, const char *data, size_t n) {
        size_t keep;

        if (n >= MARK_MAX) {
                memcpy(t->mark, data + n - MARK_MAX, MARK_MAX);
                t->mark_len = MARK_MAX;
                return;
        }
        keep = t->mark_len < MARK_MAX - n ? t->mark_len : MARK_MAX - n;
        memmove(t->mark, t->mark + t->mark_len - keep, keep);
        memcpy(t->mark + keep, data, n);
        t->mark_len = keep + n;
}

/* Do the bytes before offset still say what was read there? */
static bool rewritten(const struct tailed *t) {
        char now[MARK_MAX];

        if (t->mark_len == 0)
                return false;
        if (pread(t->fd, now, t->mark_len, t->offset - (off_t) t->mark_len) != (ssize_t) t->mark_len)
                return true;
        return memcmp(now, t->mark, t->mark_len) != 0;
}

/* Read what the file has beyond where we are: at most one chunk, so a file
 * that grows without pause cannot starve the clients. Returns > 0 when
 * there is more to read. */
static int tailed_read(struct follower *f, struct tailed *t) {
        struct stat st;
        ssize_t n;
        int r;

        if (t->fd < 0)
                return 0;
        if (fstat(t->fd, &st) < 0)
                return 0;
        if (st.st_size < t->offset || (st.st_size > t->offset && rewritten(t))) {
                /* copytruncate, or "> file": the writer starts over and so do we. */
                log_info("%s%s was truncated, reading it from the start", t == &f->prev ? "the rotated-away " : "",
                         f->path);
                (void) line_splitter_flush(t->split, sink_line, f);
                t->offset = 0;
                t->mark_len = 0;
        }
        if (st.st_size == t->offset)
                return 0;

        n = pread(t->fd, f->buf, sizeof f->buf, t->offset);
        if (n < 0) {
                log_warning_errno(errno, "Failed to read %s: %m", f->path);
                return 0;
        }
        t->offset += n;
        remember(t, f->buf, (size_t) n);
        t->last_read_usec = now_usec(CLOCK_MONOTONIC);
        r = line_splitter_feed(t->split, f->buf, (size_t) n, sink_line, f);
        if (r < 0)
                log_warning_errno(r, "Failed to hand on lines of %s: %m", f->path);
        return t->offset < st.st_size;
}

static void tailed_drain(struct follower *f, struct tailed *t) {
        while (tailed_read(f, t) > 0)
                ;
}

/* Where the backlog starts: just after the newline that precedes the
 * `backlog`-th complete line from the end, looking back at most
 * backlog_bytes. A partial last line is not counted but is read again (it
 * waits for its newline like any other). */
static off_t backlog_start(struct follower *f, int fd, off_t size) {
        off_t lower = size > (off_t) f->backlog_bytes ? size - (off_t) f->backlog_bytes : 0;
        off_t pos = size, lowest_nl = -1;
        unsigned newlines = 0;

        while (pos > lower) {
                size_t chunk = (size_t) (pos - lower) < sizeof f->buf ? (size_t) (pos - lower) : sizeof f->buf;
                ssize_t n;

                pos -= (off_t) chunk;
                n = pread(fd, f->buf, chunk, pos);
                if (n != (ssize_t) chunk)
                        return size; /* changing under us: skip the backlog */
                for (size_t i = chunk; i-- > 0;) {
                        if (f->buf[i] != '\n')
                                continue;
                        lowest_nl = pos + (off_t) i;
                        /* the first newline found ends the last complete line */
                        if (newlines++ == f->backlog)
                                return lowest_nl + 1;
                }
        }
        if (lower == 0)
                return 0;
        /* Reached the bound: start at a line boundary rather than mid-line. */
        return lowest_nl >= 0 ? lowest_nl + 1 : lower;
}

static int tailed_open(struct follower *f, struct tailed *t, int fd, const struct stat *st, off_t offset) {
        char proc[64];
        int r;

        r = line_splitter_new(&t->split);
        if (r < 0)
                return r;
        t->fd = fd;
        t->dev = st->st_dev;
        t->ino = st->st_ino;
        t->offset = offset;
        t->last_read_usec = now_usec(CLOCK_MONOTONIC);
        /* Watch the inode we opened, not whatever the path names by now. */
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        t->wd = inotify_add_watch(f->inotify_fd, proc, WATCH_FILE);
        if (t->wd < 0)
                log_warning_errno(errno, "Cannot watch %s, reading it every second instead: %m", f->path);
        return 0;
}

/* Has the path come to name a different file than the one being read? */
static void check_path(struct follower *f) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (stat(f->path, &st) == 0 && f->cur.fd >= 0 && st.st_dev == f->cur.dev && st.st_ino == f->cur.ino)
                return;

        fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT && f->cur.fd >= 0) {
                        /* Renamed away or deleted: keep reading the old one until a new one appears. */
                        if (f->path_state != PATH_MISSING)
                                log_info("%s was moved away or removed; reading what is left of it and waiting for a new one",
                                         f->path);
                        f->path_state = PATH_MISSING;
                } else if (errno == ENOENT)
                        say(f, PATH_MISSING, ENOENT);
                else
                        say(f, PATH_UNREADABLE, errno);
                return;
        }
        if (fstat(fd, &st) < 0) {
                say(f, PATH_UNREADABLE, errno);
                return;
        }
        if (!S_ISREG(st.st_mode)) {
                say(f, PATH_UNREADABLE, S_ISDIR(st.st_mode) ? EISDIR : EINVAL);
                return;
        }
        if (f->cur.fd >= 0 && st.st_dev == f->cur.dev && st.st_ino == f->cur.ino)
                return;

        if (f->cur.fd >= 0) {
                log_info("%s was rotated; finishing the old file, then following the new one", f->path);
                tailed_drain(f, &f->cur);
                tailed_close(f, &f->prev);
                f->prev = f->cur;
                tailed_init(&f->cur);
                f->cur_more = false;
        } else if (f->path_state != PATH_OK)
                log_info("%s appeared; following it", f->path);
        f->path_state = PATH_OK;

        /* A new file is read from its start: all of it is new. */
        if (tailed_open(f, &f->cur, fd, &st, 0) < 0)
                return;
        TAKE_FD(fd);
        f->cur_more = tailed_read(f, &f->cur) > 0;
}

int follower_start(struct follower *f) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        watch_dir(f);
        fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno != ENOENT)
                        return -errno;
                say(f, PATH_MISSING, ENOENT);
                return 0;
        }
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;

        r = tailed_open(f, &f->cur, fd, &st, backlog_start(f, fd, st.st_size));
        if (r < 0)
                return r;
        TAKE_FD(fd);
        f->cur_more = tailed_read(f, &f->cur) > 0;
        return 0;
}

int follower_process(struct follower *f) {
        /* Aligned as struct inotify_event requires. */
        char buf[16 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool read_cur = f->cur_more, read_prev = false, check = false;

        for (;;) {
                ssize_t n = read(f->inotify_fd, buf, sizeof buf);

                if (n < 0) {
                        if (errno == EAGAIN)
                                break;
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "Failed to read inotify events: %m");
                }
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *e = (const struct inotify_event *) p;

                        p += sizeof *e + e->len;
                        if (e->mask & IN_Q_OVERFLOW) {
                                read_cur = read_prev = check = true;
                        } else if (e->wd == f->cur.wd && f->cur.wd >= 0) {
                                if (e->mask & IN_MODIFY)
                                        read_cur = true;
                                if (e->mask & (IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF))
                                        check = true;
                        } else if (e->wd == f->prev.wd && f->prev.wd >= 0) {
                                if (e->mask & IN_MODIFY)
                                        read_prev = true;
                        } else if (e->wd == f->dir_wd) {
                                if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
                                        /* The directory itself went: the tick puts the watch back. */
                                        if (!(e->mask & IN_IGNORED))
                                                (void) inotify_rm_watch(f->inotify_fd, f->dir_wd);
                                        f->dir_wd = -1;
                                        check = true;
                                } else if (e->len > 0 && streq(e->name, f->name))
                                        check = true;
                        }
                }
        }

        /* Late lines of a rotated file are few: all of them, before the
         * current file's. */
        if (read_prev)
                tailed_drain(f, &f->prev);
        f->cur_more = false;
        if (read_cur)
                f->cur_more = tailed_read(f, &f->cur) > 0;
        if (check)
                check_path(f);
        return f->cur_more;
}

int follower_tick(struct follower *f) {
        watch_dir(f);

        if (f->prev.fd >= 0) {
                (void) tailed_read(f, &f->prev);
                if (now_usec(CLOCK_MONOTONIC) - f->prev.last_read_usec >= PREVIOUS_GRACE_USEC)
                        tailed_close(f, &f->prev);
        }
        /* Catches a modification or truncation whose event was missed. */
        f->cur_more = tailed_read(f, &f->cur) > 0;
        check_path(f);
        return f->cur_more;
}
