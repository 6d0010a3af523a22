/* SPDX-License-Identifier: MIT */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/signalfd.h>
#include <sys/types.h>

#include <libwebsockets.h>

#include "conf.h"
#include "macro.h"
#include "notify.h"

/* The part of a WebSocket worker that does not depend on what it streams:
 * one libwebsockets context on its own loop, one vhost on [stream] listen:port,
 * signals as events, the handshake checks (token, Origin, max_clients) done in
 * FILTER_PROTOCOL_CONNECTION, inbound messages assembled up to a cap (larger
 * ones close with 1009), unmasked client frames closed with 1002 (wsmask.h),
 * idle peers dropped by ping timeout, plain HTTP on the same port under the
 * same token and Origin rules and with a deadline to be taken by (GETs, or
 * every method with a capped body for a server with ops->request), answers
 * given at once, later or piece by piece, and a clean SIGTERM that closes
 * every client with 1001 and waits for the answers still owed.
 *
 * The worker supplies what it streams through ws_server_ops. Each callback gets
 * the wsi and the worker's own per-client area (client_size bytes, zeroed). */

struct ws_server;

struct ws_http_response {
        int status;               /* 200, 404, ... */
        const char *content_type; /* "application/json" */
        char *body;               /* malloc'd; the server frees it */
        size_t len;
        /* Instead of body: the body is made piece by piece by http_body(),
         * as the peer takes it, and sent chunked. */
        bool streamed;
        /* Optional headers, left out when NULL or 0. A 401 always carries
         * www-authenticate ("Bearer" unless set). */
        const char *allow;            /* with 405: "GET, POST" */
        const char *www_authenticate; /* with 401: "Bearer" */
        unsigned retry_after;         /* seconds, with 429 and 503 */
        const char *cache_control;    /* "no-store" unless set */
        /* More, as lines "name: value\r\n" (a dashboard file's ETag and
         * policies); malloc'd, the server frees it. */
        char *headers;
};

/* One request to a server that serves more than GET (ops->request). */
struct ws_http_request {
        const char *method; /* "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD" */
        const char *path;   /* without the query: lws_get_urlarg_by_name() reads that */
        const char *body;   /* NUL-terminated after body_len bytes; "" when none */
        size_t body_len;
};

struct ws_server_ops {
        const char *protocol; /* lws protocol name, e.g. "resolvix-telemetry" */
        size_t client_size;

        /* Optional, after the common checks passed. Return 0 to accept, or an
         * HTTP status (400, 403, ...) to refuse with reason as the body. */
        int (*filter)(struct ws_server *s, struct lws *wsi, void *client, char *reason, size_t reason_size);
        void (*open)(struct ws_server *s, struct lws *wsi, void *client);
        void (*close)(struct ws_server *s, struct lws *wsi, void *client);
        /* One complete text message. Binary frames never reach this: the
         * server answers them with an error frame itself. */
        void (*message)(struct ws_server *s, struct lws *wsi, void *client, const char *msg, size_t len);
        /* The socket can take data: write at most one frame. Return -1 to close. */
        int (*writeable)(struct ws_server *s, struct lws *wsi, void *client);
        /* A plain HTTP GET that passed the token and Origin checks. path
         * has no query; use lws_get_urlarg_by_name() for arguments, here
         * and nowhere else. client is the per-connection area, zeroed.
         * Return 0 with resp filled, or -ENOENT for 404. */
        int (*http)(struct ws_server *s, struct lws *wsi, void *client, const char *path,
                    struct ws_http_response *resp);
        /* For a streamed response, from each writeable callback: write up
         * to size bytes of body into buf and return how many; 0 at the end;
         * -EAGAIN to be called again without writing anything (for work
         * done in bounded steps); another negative errno to give up, which
         * ends the connection with the response unfinished. */
        ssize_t (*http_body)(struct ws_server *s, struct lws *wsi, void *client, char *buf, size_t size);
        /* A streamed response ended, finished or not. */
        void (*http_done)(struct ws_server *s, struct lws *wsi, void *client);
        /* Instead of http, for a server that takes every method: called once
         * a request that passed the token and Origin checks has its body (at
         * most params.max_body bytes; more is answered 413 here), within
         * params.request_deadline of its headers. client is the connection's
         * own area, zeroed for each request. Return 0 with resp filled
         * (streamed or not), -ENOENT for 404, or -EINPROGRESS to answer later
         * with ws_http_respond(); if the peer goes away first,
         * request_gone() says so and the answer is not wanted any more. */
        int (*request)(struct ws_server *s, struct lws *wsi, void *client, const struct ws_http_request *req,
                       struct ws_http_response *resp);
        void (*request_gone)(struct ws_server *s, struct lws *wsi, void *client);
        /* SIGHUP or a queued real-time signal (controld sends SIGRTMIN+1 with
         * an int payload to change the interval). */
        void (*signal)(struct ws_server *s, const struct signalfd_siginfo *si);
};

struct ws_server_params {
        const char *name;             /* "telemetryd": used in messages */
        const struct conf_stream *stream;
        size_t max_message;           /* inbound text message cap; larger closes 1009 */
        size_t max_body;              /* with ops->request: request body cap */
        unsigned request_deadline;    /* with ops->request: seconds for a body to arrive, and again for a late answer */
        const char *tls_client_ca;    /* with stream->tls_cert: peers must present a certificate it signed (wstls.h) */
        unsigned keepalive_timeout;   /* seconds an idle HTTP/1.1 connection is kept open; 0: 5 */
        void *userdata;
};

/* Create the context and bind. A bind failure is reported to the supervisor
 * (notify_failure: port_in_use for EADDRINUSE) and returned as -errno. */
int ws_server_new(const struct ws_server_ops *ops, const struct ws_server_params *params, struct ws_server **ret);
void ws_server_free(struct ws_server *s);

/* Run the loop until SIGTERM/SIGINT has been handled and clients are closed.
 * Returns 0 on a clean stop. */
int ws_server_run(struct ws_server *s);

struct lws_context *ws_server_context(struct ws_server *s);
void *ws_server_userdata(struct ws_server *s);
struct ws_server *ws_server_from_wsi(struct lws *wsi);
unsigned ws_server_clients(const struct ws_server *s);
bool ws_server_stopping(const struct ws_server *s);

/* Watch a file descriptor (inotify, sd-journal) in the loop; cb runs when it
 * is readable. The server owns fd from then on, even on failure: lws closes
 * it with the context. Hand it a dup() of a descriptor you close yourself. */
typedef void (*ws_fd_handler)(struct ws_server *s, int fd, void *data);
int ws_server_watch_fd(struct ws_server *s, int fd, ws_fd_handler cb, void *data);

/* Send one text frame. buf must have LWS_PRE bytes of headroom before the
 * payload (it is not modified beyond that headroom, so one buffer can be sent
 * to many clients). Returns 0, or -1 if the connection should be closed. */
int ws_send_text(struct lws *wsi, unsigned char *payload, size_t len);

/* Send len bytes holding count complete text frames that the caller framed
 * itself (server frames are unmasked, and no extension is negotiated on
 * these vhosts, so the bytes go out as they are). For many small frames
 * this is one send() instead of count. */
int ws_send_frames(struct lws *wsi, unsigned char *frames, size_t len, unsigned count);

/* Queue a small text frame for this client (an error reply, a pong): sent
 * from its next writeable callback, before the worker's own writeable() is
 * called. A client that lets more than a few replies pile up unread is
 * closed with 1008. */
int ws_reply_textf(struct lws *wsi, const char *fmt, ...) _printf_(2, 3);

/* Fill resp with a JSON error: {"status":"error","detail":...,"message":...},
 * the message made valid UTF-8 whatever bytes it holds. */
int ws_http_error(struct ws_http_response *resp, int status, const char *detail, const char *message);

/* Answer a request that ops->request left pending (-EINPROGRESS). Takes
 * resp->body. Only from the loop's thread. */
int ws_http_respond(struct lws *wsi, struct ws_http_response *resp);

/* Work that SIGTERM must let finish before the loop ends (answers still
 * being computed), besides the open clients. Each hold is released once. */
void ws_server_hold(struct ws_server *s);
void ws_server_release(struct ws_server *s);

/* Count of all frames the server wrote, for /metrics. */
unsigned long long ws_server_frames_sent(const struct ws_server *s);

/* Route libwebsockets' own messages through our log, at matching levels. */
void log_route_lws(void);
