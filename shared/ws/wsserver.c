/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <ctype.h>
#include <dlfcn.h>
#include <ev.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "errors.h"
#include "fileio.h"
#include "jsonutil.h"
#include "list.h"
#include "log.h"
#include "lwsfd.h"
#include "macro.h"
#include "net.h"
#include "notify.h"
#include "secret.h"
#include "signals.h"
#include "utf8.h"
#include "wsmask.h"
#include "wsserver.h"
#include "wstls.h"

/* Replies a client may leave unread before it is considered abusive. */
#define REPLY_QUEUE_MAX 8
/* How long SIGTERM waits for clients to take their close frame. */
#define SHUTDOWN_GRACE_USEC (3 * LWS_US_PER_SEC)
#define HTTP_CHUNK 4096
/* "1000\r\n": the size of a chunk of a streamed body, in four hex digits
 * (HTTP allows leading zeros), so that it can be written in front of the
 * data before the data's length is known. */
#define CHUNK_HEAD 6
/* The kernel's send buffer for a streamed answer. Left to autotuning it
 * grows to tcp_wmem's 4 MiB for a peer that does not read: the whole
 * answer would sit in kernel memory, which peers that never read could
 * pile up. The rest of the answer waits where it already is (the ring). */
#define STREAM_SNDBUF (64 * 1024)
/* A body over max_body is read and dropped up to this much more, so that
 * the peer is still reading when its 413 comes; beyond it, it is cut off. */
#define BODY_DRAIN_MAX (16u << 20)

enum conn_kind {
        CONN_HTTP,
        CONN_WS,
        CONN_WATCH,
};

struct fd_watch {
        struct fd_watch *next;
        struct ws_server *server;
        ws_fd_handler cb;
        void *data;
        int fd;
};

/* Per-connection area lws allocates (per_session_data_size): ours first, the
 * worker's after it. */
struct conn {
        enum conn_kind kind;
        bool going_away;
        bool binary;
        unsigned char *rx;
        size_t rx_len;
        unsigned char *replies[REPLY_QUEUE_MAX]; /* each LWS_PRE + text, NUL-terminated */
        unsigned n_replies;
        struct ws_http_response http;
        size_t http_sent;
        bool headers_sent;
        bool written;   /* all of the answer is out; the connection ends */
        bool streaming; /* http is streamed and http_done() is owed */
        /* The request: its body so far (ops->request), and its answer's fate. */
        const char *method;
        char *path;
        char *body;
        size_t body_len, body_cap, body_dropped;
        uint64_t deadline;  /* lws_now_usecs() by which the body must be in */
        bool awaiting_body; /* dispatched at BODY_COMPLETION, not before */
        bool pending;       /* answered later, by ws_http_respond() */
        bool close_after;   /* the connection ends with this answer */
        bool body_complete; /* lws has said so; see the BODY_COMPLETION case */
        char peer[INET6_ADDRSTRLEN];
        max_align_t user[];
};

/* A keep-alive HTTP connection between two requests (see idle_begin()). */
struct idle {
        struct ws_server *server;
        struct lws *wsi;
        uint64_t since; /* lws_now_usecs() when its last answer was out */
        bool waiting;   /* on the server's list */
        struct idle *prev, *next;
};

struct ws_server {
        const struct ws_server_ops *ops;
        struct ws_server_params params;
        struct conf_stream stream;
        struct lws_context *context;
        struct ev_loop *loop;
        struct lws_vhost *vhost;
        struct ws_tls tls;
        struct lws_protocols protocols[2];
        lws_retry_bo_t retry;
        struct fd_watch *watches;
        lws_sorted_usec_list_t shutdown_timer;
        lws_sorted_usec_list_t watchdog_timer;
        lws_sorted_usec_list_t idle_timer;
        struct idle *idle_head, *idle_tail; /* oldest first */
        uint64_t watchdog_usec;
        unsigned clients;
        unsigned holds;
        unsigned long long frames_sent;
        bool stopping;
        bool done;
};

static void *conn_user(struct conn *c) {
        return c ? c->user : NULL;
}

struct lws_context *ws_server_context(struct ws_server *s) {
        return s->context;
}

void *ws_server_userdata(struct ws_server *s) {
        return s->params.userdata;
}

struct ws_server *ws_server_from_wsi(struct lws *wsi) {
        /* Context-wide callbacks arrive on a wsi that has no vhost. */
        struct lws_vhost *vh = wsi ? lws_get_vhost(wsi) : NULL;

        return vh ? lws_vhost_user(vh) : NULL;
}

unsigned ws_server_clients(const struct ws_server *s) {
        return s->clients;
}

bool ws_server_stopping(const struct ws_server *s) {
        return s->stopping;
}

unsigned long long ws_server_frames_sent(const struct ws_server *s) {
        return s->frames_sent;
}

void ws_server_hold(struct ws_server *s) {
        s->holds++;
}

void ws_server_release(struct ws_server *s) {
        if (s->holds > 0)
                s->holds--;
        if (s->stopping && s->clients == 0 && s->holds == 0) {
                s->done = true;
                lws_cancel_service(s->context);
        }
}

/* ---- handshake checks --------------------------------------------------- */

static bool token_presented(struct lws *wsi, const char *token) {
        char buf[CONF_TOKEN_MAX + 16];
        const char *v;

        if (lws_get_urlarg_by_name(wsi, "token=", buf, sizeof buf)) {
                v = buf;
                if (strneq(v, "token=", 6))
                        v += 6;
                if (secret_equal(v, token))
                        return true;
        }
        return lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 && bearer_matches(buf, token);
}

static bool origin_allowed(struct lws *wsi, const char *allowed) {
        /* Any origin that can be listed fits; a longer one cannot be. */
        char origin[CONF_ORIGINS_MAX], list[CONF_ORIGINS_MAX];
        char *save = NULL;
        int len;

        if (allowed[0] == '\0')
                return true;
        /* Only browsers send Origin; the list exists to stop other sites'
         * pages from reading the stream, not to lock out curl or Python. */
        len = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
        if (len <= 0)
                return true;
        /* An Origin that is there but cannot be read whole is refused: taking
         * it for absent would let any page through with a long enough name. */
        if ((size_t) len >= sizeof origin || lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) != len)
                return false;
        snprintf(list, sizeof list, "%s", allowed);
        for (char *o = strtok_r(list, " \t", &save); o; o = strtok_r(NULL, " \t", &save))
                if (strcasecmp(o, origin) == 0)
                        return true;
        return false;
}

/* Whether a request may go on: 0, or the status to refuse it with. The
 * token and the Origin list cover every request on the port, the
 * WebSocket upgrade and each plain HTTP path alike (docs/telemetry-stream.md,
 * docs/livelogs-stream.md): what a client may not stream it may not fetch. */
static unsigned access_denied(const struct ws_server *s, struct lws *wsi, const char **reason) {
        if (s->stream.token[0] && !token_presented(wsi, s->stream.token)) {
                *reason = "missing or wrong token";
                return HTTP_STATUS_UNAUTHORIZED;
        }
        if (!origin_allowed(wsi, s->stream.allowed_origins)) {
                *reason = "origin not allowed";
                return HTTP_STATUS_FORBIDDEN;
        }
        return 0;
}

static const char *status_text(unsigned status) {
        switch (status) {
        case HTTP_STATUS_BAD_REQUEST:
                return "Bad Request";
        case HTTP_STATUS_UNAUTHORIZED:
                return "Unauthorized";
        case HTTP_STATUS_FORBIDDEN:
                return "Forbidden";
        case HTTP_STATUS_SERVICE_UNAVAILABLE:
                return "Service Unavailable";
        default:
                return "Error";
        }
}

static int refuse(struct ws_server *s, struct lws *wsi, struct conn *c, unsigned status, const char *reason) {
        char response[512];
        int n;

        log_notice("Refused WebSocket client %s: %u %s", c->peer, status, reason);
        /* lws drops the connection without a word when the filter fails, and
         * cannot send a response from inside it. Nothing has been written on
         * this socket yet and the answer is small, so it goes out directly:
         * a client should learn why it was turned away. */
        n = snprintf(response, sizeof response,
                     "HTTP/1.1 %u %s\r\ncontent-type: text/plain\r\ncontent-length: %zu\r\n%s"
                     "connection: close\r\n\r\n%s\n",
                     status, status_text(status), strlen(reason) + 1,
                     status == HTTP_STATUS_UNAUTHORIZED ? "www-authenticate: Bearer\r\n" : "", reason);
        if (n > 0 && (size_t) n < sizeof response)
                (void) !send(lws_get_socket_fd(wsi), response, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT);
        return -1;
}

static int filter_connection(struct ws_server *s, struct lws *wsi, struct conn *c) {
        char reason[256] = "";
        const char *why;
        unsigned denied;
        int status;

        lws_get_peer_simple(lws_get_network_wsi(wsi), c->peer, sizeof c->peer);
        if (s->stopping)
                return refuse(s, wsi, c, HTTP_STATUS_SERVICE_UNAVAILABLE, "shutting down");
        denied = access_denied(s, wsi, &why);
        if (denied)
                return refuse(s, wsi, c, denied, why);
        if (s->clients >= s->stream.max_clients) {
                snprintf(reason, sizeof reason, "too many clients (max_clients = %u)", s->stream.max_clients);
                return refuse(s, wsi, c, HTTP_STATUS_SERVICE_UNAVAILABLE, reason);
        }
        if (s->ops->filter) {
                status = s->ops->filter(s, wsi, conn_user(c), reason, sizeof reason);
                if (status > 0)
                        return refuse(s, wsi, c, (unsigned) status, reason);
        }
        return 0;
}

/* ---- replies and sending ------------------------------------------------ */

int ws_send_text(struct lws *wsi, unsigned char *payload, size_t len) {
        struct ws_server *s = ws_server_from_wsi(wsi);

        if (lws_write(wsi, payload, len, LWS_WRITE_TEXT) < (int) len)
                return -1;
        if (s)
                s->frames_sent++;
        return 0;
}

int ws_send_frames(struct lws *wsi, unsigned char *frames, size_t len, unsigned count) {
        struct ws_server *s = ws_server_from_wsi(wsi);

        if (lws_write(wsi, frames, len, LWS_WRITE_RAW) < (int) len)
                return -1;
        if (s)
                s->frames_sent += count;
        return 0;
}

int ws_reply_textf(struct lws *wsi, const char *fmt, ...) {
        struct conn *c = lws_wsi_user(wsi);
        unsigned char *buf;
        va_list ap;
        int n;

        if (!c || c->kind != CONN_WS)
                return -EINVAL;
        if (c->n_replies >= REPLY_QUEUE_MAX) {
                lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *) "replies not read",
                                 16);
                lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
                return -ENOBUFS;
        }
        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        buf = malloc(LWS_PRE + (size_t) n + 1);
        if (!buf)
                return -ENOMEM;
        va_start(ap, fmt);
        vsnprintf((char *) buf + LWS_PRE, (size_t) n + 1, fmt, ap);
        va_end(ap);
        c->replies[c->n_replies++] = buf;
        lws_callback_on_writable(wsi);
        return 0;
}

static int send_queued_reply(struct lws *wsi, struct conn *c) {
        unsigned char *buf = c->replies[0];
        int r;

        r = ws_send_text(wsi, buf + LWS_PRE, strlen((char *) buf + LWS_PRE));
        free(buf);
        memmove(c->replies, c->replies + 1, (c->n_replies - 1) * sizeof c->replies[0]);
        c->n_replies--;
        return r;
}

/* ---- inbound messages --------------------------------------------------- */

static int too_large(struct ws_server *s, struct lws *wsi, struct conn *c) {
        static const char reason[] = "message too large";

        log_notice("Closing client %s: inbound message over %zu bytes", c->peer,
                   s->params.max_message);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *) reason, sizeof reason - 1);
        return -1;
}

static int receive(struct ws_server *s, struct lws *wsi, struct conn *c, const void *in, size_t len) {
        if (lws_is_first_fragment(wsi)) {
                c->rx_len = 0;
                c->binary = lws_frame_is_binary(wsi);
        }
        /* Refuse as soon as the frame header announces too much, rather than
         * after buffering it. */
        if (c->rx_len + len + lws_remaining_packet_payload(wsi) > s->params.max_message)
                return too_large(s, wsi, c);
        if (!c->rx) {
                c->rx = malloc(s->params.max_message + 1);
                if (!c->rx)
                        return -1;
        }
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
                return 0;

        c->rx[c->rx_len] = '\0';
        if (c->binary)
                ws_reply_textf(wsi, "{\"type\":\"error\",\"error\":\"binary_not_supported\","
                                    "\"message\":\"this stream accepts JSON text messages only\"}");
        else if (s->ops->message)
                s->ops->message(s, wsi, conn_user(c), (const char *) c->rx, c->rx_len);
        c->rx_len = 0;
        return 0;
}

/* ---- HTTP on the stream port -------------------------------------------- */

int ws_http_error(struct ws_http_response *resp, int status, const char *detail, const char *message) {
        _cleanup_json_ cJSON *j = cJSON_CreateObject();
        _cleanup_free_ char *safe = malloc(3 * strlen(message) + 1);

        /* cJSON escapes quotes and control characters but passes any byte
         * through: a path or a pattern a client sent may not be UTF-8. */
        if (!j || !safe || !cJSON_AddStringToObject(j, "status", "error") ||
            !cJSON_AddStringToObject(j, "detail", detail) ||
            !cJSON_AddStringToObject(j, "message", utf8_repair_str(message, safe, 3 * strlen(message) + 1)))
                return -ENOMEM;
        free(resp->body);
        free(resp->headers);
        *resp = (struct ws_http_response){ .status = status, .content_type = "application/json" };
        resp->body = json_print(j);
        if (!resp->body)
                return -ENOMEM;
        resp->len = strlen(resp->body);
        return 0;
}

static void http_stream_done(struct ws_server *s, struct lws *wsi, struct conn *c) {
        if (!c->streaming)
                return;
        c->streaming = false;
        if (s->ops->http_done)
                s->ops->http_done(s, wsi, conn_user(c));
}

/* Forget the request the connection served or was serving. */
static void request_reset(struct ws_server *s, struct lws *wsi, struct conn *c) {
        http_stream_done(s, wsi, c);
        free(c->http.body);
        free(c->http.headers);
        free(c->path);
        free(c->body);
        c->http = (struct ws_http_response){ 0 };
        c->method = NULL;
        c->path = c->body = NULL;
        c->body_len = c->body_cap = c->body_dropped = 0;
        c->headers_sent = c->written = c->pending = c->close_after = c->awaiting_body = c->body_complete = false;
        c->http_sent = 0;
}

static void conn_free(struct ws_server *s, struct lws *wsi, struct conn *c) {
        while (c->n_replies > 0)
                free(c->replies[--c->n_replies]);
        free(c->rx);
        c->rx = NULL;
        request_reset(s, wsi, c);
}

/* Every answer, given at once or later, streamed or not, starts here; its
 * headers are written from the writeable callback like its body. */
static int http_start(struct ws_server *s, struct lws *wsi, struct conn *c) {
        struct ws_http_response *r = &c->http;

        if (r->streamed) {
                int fd = lws_get_socket_fd(wsi), size = STREAM_SNDBUF;

                if (!s->ops->http_body)
                        return -1;
                c->streaming = true;
                if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) < 0)
                        log_debug_errno(errno, "Cannot limit the send buffer of an HTTP client: %m");
        } else if (!r->body && r->len > 0)
                return -1;
        if (r->status == HTTP_STATUS_UNAUTHORIZED && !r->www_authenticate)
                r->www_authenticate = "Bearer";
        /* A deadline for the whole answer, not an idle timer that each byte
         * taken resets: a peer that reads slowly or not at all gives up its
         * connection as surely as one that answers no ping. A GET server's
         * deadline runs from the request's headers (http_begin). */
        if (s->ops->request)
                lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, (int) s->params.request_deadline);
        c->headers_sent = false;
        c->http_sent = 0;
        lws_callback_on_writable(wsi);
        return 0;
}

/* The answer for a handler that failed: 404 for -ENOENT, else 500. */
static int handler_failed(struct conn *c, const char *method, const char *path, int err) {
        _cleanup_free_ char *message = NULL;

        if (err != -ENOENT) {
                log_error_errno(err, "Failed to answer %s %s: %m", method, path);
                return ws_http_error(&c->http, HTTP_STATUS_INTERNAL_SERVER_ERROR, "internal_error",
                                     "the answer could not be made; see the server's log");
        }
        if (asprintf(&message, "no such path: %s", path) < 0)
                return -ENOMEM;
        return ws_http_error(&c->http, HTTP_STATUS_NOT_FOUND, "not_found", message);
}

/* A server without ops->request serves GET alone. */
static int http_get(struct ws_server *s, struct lws *wsi, struct conn *c, const char *path) {
        struct ws_http_response *r = &c->http;
        int err;

        if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
                err = ws_http_error(r, HTTP_STATUS_METHOD_NOT_ALLOWED, "method_not_allowed",
                                    "only GET is served on this port");
                r->allow = "GET";
                return err;
        }
        err = s->ops->http ? s->ops->http(s, wsi, conn_user(c), path, r) : -ENOENT;
        return err < 0 ? handler_failed(c, "GET", path, err) : 0;
}

static const char *request_method(struct lws *wsi) {
        static const struct {
                enum lws_token_indexes token;
                const char *name;
        } methods[] = {
                { WSI_TOKEN_GET_URI, "GET" },       { WSI_TOKEN_POST_URI, "POST" },
                { WSI_TOKEN_PUT_URI, "PUT" },       { WSI_TOKEN_PATCH_URI, "PATCH" },
                { WSI_TOKEN_DELETE_URI, "DELETE" }, { WSI_TOKEN_OPTIONS_URI, "OPTIONS" },
                { WSI_TOKEN_HEAD_URI, "HEAD" },
        };

        for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                if (lws_hdr_total_length(wsi, methods[i].token) > 0)
                        return methods[i].name;
        return "";
}

static unsigned seconds_left(const struct conn *c) {
        uint64_t now = (uint64_t) lws_now_usecs();

        return now >= c->deadline ? 1 : (unsigned) ((c->deadline - now + LWS_US_PER_SEC - 1) / LWS_US_PER_SEC);
}

static int http_dispatch(struct ws_server *s, struct lws *wsi, struct conn *c) {
        struct ws_http_request req = {
                .method = c->method,
                .path = c->path,
                .body = c->body ? c->body : "",
                .body_len = c->body_len,
        };
        char message[160];
        int r;

        if (c->body_dropped > 0) {
                log_notice("Refused a %s %s from %s: body over %zu bytes", c->method, c->path, c->peer,
                           s->params.max_body);
                snprintf(message, sizeof message, "request body larger than %zu bytes", s->params.max_body);
                c->close_after = true;
                return ws_http_error(&c->http, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, "body_too_large", message) < 0
                               ? -1
                               : http_start(s, wsi, c);
        }
        r = s->ops->request(s, wsi, conn_user(c), &req, &c->http);
        if (r == -EINPROGRESS) {
                c->pending = true;
                /* The answer waits on work elsewhere; if it never comes,
                 * the connection goes rather than waiting for ever. */
                lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, (int) s->params.request_deadline);
                return 0;
        }
        if (r < 0 && handler_failed(c, c->method, c->path, r) < 0)
                return -1;
        return http_start(s, wsi, c);
}

static bool request_has_body(struct lws *wsi) {
        char length[32];

        if (lws_hdr_copy(wsi, length, sizeof length, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
                return strtoull(length, NULL, 10) > 0;
        return lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
}

static int http_begin(struct ws_server *s, struct lws *wsi, struct conn *c, const char *path) {
        char length[32];
        unsigned long long announced = 0;
        const char *why;
        unsigned denied;

        c->kind = CONN_HTTP;
        request_reset(s, wsi, c);
        lws_get_peer_simple(lws_get_network_wsi(wsi), c->peer, sizeof c->peer);
        memset(conn_user(c), 0, s->ops->client_size);
        c->method = request_method(wsi);
        c->path = strdup(path);
        if (!c->path)
                return -1;

        /* A server with a [stream] token or Origin list (telemetryd's and
         * livelogd's stream ports) answers nothing else without them; the
         * hub clears both and decides access path by path itself. */
        denied = access_denied(s, wsi, &why);
        if (denied) {
                log_notice("Refused HTTP client %s: %u %s", c->peer, denied, why);
                /* A body that may follow is not read: the answer ends the
                 * connection. */
                c->close_after = request_has_body(wsi);
                return ws_http_error(&c->http, (int) denied,
                                     denied == HTTP_STATUS_UNAUTHORIZED ? "unauthorized" : "forbidden", why) < 0
                               ? -1
                               : http_start(s, wsi, c);
        }
        if (!s->ops->request) {
                lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, (int) (2 * s->stream.ping_interval));
                return http_get(s, wsi, c, path) < 0 ? -1 : http_start(s, wsi, c);
        }

        c->deadline = (uint64_t) lws_now_usecs() + s->params.request_deadline * LWS_US_PER_SEC;
        if (lws_hdr_copy(wsi, length, sizeof length, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
                announced = strtoull(length, NULL, 10);
        else if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
                /* libwebsockets 4.1 does not decode a chunked request body:
                 * its bytes would be read as the next request. */
                c->close_after = true;
                return ws_http_error(&c->http, HTTP_STATUS_LENGTH_REQUIRED, "length_required",
                                     "send the body with a Content-Length") < 0
                               ? -1
                               : http_start(s, wsi, c);
        }
        if (announced == 0)
                return http_dispatch(s, wsi, c);
        if (announced > s->params.max_body) {
                /* Not worth reading: say so once the peer has finished
                 * sending, or cut it off if it sends far more. */
                c->body_dropped = 1;
        }
        c->awaiting_body = true;
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, (int) seconds_left(c));
        return 0;
}

static int http_body(struct ws_server *s, struct lws *wsi, struct conn *c, const void *in, size_t len) {
        if ((uint64_t) lws_now_usecs() > c->deadline) {
                log_notice("Closing %s: request body not in within %u s", c->peer, s->params.request_deadline);
                return -1;
        }
        /* A deadline, not an idle timer: every byte does not buy more time. */
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, (int) seconds_left(c));
        if (len == 0)
                return 0;
        if (c->body_dropped > 0 || c->body_len + len > s->params.max_body) {
                free(c->body);
                c->body = NULL;
                c->body_dropped += c->body_len + len;
                c->body_len = 0;
                return c->body_dropped > (size_t) BODY_DRAIN_MAX + s->params.max_body ? -1 : 0;
        }
        if (c->body_len + len + 1 > c->body_cap) {
                size_t cap = c->body_cap ? c->body_cap : 4096;
                char *p;

                while (cap < c->body_len + len + 1)
                        cap *= 2;
                if (cap > s->params.max_body + 1)
                        cap = s->params.max_body + 1;
                p = realloc(c->body, cap);
                if (!p)
                        return -1;
                c->body = p;
                c->body_cap = cap;
        }
        memcpy(c->body + c->body_len, in, len);
        c->body_len += len;
        c->body[c->body_len] = '\0';
        return 0;
}

int ws_http_respond(struct lws *wsi, struct ws_http_response *resp) {
        struct ws_server *s = ws_server_from_wsi(wsi);
        struct conn *c = lws_wsi_user(wsi);

        if (!s || !c || c->kind != CONN_HTTP || !c->pending) {
                free(resp->body);
                free(resp->headers);
                resp->body = resp->headers = NULL;
                return -EINVAL;
        }
        c->pending = false;
        c->http = *resp;
        resp->body = resp->headers = NULL;
        return http_start(s, wsi, c) < 0 ? -EIO : 0;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end) {
        return lws_add_http_header_by_name(wsi, (const unsigned char *) name, (const unsigned char *) value,
                                           (int) strlen(value), p, end);
}

/* The response's own headers, each line "name: value"; names in lower
 * case, as HTTP/2 wants them. */
static int add_more_headers(struct lws *wsi, const char *lines, unsigned char **p, unsigned char *end) {
        char name[64];

        for (const char *l = lines; l && *l;) {
                const char *colon = strchr(l, ':'), *eol = strstr(l, "\r\n"), *v;
                size_t n = colon ? (size_t) (colon - l) : 0;

                if (!colon || !eol || colon > eol || n + 2 > sizeof name)
                        return -1;
                for (size_t i = 0; i < n; i++)
                        name[i] = (char) tolower((unsigned char) l[i]);
                name[n] = ':';
                name[n + 1] = '\0';
                for (v = colon + 1; *v == ' '; v++)
                        ;
                if (lws_add_http_header_by_name(wsi, (const unsigned char *) name, (const unsigned char *) v,
                                                (int) (eol - v), p, end))
                        return -1;
                l = eol + 2;
        }
        return 0;
}

/* An HTTP/2 stream (over TLS, by ALPN) rather than an HTTP/1.1 connection. */
static bool http_stream_muxed(struct lws *wsi) {
        return lws_get_network_wsi(wsi) != wsi;
}

/* The headers. On HTTP/1.1 a small answer's body goes out with them, in
 * one write; HTTP/2 frames them apart, and ends the stream with the body's
 * last write. */
static int http_headers(struct lws *wsi, struct conn *c) {
        unsigned char headers[LWS_PRE + 1024 + HTTP_CHUNK], *start = headers + LWS_PRE, *p = start,
                                                            *end = headers + sizeof headers - 1;
        struct ws_http_response *r = &c->http;
        char retry[16];

        snprintf(retry, sizeof retry, "%u", r->retry_after);
        if (r->streamed) {
                if (lws_add_http_header_status(wsi, (unsigned) r->status, &p, end) ||
                    add_header(wsi, "content-type:", r->content_type, &p, end) ||
                    add_header(wsi, "transfer-encoding:", "chunked", &p, end))
                        return -1;
        } else if (r->status == HTTP_STATUS_NOT_MODIFIED) {
                /* No body, and no length: a 304's would be the file's. */
                if (lws_add_http_header_status(wsi, (unsigned) r->status, &p, end))
                        return -1;
        } else if (lws_add_http_common_headers(wsi, (unsigned) r->status, r->content_type, r->len, &p, end))
                return -1;
        if ((r->allow && add_header(wsi, "allow:", r->allow, &p, end)) ||
            (r->www_authenticate && add_header(wsi, "www-authenticate:", r->www_authenticate, &p, end)) ||
            (r->retry_after > 0 && add_header(wsi, "retry-after:", retry, &p, end)) ||
            (c->close_after && add_header(wsi, "connection:", "close", &p, end)) ||
            add_header(wsi, "cache-control:", r->cache_control ?: "no-store", &p, end) ||
            add_more_headers(wsi, r->headers, &p, end) || lws_finalize_http_header(wsi, &p, end))
                return -1;
        if (!r->streamed && r->len > 0 && r->len <= (size_t) (end - p) && !http_stream_muxed(wsi)) {
                memcpy(p, r->body, r->len);
                p += r->len;
                c->http_sent = r->len;
        }
        if (lws_write(wsi, start, (size_t) (p - start), LWS_WRITE_HTTP_HEADERS) != (int) (p - start))
                return -1;
        c->headers_sent = true;
        return 0;
}

/* ---- idle keep-alive connections -------------------------------------- */

/* lws keeps one list of deadlines per thread, sorted, and inserts each new
 * one by walking it from the head. Left to lws, every idle keep-alive
 * connection would sit in it until its keep-alive timeout, and each
 * request's deadlines would be walked past all of them: with 10,000 nodes
 * on a hub, two thirds of its CPU. So between requests a connection waits
 * here instead, on a list in the order it went idle (appending costs
 * nothing), and one timer, armed for the oldest, closes those idle for
 * longer than keepalive_timeout. lws' list keeps only requests under way. */

static uint64_t keepalive_usec(const struct ws_server *s) {
        return (uint64_t) s->params.keepalive_timeout * LWS_US_PER_SEC;
}

static void idle_expire(lws_sorted_usec_list_t *sul);

static void idle_arm(struct ws_server *s) {
        uint64_t now = (uint64_t) lws_now_usecs(), due;

        if (!s->idle_head) {
                lws_sul_cancel(&s->idle_timer);
                return;
        }
        due = s->idle_head->since + keepalive_usec(s);
        lws_sul_schedule(s->context, 0, &s->idle_timer, idle_expire, due > now ? (lws_usec_t) (due - now) : 1);
}

static void idle_unlink(struct idle *i) {
        if (!i->waiting)
                return;
        LIST_UNLINK(i->server->idle_head, i->server->idle_tail, i);
        i->waiting = false;
}

static void idle_expire(lws_sorted_usec_list_t *sul) {
        struct ws_server *s = lws_container_of(sul, struct ws_server, idle_timer);
        uint64_t now = (uint64_t) lws_now_usecs();

        while (s->idle_head && now - s->idle_head->since >= keepalive_usec(s)) {
                struct idle *i = s->idle_head;

                idle_unlink(i);
                lws_set_timeout(i->wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE, LWS_TO_KILL_ASYNC);
        }
        idle_arm(s);
}

/* The connection's answer is out and lws waits for its next request. */
static void idle_begin(struct ws_server *s, struct lws *wsi) {
        struct idle *i = lws_get_opaque_user_data(wsi);

        if (!i) {
                i = calloc(1, sizeof *i);
                if (!i)
                        return; /* lws' own keep-alive deadline stays */
                *i = (struct idle){ .server = s, .wsi = wsi };
                lws_set_opaque_user_data(wsi, i);
        }
        idle_unlink(i);
        i->since = (uint64_t) lws_now_usecs();
        LIST_APPEND(s->idle_head, s->idle_tail, i);
        i->waiting = true;
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        if (s->idle_head == i)
                idle_arm(s);
}

/* A request (or a WebSocket upgrade) has come: lws' deadlines apply again. */
static void idle_end(struct lws *wsi) {
        struct idle *i = lws_get_opaque_user_data(wsi);

        if (i)
                idle_unlink(i);
}

static void idle_free(struct lws *wsi) {
        struct idle *i = lws_get_opaque_user_data(wsi);

        if (!i)
                return;
        idle_unlink(i);
        lws_set_opaque_user_data(wsi, NULL);
        free(i);
}

static int http_finish(struct ws_server *s, struct lws *wsi, struct conn *c) {
        if (c->close_after) {
                c->written = true;
                http_stream_done(s, wsi, c);
                lws_callback_on_writable(wsi);
                return 0;
        }
        request_reset(s, wsi, c);
        /* lws drops the per-connection area here (HTTP_DROP_PROTOCOL). */
        if (lws_http_transaction_completed(wsi))
                return -1;
        /* An HTTP/2 stream ends with its answer; lws keeps the connection. */
        if (!http_stream_muxed(wsi))
                idle_begin(s, wsi);
        return 0;
}

/* One chunk of a streamed body per callback, so that other peers get their
 * turn between two. */
static int http_stream_writeable(struct ws_server *s, struct lws *wsi, struct conn *c) {
        unsigned char buf[LWS_PRE + CHUNK_HEAD + HTTP_CHUNK + 2];
        char *data = (char *) buf + LWS_PRE + CHUNK_HEAD;
        ssize_t n = s->ops->http_body(s, wsi, conn_user(c), data, HTTP_CHUNK);

        if (n == -EAGAIN) {
                lws_callback_on_writable(wsi);
                return 0;
        }
        if (n < 0) {
                log_notice("Cutting off HTTP client %s: %s", c->peer, strerror((int) -n));
                http_stream_done(s, wsi, c);
                return -1;
        }
        if (n == 0) {
                memcpy(buf + LWS_PRE, "0\r\n\r\n", 5);
                if (lws_write(wsi, buf + LWS_PRE, 5, LWS_WRITE_HTTP_FINAL) != 5)
                        return -1;
                return http_finish(s, wsi, c);
        }
        snprintf((char *) buf + LWS_PRE, CHUNK_HEAD + 1, "%04zx\r", (size_t) n);
        buf[LWS_PRE + CHUNK_HEAD - 1] = '\n';
        data[n] = '\r';
        data[n + 1] = '\n';
        if (lws_write(wsi, buf + LWS_PRE, CHUNK_HEAD + (size_t) n + 2, LWS_WRITE_HTTP) != CHUNK_HEAD + (int) n + 2)
                return -1;
        lws_callback_on_writable(wsi);
        return 0;
}

static int http_writeable(struct ws_server *s, struct lws *wsi, struct conn *c) {
        unsigned char buf[LWS_PRE + HTTP_CHUNK];
        size_t n = c->http.len - c->http_sent;
        bool last;

        if (c->pending || c->http.status == 0)
                return 0;
        if (!c->headers_sent) {
                if (http_headers(wsi, c) < 0)
                        return -1;
                /* A small answer is whole with its headers, and the client
                 * may send its next request at once: lws must be done with
                 * this one before that can be read (BODY_COMPLETION case). */
                if (!c->http.streamed && c->http_sent == c->http.len && !http_stream_muxed(wsi))
                        return http_finish(s, wsi, c);
                lws_callback_on_writable(wsi);
                return 0;
        }
        if (c->written) {
                /* Everything went out with the last write; close once lws
                 * has handed the kernel what it had to buffer. */
                if (lws_partial_buffered(wsi)) {
                        lws_callback_on_writable(wsi);
                        return 0;
                }
                return -1;
        }
        if (c->streaming)
                return http_stream_writeable(s, wsi, c);
        if (n > HTTP_CHUNK)
                n = HTTP_CHUNK;
        last = c->http_sent + n == c->http.len;
        if (n > 0)
                memcpy(buf + LWS_PRE, c->http.body + c->http_sent, n);
        if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int) n)
                return -1;
        c->http_sent += n;
        if (!last) {
                lws_callback_on_writable(wsi);
                return 0;
        }
        return http_finish(s, wsi, c);
}

/* ---- shutdown ----------------------------------------------------------- */

static void shutdown_deadline(lws_sorted_usec_list_t *sul) {
        struct ws_server *s = lws_container_of(sul, struct ws_server, shutdown_timer);

        if (s->clients > 0 || s->holds > 0)
                log_warning("%u clients did not close in time, %u answers not given; exiting anyway", s->clients,
                            s->holds);
        s->done = true;
        lws_cancel_service(s->context);
}

/* Stop as SIGTERM asks: every client gets a 1001, then the loop ends. */
static void ws_server_stop(struct ws_server *s) {
        if (s->stopping)
                return;
        s->stopping = true;
        log_info("Stopping; closing %u clients", s->clients);
        if (s->clients == 0 && s->holds == 0) {
                s->done = true;
                lws_cancel_service(s->context);
                return;
        }
        /* Every client gets a 1001 from its own writeable callback. */
        lws_callback_on_writable_all_protocol_vhost(s->vhost, lws_vhost_name_to_protocol(s->vhost, s->ops->protocol));
        lws_sul_schedule(s->context, 0, &s->shutdown_timer, shutdown_deadline, SHUTDOWN_GRACE_USEC);
}

static void on_signal(struct ws_server *s, int fd, void *data) {
        struct signalfd_siginfo si;

        while (read(fd, &si, sizeof si) == (ssize_t) sizeof si) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                        ws_server_stop(s);
                        continue;
                }
                if (si.ssi_signo == SIGHUP)
                        (void) ws_tls_reload(&s->tls);
                if (s->ops->signal)
                        s->ops->signal(s, &si);
        }
}

/* ---- the supervisor's watchdog ------------------------------------------ */

/* Sent from the loop itself: a loop that is stopped or stuck stops sending,
 * and the supervisor (controld, or systemd) finds out. Half the period, as
 * sd_watchdog_enabled(3) advises. */
static void watchdog_ping(lws_sorted_usec_list_t *sul) {
        struct ws_server *s = lws_container_of(sul, struct ws_server, watchdog_timer);

        (void) notify_send("WATCHDOG=1");
        lws_sul_schedule(s->context, 0, &s->watchdog_timer, watchdog_ping, (lws_usec_t) s->watchdog_usec / 2);
}

/* ---- the protocol callback ---------------------------------------------- */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
        struct ws_server *s = ws_server_from_wsi(wsi);
        struct conn *c = user;
        struct fd_watch *w;

        /* Before anything is read from it: user is lws' description of
         * the new connection, not a per-connection area. */
        if (reason == LWS_CALLBACK_FILTER_NETWORK_CONNECTION) {
                ws_mask_accepted((int) (intptr_t) in);
                return 0;
        }
        /* Here user is OpenSSL's. */
        if (ws_tls_callback_reason(reason))
                return s ? ws_tls_callback(&s->tls, reason, user, len) : 1;
        /* Also when lws has dropped the area already (CLOSED_HTTP after
         * HTTP_DROP_PROTOCOL). */
        if (reason == LWS_CALLBACK_CLOSED || reason == LWS_CALLBACK_CLOSED_HTTP) {
                ws_mask_closed(lws_get_socket_fd(wsi));
                idle_free(wsi);
        }
        /* Context-wide callbacks, and connections that closed before lws
         * gave them a per-connection area (a port probe sends nothing),
         * are none of ours. */
        if (!s || !c)
                return lws_callback_http_dummy(wsi, reason, user, in, len);

        switch (reason) {
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
                return filter_connection(s, wsi, c);

        case LWS_CALLBACK_ESTABLISHED:
                idle_end(wsi);
                c->kind = CONN_WS;
                s->clients++;
                /* The area may have served HTTP requests on this connection. */
                memset(conn_user(c), 0, s->ops->client_size);
                (void) ws_mask_upgraded(lws_get_socket_fd(wsi), wsi); /* a 1002, if due, is sent below */
                if (s->ops->open)
                        s->ops->open(s, wsi, conn_user(c));
                if (s->stopping)
                        c->going_away = true;
                lws_callback_on_writable(wsi);
                return 0;

        case LWS_CALLBACK_RECEIVE:
                return receive(s, wsi, c, in, len);

        case LWS_CALLBACK_SERVER_WRITEABLE:
                /* What came before an unmasked frame was good: its answers
                 * go out first. */
                if (ws_mask_violated(lws_get_socket_fd(wsi)) && c->n_replies == 0) {
                        static const char unmasked[] = "frames from a client must be masked";
                        log_notice("Closing client %s: it sent an unmasked frame", c->peer);
                        lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, (unsigned char *) unmasked,
                                         sizeof unmasked - 1);
                        return -1;
                }
                if (c->going_away || s->stopping) {
                        static const char bye[] = "server shutting down";
                        lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *) bye, sizeof bye - 1);
                        return -1;
                }
                if (c->n_replies > 0) {
                        if (send_queued_reply(wsi, c) < 0)
                                return -1;
                        /* One write per callback; come back for the rest. */
                        lws_callback_on_writable(wsi);
                        return 0;
                }
                return s->ops->writeable ? s->ops->writeable(s, wsi, conn_user(c)) : 0;

        case LWS_CALLBACK_CLOSED:
                if (c->kind == CONN_WS) {
                        s->clients--;
                        if (s->ops->close)
                                s->ops->close(s, wsi, conn_user(c));
                        if (s->stopping && s->clients == 0 && s->holds == 0) {
                                s->done = true;
                                lws_cancel_service(s->context);
                        }
                }
                conn_free(s, wsi, c);
                return 0;

        case LWS_CALLBACK_HTTP:
                idle_end(wsi);
                return http_begin(s, wsi, c, in ? (const char *) in : "/");

        case LWS_CALLBACK_HTTP_BODY:
                /* Without ops->request, a body is dropped: its request was
                 * answered already (405, or refused). */
                return c->kind == CONN_HTTP && s->ops->request && c->awaiting_body ? http_body(s, wsi, c, in, len)
                                                                                   : 0;

        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
                if (c->kind != CONN_HTTP)
                        return 0;
                /* lws 4.1 says it again for every byte that comes before
                 * the answer is out (a client sending its next request
                 * early), consuming none: the loop would spin on it, and
                 * once lws has buffered a request it misreads its body. So
                 * requests are served one at a time. */
                if (c->body_complete) {
                        log_notice("Closing HTTP client %s: it sent more before its %s %s was answered", c->peer,
                                   c->method, c->path);
                        return -1;
                }
                c->body_complete = true;
                if (s->ops->request && c->awaiting_body) {
                        c->awaiting_body = false;
                        return http_dispatch(s, wsi, c);
                }
                /* The body of a request refused or answered without it, or
                 * the empty body of a POST with Content-Length: 0, which
                 * was dispatched already. */
                lws_callback_on_writable(wsi);
                return 0;

        case LWS_CALLBACK_HTTP_WRITEABLE:
                return c->kind == CONN_HTTP ? http_writeable(s, wsi, c) : 0;

        case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
                /* lws frees this area right after, between two requests of
                 * a keep-alive connection or as it closes one; CLOSED_HTTP
                 * may then come with no area at all. */
        case LWS_CALLBACK_CLOSED_HTTP:
                if (c->kind == CONN_HTTP && c->pending && s->ops->request_gone)
                        s->ops->request_gone(s, wsi, conn_user(c));
                c->pending = false;
                conn_free(s, wsi, c);
                return 0;

        case LWS_CALLBACK_RAW_ADOPT_FILE:
                c->kind = CONN_WATCH;
                return 0;

        case LWS_CALLBACK_RAW_RX_FILE:
                w = lws_get_opaque_user_data(wsi);
                if (w)
                        w->cb(w->server, w->fd, w->data);
                return 0;

        case LWS_CALLBACK_RAW_CLOSE_FILE:
                return 0;

        default:
                return lws_callback_http_dummy(wsi, reason, user, in, len);
        }
}

/* ---- set-up ------------------------------------------------------------- */

int ws_server_watch_fd(struct ws_server *s, int fd, ws_fd_handler cb, void *data) {
        struct fd_watch *w;
        int r;

        w = calloc(1, sizeof *w);
        if (!w) {
                close(fd);
                return -ENOMEM;
        }
        *w = (struct fd_watch){ .server = s, .cb = cb, .data = data, .fd = fd };
        /* The watch lives as long as the server; lws owns only the wsi. */
        r = lws_watch_fd(s->vhost, s->protocols[0].name, fd, w);
        if (r < 0) {
                free(w);
                return log_error_errno(r, "Cannot watch fd %d in the event loop", fd);
        }
        w->next = s->watches;
        s->watches = w;
        return 0;
}

static int setup_signals(struct ws_server *s) {
        sigset_t mask;
        int fd;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, RESOLVIX_SIGNAL_INTERVAL);
        fd = signalfd_blocking(&mask, NULL);
        if (fd < 0)
                return fd;
        return ws_server_watch_fd(s, fd, on_signal, NULL);
}

int ws_server_new(const struct ws_server_ops *ops, const struct ws_server_params *params, struct ws_server **ret) {
        struct lws_context_creation_info info;
        struct ws_server *s;
        const char *addr = params->stream->listen;
        bool any4 = streq(addr, "0.0.0.0"), any6 = streq(addr, "::");
        bool v4 = strchr(addr, ':') == NULL;
        unsigned fd_limit = params->stream->max_clients + 64;
        unsigned long open_max;
        char where[CONF_ADDR_MAX + 16];
        int r;

        signal(SIGPIPE, SIG_IGN);
        log_route_lws();
        r = ws_tls_check_listener(params->stream, params->tls_client_ca, true);
        if (r < 0)
                return r;

        /* lws reports a failed bind only in its log; find out the errno
         * ourselves so that the supervisor can tell "port in use" from
         * anything else. */
        format_host_port(addr, params->stream->port, where, sizeof where);
        r = tcp_bind(addr, params->stream->port, false);
        if (r < 0)
                return notify_failure(r, r == -EADDRINUSE ? ERROR_PORT_IN_USE : ERROR_BIND_FAILED,
                                      "cannot listen on %s: %s", where, strerror(-r));
        close(r);

        s = calloc(1, sizeof *s);
        if (!s)
                return log_error_errno(ENOMEM, "Out of memory");
        s->ops = ops;
        s->params = *params;
        if (s->params.keepalive_timeout == 0)
                s->params.keepalive_timeout = 5;
        s->stream = *params->stream;
        s->params.stream = &s->stream;
        s->tls = (struct ws_tls){ .cert = s->stream.tls_cert, .key = s->stream.tls_key,
                                  .client_ca = params->tls_client_ca };
        s->protocols[0] = (struct lws_protocols){
                .name = ops->protocol,
                .callback = callback,
                .per_session_data_size = sizeof(struct conn) + ops->client_size,
                .rx_buffer_size = 4096,
        };
        s->retry = (lws_retry_bo_t){
                .secs_since_valid_ping = (uint16_t) s->stream.ping_interval,
                .secs_since_valid_hangup = (uint16_t) (2 * s->stream.ping_interval),
        };

        open_max = fd_limit_reserve(fd_limit);
        if (open_max < fd_limit)
                log_warning("Open-file limit is below what max_clients needs (%u)", fd_limit);
        /* lws' table of descriptors spans the whole open-file limit: given
         * a smaller one, lws 4.1 looks every descriptor up by a linear
         * scan of that table, on each event (docs/performance.md). Parts
         * that reserve descriptors after this one are reserved for early
         * (telemetryd's ingest port): lws refuses what lies beyond. */
        r = ws_mask_init((unsigned) open_max);
        if (r < 0) {
                free(s);
                return log_error_errno(r, "Out of memory");
        }

        /* lws' own loop poll()s every descriptor on each pass: accepting
         * n clients cost O(n²) and each tick a scan of them all. On an
         * epoll loop (libev, through lws' event-library plugin) a pass
         * costs what is ready; ours, so that the loop can be left when
         * the server is done (docs/performance.md). */
        s->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV | EVFLAG_NOSIGMASK);
        memset(&info, 0, sizeof info);
        info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_LIBEV |
                       (ws_tls_on(&s->tls) ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
        info.foreign_loops = (void *[]){ s->loop };
        info.fd_limit_per_thread = (unsigned) open_max;
        info.timeout_secs = 10;
        s->context = s->loop ? lws_create_context(&info) : NULL;
        if (!s->context) {
                if (s->loop)
                        ev_loop_destroy(s->loop);
                ws_mask_done();
                free(s);
                return notify_failure(EIO, ERROR_BIND_FAILED,
                                      "cannot create the WebSocket context (is libwebsockets-evlib-ev installed?)");
        }

        memset(&info, 0, sizeof info);
        info.port = params->stream->port;
        info.iface = any4 || any6 ? NULL : addr;
        info.protocols = s->protocols;
        info.vhost_name = params->name;
        info.user = s;
        info.retry_and_idle_policy = &s->retry;
        info.options = v4 ? LWS_SERVER_OPTION_DISABLE_IPV6 : 0;
        info.keepalive_timeout = (int) s->params.keepalive_timeout;
        ws_tls_vhost_info(&s->tls, &info);
        s->vhost = lws_create_vhost(s->context, &info);
        if (!s->vhost || (ws_tls_on(&s->tls) && !s->tls.ctx)) {
                if (s->vhost) { /* its TLS, then */
                        ws_server_free(s);
                        return notify_failure(EIO, ERROR_TLS_UNUSABLE, "cannot set up TLS on %s", where);
                }
                lws_context_destroy(s->context);
                ev_loop_destroy(s->loop);
                ws_mask_done();
                free(s);
                return notify_failure(EADDRNOTAVAIL, ERROR_BIND_FAILED, "cannot listen on %s", where);
        }
        if (ws_tls_on(&s->tls))
                log_info("TLS on %s: certificate %s%s%s", where, s->tls.cert,
                         s->tls.client_ca && s->tls.client_ca[0] ? ", client certificates from " : "",
                         s->tls.client_ca ? s->tls.client_ca : "");

        r = setup_signals(s);
        if (r < 0) {
                ws_server_free(s);
                return log_error_errno(r, "Cannot set up signal handling: %m");
        }
        if (notify_watchdog_usec(&s->watchdog_usec) > 0)
                watchdog_ping(&s->watchdog_timer);

        *ret = s;
        return 0;
}

/* lws 4.1's libev glue (Debian 12's libwebsockets-evlib-ev) arms its one
 * timer with ev_timer_set() and ev_timer_start() after serving each event,
 * and libev ignores the start of a timer that is running: a timer due
 * sooner than the armed one (the interval signal's "sample now", a new
 * connection's deadline) waited for the later one. The plugin binds to this
 * definition (the executables export it, see meson.build), which restarts
 * a running timer at the time just set instead. */
void ev_timer_start(struct ev_loop *loop, ev_timer *w) {
        static void (*start)(struct ev_loop *, ev_timer *);

        if (!start)
                *(void **) &start = dlsym(RTLD_NEXT, "ev_timer_start");
        if (ev_is_active(w)) {
                /* What ev_timer_set() left: relative to now, until a
                 * stop makes it relative to the old start. */
                ev_tstamp after = w->at;

                ev_timer_stop(loop, w);
                w->at = after;
        }
        start(loop, w);
}

/* The same glue does its housekeeping (timers due, input lws holds back,
 * forced service) from an idle watcher, started after each event; libev
 * runs idle watchers only on a pass with nothing else pending, so under
 * steady traffic it starved: a timer set from an event (livelogd's "read
 * on") waited until the clients fell quiet. Running it on every pass
 * instead costs a scan of every descriptor per pass while lws holds input
 * back (accepting 10,000 clients took 9 s of CPU); so ws_server_run()
 * runs it when it has not run for IDLE_MAX_USEC. Its callback is wrapped
 * to know when it ran. */
#define IDLE_MAX_USEC 1000
static struct {
        ev_idle *w;
        void (*cb)(struct ev_loop *loop, ev_idle *w, int revents);
        ev_tstamp ran;
} lws_idle;

static void lws_idle_run(struct ev_loop *loop, ev_idle *w, int revents) {
        lws_idle.ran = ev_now(loop);
        lws_idle.cb(loop, w, revents);
}

void ev_idle_start(struct ev_loop *loop, ev_idle *w) {
        static void (*start)(struct ev_loop *, ev_idle *);

        if (!start)
                *(void **) &start = dlsym(RTLD_NEXT, "ev_idle_start");
        if (w->cb != lws_idle_run) {
                lws_idle.w = w;
                lws_idle.cb = w->cb;
                ev_set_cb(w, lws_idle_run);
        }
        start(loop, w);
}

int ws_server_run(struct ws_server *s) {
        /* lws arms its timer watcher after serving an event: wake it once
         * so that the timers scheduled before the loop ran (the first
         * sample, the watchdog) count. */
        lws_cancel_service(s->context);
        while (!s->done) {
                ev_run(s->loop, EVRUN_ONCE);
                if (lws_idle.w && ev_is_active(lws_idle.w) && !ev_is_pending(lws_idle.w) &&
                    ev_now(s->loop) - lws_idle.ran >= IDLE_MAX_USEC / 1e6)
                        ev_feed_event(s->loop, lws_idle.w, EV_IDLE);
        }
        return 0;
}

void ws_server_free(struct ws_server *s) {
        if (!s)
                return;
        if (s->context) {
                lws_sul_cancel(&s->shutdown_timer);
                lws_sul_cancel(&s->watchdog_timer);
                lws_sul_cancel(&s->idle_timer);
                lws_context_destroy(s->context);
                ev_loop_destroy(s->loop);
        }
        ws_mask_done();
        /* lws closed every watched fd, the signalfd included, with the context. */
        while (s->watches) {
                struct fd_watch *w = s->watches;
                s->watches = w->next;
                free(w);
        }
        free(s);
}
