/* SPDX-License-Identifier: MIT */
/* Many WebSocket clients in one epoll loop, to time a broadcast: for each
 * round, send the server a signal (its "tick") and wait until every client
 * holds one more complete text frame. Plain sockets and a minimal frame
 * parser, so that the clients cost as little as possible and the figure is
 * the server's.
 *
 * Usage: telemetry-broadcast-client PORT CLIENTS ROUNDS PID SIGNAL [VALUE]
 * SIGNAL is sent with sigqueue(VALUE) (telemetryd's interval signal) when
 * VALUE is given, with kill() otherwise. Prints one JSON line.
 * With BENCH_TLS=1 in the environment the clients speak wss:// (OpenSSL,
 * no certificate check: only the server's cost is measured). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

struct client {
        int fd;
        SSL *ssl; /* NULL: plain */
        unsigned long frames;
        size_t have, need; /* bytes of the current frame read / expected (0: header incomplete) */
        unsigned char head[14];
        size_t head_len;
        int opcode;
};

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* What arrived: read(), or the TLS layer's SSL_read(), which also hands
 * out what it decrypted before; -1 once nothing is left. */
static ssize_t take(struct client *c, void *buf, size_t size) {
        return c->ssl ? SSL_read(c->ssl, buf, (int) size) : read(c->fd, buf, size);
}

static int dial(int port, SSL_CTX *ctx, struct client *c) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Version: 13\r\n\r\n";
        char resp[1024];
        size_t got = 0;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

        if (fd < 0 || connect(fd, (struct sockaddr *) &a, sizeof a) < 0)
                return -1;
        c->fd = fd;
        if (ctx) {
                c->ssl = SSL_new(ctx);
                if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1 || SSL_connect(c->ssl) != 1)
                        return -1;
        }
        if (c->ssl ? SSL_write(c->ssl, req, sizeof req - 1) <= 0 : write(fd, req, sizeof req - 1) < 0)
                return -1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        /* Read the response byte by byte up to its end, so that no frame
         * byte is taken with it. */
        while (got < sizeof resp - 1) {
                if (take(c, resp + got, 1) != 1)
                        return -1;
                got++;
                if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
                        break;
        }
        resp[got] = '\0';
        if (strncmp(resp, "HTTP/1.1 101", 12) != 0) {
                fprintf(stderr, "handshake refused: %.40s\n", resp);
                return -1;
        }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        return fd;
}

/* Consume bytes; count each complete text frame. */
static void feed(struct client *c, const unsigned char *p, size_t n) {
        while (n > 0) {
                if (c->need == 0) {
                        size_t want;

                        c->head[c->head_len++] = *p++;
                        n--;
                        if (c->head_len < 2)
                                continue;
                        want = (c->head[1] & 0x7f) == 126 ? 4 : (c->head[1] & 0x7f) == 127 ? 10 : 2;
                        if (c->head_len < want)
                                continue;
                        c->opcode = c->head[0] & 0x0f;
                        if (want == 2)
                                c->need = c->head[1] & 0x7f;
                        else if (want == 4)
                                c->need = (size_t) c->head[2] << 8 | c->head[3];
                        else {
                                c->need = 0;
                                for (int i = 2; i < 10; i++)
                                        c->need = c->need << 8 | c->head[i];
                        }
                        c->head_len = 0;
                        c->have = 0;
                        if (c->need == 0 && c->opcode == 1) /* an empty text frame */
                                c->frames++;
                        continue;
                }
                size_t take = c->need - c->have < n ? c->need - c->have : n;
                c->have += take;
                p += take;
                n -= take;
                if (c->have == c->need) {
                        if (c->opcode == 1)
                                c->frames++;
                        c->need = 0;
                }
        }
}

static int cmp(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

int main(int argc, char **argv) {
        int port, n, rounds, pid, sig, ep;
        bool queue = argc > 6;
        union sigval value = { 0 };
        struct client *cl;
        double *ms;
        static unsigned char buf[1 << 16];
        struct epoll_event evs[256];
        SSL_CTX *ctx = NULL;

        if (argc < 6) {
                fprintf(stderr, "usage: %s PORT CLIENTS ROUNDS PID SIGNAL [VALUE]\n", argv[0]);
                return 2;
        }
        port = atoi(argv[1]);
        n = atoi(argv[2]);
        rounds = atoi(argv[3]);
        pid = atoi(argv[4]);
        sig = atoi(argv[5]);
        if (queue)
                value.sival_int = atoi(argv[6]);
        cl = calloc((size_t) n, sizeof *cl);
        ms = calloc((size_t) rounds, sizeof *ms);
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (getenv("BENCH_TLS")) {
                ctx = SSL_CTX_new(TLS_client_method());
                if (!ctx)
                        return 1;
                SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        }
        for (int i = 0; i < n; i++) {
                if (dial(port, ctx, &cl[i]) < 0) {
                        fprintf(stderr, "client %d could not connect\n", i);
                        return 1;
                }
                epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd,
                          &(struct epoll_event){ .events = EPOLLIN, .data.ptr = &cl[i] });
        }

        for (int r = -1; r < rounds; r++) {
                unsigned long target;
                int done = 0;
                double t0;

                /* Let whatever was sent on connect or in the last round land. */
                for (;;) {
                        int k = epoll_wait(ep, evs, 256, 300);
                        if (k <= 0)
                                break;
                        for (int i = 0; i < k; i++) {
                                struct client *c = evs[i].data.ptr;
                                ssize_t got;
                                while ((got = take(c, buf, sizeof buf)) > 0)
                                        feed(c, buf, (size_t) got);
                        }
                }
                if (r < 0)
                        continue; /* round -1 only drains */
                target = cl[0].frames + 1;
                for (int i = 0; i < n; i++)
                        if (cl[i].frames + 1 != target) {
                                fprintf(stderr, "clients out of step\n");
                                return 1;
                        }
                t0 = now_ms();
                if (queue ? sigqueue(pid, sig, value) : kill(pid, sig)) {
                        perror("signal");
                        return 1;
                }
                while (done < n) {
                        int k = epoll_wait(ep, evs, 256, 10000);
                        if (k <= 0) {
                                fprintf(stderr, "round %d: only %d of %d clients got the frame\n", r, done, n);
                                return 1;
                        }
                        for (int i = 0; i < k; i++) {
                                struct client *c = evs[i].data.ptr;
                                unsigned long before = c->frames;
                                ssize_t got;
                                while ((got = take(c, buf, sizeof buf)) > 0)
                                        feed(c, buf, (size_t) got);
                                if (before < target && c->frames >= target)
                                        done++;
                        }
                }
                ms[r] = now_ms() - t0;
        }
        qsort(ms, (size_t) rounds, sizeof *ms, cmp);
        printf("{\"clients\": %d, \"rounds\": %d, \"median_ms\": %.3f, \"min_ms\": %.3f, \"max_ms\": %.3f}\n", n,
               rounds, ms[rounds / 2], ms[0], ms[rounds - 1]);
        free(ms);
        for (int i = 0; i < n; i++)
                SSL_free(cl[i].ssl);
        SSL_CTX_free(ctx);
        free(cl);
        return 0;
}
