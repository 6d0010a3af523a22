/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>

#include <libwebsockets.h>

#include "ctl.h"
#include "grow.h"
#include "lwsfd.h"
#include "signals.h"
#include "net.h"

/* A WebSocket client on one libwebsockets loop that also carries the
 * signals (signalfd) and, for watch, the keyboard: nothing blocks, so a
 * resize or a key redraws at once whatever the stream's interval. */

#define PROTOCOL "resolvixctl"
#define OUTBOX_MAX 256

struct ctl_stream {
        const struct ctl_stream_ops *ops;
        const struct ctl_stream_params *p;
        struct lws_context *context;
        struct lws *wsi;
        char peer[CTL_HOST_MAX + 16];

        char *msg; /* the message being assembled */
        size_t len, cap;

        unsigned char outbox[LWS_PRE + OUTBOX_MAX]; /* one command waiting to be sent */
        size_t outbox_len;

        lws_sorted_usec_list_t tick, give_up;
        bool opened, done, closing;
        int result;
        int close_with; /* a close frame to send at the next chance, 0 if none */
        int close_code; /* what the server's close frame said, 0 if none */
        char close_reason[124];
};

static struct ctl_stream *stream_of(struct lws *wsi) {
        return lws_context_user(lws_get_context(wsi));
}

static void finish(struct ctl_stream *s, int result) {
        if (s->done)
                return;
        s->done = true;
        s->result = result;
        lws_cancel_service(s->context);
}

int ctl_stream_send(struct ctl_stream *s, const char *text) {
        size_t n = strlen(text);

        if (!s->wsi || !s->opened)
                return -ENOTCONN;
        if (n > OUTBOX_MAX)
                return -EMSGSIZE;
        /* Commands are idempotent requests (get_metrics): one not sent yet
         * is replaced rather than queued behind. */
        memcpy(s->outbox + LWS_PRE, text, n);
        s->outbox_len = n;
        lws_callback_on_writable(s->wsi);
        return 0;
}

static void on_give_up(lws_sorted_usec_list_t *sul) {
        struct ctl_stream *s = lws_container_of(sul, struct ctl_stream, give_up);

        finish(s, s->result);
}

/* End the stream with a close frame, as the protocol wants: sent from the
 * writeable callback, the loop ending once the server has seen it (or a
 * second later, if it never lets us write). */
static void begin_close(struct ctl_stream *s, int code, int result) {
        if (s->closing)
                return;
        s->closing = true;
        s->result = result;
        if (!s->wsi) {
                finish(s, result);
                return;
        }
        s->close_with = code;
        lws_callback_on_writable(s->wsi);
        lws_sul_schedule(s->context, 0, &s->give_up, on_give_up, LWS_US_PER_SEC);
}

static void on_tick(lws_sorted_usec_list_t *sul) {
        struct ctl_stream *s = lws_container_of(sul, struct ctl_stream, tick);

        if (s->ops->tick && s->opened)
                s->ops->tick(s, s->p->userdata);
        lws_sul_schedule(s->context, 0, &s->tick, on_tick, (lws_usec_t) s->p->tick_usec);
}

static void on_signal(struct ctl_stream *s, int fd) {
        struct signalfd_siginfo si;

        while (read(fd, &si, sizeof si) == (ssize_t) sizeof si) {
                if (si.ssi_signo == SIGWINCH) {
                        if (s->ops->resize)
                                s->ops->resize(s, s->p->userdata);
                } else if (s->opened)
                        begin_close(s, LWS_CLOSE_STATUS_GOINGAWAY, 0);
                else
                        finish(s, 0);
        }
}

static int connection_error(struct ctl_stream *s, struct lws *wsi, const char *why) {
        unsigned status = wsi ? lws_http_client_http_response(wsi) : 0;
        const char *what = s->p->what;

        if (status == 401 || status == 403) {
                ctl_error("%s at %s refused the connection: %s (%u); pass --stream-token TOKEN or set "
                          "RESOLVIX_STREAM_TOKEN (its [%s] token)",
                          what, s->peer, status == 401 ? "missing or wrong token" : "origin not allowed", status,
                          streq(what, "telemetryd") ? "telemetry" : "livelogs");
                return -EACCES;
        }
        if (status == 400) {
                ctl_error("%s at %s refused the request as malformed (400): check --grep", what, s->peer);
                return -EINVAL;
        }
        if (status == 503) {
                ctl_error("%s at %s is full (max_clients) or shutting down (503)", what, s->peer);
                return -EBUSY;
        }
        if (status > 0) {
                ctl_error("%s at %s answered %u instead of accepting a WebSocket", what, s->peer, status);
                return -EPROTO;
        }
        if (why && strstr(why, "connect")) {
                ctl_error("cannot connect to %s: connection refused — is %s running? try: resolvixctl status", s->peer,
                          what);
                return -ECONNREFUSED;
        }
        ctl_error("cannot connect to %s: %s", s->peer, why && why[0] ? why : "the connection failed");
        return -ECONNREFUSED;
}

static int receive(struct ctl_stream *s, struct lws *wsi, const char *in, size_t len) {
        int r;

        if (s->closing || lws_frame_is_binary(wsi))
                return 0; /* the protocols are text; a binary frame is no message of ours */
        if (lws_is_first_fragment(wsi))
                s->len = 0;
        if (s->len + len > CTL_MESSAGE_MAX) {
                ctl_error("%s at %s sent a message over %u MiB; closing", s->p->what, s->peer, CTL_MESSAGE_MAX >> 20);
                begin_close(s, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, -EMSGSIZE);
                return 0;
        }
        if (GROW(s->msg, s->cap, s->len + len + 1, 4096) < 0) {
                ctl_error("out of memory");
                begin_close(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, -ENOMEM);
                return 0;
        }
        memcpy(s->msg + s->len, in, len);
        s->len += len;
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
                return 0;
        s->msg[s->len] = '\0';
        r = s->ops->message(s, s->p->userdata, s->msg, s->len);
        s->len = 0;
        if (r != 0)
                begin_close(s, LWS_CLOSE_STATUS_NORMAL, r < 0 ? r : 0);
        return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
        struct ctl_stream *s = stream_of(wsi);
        char hdr[CTL_URL_MAX];

        if (!s)
                return lws_callback_http_dummy(wsi, reason, user, in, len);

        switch (reason) {
        case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
                if (s->p->token && s->p->token[0]) {
                        unsigned char **p = in, *end = *p + len;
                        int n = snprintf(hdr, sizeof hdr, "Bearer %s", s->p->token);

                        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, (unsigned char *) hdr, n, p,
                                                         end))
                                return -1;
                }
                return 0;

        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
                s->wsi = NULL;
                finish(s, connection_error(s, wsi, in ? (const char *) in : NULL));
                return 0;

        case LWS_CALLBACK_CLIENT_ESTABLISHED:
                s->opened = true;
                if (s->ops->open)
                        s->ops->open(s, s->p->userdata);
                return 0;

        case LWS_CALLBACK_CLIENT_RECEIVE:
                return receive(s, wsi, in, len);

        case LWS_CALLBACK_CLIENT_WRITEABLE:
                if (s->close_with) {
                        lws_close_reason(wsi, (enum lws_close_status) s->close_with, NULL, 0);
                        return -1;
                }
                if (s->outbox_len > 0) {
                        size_t n = s->outbox_len;

                        s->outbox_len = 0;
                        if (lws_write(wsi, s->outbox + LWS_PRE, n, LWS_WRITE_TEXT) < (int) n)
                                return -1;
                }
                return 0;

        case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
                if (len >= 2) {
                        const unsigned char *b = in;
                        size_t n = len - 2 < sizeof s->close_reason - 1 ? len - 2 : sizeof s->close_reason - 1;

                        s->close_code = (b[0] << 8) | b[1];
                        memcpy(s->close_reason, b + 2, n);
                        s->close_reason[n] = '\0';
                }
                return 0;

        case LWS_CALLBACK_CLIENT_CLOSED:
                s->wsi = NULL;
                if (s->closing)
                        finish(s, s->result);
                else if (!s->done) {
                        if (s->close_code)
                                ctl_error("%s at %s closed the stream (%d%s%s)", s->p->what, s->peer, s->close_code,
                                          s->close_reason[0] ? ": " : "", s->close_reason);
                        else
                                ctl_error("%s at %s dropped the connection", s->p->what, s->peer);
                        finish(s, -ECONNRESET);
                }
                return 0;

        case LWS_CALLBACK_RAW_RX_FILE: {
                int fd = lws_get_socket_fd(wsi);

                if (lws_get_opaque_user_data(wsi) == (void *) s)
                        on_signal(s, fd);
                else if (s->ops->input) {
                        int r = s->ops->input(s, s->p->userdata);
                        if (r != 0)
                                begin_close(s, LWS_CLOSE_STATUS_GOINGAWAY, r < 0 ? r : 0);
                }
                return 0;
        }

        default:
                return lws_callback_http_dummy(wsi, reason, user, in, len);
        }
}

static int setup_signals(struct lws_context *context, struct ctl_stream *s, sigset_t *old) {
        sigset_t mask;
        int fd;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGWINCH);
        fd = signalfd_blocking(&mask, old);
        if (fd < 0)
                return fd;
        return lws_watch_fd(lws_get_vhost_by_name(context, "default"), PROTOCOL, fd, s);
}

int ctl_stream_run(const struct ctl_stream_ops *ops, const struct ctl_stream_params *p) {
        static const struct lws_protocols protocols[] = {
                { .name = PROTOCOL, .callback = callback, .rx_buffer_size = 65536 },
                { 0 },
        };
        /* A node that vanishes without a FIN is noticed: ping when idle,
         * give up when no pong comes. */
        static const lws_retry_bo_t retry = { .secs_since_valid_ping = 30, .secs_since_valid_hangup = 70 };
        struct ctl_stream s = { .ops = ops, .p = p };
        struct lws_context_creation_info info;
        struct lws_client_connect_info ci;
        char path[CTL_URL_MAX + 32], host[CTL_HOST_MAX + 16];
        bool tls = streq(p->address->scheme, "wss");
        sigset_t old;
        int r;

        format_host_port(p->address->host, (uint16_t) p->address->port, s.peer, sizeof s.peer);
        snprintf(host, sizeof host, "%s", s.peer);
        snprintf(path, sizeof path, "%s%s%s", p->address->path[0] ? p->address->path : "/",
                 p->query ? (strchr(p->address->path, '?') ? "&" : "?") : "", p->query ?: "");

        lws_set_log_level(0, NULL);
        memset(&info, 0, sizeof info);
        info.port = CONTEXT_PORT_NO_LISTEN;
        info.protocols = protocols;
        info.user = &s;
        info.options = tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
        /* wss:// is checked like https:// (docs/tls.md): the chain against
         * --ca-file or the system's CAs, and the host name. */
        info.client_ssl_ca_filepath = tls ? p->ca_file : NULL;
        info.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
        s.context = lws_create_context(&info);
        if (!s.context) {
                ctl_error("cannot set up a WebSocket client (libwebsockets)");
                return -ENOMEM;
        }

        r = setup_signals(s.context, &s, &old);
        if (r >= 0 && p->watch_stdin) {
                int fd = dup(STDIN_FILENO);
                r = fd < 0 ? negative_errno() : lws_watch_fd(lws_get_vhost_by_name(s.context, "default"), PROTOCOL, fd, NULL);
        }
        if (r < 0) {
                ctl_error("cannot watch signals and the terminal: %s", strerror(-r));
                lws_context_destroy(s.context);
                sigprocmask(SIG_SETMASK, &old, NULL);
                return r;
        }

        memset(&ci, 0, sizeof ci);
        ci.context = s.context;
        ci.address = p->address->host;
        ci.port = (int) p->address->port;
        ci.path = path;
        ci.host = host;
        ci.ssl_connection = !tls ? 0
                            : p->insecure ? LCCSCF_USE_SSL | LCCSCF_ALLOW_SELFSIGNED | LCCSCF_ALLOW_INSECURE |
                                                    LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_EXPIRED
                                          : LCCSCF_USE_SSL;
        ci.local_protocol_name = PROTOCOL;
        ci.retry_and_idle_policy = &retry;
        ci.pwsi = &s.wsi;
        if (!lws_client_connect_via_info(&ci) && !s.done)
                finish(&s, connection_error(&s, NULL, "connect failed"));

        if (p->tick_usec)
                lws_sul_schedule(s.context, 0, &s.tick, on_tick, (lws_usec_t) p->tick_usec);
        while (!s.done)
                if (lws_service(s.context, 0) < 0)
                        break;

        lws_sul_cancel(&s.tick);
        lws_sul_cancel(&s.give_up);
        lws_context_destroy(s.context);
        sigprocmask(SIG_SETMASK, &old, NULL);
        free(s.msg);
        return s.result;
}
