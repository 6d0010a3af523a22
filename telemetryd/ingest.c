/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "errors.h"
#include "fileio.h"
#include "grow.h"
#include "ingest.h"
#include "ingestproto.h"
#include "list.h"
#include "log.h"
#include "metriclog.h"
#include "net.h"
#include "notify.h"

/* The ingest connections live in an epoll set of their own, and that one
 * descriptor is watched in the lws loop (ws_server_watch_fd()): when any
 * connection is ready, the loop calls us and we serve a batch of them.
 *
 * Why not lws's raw-skt role: there the read that sees a peer's EOF closes
 * the connection, so a client that sends its requests and shuts its side
 * (`printf 'get *\n' | nc -N`) loses whatever replies the socket had not
 * taken yet; and lws reports a failed bind only in its log, where the
 * supervisor needs the errno. Owning the sockets, each of the protocol's
 * needs is a few lines: answer a half-closed client in full; stop reading
 * from a client that leaves its replies unread, so that pipelining cannot
 * grow our memory; send a client cut off at the line cap its error and a
 * FIN, not an RST that could destroy the error in flight; and write every
 * put of a wake-up to the log with one write() before any of their "ok"s
 * leaves.
 *
 * A put's answer waits for that write: "ok" if it worked, the error if it
 * did not (a full disk), never "ok" for a point only memory holds. Replies
 * go out in request order, so a reply to anything after a waiting put
 * writes the log first (log_commit()); a client that pipelines only puts
 * costs one write() per wake-up, one that mixes them with gets one per
 * switch from puts to something else. While the log cannot be written,
 * puts get the error at once and change nothing.
 *
 * Idle connections: each one has a deadline for its next complete request,
 * ingest_idle_timeout after the last one it was answered (or after it
 * connected). Bytes that do not end a line move nothing, so a client that
 * trickles a byte at a time holds its slot no longer than one that sends
 * nothing; and one that does not read its replies gets none of its further
 * requests answered, so it runs out of time too. The list of connections is
 * kept in deadline order (a connection answered moves to its tail), so one
 * timer at the head's deadline serves them all. */

#define EVENTS_MAX 64 /* per wake-up: the WebSocket side gets its turn between batches */
#define READ_CHUNK 16384
/* Replies a client may leave unread before its further requests wait. */
#define HIGH_WATER (64 * 1024)
/* How long a client cut off for a line over the cap may keep sending
 * before the socket is closed under it. */
#define LINGER_USEC (2 * LWS_US_PER_SEC)
#define ACCEPT_PAUSE_USEC LWS_US_PER_SEC
#define SYNC_USEC LWS_US_PER_SEC

enum conn_state {
        CONN_OPEN,     /* reading requests */
        CONN_DRAINING, /* the peer shut its side: answer what it sent, then close */
        CONN_CLOSING,  /* a line over the cap: the error goes out, then our side shuts */
        CONN_LINGER,   /* our side shut: discard input until the peer closes, or LINGER_USEC */
};

struct conn {
        struct conn *prev, *next; /* every connection, soonest deadline first */
        struct conn *send_next;   /* this wake-up's connections with replies to send */
        struct ingest *in;
        int fd;
        enum conn_state state;
        uint32_t events; /* what epoll watches it for now */
        bool queued;     /* on the send list */
        bool dead;       /* closed while queued: freed when the list is walked */
        bool broken;     /* out of memory for its replies: close */
        bool held;       /* complete requests wait for the client to read its replies */
        unsigned puts_waiting; /* puts answered once the log has them (log_commit()) */
        char *rx;
        size_t rx_len, rx_size;
        char *tx;
        size_t tx_len, tx_sent, tx_size;
        bool get_all;                      /* a "get *" reply is being produced */
        char get_after[INGEST_METRIC_MAX]; /* the last metric it sent */
        lws_sorted_usec_list_t linger;
        lws_usec_t due; /* the next complete request by then, or the connection ends */
        char peer[INET6_ADDRSTRLEN + 8];
};

struct ingest {
        struct lws_context *context;
        struct metric_store *store;
        struct metric_log *log;
        int epoll_fd, listen_fd;
        size_t max_line;
        unsigned max_clients;
        lws_usec_t idle_timeout;
        struct conn *conns, *conns_tail, *send_list;
        lws_sorted_usec_list_t sync_timer, accept_timer, idle_timer;
        bool sync_scheduled;
        bool log_failing;  /* logged once until a compaction recovers */
        bool log_refusing; /* that puts get the error: logged once, likewise */
        bool refusing;    /* at max_clients: logged once until one is accepted again */
        bool full;        /* at max_metrics: logged once */
        struct ingest_stats stats;
};

const struct metric_store *ingest_store(const struct ingest *in) {
        return in ? in->store : NULL;
}

struct ingest_stats ingest_stats(const struct ingest *in) {
        return in->stats;
}

static void log_commit(struct ingest *in);

/* ---- connections -------------------------------------------------------- */

static void conn_destroy(struct conn *c) {
        free(c->rx);
        free(c->tx);
        free(c);
}

static void conn_unlink(struct conn *c) {
        LIST_UNLINK(c->in->conns, c->in->conns_tail, c);
}

static void conn_append(struct conn *c) {
        LIST_APPEND(c->in->conns, c->in->conns_tail, c);
}

static void conn_close(struct conn *c) {
        struct ingest *in = c->in;

        if (c->fd < 0)
                return;
        lws_sul_cancel(&c->linger);
        close(c->fd);
        c->fd = -1;
        conn_unlink(c);
        in->stats.clients--;
        log_debug("Custom metrics client %s disconnected (%u left)", c->peer, in->stats.clients);
        if (c->queued)
                c->dead = true;
        else
                conn_destroy(c);
}

static void set_events(struct conn *c, uint32_t events) {
        struct epoll_event ev = { .events = events, .data.ptr = c };

        if (events == c->events)
                return;
        if (epoll_ctl(c->in->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
                log_warning_errno(errno, "Cannot watch custom metrics client %s: %m", c->peer);
                conn_close(c);
                return;
        }
        c->events = events;
}

static void queue_send(struct conn *c) {
        if (c->queued)
                return;
        c->queued = true;
        c->send_next = c->in->send_list;
        c->in->send_list = c;
}

/* Room for n more bytes of replies. */
static char *tx_reserve(struct conn *c, size_t n) {
        /* The puts before this reply are answered first, in order. */
        if (c->puts_waiting > 0)
                log_commit(c->in);
        if (c->broken)
                return NULL;
        if (c->tx_sent > 0 && c->tx_sent == c->tx_len)
                c->tx_len = c->tx_sent = 0;
        if (c->tx_size - c->tx_len >= n)
                return c->tx + c->tx_len;
        if (c->tx_sent > 0) {
                memmove(c->tx, c->tx + c->tx_sent, c->tx_len - c->tx_sent);
                c->tx_len -= c->tx_sent;
                c->tx_sent = 0;
                if (c->tx_size - c->tx_len >= n)
                        return c->tx + c->tx_len;
        }
        if (GROW(c->tx, c->tx_size, c->tx_len + n, 4096) < 0) {
                c->broken = true;
                return NULL;
        }
        return c->tx + c->tx_len;
}

static void reply(struct conn *c, const char *text) {
        size_t n = strlen(text);
        char *p = tx_reserve(c, n);

        if (!p)
                return;
        memcpy(p, text, n);
        c->tx_len += n;
}

static void reply_points(struct conn *c, const struct metric *m) {
        for (size_t i = 0; i < metric_size(m); i++) {
                struct metric_point p = metric_point_at(m, i);
                char *buf = tx_reserve(c, INGEST_POINT_MAX);

                if (!buf)
                        return;
                c->tx_len += ingest_format_point(buf, INGEST_POINT_MAX, metric_name(m), p.timestamp, p.value);
        }
}

static size_t tx_pending(const struct conn *c) {
        return c->tx_len - c->tx_sent;
}

/* ---- requests ----------------------------------------------------------- */

static void put(struct conn *c, const struct ingest_request *req, const char *line, size_t len) {
        struct ingest *in = c->in;
        int r;

        /* The log lost a write and is not rewritten yet: this point would
         * live in memory only. */
        if (!metric_log_writable(in->log)) {
                in->stats.errors++;
                reply(c, INGEST_REPLY_ERROR);
                return;
        }
        r = metric_store_put(in->store, req->metric, req->timestamp, req->value);
        if (r == -ENOSPC) {
                if (!in->full)
                        log_warning("Custom metrics: holding %zu metrics, the most ingest_max_metrics allows; "
                                    "refusing new ones, starting with \"%s\" from %s",
                                    metric_store_size(in->store), req->metric, c->peer);
                in->full = true;
                in->stats.errors++;
                reply(c, INGEST_REPLY_ERROR);
                return;
        }
        if (r < 0) {
                in->stats.errors++;
                reply(c, INGEST_REPLY_ERROR);
                return;
        }
        /* A point too old to keep changed nothing worth logging. Out of
         * memory for the queue, the log marks itself for a rewrite from
         * the store, which has the point, but it is not on disk. */
        if (r != METRIC_TOO_OLD) {
                if (len > 0 && line[len - 1] == '\r')
                        len--;
                if (metric_log_append(in->log, line, len) < 0) {
                        in->stats.errors++;
                        reply(c, INGEST_REPLY_ERROR);
                        return;
                }
        }
        c->puts_waiting++;
}

static void handle(struct conn *c, const char *line, size_t len) {
        struct ingest *in = c->in;
        struct ingest_request req;
        const struct metric *m;

        in->stats.requests++;
        if (ingest_parse(line, len, &req) < 0) {
                in->stats.errors++;
                reply(c, INGEST_REPLY_ERROR);
                return;
        }
        if (req.command == INGEST_PUT) {
                put(c, &req, line, len);
                return;
        }
        reply(c, "ok\n");
        if (req.all) {
                /* Produced a metric at a time as the client reads it: every
                 * metric at once could be hundreds of megabytes. */
                c->get_all = true;
                c->get_after[0] = '\0';
                return;
        }
        m = metric_store_find(in->store, req.metric);
        if (m)
                reply_points(c, m);
        reply(c, "\n");
}

/* The next metric of a "get *", or its end. A metric is written whole, so
 * each one's points are as they were at one moment; metrics added since
 * the reply began still come if they sort after the cursor. */
static void get_all_next(struct conn *c) {
        const struct metric_store *s = c->in->store;
        size_t i = metric_store_after(s, c->get_after);
        const struct metric *m = metric_store_at(s, i);

        if (!m) {
                reply(c, "\n");
                c->get_all = false;
                return;
        }
        reply_points(c, m);
        snprintf(c->get_after, sizeof c->get_after, "%s", metric_name(m));
}

static void over_cap(struct conn *c) {
        log_notice("Custom metrics client %s sent a line over ingest_max_line (%zu bytes); disconnecting it",
                   c->peer, c->in->max_line);
        c->in->stats.requests++;
        c->in->stats.errors++;
        reply(c, INGEST_REPLY_ERROR);
        c->state = CONN_CLOSING;
        c->get_all = false;
        c->held = false;
        c->rx_len = 0;
}

/* Answer the complete requests received, in order, until the replies reach
 * HIGH_WATER; the rest wait, unread, until the client has read those.
 * Returns whether any was answered. */
static bool conn_process(struct conn *c) {
        size_t pos = 0, max_line = c->in->max_line;
        bool answered = false;

        if (c->state != CONN_OPEN && c->state != CONN_DRAINING)
                return false;
        c->held = false;
        for (;;) {
                const char *nl;
                size_t len;

                if (tx_pending(c) + c->puts_waiting * strlen(INGEST_REPLY_OK) >= HIGH_WATER || c->broken) {
                        c->held = c->get_all || memchr(c->rx + pos, '\n', c->rx_len - pos);
                        break;
                }
                if (c->get_all) {
                        get_all_next(c);
                        continue;
                }
                nl = c->rx_len > pos ? memchr(c->rx + pos, '\n', c->rx_len - pos) : NULL;
                if (!nl)
                        break;
                len = (size_t) (nl - (c->rx + pos));
                if (len > max_line) {
                        over_cap(c);
                        return answered;
                }
                handle(c, c->rx + pos, len);
                answered = true;
                pos += len + 1;
        }
        memmove(c->rx, c->rx + pos, c->rx_len - pos);
        c->rx_len -= pos;
        /* What is left is the start of a line: past the cap, it is over
         * whatever follows. */
        if (!c->held && c->rx_len > max_line)
                over_cap(c);
        return answered;
}

static void conn_read(struct conn *c) {
        size_t limit = c->in->max_line + 2 + READ_CHUNK;
        ssize_t n;

        if (c->state == CONN_LINGER) {
                char sink[4096];

                n = read(c->fd, sink, sizeof sink);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                        conn_close(c);
                return;
        }
        if (c->state != CONN_OPEN || c->held)
                return;
        /* Room for a read, up to what a line at the cap and the requests
         * after it need. */
        if (c->rx_size - c->rx_len < READ_CHUNK && c->rx_size < limit) {
                size_t size = c->rx_len + READ_CHUNK < limit ? c->rx_len + READ_CHUNK : limit;
                char *p = realloc(c->rx, size);

                if (!p) {
                        conn_close(c);
                        return;
                }
                c->rx = p;
                c->rx_size = size;
        }
        if (c->rx_len == c->rx_size)
                return;
        n = read(c->fd, c->rx + c->rx_len, c->rx_size - c->rx_len);
        if (n > 0)
                c->rx_len += (size_t) n;
        else if (n == 0)
                c->state = CONN_DRAINING;
        else if (errno != EAGAIN && errno != EINTR)
                conn_close(c);
}

static int conn_send(struct conn *c) {
        while (c->tx_sent < c->tx_len) {
                ssize_t n = send(c->fd, c->tx + c->tx_sent, c->tx_len - c->tx_sent, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? 0 : negative_errno();
                }
                c->tx_sent += (size_t) n;
        }
        c->tx_len = c->tx_sent = 0;
        /* Give back what a large "get" needed. */
        if (c->tx_size > 4 * HIGH_WATER) {
                free(c->tx);
                c->tx = NULL;
                c->tx_size = 0;
        }
        return 0;
}

static void linger_done(lws_sorted_usec_list_t *sul) {
        conn_close(lws_container_of(sul, struct conn, linger));
}

/* ---- idle connections --------------------------------------------------- */

static void idle_due(lws_sorted_usec_list_t *sul) {
        struct ingest *in = lws_container_of(sul, struct ingest, idle_timer);
        lws_usec_t now = lws_now_usecs();

        while (in->conns && in->conns->due <= now) {
                log_debug("Custom metrics client %s completed no request in %lld s; disconnecting it",
                          in->conns->peer, (long long) (in->idle_timeout / LWS_US_PER_SEC));
                in->stats.timeouts++;
                conn_close(in->conns);
        }
        /* The head's deadline may have moved on since the timer was set:
         * then this wake-up closed nothing and only sets it again. */
        if (in->conns)
                lws_sul_schedule(in->context, 0, &in->idle_timer, idle_due, in->conns->due - now);
}

/* A request was answered: the next is due a full timeout from now. */
static void conn_answered(struct conn *c, lws_usec_t now) {
        c->due = now + c->in->idle_timeout;
        if (c != c->in->conns_tail) {
                conn_unlink(c);
                conn_append(c);
        }
}

/* After a send: what to wait for next, or the end of the connection. */
static void conn_update(struct conn *c) {
        bool pending = tx_pending(c) > 0;
        uint32_t events = 0;

        switch (c->state) {
        case CONN_OPEN:
                if (!c->held)
                        events |= EPOLLIN;
                /* Held requests are answered once the socket takes more,
                 * which it does at once if nothing is pending. */
                if (pending || c->held)
                        events |= EPOLLOUT;
                break;
        case CONN_DRAINING:
                if (!pending && !c->held) {
                        conn_close(c);
                        return;
                }
                events = EPOLLOUT;
                break;
        case CONN_CLOSING:
                if (pending) {
                        events = EPOLLOUT;
                        break;
                }
                (void) shutdown(c->fd, SHUT_WR);
                c->state = CONN_LINGER;
                lws_sul_schedule(c->in->context, 0, &c->linger, linger_done, LINGER_USEC);
                events = EPOLLIN;
                break;
        case CONN_LINGER:
                events = EPOLLIN;
                break;
        }
        set_events(c, events);
}

static void conn_new(struct ingest *in, int fd, const struct sockaddr_storage *sa) {
        struct epoll_event ev = { .events = EPOLLIN };
        int one = 1, idle = 60, interval = 10, count = 6;
        struct conn *c = calloc(1, sizeof *c);

        if (!c) {
                close(fd);
                return;
        }
        c->in = in;
        c->fd = fd;
        c->events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(in->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                log_warning_errno(errno, "Cannot watch a custom metrics client: %m");
                close(fd);
                free(c);
                return;
        }
        /* Replies are written whole, once per batch of requests: Nagle
         * would only hold the next one back for the client's delayed ACK.
         * Sessions last as long as the application does; keepalive finds
         * the ones whose peer vanished. */
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        (void) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        (void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        (void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
        (void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
        format_sockaddr((const struct sockaddr *) sa, c->peer, sizeof c->peer);

        c->due = lws_now_usecs() + in->idle_timeout;
        conn_append(c);
        /* Alone, it has the soonest deadline; otherwise the timer is set
         * for the head's, which is sooner than this one's. */
        if (in->conns == c)
                lws_sul_schedule(in->context, 0, &in->idle_timer, idle_due, in->idle_timeout);
        in->stats.clients++;
        log_debug("Custom metrics client %s connected (%u)", c->peer, in->stats.clients);
}

/* ---- the listening socket ----------------------------------------------- */

static void accept_resume(lws_sorted_usec_list_t *sul) {
        struct ingest *in = lws_container_of(sul, struct ingest, accept_timer);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

        (void) epoll_ctl(in->epoll_fd, EPOLL_CTL_MOD, in->listen_fd, &ev);
}

static void accept_clients(struct ingest *in) {
        for (unsigned i = 0; i < EVENTS_MAX; i++) {
                struct sockaddr_storage sa;
                socklen_t len = sizeof sa;
                int fd = accept4(in->listen_fd, (struct sockaddr *) &sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (fd < 0) {
                        struct epoll_event ev = { .events = 0, .data.ptr = NULL };

                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno == EAGAIN)
                                return;
                        /* Out of descriptors or memory. The pending
                         * connection keeps the socket readable: stop
                         * watching it for a while rather than spin. */
                        log_warning_errno(errno, "Cannot accept custom metrics clients for now: %m");
                        (void) epoll_ctl(in->epoll_fd, EPOLL_CTL_MOD, in->listen_fd, &ev);
                        lws_sul_schedule(in->context, 0, &in->accept_timer, accept_resume, ACCEPT_PAUSE_USEC);
                        return;
                }
                if (in->stats.clients >= in->max_clients) {
                        if (!in->refusing)
                                log_notice("Custom metrics: %u clients connected, the most ingest_max_clients allows; "
                                           "refusing more",
                                           in->stats.clients);
                        in->refusing = true;
                        in->stats.refused++;
                        close(fd);
                        continue;
                }
                in->refusing = false;
                conn_new(in, fd, &sa);
        }
}

/* ---- durability --------------------------------------------------------- */

static void sync_due(lws_sorted_usec_list_t *sul);

static void log_failed(struct ingest *in, int r) {
        bool refusing = !metric_log_writable(in->log);

        if (!in->log_failing || (refusing && !in->log_refusing)) {
                if (refusing)
                        log_error_errno(r, "Cannot write the custom metrics log; puts get the error until it can be "
                                           "rewritten from memory (tried once a second): %m");
                else
                        log_error_errno(r, "Cannot rewrite the custom metrics log to its size; it grows meanwhile "
                                           "(tried once a second): %m");
        }
        in->log_failing = true;
        in->log_refusing = in->log_refusing || refusing;
}

static void schedule_sync(struct ingest *in) {
        if (in->sync_scheduled || (!metric_log_unsynced(in->log) && !in->log_failing))
                return;
        lws_sul_schedule(in->context, 0, &in->sync_timer, sync_due, SYNC_USEC);
        in->sync_scheduled = true;
}

static void sync_due(lws_sorted_usec_list_t *sul) {
        struct ingest *in = lws_container_of(sul, struct ingest, sync_timer);
        int r;

        in->sync_scheduled = false;
        r = metric_log_sync(in->log);
        /* After a failed write or fsync, this is where the log is rewritten
         * from the store: once a second until it works. */
        if (r >= 0)
                r = metric_log_compact_if_due(in->log, in->store);
        if (r < 0)
                log_failed(in, r);
        else if (r > 0 && in->log_failing) {
                log_notice("The custom metrics log is written again");
                in->log_failing = in->log_refusing = false;
        }
        schedule_sync(in);
}

/* Write the queued puts; returns whether they reached the file. */
static bool log_flush(struct ingest *in) {
        int r = metric_log_flush(in->log);
        bool written = r >= 0;

        if (r >= 0 && !in->log_failing)
                r = metric_log_compact_if_due(in->log, in->store);
        if (r < 0)
                log_failed(in, r);
        schedule_sync(in);
        return written;
}

/* Write the queued puts, then answer every put waiting for that: ok if they
 * reached the file, the error if not. Those connections are all on the
 * send list (on_ready() queues a connection before its requests). */
static void log_commit(struct ingest *in) {
        bool written = log_flush(in);

        for (struct conn *c = in->send_list; c; c = c->send_next) {
                unsigned n = c->puts_waiting;

                c->puts_waiting = 0;
                if (c->dead)
                        continue;
                if (!written)
                        in->stats.errors += n;
                while (n-- > 0)
                        reply(c, written ? INGEST_REPLY_OK : INGEST_REPLY_ERROR);
        }
}

/* ---- the loop ----------------------------------------------------------- */

static void on_ready(struct ws_server *s, int fd, void *data) {
        struct ingest *in = data;
        struct epoll_event events[EVENTS_MAX];
        int n = epoll_wait(in->epoll_fd, events, EVENTS_MAX, 0);
        lws_usec_t now = 0;

        for (int i = 0; i < n; i++) {
                struct conn *c = events[i].data.ptr;
                uint32_t ev = events[i].events;

                if (!c) {
                        accept_clients(in);
                        continue;
                }
                if (ev & (EPOLLERR | EPOLLHUP)) {
                        conn_close(c);
                        continue;
                }
                if ((ev & EPOLLOUT) && conn_send(c) < 0) {
                        conn_close(c);
                        continue;
                }
                if (ev & EPOLLIN) {
                        conn_read(c);
                        if (c->fd < 0)
                                continue;
                }
                queue_send(c);
                if (conn_process(c)) {
                        if (now == 0)
                                now = lws_now_usecs();
                        conn_answered(c, now);
                }
        }

        /* Every put of this batch reaches the file before its "ok" leaves:
         * an acknowledged point survives a crash of this process. */
        log_commit(in);

        while (in->send_list) {
                struct conn *c = in->send_list;

                in->send_list = c->send_next;
                c->queued = false;
                if (c->dead)
                        conn_destroy(c);
                else if (conn_send(c) < 0 || c->broken)
                        conn_close(c);
                else
                        conn_update(c);
        }
}

/* ---- set-up ------------------------------------------------------------- */

int ingest_new(struct ws_server *s, const struct conf *conf, struct ingest **ret) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
        struct metric_log_replay replayed;
        char where[CONF_ADDR_MAX + 16];
        struct ingest *in;
        int r, fd;

        in = calloc(1, sizeof *in);
        if (!in)
                return log_error_errno(ENOMEM, "Out of memory");
        in->epoll_fd = in->listen_fd = -1;
        in->context = ws_server_context(s);
        in->max_line = conf->telemetry.ingest_max_line;
        in->max_clients = conf->telemetry.ingest_max_clients;
        in->idle_timeout = (lws_usec_t) conf->telemetry.ingest_idle_timeout * LWS_US_PER_SEC;
        format_host_port(conf->telemetry.ingest_listen, conf->telemetry.ingest_port, where, sizeof where);

        /* The port first: a second telemetryd with the same configuration
         * is told its port is taken, the clearer of the two conflicts. */
        r = tcp_bind(conf->telemetry.ingest_listen, conf->telemetry.ingest_port, true);
        if (r < 0) {
                r = notify_failure(r, r == -EADDRINUSE ? ERROR_PORT_IN_USE : ERROR_BIND_FAILED,
                                   "cannot listen for custom metrics on %s (ingest_port): %s", where,
                                   strerror(-r));
                goto fail;
        }
        in->listen_fd = r;

        r = metric_store_new(conf->telemetry.ingest_max_metrics, conf->telemetry.ingest_max_points, &in->store);
        if (r < 0) {
                r = log_error_errno(r, "Cannot create the custom metrics store: %m");
                goto fail;
        }
        r = metric_log_open(conf->control.state_dir, in->store, &in->log, &replayed);
        if (r < 0) {
                r = notify_failure(r, ERROR_SPAWN_FAILED, "cannot open the custom metrics log in %s: %s",
                                   conf->control.state_dir,
                                   r == -EBUSY ? "another telemetryd holds it" : strerror(-r));
                goto fail;
        }
        log_info("Custom metrics: %zu points of %zu metrics restored from %s/" METRIC_LOG_NAME,
                 metric_store_points(in->store), metric_store_size(in->store), conf->control.state_dir);
        if (replayed.bad > 0)
                log_warning("Custom metrics log: skipped %zu damaged line%s (a crash cuts the last one short)",
                            replayed.bad, replayed.bad == 1 ? "" : "s");
        if (replayed.refused > 0)
                log_warning("Custom metrics log: dropped %zu points of metrics beyond ingest_max_metrics = %u",
                            replayed.refused, conf->telemetry.ingest_max_metrics);
        if (replayed.unwritable < 0) {
                log_failed(in, replayed.unwritable);
                schedule_sync(in);
        }

        in->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (in->epoll_fd < 0 || epoll_ctl(in->epoll_fd, EPOLL_CTL_ADD, in->listen_fd, &ev) < 0) {
                r = log_error_errno(errno, "Cannot set up the custom metrics port: %m");
                goto fail;
        }
        fd = fcntl(in->epoll_fd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) {
                r = log_error_errno(errno, "Cannot set up the custom metrics port: %m");
                goto fail;
        }
        r = ws_server_watch_fd(s, fd, on_ready, in);
        if (r < 0)
                goto fail;

        *ret = in;
        return 0;
fail:
        ingest_free(in);
        return r;
}

void ingest_free(struct ingest *in) {
        if (!in)
                return;
        while (in->conns)
                conn_close(in->conns);
        lws_sul_cancel(&in->sync_timer);
        lws_sul_cancel(&in->accept_timer);
        lws_sul_cancel(&in->idle_timer);
        if (in->listen_fd >= 0)
                close(in->listen_fd);
        if (in->epoll_fd >= 0)
                close(in->epoll_fd);
        metric_log_free(in->log);
        metric_store_free(in->store);
        free(in);
}
