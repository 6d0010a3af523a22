/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "grow.h"
#include "macro.h"
#include "proccache.h"
#include "procfile.h"

void proccache_init(struct proccache *c, size_t max_fds) {
        *c = (struct proccache){ .max_fds = max_fds };
}

static void close_entries(struct proccache *c, struct proc_entry *e, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int *fds[] = { &e[i].statm_fd, &e[i].stat_fd };

                for (size_t k = 0; k < ELEMENTSOF(fds); k++)
                        if (*fds[k] >= 0) {
                                *fds[k] = safe_close(*fds[k]);
                                c->n_fds--;
                        }
                if (e[i].pid_fd >= 0) {
                        e[i].pid_fd = safe_close(e[i].pid_fd);
                        c->n_fds--;
                }
        }
}

void proccache_done(struct proccache *c) {
        close_entries(c, c->cur, c->n_cur);
        close_entries(c, c->next, c->n_next);
        free(c->cur);
        free(c->next);
        free(c->polls);
        *c = (struct proccache){ .max_fds = c->max_fds };
}

void proccache_set_max(struct proccache *c, size_t max_fds) {
        c->max_fds = max_fds;
        for (size_t i = c->n_cur; i > 0 && c->n_fds > max_fds; i--)
                close_entries(c, &c->cur[i - 1], 1);
}

void proccache_begin(struct proccache *c) {
        c->n_next = 0;
        c->hint = 0;
}

static int entry_cmp(const void *a, const void *b) {
        pid_t x = ((const struct proc_entry *) a)->pid, y = ((const struct proc_entry *) b)->pid;
        return (x > y) - (x < y);
}

static struct proc_entry *find(struct proccache *c, pid_t pid) {
        struct proc_entry key = { .pid = pid };

        /* In /proc's order, the entry is at the hint or a little after it
         * (past processes that have gone); a test tree may list any way. */
        for (size_t i = c->hint; i < c->n_cur && c->cur[i].pid <= pid; i++)
                if (c->cur[i].pid == pid) {
                        c->hint = i + 1;
                        return &c->cur[i];
                }
        return c->n_cur ? bsearch(&key, c->cur, c->n_cur, sizeof key, entry_cmp) : NULL;
}

struct proc_entry *proccache_visit(struct proccache *c, pid_t pid, uint64_t ino) {
        struct proc_entry *old = find(c, pid), *e;

        if (GROW(c->next, c->next_cap, c->n_next + 1, 64) < 0)
                return NULL;
        e = &c->next[c->n_next++];
        if (old && old->ino == ino) {
                *e = *old;
                /* moved: not to be closed at the end */
                old->statm_fd = old->stat_fd = -1;
                old->pid_fd = -1;
        } else
                *e = (struct proc_entry){
                        .pid = pid, .ino = ino, .statm_fd = -1, .stat_fd = -1, .pid_fd = -1
                };
        return e;
}

void proccache_drop_last(struct proccache *c) {
        struct proc_entry *e;

        assert(c->n_next > 0);
        e = &c->next[--c->n_next];
        close_entries(c, e, 1);
}

void proccache_set_empty(struct proccache *c, struct proc_entry *e, bool watch) {
        close_entries(c, e, 1);
        e->empty = true;
        if (!watch || c->n_fds >= c->max_fds)
                return;
        /* Kernels before 5.3 have none, and a filter may refuse it: then
         * it is asked with getpgid() as every time. */
        e->pid_fd = (int) syscall(SYS_pidfd_open, e->pid, 0);
        if (e->pid_fd >= 0)
                c->n_fds++;
        else
                e->pid_fd = -1;
}

void proccache_poll_empty(struct proccache *c, pid_t below) {
        size_t n = 0;

        /* Unless poll() says otherwise, each is asked one by one. */
        for (size_t i = 0; i < c->n_cur && c->cur[i].pid < below; i++)
                c->cur[i].exited = true;
        for (size_t i = 0; i < c->n_cur && c->cur[i].pid < below; i++) {
                struct proc_entry *e = &c->cur[i];

                if (!e->empty || e->pid_fd < 0)
                        continue;
                if (GROW(c->polls, c->polls_cap, n + 1, 64) < 0)
                        return;
                c->polls[n++] = (struct pollfd){ .fd = e->pid_fd, .events = POLLIN };
        }
        if (n == 0 || poll(c->polls, n, 0) < 0)
                return;
        n = 0;
        for (size_t i = 0; i < c->n_cur && c->cur[i].pid < below; i++) {
                struct proc_entry *e = &c->cur[i];

                if (e->empty && e->pid_fd >= 0)
                        e->exited = c->polls[n++].revents != 0;
        }
}

void proccache_keep_empty(struct proccache *c, pid_t below) {
        for (size_t i = 0; i < c->n_cur && c->cur[i].pid < below; i++)
                c->cur[i].exited = false;
}

ssize_t proccache_read(struct proccache *c, struct proc_entry *e, pid_t pid, enum proc_file f, int proc_fd, char *buf,
                       size_t size) {
        static const char *const name[] = { [PROC_FILE_STATM] = "statm", [PROC_FILE_STAT] = "stat" };
        int *fd = !e ? NULL : f == PROC_FILE_STATM ? &e->statm_fd : &e->stat_fd;
        ssize_t n;

        if (!fd || *fd < 0) {
                /* A stat replaces the statm kept (struct proc_entry), so it
                 * adds no descriptor. */
                bool replaces = f == PROC_FILE_STAT && e && e->statm_fd >= 0;
                char path[32];

                /* Formatted only here: on the kept path, the one that runs
                 * for every process on every tick, it was a tenth of the
                 * scan's user time. */
                snprintf(path, sizeof path, "%d/%s", (int) pid, name[f]);
                if (!fd || (c->n_fds >= c->max_fds && !replaces))
                        return read_once_at(proc_fd, path, buf, size);
                *fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (*fd < 0) {
                        if (errno == EMFILE || errno == ENFILE)
                                c->max_fds = c->n_fds;
                        return negative_errno();
                }
                c->n_fds++;
                if (replaces) {
                        e->statm_fd = safe_close(e->statm_fd);
                        c->n_fds--;
                }
        }
        /* One pread() gives the whole file, as read_once_at() explains. */
        do
                n = pread(*fd, buf, size - 1, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                n = negative_errno();
                close_entries(c, e, 1);
                return n;
        }
        buf[n] = '\0';
        return n;
}

void proccache_end(struct proccache *c) {
        struct proc_entry *swap;
        size_t swap_cap;
        bool sorted = true;

        close_entries(c, c->cur, c->n_cur);
        for (size_t i = 1; i < c->n_next && sorted; i++)
                sorted = c->next[i - 1].pid < c->next[i].pid;
        if (!sorted)
                qsort(c->next, c->n_next, sizeof *c->next, entry_cmp);
        swap = c->cur;
        c->cur = c->next;
        c->next = swap;
        swap_cap = c->cur_cap;
        c->cur_cap = c->next_cap;
        c->next_cap = swap_cap;
        c->n_cur = c->n_next;
        c->n_next = 0;
}

void proccache_close_stat_except(struct proccache *c, const pid_t *keep, size_t n_keep) {
        for (size_t i = 0; i < c->n_cur; i++) {
                struct proc_entry *e = &c->cur[i];
                bool kept = false;

                if (e->stat_fd < 0)
                        continue;
                for (size_t k = 0; k < n_keep && !kept; k++)
                        kept = keep[k] == e->pid;
                if (!kept) {
                        e->stat_fd = safe_close(e->stat_fd);
                        c->n_fds--;
                }
        }
}

struct proc_entry *proccache_lookup(struct proccache *c, pid_t pid) {
        struct proc_entry key = { .pid = pid };

        return c->n_cur ? bsearch(&key, c->cur, c->n_cur, sizeof key, entry_cmp) : NULL;
}

double proccache_cpu_percent(uint64_t ticks_prev, uint64_t usec_prev, uint64_t ticks_now, uint64_t usec_now,
                             long ticks_per_sec) {
        double busy, window;

        if (ticks_per_sec <= 0 || usec_now <= usec_prev || ticks_now < ticks_prev)
                return NAN;
        busy = (double) (ticks_now - ticks_prev) / (double) ticks_per_sec;
        window = (double) (usec_now - usec_prev) / 1e6;
        return 100.0 * busy / window;
}

pid_t proccache_listing_from(const struct proc_reading r[static 3], unsigned partial_in_a_row) {
        if (partial_in_a_row + 1 >= PROCCACHE_FULL_LISTING_EVERY)
                return 0;
        if (r[0].last_pid <= 0 || r[1].last_pid < r[0].last_pid || r[2].last_pid < r[1].last_pid)
                return 0;
        if (r[2].forks < r[0].forks || r[2].forks - r[0].forks >= PROCCACHE_PARTIAL_FORKS_MAX)
                return 0;
        /* A fork is counted as it shows in /proc, so one that shows now
         * but was not counted in r[2] is listed by the next scan: its pid
         * came after r[1]'s, as the slack above assumes. */
        if (r[2].forks == r[0].forks)
                return PROCCACHE_LIST_NONE;
        return r[0].last_pid + 1;
}

bool proccache_none_reaped(const struct proc_reading r[static 2]) {
        return r[1].forks == r[0].forks && r[1].threads == r[0].threads;
}
