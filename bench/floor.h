/* SPDX-License-Identifier: MIT */
/* What the floors share: a ready-made frame, a listening socket on
 * loopback and a client's request read whole (bench/telemetry-*-floor.c),
 * and the kernel reads of a tick through kept descriptors (the idle floor
 * and bench/telemetry-sample-cost.c's floor). */
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

/* The file at path as one text frame (FIN + text, 16-bit length: the
 * frames here are 126..65535 bytes) at the start of frame: its whole
 * length, or 0. */
static inline size_t floor_frame(const char *path, unsigned char *frame, size_t size) {
        FILE *f = fopen(path, "r");
        size_t len;

        if (!f)
                return 0;
        len = fread(frame + 4, 1, size - 4 < 65535 ? size - 4 : 65535, f);
        fclose(f);
        frame[0] = 0x81;
        frame[1] = 126;
        frame[2] = (unsigned char) (len >> 8);
        frame[3] = (unsigned char) len;
        return len + 4;
}

/* A socket listening on 127.0.0.1:port, or -1. */
static inline int floor_listen(const char *port, int backlog) {
        struct sockaddr_in a = {
                .sin_family = AF_INET,
                .sin_port = htons((uint16_t) atoi(port)),
                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
        };
        int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

        if (ls < 0)
                return -1;
        setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(ls, (struct sockaddr *) &a, sizeof a) < 0 || listen(ls, backlog) < 0) {
                close(ls);
                return -1;
        }
        return ls;
}

/* Client c's request up to its blank line, NUL-terminated in buf: false
 * when it closed before (a port probe that sent nothing). */
static inline bool floor_request(int c, char *buf, size_t size) {
        size_t got = 0;

        buf[0] = '\0';
        while (got < size - 1 && !strstr(buf, "\r\n\r\n")) {
                ssize_t r = read(c, buf + got, size - 1 - got);
                if (r <= 0)
                        break;
                got += (size_t) r;
                buf[got] = '\0';
        }
        return strstr(buf, "\r\n\r\n") != NULL;
}

/* As many descriptors as the hard limit allows: a floor holds one for
 * each client or process. */
static inline void floor_raise_fd_limit(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
}

#define FLOOR_MACHINE_FILES 6
#define FLOOR_TOP 5

struct floor_proc {
        int statm_fd;
        long rss;
        char pid[16];
};

/* What a tick must read, opened once: the machine's /proc files, every
 * process with memory (its statm; the five largest's stat instead, which
 * carries it), the /proc directory of those five for the owner, and the
 * mounts the sample reports, for statfs(). The processes are the ones there
 * at the start, ranked once, and /proc is never listed again: a sampler
 * must at least do this much a tick. */
struct floor_reads {
        int machine[FLOOR_MACHINE_FILES], proc_dir, top_stat[FLOOR_TOP];
        struct floor_proc *procs;
        size_t n_procs;
        char *const *mounts;
        size_t n_mounts;
};

static inline int floor_by_rss(const void *a, const void *b) {
        const struct floor_proc *x = a, *y = b;

        return (y->rss > x->rss) - (y->rss < x->rss);
}

/* Every process with memory in r->procs (at most max), its statm kept
 * open, the largest first. */
static inline void floor_open_processes(struct floor_reads *r, size_t max) {
        DIR *d = opendir("/proc");
        struct dirent *e;

        r->n_procs = 0;
        while (d && (e = readdir(d)) && r->n_procs < max) {
                struct floor_proc *p = &r->procs[r->n_procs];
                char path[64], buf[256];
                ssize_t k;

                if (e->d_name[0] < '1' || e->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof path, "/proc/%s/statm", e->d_name);
                if ((p->statm_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                        continue;
                k = pread(p->statm_fd, buf, sizeof buf - 1, 0);
                buf[k > 0 ? k : 0] = '\0';
                if (k <= 0 || sscanf(buf, "%*d %ld", &p->rss) != 1 || strncmp(buf, "0 ", 2) == 0) {
                        close(p->statm_fd);
                        continue;
                }
                snprintf(p->pid, sizeof p->pid, "%s", e->d_name);
                r->n_procs++;
        }
        if (d)
                closedir(d);
        qsort(r->procs, r->n_procs, sizeof *r->procs, floor_by_rss);
}

/* 0, or -1 when a machine file cannot be opened. */
static inline int floor_reads_open(struct floor_reads *r, struct floor_proc *procs, size_t max_procs,
                                   char *const *mounts, size_t n_mounts) {
        static const char *const files[FLOOR_MACHINE_FILES] = {
                "/proc/stat", "/proc/loadavg", "/proc/meminfo", "/proc/diskstats", "/proc/net/dev", "/proc/net/snmp",
        };

        floor_raise_fd_limit();
        for (size_t i = 0; i < FLOOR_MACHINE_FILES; i++)
                if ((r->machine[i] = open(files[i], O_RDONLY | O_CLOEXEC)) < 0)
                        return -1;
        if ((r->proc_dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                return -1;
        r->procs = procs;
        floor_open_processes(r, max_procs);
        for (size_t i = 0; i < FLOOR_TOP; i++) {
                char path[64];

                snprintf(path, sizeof path, "/proc/%s/stat", i < r->n_procs ? procs[i].pid : "self");
                r->top_stat[i] = open(path, O_RDONLY | O_CLOEXEC);
                if (i < r->n_procs)
                        close(procs[i].statm_fd);
        }
        r->mounts = mounts;
        r->n_mounts = n_mounts;
        return 0;
}

/* One tick's reads; nothing read is parsed. */
static inline void floor_reads_take(const struct floor_reads *r) {
        char buf[16384];
        struct statfs sf;
        struct stat st;

        for (size_t j = 0; j < FLOOR_MACHINE_FILES; j++)
                (void) !pread(r->machine[j], buf, sizeof buf, 0);
        for (size_t j = FLOOR_TOP; j < r->n_procs; j++)
                (void) !pread(r->procs[j].statm_fd, buf, 256, 0);
        for (size_t j = 0; j < FLOOR_TOP; j++) {
                (void) !pread(r->top_stat[j], buf, 1024, 0);
                (void) !fstatat(r->proc_dir, j < r->n_procs ? r->procs[j].pid : "self", &st, 0);
        }
        for (size_t j = 0; j < r->n_mounts; j++)
                (void) !statfs(r->mounts[j], &sf);
}
