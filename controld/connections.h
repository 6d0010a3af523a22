/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>
#include <systemd/sd-event.h>

/* controld's HTTP connections, counted and held to a deadline.
 *
 * libmicrohttpd's own timeout is an idle one: a peer that trickles a byte a
 * second resets it for ever, and a few hundred such peers hold every
 * connection. Here a request must arrive whole, headers and body, within
 * [control] request_deadline of the moment its connection was ready for it
 * (accepted, or done with the previous request), or the connection is cut.
 * Connections waiting for a request are kept in the order of that moment,
 * so one timer, set for the oldest, is all it takes. */

struct manager;
struct http_conn;

/* Something a flood repeats: said at once, then summed up at most every
 * few seconds, so that an attack cannot fill the journal. */
struct log_tally {
        uint64_t said_usec; /* CLOCK_MONOTONIC, 0: never */
        unsigned unsaid;
};

struct connections {
        struct manager *manager;
        struct http_conn *oldest, *newest; /* waiting for a whole request */
        sd_event_source *timer;
        unsigned open;
        struct log_tally full, refused, cut;
};

int connections_init(struct connections *c, struct manager *m);
void connections_done(struct connections *c);

/* MHD_OPTION_NOTIFY_CONNECTION: cls is the struct connections. */
void connections_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
                        enum MHD_ConnectionNotificationCode code);

/* The request on this connection is whole (answered, or waiting for a
 * worker): its clock stops. */
void connection_request_received(struct MHD_Connection *connection);

/* Its answer went out: the clock starts for the next request. */
void connection_request_done(struct MHD_Connection *connection);

/* libmicrohttpd refused a connection over max_connections_per_ip (or at
 * max_connections): say so, without one line per refusal in a flood. */
void connections_refused(struct connections *c);
