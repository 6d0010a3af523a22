/* SPDX-License-Identifier: MIT */
/* bench/hub-fleet's nodes: N keep-alive connections to a hub on loopback,
 * node i pushing one sample every INTERVAL seconds, the N nodes spread
 * evenly over the interval, until SIGTERM (or for SECONDS at the most). One
 * thread, one epoll: it costs far less than the hub it measures, so the
 * figure stays the hub's.
 *
 *   hub-fleet-client PORT N SECONDS INTERVAL TOKEN_PREFIX
 *
 * Node i's token is TOKEN_PREFIX followed by i (bench/hub-fleet-seed stored
 * their hashes). Prints one JSON line: pushes sent, answered 200, other
 * answers, pushes skipped because the previous was still unanswered,
 * connections the hub closed (and were opened again), the client's own CPU
 * seconds. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQ_MAX 4096
#define RESP_MAX 4096

struct conn {
        int fd;
        bool connecting, busy;
        char req[REQ_MAX];
        size_t req_len, req_off;
        char resp[RESP_MAX];
        size_t resp_len;
        long long seq;
};

static struct sockaddr_in addr;
static const char *token_prefix;
static long long sent, ok, bad, skipped, reopened;
static volatile sig_atomic_t stop;

static void on_term(int sig) {
        stop = 1;
}

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int open_conn(int ep, struct conn *c) {
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
        int one = 1;

        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
                return -errno;
        (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c->fd, (struct sockaddr *) &addr, sizeof addr) < 0 && errno != EINPROGRESS)
                return -errno;
        c->connecting = true;
        return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0 ? -errno : 0;
}

static void close_conn(int ep, struct conn *c) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
}

static void want_write(int ep, struct conn *c, bool on) {
        struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Write what is pending; false when the connection broke. */
static bool flush(int ep, struct conn *c) {
        while (c->req_off < c->req_len) {
                ssize_t n = write(c->fd, c->req + c->req_off, c->req_len - c->req_off);
                if (n < 0) {
                        if (errno == EAGAIN) {
                                want_write(ep, c, true);
                                return true;
                        }
                        return false;
                }
                c->req_off += (size_t) n;
        }
        want_write(ep, c, false);
        return true;
}

static void make_push(struct conn *c, size_t i) {
        char body[2048], ts[32];
        time_t t = time(NULL);
        struct tm tm;
        int len;

        gmtime_r(&t, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        c->seq++;
        len = snprintf(body, sizeof body,
                       "{\"timestamp\":\"%s\",\"node_id\":\"node%zu\",\"interval\":10,\"metrics\":{"
                       "\"cpu\":{\"cpu_usage_percent\":%lld.5,\"cpu_per_core_percent\":[50.1,40.3],"
                       "\"load_avg_1min\":2.5,\"load_avg_5min\":2.1,\"load_avg_15min\":1.8},"
                       "\"memory\":{\"memory_total_gb\":16.0,\"memory_used_gb\":8.5,\"memory_available_gb\":7.5,"
                       "\"memory_usage_percent\":53.1,\"swap_total_gb\":4.0,\"swap_used_gb\":0.5,"
                       "\"swap_usage_percent\":12.5},"
                       "\"disk\":{\"disk_usage\":{\"/\":{\"total_gb\":100.0,\"used_gb\":60.0,\"free_gb\":40.0,"
                       "\"usage_percent\":60.0}},\"disk_io\":{\"read_mb_per_sec\":5.2,\"write_mb_per_sec\":2.1}},"
                       "\"network\":{\"bytes_sent_mb_per_sec\":1.5,\"bytes_recv_mb_per_sec\":3.2,"
                       "\"packets_sent\":%lld,\"packets_recv\":%lld,\"active_connections\":45},"
                       "\"processes\":{\"process_count\":234,\"top_memory_processes\":[{\"pid\":1234,"
                       "\"name\":\"chrome\",\"memory_percent\":15.2}]}},\"stream\":\"bench\",\"seq\":%lld}\n",
                       ts, i, c->seq % 100, 1234567 + c->seq, 2345678 + c->seq, c->seq);
        c->req_len = (size_t) snprintf(c->req, sizeof c->req,
                                       "POST /api/v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       "Authorization: Bearer %s%zu\r\nContent-Type: application/x-ndjson\r\n"
                                       "Content-Length: %d\r\n\r\n%s",
                                       token_prefix, i, len, body);
        c->req_off = 0;
        c->resp_len = 0;
}

/* A whole answer in resp? Then count it and get ready for the next. */
static void take_answer(struct conn *c) {
        char *end = memmem(c->resp, c->resp_len, "\r\n\r\n", 4);
        const char *cl;
        size_t head, body = 0;

        if (!end)
                return;
        head = (size_t) (end - c->resp) + 4;
        /* resp keeps a spare byte: the headers end in a NUL for the search,
         * without touching what a later read completes. */
        c->resp[c->resp_len] = '\0';
        cl = strcasestr(c->resp, "\r\ncontent-length:");
        if (cl && cl > end)
                cl = NULL;
        if (cl)
                body = strtoul(cl + 17, NULL, 10);
        if (c->resp_len < head + body)
                return;
        if (strncmp(c->resp, "HTTP/1.1 200", 12) == 0)
                ok++;
        else if (bad++ < 3)
                fprintf(stderr, "hub-fleet-client: %.*s\n", (int) strcspn(c->resp, "\r"), c->resp);
        c->busy = false;
        c->resp_len = 0;
}

int main(int argc, char **argv) {
        struct rlimit rl;
        struct conn *conns;
        struct epoll_event evs[512];
        size_t n, next = 0;
        int64_t start, end, spacing_us, round = 0;
        double interval;
        int ep;

        if (argc != 6) {
                fprintf(stderr, "usage: %s PORT N SECONDS INTERVAL TOKEN_PREFIX\n", argv[0]);
                return 2;
        }
        addr.sin_family = AF_INET;
        addr.sin_port = htons((uint16_t) atoi(argv[1]));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        n = strtoul(argv[2], NULL, 10);
        interval = atof(argv[4]);
        token_prefix = argv[5];
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 64) {
                rl.rlim_cur = rl.rlim_max < n + 64 ? rl.rlim_max : n + 64;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        signal(SIGTERM, on_term);
        signal(SIGINT, on_term);
        conns = calloc(n, sizeof *conns);
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (!conns || ep < 0)
                return 1;
        for (size_t i = 0; i < n; i++)
                if (open_conn(ep, &conns[i]) < 0) {
                        fprintf(stderr, "connection %zu: %s\n", i, strerror(errno));
                        return 1;
                }
        spacing_us = (int64_t) (interval * 1e6 / (double) n);
        start = now_ms();
        end = start + (int64_t) (atof(argv[3]) * 1000);
        for (;;) {
                int64_t now = now_ms(), due;
                int timeout, k;

                /* Node i pushes at start + round * interval + i * spacing. */
                for (;;) {
                        due = start + (int64_t) (round * interval * 1000) + (int64_t) next * spacing_us / 1000;
                        if (due > now || due >= end)
                                break;
                        struct conn *c = &conns[next];
                        if (c->busy || c->fd < 0 || c->connecting)
                                skipped++;
                        else {
                                make_push(c, next);
                                c->busy = true;
                                sent++;
                                if (!flush(ep, c)) {
                                        close_conn(ep, c);
                                        reopened++;
                                        c->busy = false;
                                        bad++;
                                        (void) open_conn(ep, c);
                                }
                        }
                        if (++next == n) {
                                next = 0;
                                round++;
                        }
                }
                if (stop || (due >= end && now >= end))
                        break;
                timeout = due > now ? (int) (due - now) : 0;
                if (due >= end)
                        timeout = (int) (end - now);
                k = epoll_wait(ep, evs, 512, timeout);
                if (k < 0 && errno == EINTR)
                        continue;
                for (int e = 0; e < k; e++) {
                        struct conn *c = evs[e].data.ptr;
                        bool broken = false;

                        if (c->connecting && (evs[e].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                                int err = 0;
                                socklen_t len = sizeof err;
                                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                                if (err)
                                        broken = true;
                                else {
                                        c->connecting = false;
                                        want_write(ep, c, false);
                                }
                        } else if (evs[e].events & EPOLLOUT)
                                broken = !flush(ep, c);
                        if (!broken && (evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                                ssize_t r = read(c->fd, c->resp + c->resp_len, sizeof c->resp - c->resp_len - 1);
                                if (r > 0) {
                                        c->resp_len += (size_t) r;
                                        take_answer(c);
                                } else if (r == 0 || errno != EAGAIN)
                                        broken = true;
                        }
                        if (broken) {
                                /* The hub closed it (or it never opened). */
                                if (c->busy)
                                        bad++;
                                c->busy = false;
                                close_conn(ep, c);
                                reopened++;
                                (void) open_conn(ep, c);
                        }
                }
        }
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("{\"sent\": %lld, \"ok\": %lld, \"bad\": %lld, \"skipped\": %lld, \"reopened\": %lld, "
               "\"cpu_seconds\": %.3f}\n",
               sent, ok, bad, skipped, reopened,
               (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                       ru.ru_stime.tv_usec / 1e6);
        return 0;
}
