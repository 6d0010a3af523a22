/* SPDX-License-Identifier: MIT */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What the process scan keeps from one tick to the next, per process
 * (docs/architecture.md). A process is its pid together with the inode
 * number of its /proc directory, which getdents() gives for free: a reused
 * pid gets a new inode. For each one the scan keeps its statm open and
 * reads it again with pread() from offset 0 (the kernel produces it afresh):
 * openat() and close() cost twice what the read does. A kernel thread or a
 * zombie, which will never have memory, is remembered as such and not read
 * at all. At most max_fds descriptors are kept; processes past that are
 * read by open, read, close. A process the scan no longer sees has gone:
 * its descriptor is closed when the scan ends. */

struct proc_entry {
        pid_t pid;
        int statm_fd; /* -1: not kept */
        /* Opened when it makes the top processes, which are named and
         * timed on every tick (PROC_FILE_STAT), and kept while it stays
         * near them. Meanwhile it is read instead of statm, which is
         * closed: it has the same memory figures. */
        int stat_fd;
        /* For one without memory, a pidfd instead: poll() says when it
         * has exited (proccache_poll_empty()). -1: not kept. */
        int pid_fd;
        uint64_t ino;
        bool empty; /* no address space: not read again */
        bool exited; /* its pidfd was readable at the last poll; false when none was needed */
        /* utime + stime at the last reading of /proc/<pid>/stat (done for
         * the top processes only), and when (CLOCK_BOOTTIME, usec). */
        bool has_cpu;
        uint64_t cpu_ticks, cpu_usec;
};

struct proccache {
        struct proc_entry *cur, *next; /* last scan's, sorted by pid; this scan's */
        size_t n_cur, cur_cap, n_next, next_cap;
        struct pollfd *polls;
        size_t polls_cap;
        size_t hint;                   /* into cur: /proc lists pids in order */
        size_t n_fds, max_fds;
};

void proccache_init(struct proccache *c, size_t max_fds);
/* Close every kept descriptor and free the lists. */
void proccache_done(struct proccache *c);

/* Keep at most max_fds from now on, closing what is over it. */
void proccache_set_max(struct proccache *c, size_t max_fds);

void proccache_begin(struct proccache *c);

/* The process at pid with /proc inode ino, seen by this scan: last scan's
 * entry if it is the same process, else a new one. NULL when out of memory
 * (the process is then read the plain way). Valid until the next call. */
struct proc_entry *proccache_visit(struct proccache *c, pid_t pid, uint64_t ino);

/* The per-process files the scan reads: statm of every process with
 * memory, stat of the top ones only. */
enum proc_file {
        PROC_FILE_STATM,
        PROC_FILE_STAT,
};

/* pid's file f into buf (NUL-terminated) through e's kept descriptor,
 * opening and keeping one while under the cap; past the cap, or with no
 * entry (e NULL: the cache had no room), by open, read, close. A failed
 * read (the process has gone: ESRCH) closes e's descriptors. Running out of
 * descriptors (EMFILE, ENFILE) lowers the cap to what is kept, so that the
 * cache never holds the last ones. */
ssize_t proccache_read(struct proccache *c, struct proc_entry *e, pid_t pid, enum proc_file f, int proc_fd, char *buf,
                       size_t size);

/* e has no address space: forget its descriptor, never read it again. With
 * watch (the pids are the machine's, not a test tree's), keep a pidfd
 * instead while under the cap. */
void proccache_set_empty(struct proccache *c, struct proc_entry *e, bool watch);

/* Before a scan that does not list the processes below pid: one poll() of
 * the pidfds of those without memory marks the ones that have exited
 * (e->exited). Those without a pidfd, and the exited (a zombie is exited
 * but still there), have to be asked one by one. A kernel thread or a
 * zombie costs nothing there otherwise, and a small machine has more of
 * them than of anything else. */
void proccache_poll_empty(struct proccache *c, pid_t below);
/* Instead of proccache_poll_empty(), when no task can have been reaped
 * since the last scan (proccache_none_reaped()): none of those below pid
 * has exited, and none is asked. */
void proccache_keep_empty(struct proccache *c, pid_t below);

/* Forget the entry proccache_visit() just returned (it could not be read). */
void proccache_drop_last(struct proccache *c);

/* Close what belongs to processes this scan did not see. */
void proccache_end(struct proccache *c);

/* After proccache_end(): close the stat of every process not in keep
 * (those no longer near the top), which go back to their statm. */
void proccache_close_stat_except(struct proccache *c, const pid_t *keep, size_t n_keep);

/* After proccache_end(): the entry of pid, or NULL. Valid until the next
 * scan begins. */
struct proc_entry *proccache_lookup(struct proccache *c, pid_t pid);

/* A process's CPU use between two readings of its utime + stime, as top
 * shows it: percent of one CPU (a process busy on two CPUs is at 200).
 * From its start, as ps shows it, with ticks_prev 0 and usec_prev its
 * start time. NAN when there is no window, or the ticks went back (another
 * process took the pid). Pure. */
double proccache_cpu_percent(uint64_t ticks_prev, uint64_t usec_prev, uint64_t ticks_now, uint64_t usec_now,
                             long ticks_per_sec);

/* Listing only the new processes (docs/performance.md, "One telemetry
 * sample"). Listing /proc costs a third of a scan at 1,000 processes, and
 * almost all it lists is known: the kernel hands pids out in increasing
 * order (the last one is in /proc/loadavg), wrapping at pid_max. A process
 * the last scans did not see has a pid above the last one handed out
 * before the scan before last: a fork takes its pid a moment before it
 * shows in /proc, so one scan of slack. The processes below that are the
 * cache's, each read through its kept descriptor, which fails once it has
 * gone; one without memory is there unless its pidfd says it exited and
 * getpgid(pid) finds nothing (its pid cannot have been reused, as the
 * counter did not wrap). Everything is listed when the counter went back
 * (it wrapped, or was set by a checkpoint/restore tool), after
 * PROCCACHE_PARTIAL_FORKS_MAX forks (/proc/stat's "processes": it might
 * have gone all the way round), and every PROCCACHE_FULL_LISTING_EVERY
 * scans, so that a pid placed by hand (clone3() set_tid) is seen within
 * that many. When nothing was forked since the reading before last, no
 * process can be new, and nothing is listed at all: on an idle machine,
 * most ticks. */
#define PROCCACHE_PARTIAL_FORKS_MAX 256
#define PROCCACHE_FULL_LISTING_EVERY 32
/* Above every pid: there is nothing to list. */
#define PROCCACHE_LIST_NONE INT32_MAX

struct proc_reading {
        uint64_t forks;   /* /proc/stat "processes" */
        pid_t last_pid;   /* the last field of /proc/loadavg */
        unsigned threads; /* /proc/loadavg's tasks: one that is reaped counts down */
};

/* r[0] was read before the scan before last, r[1] before the last scan,
 * r[2] before this one; both earlier scans saw every process they listed.
 * The lowest pid this scan must list (the cache holds those below), 0 to
 * list them all, or PROCCACHE_LIST_NONE. Pure. */
pid_t proccache_listing_from(const struct proc_reading r[static 3], unsigned partial_in_a_row);

/* Whether no task was reaped between two readings, r[0] before the last
 * scan and r[1] before this one: no fork was counted and the count of
 * tasks is the same, so none ended either (a zombie is counted until it
 * is reaped, as the scan counts it). A fork and a reaping that fall
 * between the reading of /proc/stat and that of /proc/loadavg cancel out,
 * but the fork shows in the next reading's counter: the next scan polls.
 * Counted machine-wide, so a pid namespace's scan polls more often than
 * it needs to, never less. Pure. */
bool proccache_none_reaped(const struct proc_reading r[static 2]);
