/* SPDX-License-Identifier: MIT */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "connections.h"
#include "list.h"
#include "log.h"
#include "manager.h"
#include "timeutil.h"

#define TALLY_INTERVAL_USEC (10 * USEC_PER_SEC)

struct http_conn {
        struct connections *owner;
        struct http_conn *prev, *next;
        bool waiting; /* in the list: no whole request yet */
        uint64_t since; /* CLOCK_MONOTONIC: ready for a request since */
        int fd;
};

/* Count n more; true (with the count to say in *ret) when it is time to say it. */
static bool tally(struct log_tally *t, unsigned n, unsigned *ret) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        t->unsaid += n;
        if (t->said_usec != 0 && now - t->said_usec < TALLY_INTERVAL_USEC)
                return false;
        *ret = t->unsaid;
        t->said_usec = now;
        t->unsaid = 0;
        return true;
}

static uint64_t deadline_usec(const struct connections *c) {
        return (uint64_t) c->manager->conf.control.request_deadline * USEC_PER_SEC;
}

static void unlink_conn(struct http_conn *h) {
        struct connections *c = h->owner;

        if (!h->waiting)
                return;
        LIST_UNLINK(c->oldest, c->newest, h);
        h->waiting = false;
}

static void arm(struct connections *c) {
        if (!c->timer)
                return;
        if (!c->oldest) {
                (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time(c->timer, c->oldest->since + deadline_usec(c));
        (void) sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

/* Ready for a request from now on: the newest, so the list stays ordered. */
static void start_clock(struct http_conn *h) {
        struct connections *c = h->owner;
        bool was_empty = !c->oldest;

        unlink_conn(h);
        h->since = now_usec(CLOCK_MONOTONIC);
        LIST_APPEND(c->oldest, c->newest, h);
        h->waiting = true;
        if (was_empty || c->oldest == h)
                arm(c);
}

static void stop_clock(struct http_conn *h) {
        struct connections *c = h->owner;
        bool was_oldest = c->oldest == h;

        unlink_conn(h);
        if (was_oldest)
                arm(c);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        struct connections *c = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC), deadline = deadline_usec(c);
        unsigned cut = 0, say;

        while (c->oldest && c->oldest->since + deadline <= now) {
                struct http_conn *h = c->oldest;

                /* libmicrohttpd owns the socket: shut it, and it reads the
                 * end, closes it and tells us through connections_notify(). */
                (void) shutdown(h->fd, SHUT_RDWR);
                unlink_conn(h);
                cut++;
        }
        if (cut > 0 && tally(&c->cut, cut, &say))
                log_notice("Closed %u HTTP connection%s that did not send a whole request within %u s "
                           "([control] request_deadline)",
                           say, say == 1 ? "" : "s", c->manager->conf.control.request_deadline);
        arm(c);
        return 0;
}

static struct http_conn *conn_of(struct MHD_Connection *connection) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

        return info ? info->socket_context : NULL;
}

void connection_request_received(struct MHD_Connection *connection) {
        struct http_conn *h = conn_of(connection);

        if (h)
                stop_clock(h);
}

void connection_request_done(struct MHD_Connection *connection) {
        struct http_conn *h = conn_of(connection);

        if (h)
                start_clock(h);
}

void connections_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
                        enum MHD_ConnectionNotificationCode code) {
        struct connections *c = cls;
        struct http_conn *h = *socket_context;
        const union MHD_ConnectionInfo *info;
        unsigned limit = c->manager->conf.control.max_connections, say;

        if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
                if (h) {
                        stop_clock(h);
                        free(h);
                        *socket_context = NULL;
                }
                /* At the limit libmicrohttpd took its listening socket out of
                 * its epoll set; it puts it back only on its next run, and
                 * nothing may wake us for one while newcomers wait. */
                if (c->open-- == limit)
                        manager_kick_http(c->manager);
                return;
        }

        /* libmicrohttpd stops accepting now; newcomers wait in the listen
         * queue until a connection closes. */
        if (++c->open >= limit && tally(&c->full, 1, &say))
                log_warning("HTTP connection limit reached (%u time%s): %u connections open ([control] "
                            "max_connections = %u); new ones wait until others close",
                            say, say == 1 ? "" : "s", c->open, limit);
        /* Untracked, a connection still has libmicrohttpd's idle timeout. */
        info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!info) {
                log_error("Cannot find an HTTP connection's socket: it goes without a request deadline");
                return;
        }
        /* GnuTLS writes a handshake flight as several records: with Nagle's
         * algorithm each waits for the peer's delayed ACK, some 40 ms a
         * handshake. */
        if (c->manager->tls)
                (void) setsockopt(info->connect_fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
        h = calloc(1, sizeof *h);
        if (!h) {
                log_error("Out of memory: an HTTP connection goes without a request deadline");
                return;
        }
        *h = (struct http_conn){ .owner = c, .fd = info->connect_fd };
        *socket_context = h;
        start_clock(h);
}

void connections_refused(struct connections *c) {
        const struct conf *conf = &c->manager->conf;
        unsigned say;

        if (tally(&c->refused, 1, &say))
                log_warning("Refused %u HTTP connection%s over the limit per source address ([control] "
                            "max_connections_per_ip = %u) or in all (max_connections = %u)",
                            say, say == 1 ? "" : "s", conf->control.max_connections_per_ip,
                            conf->control.max_connections);
}

int connections_init(struct connections *c, struct manager *m) {
        int r;

        *c = (struct connections){ .manager = m };
        r = sd_event_add_time(m->event, &c->timer, CLOCK_MONOTONIC, 0, 100 * USEC_PER_MSEC, on_deadline, c);
        if (r < 0)
                return log_error_errno(r, "Cannot create the HTTP deadline timer: %m");
        return sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
}

/* libmicrohttpd, stopped after this, still reports every connection
 * closed: the list lives on, only the timer goes. */
void connections_done(struct connections *c) {
        c->timer = sd_event_source_disable_unref(c->timer);
}
