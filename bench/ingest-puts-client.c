/* SPDX-License-Identifier: MIT */
/* Load for bench/ingest-puts: N connections to a put/get server
 * (docs/custom-metrics.md), each keeping `depth` puts in flight (1 = one
 * round trip per put, as a simple client does), for a number of seconds.
 * Counts the "ok\n\n" replies and prints {"puts": N, "seconds": S}; any
 * other reply is fatal.
 *
 *   ingest-puts-client PORT CONNECTIONS SECONDS DEPTH
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
        int fd, id;
        long long sent, acked;
        size_t partial; /* bytes of the current "ok\n\n" already seen */
};

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void die(const char *what) {
        perror(what);
        exit(1);
}

/* Send `n` more puts. Each run has metrics of its own (named after its
 * pid), whose timestamps only grow, like an application's: a point older
 * than a full metric holds would be dropped without being logged, which
 * is less work than a real put. */
static void send_puts(struct conn *c, int n) {
        char buf[64 * 80];
        size_t len = 0;

        for (int i = 0; i < n; i++, c->sent++)
                len += (size_t) snprintf(buf + len, sizeof buf - len, "put bench.%d.c%d %lld.5 %lld\n", (int) getpid(),
                                         c->id, c->sent % 1000, 1700000000LL + c->sent);
        if (send(c->fd, buf, len, MSG_NOSIGNAL) != (ssize_t) len)
                die("send");
}

static const char ok[] = "ok\n\n";

int main(int argc, char **argv) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int port, n, depth, ep, one = 1;
        double seconds, start, end;
        long long total = 0;
        struct conn *conns;

        if (argc != 5) {
                fprintf(stderr, "usage: %s PORT CONNECTIONS SECONDS DEPTH\n", argv[0]);
                return 2;
        }
        port = atoi(argv[1]);
        n = atoi(argv[2]);
        seconds = atof(argv[3]);
        depth = atoi(argv[4]);
        if (depth < 1 || depth > 64)
                return 2;
        sa.sin_port = htons((uint16_t) port);
        conns = calloc((size_t) n, sizeof *conns);
        ep = epoll_create1(0);
        for (int i = 0; i < n; i++) {
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conns[i] };

                conns[i].id = i;
                conns[i].fd = socket(AF_INET, SOCK_STREAM, 0);
                if (conns[i].fd < 0 || connect(conns[i].fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                        die("connect");
                setsockopt(conns[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
        }
        for (int i = 0; i < n; i++)
                send_puts(&conns[i], depth);

        start = now();
        end = start + seconds;
        while (now() < end) {
                struct epoll_event evs[64];
                int k = epoll_wait(ep, evs, 64, 100);

                for (int e = 0; e < k; e++) {
                        struct conn *c = evs[e].data.ptr;
                        char buf[65536];
                        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
                        int replies = 0;

                        if (r <= 0)
                                die("recv");
                        for (ssize_t b = 0; b < r; b++) {
                                if (buf[b] != ok[c->partial]) {
                                        fprintf(stderr, "unexpected reply byte %d\n", buf[b]);
                                        return 1;
                                }
                                if (++c->partial == 4) {
                                        c->partial = 0;
                                        replies++;
                                }
                        }
                        c->acked += replies;
                        total += replies;
                        if (replies > 0)
                                send_puts(c, replies);
                }
        }
        printf("{\"puts\": %lld, \"seconds\": %.3f}\n", total, now() - start);
        free(conns);
        return 0;
}
