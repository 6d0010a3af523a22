/* SPDX-License-Identifier: MIT */
/* The floor for bench/telemetry-idle.py: what an idle tick cannot do
 * without, and nothing else. Once a second it reads the same kernel files
 * telemetryd reads on a tick, through descriptors kept open (the machine's
 * /proc files, every process's statm, the stat of the five largest, and
 * their /proc directory for the owner), takes statfs() of the same mounts,
 * and write()s one ready-made frame of the same size to every client. It
 * parses nothing, builds no JSON and links no WebSocket library: its
 * processes are the ones there at its start, ranked once. No telemetry
 * server can do less a tick.
 * Usage: telemetry-idle-floor PORT FRAME_FILE [MOUNT...] */
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "floor.h"

#define MAX_CLIENTS 64
#define MAX_PROCS 4096
#define TOP 5

static const char *const machine_files[] = {
        "/proc/stat", "/proc/loadavg", "/proc/meminfo", "/proc/diskstats", "/proc/net/dev", "/proc/net/snmp",
};

struct proc {
        int statm_fd;
        long rss;
        char pid[16];
};

static int by_rss(const void *a, const void *b) {
        const struct proc *x = a, *y = b;

        return (y->rss > x->rss) - (y->rss < x->rss);
}

/* Every process with memory, its statm kept open; the largest first. */
static size_t open_processes(struct proc *p, int *top_stat) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        size_t n = 0;

        if (!d)
                return 0;
        while ((e = readdir(d)) && n < MAX_PROCS) {
                char path[64], buf[256];
                ssize_t k;

                if (e->d_name[0] < '1' || e->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof path, "/proc/%s/statm", e->d_name);
                p[n].statm_fd = open(path, O_RDONLY | O_CLOEXEC);
                if (p[n].statm_fd < 0)
                        continue;
                k = pread(p[n].statm_fd, buf, sizeof buf - 1, 0);
                buf[k > 0 ? k : 0] = '\0';
                if (k <= 0 || sscanf(buf, "%*d %ld", &p[n].rss) != 1 || strncmp(buf, "0 ", 2) == 0) {
                        close(p[n].statm_fd);
                        continue;
                }
                snprintf(p[n].pid, sizeof p[n].pid, "%s", e->d_name);
                n++;
        }
        closedir(d);
        qsort(p, n, sizeof *p, by_rss);
        /* The top ones' stat stands for their statm, as in telemetryd. */
        for (size_t i = 0; i < TOP; i++) {
                char path[64];

                snprintf(path, sizeof path, "/proc/%s/stat", i < n ? p[i].pid : "self");
                top_stat[i] = open(path, O_RDONLY | O_CLOEXEC);
                if (i < n)
                        close(p[i].statm_fd);
        }
        return n;
}

/* The handshake a real client checks: the key's SHA-1 with the GUID. */
static int answer(int c, const char *req) {
        static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
        const char *k = strcasestr(req, "\r\nSec-WebSocket-Key:");
        unsigned char md[EVP_MAX_MD_SIZE], in[128];
        char accept[64], resp[256];
        unsigned md_len = 0;
        size_t key_len;
        int n;

        if (!k)
                return -1;
        k += strlen("\r\nSec-WebSocket-Key:");
        k += strspn(k, " ");
        key_len = strcspn(k, " \r\n");
        if (key_len + sizeof guid > sizeof in)
                return -1;
        memcpy(in, k, key_len);
        memcpy(in + key_len, guid, sizeof guid - 1);
        if (!EVP_Digest(in, key_len + sizeof guid - 1, md, &md_len, EVP_sha1(), NULL))
                return -1;
        EVP_EncodeBlock((unsigned char *) accept, md, (int) md_len);
        n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
        return write(c, resp, (size_t) n) == n ? 0 : -1;
}

int main(int argc, char **argv) {
        static unsigned char frame[1 << 16];
        static struct proc procs[MAX_PROCS];
        struct itimerspec every_second = { .it_interval.tv_sec = 1, .it_value.tv_sec = 1 };
        int machine_fds[sizeof machine_files / sizeof *machine_files], top_stat[TOP], fds[MAX_CLIENTS];
        int ls, tfd, ep, proc_fd, n_clients = 0;
        size_t len, n_procs;
        char buf[16384];

        if (argc < 3 || !(len = floor_frame(argv[2], frame, sizeof frame)))
                return 2;
        for (size_t i = 0; i < sizeof machine_files / sizeof *machine_files; i++)
                if ((machine_fds[i] = open(machine_files[i], O_RDONLY | O_CLOEXEC)) < 0)
                        return 1;
        if ((proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                return 1;
        n_procs = open_processes(procs, top_stat);

        if ((ls = floor_listen(argv[1], 64)) < 0)
                return 1;
        signal(SIGPIPE, SIG_IGN);
        tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
        timerfd_settime(tfd, 0, &every_second, NULL);
        ep = epoll_create1(EPOLL_CLOEXEC);
        epoll_ctl(ep, EPOLL_CTL_ADD, ls, &(struct epoll_event){ .events = EPOLLIN, .data.fd = ls });
        epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &(struct epoll_event){ .events = EPOLLIN, .data.fd = tfd });
        for (;;) {
                struct epoll_event ev[8];
                int k = epoll_wait(ep, ev, 8, -1);

                for (int i = 0; i < k; i++) {
                        if (ev[i].data.fd == ls) {
                                int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);

                                if (c < 0)
                                        continue;
                                if (n_clients == MAX_CLIENTS || !floor_request(c, buf, sizeof buf) || answer(c, buf) < 0) {
                                        close(c);
                                        continue;
                                }
                                fds[n_clients++] = c;
                                epoll_ctl(ep, EPOLL_CTL_ADD, c, &(struct epoll_event){ .events = EPOLLIN, .data.fd = c });
                        } else if (ev[i].data.fd == tfd) {
                                uint64_t expirations;
                                struct statfs sf;
                                struct stat st;

                                if (read(tfd, &expirations, sizeof expirations) != sizeof expirations)
                                        continue;
                                for (size_t j = 0; j < sizeof machine_fds / sizeof *machine_fds; j++)
                                        (void) !pread(machine_fds[j], buf, sizeof buf, 0);
                                for (size_t j = TOP; j < n_procs; j++)
                                        (void) !pread(procs[j].statm_fd, buf, 256, 0);
                                for (size_t j = 0; j < TOP; j++) {
                                        (void) !pread(top_stat[j], buf, 1024, 0);
                                        (void) !fstatat(proc_fd, j < n_procs ? procs[j].pid : "self", &st, 0);
                                }
                                for (int j = 3; j < argc; j++)
                                        (void) !statfs(argv[j], &sf);
                                for (int j = 0; j < n_clients; j++)
                                        (void) !write(fds[j], frame, len);
                        } else {
                                /* The clients send nothing but their close: answer
                                 * it and go, so that they need not wait for it. */
                                static const unsigned char close_frame[] = { 0x88, 0x00 };
                                int c = ev[i].data.fd;

                                (void) !write(c, close_frame, sizeof close_frame);
                                close(c);
                                for (int j = 0; j < n_clients; j++)
                                        if (fds[j] == c)
                                                fds[j] = fds[--n_clients];
                        }
                }
        }
}
