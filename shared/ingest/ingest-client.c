/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "grow.h"
#include "ingest-client.h"
#include "macro.h"

/* timeout_ms bounds each wait for the server (connecting, each read and
 * write), as a socket timeout does, not a whole call: a large "get *" may
 * take longer than one wait. 0 waits without limit. A host that does not
 * resolve is -EHOSTUNREACH. After an I/O error or an answer that was not the
 * protocol, the place in the reply stream is lost: every later call on the
 * client returns -ENOTCONN. An "error" answer (-EBADMSG) leaves it usable. */

/* Longer reply lines than any server point line: not the protocol. */
#define LINE_MAX_BYTES 1024

struct ingest_client {
        int fd;
        int timeout; /* for poll(): -1 = none */
        bool broken;
        size_t start, len; /* unread bytes in buf */
        char buf[LINE_MAX_BYTES * 4];
};

static int wait_for(int fd, short events, int timeout) {
        struct pollfd p = { .fd = fd, .events = events };

        for (;;) {
                int n = poll(&p, 1, timeout);
                if (n > 0)
                        return 0;
                if (n == 0)
                        return -ETIMEDOUT;
                if (errno != EINTR)
                        return negative_errno();
        }
}

static int connect_one(const struct addrinfo *ai, int timeout) {
        _cleanup_close_ int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        int err = 0, one = 1, r;
        socklen_t len = sizeof err;

        if (fd < 0)
                return negative_errno();
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
                if (errno != EINPROGRESS)
                        return negative_errno();
                r = wait_for(fd, POLLOUT, timeout);
                if (r < 0)
                        return r;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                        return negative_errno();
                if (err != 0)
                        return -err;
        }
        /* One small request per round trip: nothing to gain from Nagle. */
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return TAKE_FD(fd);
}

int ingest_connect(const char *host, uint16_t port, unsigned timeout_ms, struct ingest_client **ret) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
        struct addrinfo *res = NULL;
        struct ingest_client *c;
        char service[8];
        int timeout = timeout_ms == 0 ? -1 : timeout_ms > INT32_MAX ? INT32_MAX : (int) timeout_ms;
        int r, fd = -ENOENT;

        snprintf(service, sizeof service, "%u", (unsigned) port);
        r = getaddrinfo(host, service, &hints, &res);
        if (r != 0)
                return r == EAI_SYSTEM ? negative_errno() : r == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH;
        /* Every address the name has, as a browser would: "localhost" may
         * be ::1 first while the server listens on 127.0.0.1. */
        for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                fd = connect_one(ai, timeout);
                if (fd >= 0)
                        break;
        }
        freeaddrinfo(res);
        if (fd < 0)
                return fd;

        c = calloc(1, sizeof *c);
        if (!c) {
                close(fd);
                return -ENOMEM;
        }
        c->fd = fd;
        c->timeout = timeout;
        *ret = c;
        return 0;
}

void ingest_close(struct ingest_client *c) {
        if (!c)
                return;
        close(c->fd);
        free(c);
}

static int send_all(struct ingest_client *c, const char *p, size_t len) {
        while (len > 0) {
                ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
                int r;

                if (n >= 0) {
                        p += n;
                        len -= (size_t) n;
                        continue;
                }
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return negative_errno();
                r = wait_for(c->fd, POLLOUT, c->timeout);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The next reply line, without its "\n", NUL-terminated in place; valid
 * until the next call. */
static int read_line(struct ingest_client *c, char **ret) {
        for (;;) {
                char *line = c->buf + c->start, *nl = memchr(line, '\n', c->len);
                ssize_t n;
                int r;

                if (nl) {
                        *nl = '\0';
                        c->start += (size_t) (nl - line) + 1;
                        c->len -= (size_t) (nl - line) + 1;
                        *ret = line;
                        return 0;
                }
                if (c->len >= LINE_MAX_BYTES)
                        return -EPROTO;
                memmove(c->buf, line, c->len);
                c->start = 0;
                n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
                if (n > 0) {
                        c->len += (size_t) n;
                        continue;
                }
                if (n == 0)
                        return -ECONNRESET;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return negative_errno();
                r = wait_for(c->fd, POLLIN, c->timeout);
                if (r < 0)
                        return r;
        }
}

/* After "error": the message lines up to the empty line that ends it. */
static int read_error(struct ingest_client *c) {
        for (unsigned i = 0; i < 16; i++) {
                char *line;
                int r = read_line(c, &line);

                if (r < 0)
                        return r;
                if (line[0] == '\0')
                        return -EBADMSG;
        }
        return -EPROTO;
}

/* "ok", or "error" and its message. */
static int read_status(struct ingest_client *c) {
        char *line;
        int r = read_line(c, &line);

        if (r < 0)
                return r;
        if (streq(line, "ok"))
                return 0;
        if (streq(line, "error"))
                return read_error(c);
        return -EPROTO;
}

static bool metric_sendable(const char *metric) {
        size_t len = strlen(metric);

        if (len == 0 || len >= INGEST_METRIC_MAX)
                return false;
        for (const unsigned char *p = (const unsigned char *) metric; *p; p++)
                if (*p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

/* Marks the client unusable after anything but a clean "error" answer. */
static int done(struct ingest_client *c, int r) {
        if (r < 0 && r != -EBADMSG)
                c->broken = true;
        return r;
}

int ingest_put(struct ingest_client *c, const char *metric, double value, int64_t timestamp) {
        char request[INGEST_METRIC_MAX + 64], v[32], *line;
        int n, r;

        if (!metric_sendable(metric) || !isfinite(value))
                return -EINVAL;
        if (c->broken)
                return -ENOTCONN;
        /* The shortest of two spellings that reads back exactly. */
        snprintf(v, sizeof v, "%.15g", value);
        if (strtod(v, NULL) != value)
                snprintf(v, sizeof v, "%.17g", value);
        n = snprintf(request, sizeof request, "put %s %s %" PRId64 "\n", metric, v, timestamp);
        r = send_all(c, request, (size_t) n);
        if (r >= 0)
                r = read_status(c);
        /* "ok" is followed by the empty line that ends the reply. */
        if (r >= 0) {
                r = read_line(c, &line);
                if (r >= 0 && line[0] != '\0')
                        r = -EPROTO;
        }
        return done(c, r);
}

/* "<metric> <value> <timestamp>" */
static int parse_point(char *line, struct ingest_point *p) {
        char *value = strchr(line, ' '), *ts, *end;

        if (!value || value == line || (size_t) (value - line) >= INGEST_METRIC_MAX)
                return -EPROTO;
        *value++ = '\0';
        ts = strchr(value, ' ');
        if (!ts || ts == value || strchr(ts + 1, ' '))
                return -EPROTO;
        *ts++ = '\0';
        snprintf(p->metric, sizeof p->metric, "%s", line);
        p->value = strtod(value, &end);
        if (*end != '\0' || !isfinite(p->value))
                return -EPROTO;
        errno = 0;
        p->timestamp = strtoll(ts, &end, 10);
        if (*end != '\0' || *ts == '\0' || errno == ERANGE)
                return -EPROTO;
        return 0;
}

int ingest_get(struct ingest_client *c, const char *metric, struct ingest_point **ret, size_t *n) {
        _cleanup_free_ struct ingest_point *points = NULL;
        size_t count = 0, allocated = 0;
        char request[INGEST_METRIC_MAX + 8];
        int r;

        if (!streq(metric, "*") && !metric_sendable(metric))
                return -EINVAL;
        if (c->broken)
                return -ENOTCONN;
        snprintf(request, sizeof request, "get %s\n", metric);
        r = send_all(c, request, strlen(request));
        if (r >= 0)
                r = read_status(c);
        while (r >= 0) {
                char *line;

                r = read_line(c, &line);
                if (r < 0 || line[0] == '\0')
                        break;
                r = GROW(points, allocated, count + 1, 16);
                if (r < 0)
                        break;
                r = parse_point(line, &points[count]);
                if (r >= 0)
                        count++;
        }
        if (r < 0)
                return done(c, r);
        *ret = TAKE_PTR(points);
        *n = count;
        return 0;
}
