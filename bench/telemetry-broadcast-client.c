/* SPDX-License-Identifier: MIT */
/* Many WebSocket clients in one epoll loop, to time a broadcast: for each
 * round, send the server a signal (its "tick") and wait until every client
 * holds one more complete text frame. Plain sockets and a minimal frame
 * parser, so that the clients cost as little as possible and the figure is
 * the server's. Pings are answered (a server that cuts off silent peers
 * keeps them); a connection the server closes fails the run.
 *
 * Usage: telemetry-broadcast-client PORT STAGES ROUNDS PID SIGNAL [VALUE]
 *        telemetry-broadcast-client --each CLIENTS ROUNDS SERVER...
 * STAGES is a client count or a rising list of them ("1000,5000,10000"):
 * clients are added up to each count in turn, and ROUNDS timed there.
 * SIGNAL is sent with sigqueue(VALUE) (telemetryd's interval signal) when
 * VALUE is given, with kill() otherwise. Prints one JSON line per stage:
 * the time to connect that stage's clients and the server's CPU time for
 * it, the rounds' times and the server's CPU time per round.
 * With BENCH_TLS=1 in the environment the clients speak wss:// (OpenSSL,
 * no certificate check: only the server's cost is measured).
 *
 * With --each, CLIENTS clients connect to each SERVER
 * (PORT:PID:SIGNAL:VALUE:plain|tls, VALUE "-" for kill()), and each round
 * ticks every server in turn, so that they all run on the same machine:
 * on these shared VMs its speed drifts from one minute to the next. One
 * JSON line per server, in order. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
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

#include <openssl/ssl.h>

struct client {
        int fd;
        SSL *ssl; /* NULL: plain */
        unsigned long frames, target;
        size_t have, need; /* bytes of the current frame read / expected (0: header incomplete) */
        unsigned char head[14];
        size_t head_len;
        int opcode;
        unsigned char ctl[125]; /* a ping's payload, echoed in the pong */
};

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* What arrived, as read() has it: bytes, 0 at the end of the stream, or -1
 * and errno (EAGAIN: nothing more now). Over TLS what SSL_read() decrypted;
 * it also reads the records behind the payload (session tickets). */
static ssize_t take(struct client *c, void *buf, size_t size) {
        int k;

        if (!c->ssl)
                return read(c->fd, buf, size);
        errno = 0;
        k = SSL_read(c->ssl, buf, (int) size);
        if (k > 0)
                return k;
        switch (SSL_get_error(c->ssl, k)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
                errno = EAGAIN;
                return -1;
        case SSL_ERROR_ZERO_RETURN:
                return 0;
        case SSL_ERROR_SYSCALL:
                if (errno == 0)
                        errno = ECONNRESET;
                return -1;
        default:
                errno = EPROTO;
                return -1;
        }
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
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (ctx) {
                c->ssl = SSL_new(ctx);
                if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1 || SSL_connect(c->ssl) != 1 ||
                    SSL_write(c->ssl, req, sizeof req - 1) <= 0)
                        return -1;
                /* Byte by byte up to the response's end: SSL_read() takes
                 * whole records from the socket and keeps the rest, so no
                 * frame byte goes with the response. */
                while (got < sizeof resp - 1) {
                        if (take(c, resp + got, 1) != 1)
                                return -1;
                        got++;
                        if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
                                break;
                }
                resp[got] = '\0';
                goto check;
        }
        if (write(fd, req, sizeof req - 1) < 0)
                return -1;
        /* Take the response up to its end and not a byte more: the first
         * frame may follow it at once. */
        for (;;) {
                ssize_t k = recv(fd, resp, sizeof resp - 1, MSG_PEEK);
                char *end;

                if (k <= 0)
                        return -1;
                resp[k] = '\0';
                end = strstr(resp, "\r\n\r\n");
                if (end) {
                        got = (size_t) (end + 4 - resp);
                        break;
                }
                if ((size_t) k == sizeof resp - 1)
                        return -1;
                /* Wait for more than what is there already. */
                if (recv(fd, resp, (size_t) k + 1, MSG_PEEK | MSG_WAITALL) <= k)
                        return -1;
        }
        if (read(fd, resp, got) != (ssize_t) got)
                return -1;
        resp[got] = '\0';
check:
        if (strncmp(resp, "HTTP/1.1 101", 12) != 0) {
                fprintf(stderr, "handshake refused: %.40s\n", resp);
                return -1;
        }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        return fd;
}

/* Consume bytes; count each complete text frame. */
static void pong(struct client *c, size_t len) {
        unsigned char out[2 + 4 + sizeof c->ctl];

        /* A client's frames are masked; a zero mask leaves the payload as it is. */
        out[0] = 0x8a;
        out[1] = (unsigned char) (0x80 | len);
        memset(out + 2, 0, 4);
        memcpy(out + 6, c->ctl, len);
        if (c->ssl)
                (void) SSL_write(c->ssl, out, (int) (6 + len));
        else
                (void) !write(c->fd, out, 6 + len);
}

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
                        else if (c->need == 0 && c->opcode == 9)
                                pong(c, 0);
                        continue;
                }
                size_t take = c->need - c->have < n ? c->need - c->have : n;
                if (c->opcode == 9 && c->need <= sizeof c->ctl)
                        memcpy(c->ctl + c->have, p, take);
                c->have += take;
                p += take;
                n -= take;
                if (c->have == c->need) {
                        if (c->opcode == 1)
                                c->frames++;
                        else if (c->opcode == 9 && c->need <= sizeof c->ctl)
                                pong(c, c->need);
                        c->need = 0;
                }
        }
}

static int cmp(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

/* Read what a client has. A connection the server ended ends the run
 * (rather than coming back readable for ever). */
static void drain(struct client *c, int idx) {
        static unsigned char buf[1 << 16];
        ssize_t got;

        while ((got = take(c, buf, sizeof buf)) > 0)
                feed(c, buf, (size_t) got);
        if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                fprintf(stderr, "client %d: the server closed the connection (%s)\n", idx,
                        got == 0 ? "end of stream" : strerror(errno));
                exit(1);
        }
}

/* CPU time pid has used, in milliseconds: the scheduler's own count
 * (nanoseconds), since utime and stime move in whole clock ticks. */
static double cpu_ms(int pid) {
        char path[64];
        unsigned long long ns = 0;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/schedstat", pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        if (fscanf(f, "%llu", &ns) != 1)
                ns = 0;
        fclose(f);
        return (double) ns / 1e6;
}

/* The clients of one server, and how to tick it. */
struct server {
        int port, pid, sig;
        bool queue, tls;
        union sigval value;
        struct client *cl;
        int n;
        double *ms; /* each round's time */
        double t_conn, cpu_conn, cpu0;
};

/* The client behind an epoll event: server in the high half, client in the low. */
static struct client *client_of(struct server *servers, uint64_t key, int *idx) {
        *idx = (int) (uint32_t) key;
        return &servers[key >> 32].cl[*idx];
}

static void drain_events(struct server *servers, const struct epoll_event *evs, int k) {
        for (int i = 0; i < k; i++) {
                int idx;
                struct client *c = client_of(servers, evs[i].data.u64, &idx);

                drain(c, idx);
        }
}

/* Connect server si's clients up to want, timing it and its CPU. */
static int connect_clients(int ep, struct server *servers, int si, int want, SSL_CTX *ctx) {
        struct server *s = &servers[si];
        struct epoll_event evs[256];

        s->t_conn = now_ms();
        s->cpu_conn = cpu_ms(s->pid);
        for (; s->n < want; s->n++) {
                struct client *c = &s->cl[s->n];

                if (dial(s->port, s->tls ? ctx : NULL, c) < 0) {
                        fprintf(stderr, "client %d of port %d could not connect: %s\n", s->n, s->port, strerror(errno));
                        return -1;
                }
                epoll_ctl(ep, EPOLL_CTL_ADD, c->fd,
                          &(struct epoll_event){ .events = EPOLLIN, .data.u64 = (uint64_t) si << 32 | (uint32_t) s->n });
                /* What the TLS layer already decrypted is no longer in the
                 * socket: epoll would never report it. */
                if (c->ssl && SSL_pending(c->ssl) > 0)
                        drain(c, s->n);
                /* Now and then read what the connected ones got: a server
                 * pings a silent client and drops it when no pong comes,
                 * and connecting thousands can take longer than it waits. */
                if (s->n % 64 == 63)
                        drain_events(servers, evs, epoll_wait(ep, evs, 256, 0));
        }
        s->t_conn = now_ms() - s->t_conn;
        s->cpu_conn = cpu_ms(s->pid) - s->cpu_conn;
        return 0;
}

/* Let whatever was sent on connect or in the last round land. */
static void settle(int ep, struct server *servers) {
        struct epoll_event evs[256];
        int k;

        while ((k = epoll_wait(ep, evs, 256, 300)) > 0)
                drain_events(servers, evs, k);
}

/* Tick server si once: how long until every one of its clients holds one
 * more frame than it did. Clients that just joined got a frame on connect
 * (telemetryd) or none (the peers): each waits for one more than it holds.
 * The other servers' clients are read too (pings), but not waited for. */
static double tick(int ep, struct server *servers, int si, int round) {
        struct server *s = &servers[si];
        struct epoll_event evs[256];
        int done = 0;
        double t0;

        for (int i = 0; i < s->n; i++)
                s->cl[i].target = s->cl[i].frames + 1;
        t0 = now_ms();
        if (s->queue ? sigqueue(s->pid, s->sig, s->value) : kill(s->pid, s->sig)) {
                perror("signal");
                exit(1);
        }
        while (done < s->n) {
                int k = epoll_wait(ep, evs, 256, 10000);

                if (k <= 0) {
                        fprintf(stderr, "round %d: only %d of %d clients of port %d got the frame\n", round, done,
                                s->n, s->port);
                        exit(1);
                }
                for (int i = 0; i < k; i++) {
                        int idx;
                        struct client *c = client_of(servers, evs[i].data.u64, &idx);
                        unsigned long before = c->frames;

                        drain(c, idx);
                        if (evs[i].data.u64 >> 32 == (uint64_t) si && before < c->target && c->frames >= c->target)
                                done++;
                }
        }
        return now_ms() - t0;
}

static void report(struct server *s, int rounds) {
        double cpu = (cpu_ms(s->pid) - s->cpu0) / rounds;

        qsort(s->ms, (size_t) rounds, sizeof *s->ms, cmp);
        printf("{\"clients\": %d, \"connect_ms\": %.1f, \"connect_cpu_ms\": %.1f, \"rounds\": %d, "
               "\"median_ms\": %.3f, \"min_ms\": %.3f, \"max_ms\": %.3f, \"cpu_ms_per_round\": %.3f, "
               "\"tls\": \"%s\"}\n",
               s->n, s->t_conn, s->cpu_conn, rounds, s->ms[rounds / 2], s->ms[0], s->ms[rounds - 1], cpu,
               s->n > 0 && s->cl[0].ssl ? SSL_get_version(s->cl[0].ssl) : "");
        fflush(stdout);
}

/* rounds rounds, each ticking every server in turn after the last tick's
 * frames have landed; then one line per server. */
static void time_rounds(int ep, struct server *servers, int n_servers, int rounds) {
        settle(ep, servers);
        for (int si = 0; si < n_servers; si++)
                servers[si].cpu0 = cpu_ms(servers[si].pid);
        for (int r = 0; r < rounds; r++)
                for (int si = 0; si < n_servers; si++) {
                        settle(ep, servers);
                        servers[si].ms[r] = tick(ep, servers, si, r);
                }
        for (int si = 0; si < n_servers; si++)
                report(&servers[si], rounds);
}

/* PORT:PID:SIGNAL:VALUE:plain|tls */
static int parse_server(const char *arg, struct server *s) {
        char value[32], mode[8];

        if (sscanf(arg, "%d:%d:%d:%31[^:]:%7s", &s->port, &s->pid, &s->sig, value, mode) != 5 ||
            (strcmp(mode, "plain") != 0 && strcmp(mode, "tls") != 0))
                return -1;
        s->queue = strcmp(value, "-") != 0;
        if (s->queue)
                s->value.sival_int = atoi(value);
        s->tls = strcmp(mode, "tls") == 0;
        return 0;
}

static void raise_fd_limit(int clients) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t) clients + 64) {
                rl.rlim_cur = rl.rlim_max < (rlim_t) clients + 64 ? rl.rlim_max : (rlim_t) clients + 64;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static int usage(const char *argv0) {
        fprintf(stderr, "usage: %s PORT STAGES ROUNDS PID SIGNAL [VALUE]\n"
                        "       %s --each CLIENTS ROUNDS PORT:PID:SIGNAL:VALUE:plain|tls...\n", argv0, argv0);
        return 2;
}

int main(int argc, char **argv) {
        int total = 0, rounds, n_servers, ep;
        struct server *servers;
        bool each = argc > 1 && strcmp(argv[1], "--each") == 0, tls = false;
        char *list = NULL, *save = NULL;
        SSL_CTX *ctx = NULL;

        if (each ? argc < 5 : argc < 6)
                return usage(argv[0]);
        n_servers = each ? argc - 4 : 1;
        servers = calloc((size_t) n_servers, sizeof *servers);
        if (each) {
                total = atoi(argv[2]);
                rounds = atoi(argv[3]);
                for (int i = 0; i < n_servers; i++)
                        if (parse_server(argv[4 + i], &servers[i]) < 0)
                                return usage(argv[0]);
        } else {
                /* The stages rise: the last is the most clients. */
                const char *last = strrchr(argv[2], ',');

                total = atoi(last ? last + 1 : argv[2]);
                rounds = atoi(argv[3]);
                servers[0] = (struct server){ .port = atoi(argv[1]), .pid = atoi(argv[4]), .sig = atoi(argv[5]),
                                              .queue = argc > 6, .tls = getenv("BENCH_TLS") != NULL };
                if (servers[0].queue)
                        servers[0].value.sival_int = atoi(argv[6]);
        }
        if (total <= 0 || rounds <= 0)
                return usage(argv[0]);
        /* A stuck server must not keep the benchmark waiting for ever. */
        alarm(900);
        raise_fd_limit(total * n_servers);
        for (int i = 0; i < n_servers; i++) {
                servers[i].cl = calloc((size_t) total, sizeof *servers[i].cl);
                servers[i].ms = calloc((size_t) rounds, sizeof *servers[i].ms);
                tls |= servers[i].tls;
        }
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (tls) {
                ctx = SSL_CTX_new(TLS_client_method());
                if (!ctx)
                        return 1;
                SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        }
        if (each) {
                for (int i = 0; i < n_servers; i++)
                        if (connect_clients(ep, servers, i, total, ctx) < 0)
                                return 1;
                time_rounds(ep, servers, n_servers, rounds);
        } else {
                list = strdup(argv[2]); /* strtok_r() writes into it; argv[2] stays whole for messages */
                for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                        if (atoi(tok) < servers[0].n) {
                                fprintf(stderr, "stages must rise: %s\n", argv[2]);
                                return 2;
                        }
                        if (connect_clients(ep, servers, 0, atoi(tok), ctx) < 0)
                                return 1;
                        time_rounds(ep, servers, 1, rounds);
                }
                free(list);
        }
        for (int i = 0; i < n_servers; i++) {
                for (int k = 0; k < servers[i].n; k++)
                        SSL_free(servers[i].cl[k].ssl);
                free(servers[i].cl);
                free(servers[i].ms);
        }
        free(servers);
        SSL_CTX_free(ctx);
        return 0;
}
