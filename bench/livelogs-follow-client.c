/* SPDX-License-Identifier: MIT */
/* The measuring end of bench/livelogs-follow: appends lines to a file and
 * times their arrival, either as WebSocket frames from livelogd or as lines
 * from `tail -F` reading the same kind of file. A bare reader (no library,
 * no JSON parser) so that the figures are about the follower, not about the
 * client.
 *
 *   livelogs-follow-client ws PORT FILE throughput|latency N
 *   livelogs-follow-client tail - FILE throughput|latency N
 *
 * Prints one JSON object on stdout. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_LEN 64 /* bytes per line, newline included: a typical syslog line is longer */

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void die(const char *what) {
        fprintf(stderr, "livelogs-follow-client: %s: %s\n", what, strerror(errno));
        exit(1);
}

/* ---- the two kinds of reader ------------------------------------------- */

struct reader {
        bool ws;
        int fd;
        pid_t tail_pid;
        char *buf;
        size_t len, off, size;
        uint64_t dropped;
};

static void reader_fill(struct reader *r) {
        ssize_t n;

        if (r->off > 0) {
                memmove(r->buf, r->buf + r->off, r->len - r->off);
                r->len -= r->off;
                r->off = 0;
        }
        if (r->len == r->size) {
                r->size *= 2;
                r->buf = realloc(r->buf, r->size);
        }
        n = read(r->fd, r->buf + r->len, r->size - r->len);
        if (n <= 0) {
                if (n < 0 && errno == EINTR)
                        return;
                fprintf(stderr, "livelogs-follow-client: stream ended\n");
                exit(1);
        }
        r->len += (size_t) n;
}

/* Next message (a text frame's payload or a line), or NULL if none is
 * complete in the buffer. */
static const char *reader_next(struct reader *r, size_t *mlen) {
        const unsigned char *p = (const unsigned char *) r->buf + r->off;
        size_t avail = r->len - r->off, hdr = 2;
        uint64_t plen;

        if (!r->ws) {
                const char *nl = memchr(p, '\n', avail);

                if (!nl)
                        return NULL;
                *mlen = (size_t) (nl - (const char *) p);
                r->off += *mlen + 1;
                return (const char *) p;
        }
        if (avail < 2)
                return NULL;
        plen = p[1] & 0x7F;
        if (plen == 126) {
                if (avail < 4)
                        return NULL;
                plen = (uint64_t) p[2] << 8 | p[3];
                hdr = 4;
        } else if (plen == 127) {
                if (avail < 10)
                        return NULL;
                plen = 0;
                for (int i = 2; i < 10; i++)
                        plen = plen << 8 | p[i];
                hdr = 10;
        }
        if (avail < hdr + plen)
                return NULL;
        r->off += hdr + (size_t) plen;
        if ((p[0] & 0x0F) != 1) /* not text: ping, close */
                return reader_next(r, mlen);
        *mlen = (size_t) plen;
        if (memmem(p + hdr, (size_t) plen, "\"dropped\":", 10)) {
                const char *d = memmem(p + hdr, (size_t) plen, "\"dropped\":", 10);
                r->dropped += strtoull(d + 10, NULL, 10);
        }
        return (const char *) p + hdr;
}

static const char *reader_wait(struct reader *r, size_t *mlen) {
        const char *m;

        while (!(m = reader_next(r, mlen)))
                reader_fill(r);
        return m;
}

static void reader_open_ws(struct reader *r, int port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        char req[512], *end;
        int one = 1;

        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        r->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (r->fd < 0 || connect(r->fd, (struct sockaddr *) &a, sizeof a) < 0)
                die("connect");
        (void) setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        snprintf(req, sizeof req,
                 "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                 port);
        if (write(r->fd, req, strlen(req)) != (ssize_t) strlen(req))
                die("write handshake");
        r->ws = false; /* the response is read as lines */
        for (;;) {
                reader_fill(r);
                r->buf[r->len < r->size ? r->len : r->size - 1] = '\0';
                end = memmem(r->buf, r->len, "\r\n\r\n", 4);
                if (end)
                        break;
        }
        if (strncmp(r->buf, "HTTP/1.1 101", 12) != 0) {
                fprintf(stderr, "livelogs-follow-client: handshake refused: %.*s\n", 40, r->buf);
                exit(1);
        }
        r->off = (size_t) (end + 4 - r->buf);
        r->ws = true;
}

static void reader_open_tail(struct reader *r, const char *file) {
        int p[2];

        if (pipe(p) < 0)
                die("pipe");
        r->tail_pid = fork();
        if (r->tail_pid < 0)
                die("fork");
        if (r->tail_pid == 0) {
                dup2(p[1], STDOUT_FILENO);
                close(p[0]);
                close(p[1]);
                execlp("tail", "tail", "-F", "-n", "0", "-s", "0.01", file, (char *) NULL);
                _exit(127);
        }
        close(p[1]);
        r->fd = p[0];
        r->ws = false;
}

/* ---- the writer ---------------------------------------------------------- */

struct writer {
        const char *file;
        unsigned long n;
        uint64_t started, finished;
};

static size_t format_line(char *out, unsigned long i) {
        /* fixed length, so that lines/s and bytes/s say the same */
        int n = snprintf(out, LINE_LEN + 1, "bench %012lu ", i);

        memset(out + n, 'x', LINE_LEN - 1 - (size_t) n);
        out[LINE_LEN - 1] = '\n';
        return LINE_LEN;
}

static void *write_all(void *data) {
        struct writer *w = data;
        static char chunk[1024 * LINE_LEN];
        int fd = open(w->file, O_WRONLY | O_APPEND | O_CLOEXEC);
        unsigned long i = 0;

        if (fd < 0)
                die("open file");
        w->started = now_ns();
        while (i < w->n) {
                size_t len = 0;

                for (unsigned j = 0; j < 1024 && i < w->n; j++, i++)
                        len += format_line(chunk + len, i);
                if (write(fd, chunk, len) != (ssize_t) len)
                        die("write file");
        }
        w->finished = now_ns();
        close(fd);
        return NULL;
}

/* ---- the two measurements ------------------------------------------------ */

static void throughput(struct reader *r, const char *file, unsigned long n) {
        struct writer w = { .file = file, .n = n };
        unsigned long got = 0;
        uint64_t first = 0, last = 0;
        pthread_t t;

        pthread_create(&t, NULL, write_all, &w);
        /* Until every line arrived, or nothing more came for a second
         * after the writer finished (the rest was dropped). */
        for (;;) {
                size_t len;
                struct pollfd pfd = { .fd = r->fd, .events = POLLIN };

                if (!reader_next(r, &len)) {
                        if (poll(&pfd, 1, 1000) == 0 && w.finished)
                                break;
                        if (pfd.revents)
                                reader_fill(r);
                        continue;
                }
                if (got == 0)
                        first = now_ns();
                last = now_ns();
                if (++got + r->dropped >= n)
                        break;
        }
        pthread_join(t, NULL);
        printf("{\"lines\":%lu,\"received\":%lu,\"dropped\":%" PRIu64 ",\"seconds\":%.4f,"
               "\"lines_per_s\":%.0f,\"writer_lines_per_s\":%.0f}\n",
               n, got, r->dropped, (double) (last - w.started) / 1e9,
               got / ((double) (last - w.started) / 1e9), n / ((double) (w.finished - w.started) / 1e9));
        (void) first;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

static void latency(struct reader *r, const char *file, unsigned long n) {
        uint64_t *lat = calloc(n, sizeof *lat);
        int fd = open(file, O_WRONLY | O_APPEND | O_CLOEXEC);
        char line[LINE_LEN + 1], want[32];

        if (fd < 0)
                die("open file");
        for (unsigned long i = 0; i < n; i++) {
                size_t len = format_line(line, i), mlen;
                uint64_t t0;
                const char *m;

                snprintf(want, sizeof want, "bench %012lu ", i);
                t0 = now_ns();
                if (write(fd, line, len) != (ssize_t) len)
                        die("write file");
                do
                        m = reader_wait(r, &mlen);
                while (!memmem(m, mlen, want, strlen(want)));
                lat[i] = now_ns() - t0;
                /* idle between lines, as a log usually is */
                usleep(500);
        }
        qsort(lat, n, sizeof *lat, cmp_u64);
        printf("{\"lines\":%lu,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n", n, lat[n / 2] / 1e3,
               lat[n * 99 / 100] / 1e3, lat[n - 1] / 1e3);
        free(lat);
        close(fd);
}

int main(int argc, char **argv) {
        struct reader r = { .size = 1 << 20 };
        unsigned long n;

        if (argc != 6) {
                fprintf(stderr, "usage: %s ws PORT FILE throughput|latency N\n"
                                "       %s tail - FILE throughput|latency N\n",
                        argv[0], argv[0]);
                return 2;
        }
        r.buf = malloc(r.size);
        n = strtoul(argv[5], NULL, 10);
        if (strcmp(argv[1], "ws") == 0)
                reader_open_ws(&r, atoi(argv[2]));
        else {
                reader_open_tail(&r, argv[3]);
                usleep(300 * 1000); /* tail has no readiness signal */
        }
        if (strcmp(argv[4], "throughput") == 0)
                throughput(&r, argv[3], n);
        else
                latency(&r, argv[3], n);
        if (r.tail_pid > 0) {
                kill(r.tail_pid, SIGTERM);
                waitpid(r.tail_pid, NULL, 0);
        }
        free(r.buf);
        return 0;
}
