/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>

#include "grow.h"
#include "history.h"
#include "jsonutil.h"
#include "log.h"
#include "sample-json.h"
#include "telemetryd.h"
#include "timeutil.h"
#include "utf8.h"

/* The first sample follows the priming reading by this much, so that its
 * CPU percents cover a real window (20 jiffies at HZ=100) without making
 * a client that connects at start-up wait. */
#define PRIME_USEC (200 * USEC_PER_MSEC)
/* A request for current values reuses a sample younger than this. */
#define FRESH_USEC USEC_PER_SEC
#define FRAME_MAX (16u << 20)
/* The kernel's send buffer for a client. Left to autotuning it grows to
 * tcp_wmem's 4 MiB when the peer stops reading: thousands of stale samples
 * the client would have to wade through before the newest, and gigabytes of
 * kernel memory across many such clients. A few frames' worth keeps "latest
 * wins" true beyond our own process and is plenty for one frame a second. */
#define CLIENT_SNDBUF (16 * 1024)

struct client {
        struct client *prev, *next; /* every open client, for the broadcast */
        struct lws *wsi;
        uint64_t generation; /* of the last frame sent; 0 = none yet */
        bool want_sample;    /* just connected, or asked with get_metrics */
        bool failed;         /* a write failed: close at the next chance */
        /* The answer to get_history, sent before any sample (LWS_PRE
         * headroom); one at a time, a newer request replaces it. */
        unsigned char *history;
        size_t history_len;
        char peer[64];
};

static int send_frame(struct telemetry *t, struct lws *wsi, struct client *c) {
        if (c->generation > 0 && t->generation > c->generation + 1)
                t->frames_coalesced += t->generation - c->generation - 1;
        c->generation = t->generation;
        c->want_sample = false;
        if (ws_send_text(wsi, t->frame + LWS_PRE, t->frame_len) < 0) {
                c->failed = true;
                return -1;
        }
        return 0;
}

/* Write the new frame straight onto every client's socket, rather than
 * asking lws for a writeable callback per client: that costs lws a pass
 * over all its fds in poll() and a lookup for each one, which grew to three
 * quarters of a broadcast. Writing outside the callback is safe when
 * nothing of this client's is still queued in lws (lws_write() queues what
 * the socket does not take and asks for POLLOUT itself); a client that
 * still has some gets the writeable callback, which sends it the newest
 * frame once it has caught up. */
static void broadcast(struct telemetry *t) {
        for (struct client *c = t->clients; c; c = c->next) {
                if (c->failed || lws_partial_buffered(c->wsi) || send_frame(t, c->wsi, c) < 0)
                        lws_callback_on_writable(c->wsi);
        }
}

static uint64_t custom_generation(const struct telemetry *t) {
        const struct metric_store *store = ingest_store(t->ingest);

        return store ? metric_store_generation(store) : 0;
}

static bool custom_at(const void *data, size_t i, struct sample_custom *ret) {
        const struct metric *m = metric_store_at(data, i);
        struct metric_point p;

        if (metric_size(m) == 0)
                return false;
        p = metric_point_at(m, metric_size(m) - 1);
        *ret = (struct sample_custom){ .name = metric_name(m), .value = p.value, .timestamp = p.timestamp };
        return true;
}

static int serialise(struct telemetry *t) {
        const struct metric_store *store = ingest_store(t->ingest);
        struct sample_custom_source custom = {
                .n = store ? metric_store_size(store) : 0,
                .at = custom_at,
                .data = store,
        };

        t->custom_generation = custom_generation(t);
        for (;;) {
                struct json_writer w;
                ssize_t n = -ENOBUFS;
                int r;

                if (t->frame_size > LWS_PRE) {
                        json_writer_into(&w, (char *) t->frame + LWS_PRE, t->frame_size - LWS_PRE);
                        n = sample_write_json(&w, t->sample, t->node_id, t->interval, &custom);
                }
                if (n >= 0) {
                        t->frame_len = (size_t) n;
                        return 0;
                }
                if (n != -ENOBUFS)
                        return (int) n;
                if (t->frame_size >= FRAME_MAX)
                        return -EFBIG;
                r = GROW(t->frame, t->frame_size, t->frame_size + 1, 4096);
                if (r < 0)
                        return r;
        }
}

static int serialise_or_log(struct telemetry *t) {
        int r = serialise(t);

        if (r < 0) {
                t->frame_len = 0;
                return log_error_errno(r, "Failed to serialise sample %llu: %m", (unsigned long long) t->sample->seq);
        }
        return 0;
}

/* Take a sample and make it the frame new and lagging clients get. */
static int take(struct telemetry *t) {
        int r;

        r = sampler_take(t->sampler, &t->sample);
        if (r < 0)
                return log_error_errno(r, "Failed to take a sample: %m");
        t->samples++;
        if (t->history)
                history_add(t->history, t->sample);
        r = serialise_or_log(t);
        if (r < 0)
                return r;
        log_debug("Sample %llu: %zu bytes, taken in %llu µs", (unsigned long long) t->sample->seq, t->frame_len,
                  (unsigned long long) t->sample->duration_usec);
        return 0;
}

static void schedule(struct telemetry *t, uint64_t at_usec);

static void tick(lws_sorted_usec_list_t *sul) {
        struct telemetry *t = lws_container_of(sul, struct telemetry, tick);
        uint64_t now = now_usec(CLOCK_MONOTONIC), next;

        if (take(t) >= 0 && !ws_server_stopping(t->server)) {
                t->generation++;
                broadcast(t);
        }
        /* Keep the cadence from drifting by the time sampling takes; after
         * a stall (suspend, a stopped process) start again from now rather
         * than firing the missed ticks in a burst. */
        next = t->next_tick_usec + (uint64_t) t->interval * USEC_PER_SEC;
        if (next <= now)
                next = now + (uint64_t) t->interval * USEC_PER_SEC;
        schedule(t, next);
}

static void schedule(struct telemetry *t, uint64_t at_usec) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        t->next_tick_usec = at_usec;
        lws_sul_schedule(ws_server_context(t->server), 0, &t->tick, tick,
                         (lws_usec_t) (at_usec > now ? at_usec - now : 0));
}

void telemetry_start(struct telemetry *t) {
        int r = sampler_prime(t->sampler);

        if (r < 0)
                log_warning_errno(r, "Failed to take the priming reading, the first CPU percents will be zero: %m");
        schedule(t, now_usec(CLOCK_MONOTONIC) + PRIME_USEC);
}

int telemetry_fresh_sample(struct telemetry *t) {
        int r;

        if (t->sample && t->frame_len > 0 &&
            now_usec(CLOCK_MONOTONIC) - t->sample->monotonic_usec < FRESH_USEC)
                /* Recent enough; a point put since it was serialised shows
                 * at once all the same. */
                return t->custom_generation == custom_generation(t) ? 0 : serialise_or_log(t);
        /* Not a scheduled sample: it keeps the last one's seq and is not
         * counted, so a stream client never sees a gap that someone else's
         * request made (docs/telemetry-stream.md); and the generation
         * stays, so connected clients are not sent it, only those who asked. */
        r = sampler_peek(t->sampler, &t->sample);
        if (r < 0)
                return log_error_errno(r, "Failed to take a sample: %m");
        return serialise_or_log(t);
}

static void stream_open(struct ws_server *s, struct lws *wsi, void *userdata) {
        struct telemetry *t = ws_server_userdata(s);
        struct client *c = userdata;
        unsigned n = ws_server_clients(s);
        int fd = lws_get_socket_fd(wsi), size = CLIENT_SNDBUF;

        if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) < 0)
                log_debug_errno(errno, "Cannot limit the send buffer of a client: %m");
        lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
        c->wsi = wsi;
        c->next = t->clients;
        if (c->next)
                c->next->prev = c;
        t->clients = c;
        log_info("Client %s connected (%u client%s)", c->peer, n, n == 1 ? "" : "s");
        /* The newest sample at once; before the first one exists, the
         * first tick's wake-up of every client delivers it. */
        c->want_sample = true;
        if (t->frame_len > 0)
                lws_callback_on_writable(wsi);
}

static void stream_close(struct ws_server *s, struct lws *wsi, void *userdata) {
        struct telemetry *t = ws_server_userdata(s);
        struct client *c = userdata;
        unsigned n = ws_server_clients(s);

        if (c->prev)
                c->prev->next = c->next;
        else if (t->clients == c)
                t->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        free(c->history);

        log_info("Client %s disconnected (%u client%s)", c->peer, n, n == 1 ? "" : "s");
}

_printf_(3, 4) static void reply_error(struct lws *wsi, const char *detail, const char *fmt, ...) {
        _cleanup_json_ cJSON *j = cJSON_CreateObject();
        _cleanup_free_ char *text = NULL;
        char message[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(message, sizeof message, fmt, ap);
        va_end(ap);
        /* Built with cJSON so that whatever the client sent comes back
         * escaped. */
        if (!j || !cJSON_AddStringToObject(j, "type", "error") || !cJSON_AddStringToObject(j, "error", detail) ||
            !cJSON_AddStringToObject(j, "message", message) || !(text = json_print(j)))
                return;
        (void) ws_reply_textf(wsi, "%s", text);
}

static void stream_message(struct ws_server *s, struct lws *wsi, void *userdata, const char *msg, size_t len) {
        struct telemetry *t = ws_server_userdata(s);
        struct client *c = userdata;
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(msg, len);
        const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(j, "command");
        char name[64], safe[3 * sizeof name];

        if (!cJSON_IsObject(j)) {
                reply_error(wsi, "invalid_json", "Messages are JSON objects such as {\"command\":\"ping\"}.");
                return;
        }
        if (!cJSON_IsString(cmd)) {
                reply_error(wsi, "missing_command", "The message has no \"command\" string.");
                return;
        }
        if (streq(cmd->valuestring, "ping")) {
                (void) ws_reply_textf(wsi, "{\"type\":\"pong\"}");
                return;
        }
        if (streq(cmd->valuestring, "get_metrics")) {
                if (telemetry_fresh_sample(t) < 0) {
                        reply_error(wsi, "sample_failed", "No sample could be taken, see the server's log.");
                        return;
                }
                c->want_sample = true;
                lws_callback_on_writable(wsi);
                return;
        }
        if (streq(cmd->valuestring, "get_history")) {
                const cJSON *since = cJSON_GetObjectItemCaseSensitive(j, "since");

                if (since && (!cJSON_IsNumber(since) || since->valuedouble < 0 || since->valuedouble > 1e11)) {
                        reply_error(wsi, "invalid_since", "\"since\" is seconds since the epoch, 0 or more.");
                        return;
                }
                free(c->history);
                c->history = NULL;
                if (telemetry_history(t, since ? (int64_t) since->valuedouble : 0, &c->history, &c->history_len) < 0) {
                        reply_error(wsi, "history_failed", "The history could not be written, see the server's log.");
                        return;
                }
                lws_callback_on_writable(wsi);
                return;
        }
        snprintf(name, sizeof name, "%s", cmd->valuestring);
        reply_error(wsi, "unknown_command", "Unknown command \"%s\"; expected get_metrics, get_history or ping.",
                    utf8_repair_str(name, safe, sizeof safe));
}

static int stream_writeable(struct ws_server *s, struct lws *wsi, void *userdata) {
        struct telemetry *t = ws_server_userdata(s);
        struct client *c = userdata;

        if (c->failed)
                return -1;
        if (c->history) {
                _cleanup_free_ unsigned char *h = TAKE_PTR(c->history);

                if (ws_send_text(wsi, h + LWS_PRE, c->history_len) < 0)
                        return -1;
                /* The sample it may also wait for goes at the next chance. */
                lws_callback_on_writable(wsi);
                return 0;
        }
        if (t->frame_len == 0 || (!c->want_sample && c->generation == t->generation))
                return 0;
        return send_frame(t, wsi, c);
}

static int stream_http(struct ws_server *s, struct lws *wsi, void *client, const char *path,
                       struct ws_http_response *resp) {
        struct telemetry *t = ws_server_userdata(s);
        int r;

        if (streq(path, "/sample")) {
                r = telemetry_fresh_sample(t);
                if (r < 0)
                        return r;
                resp->body = malloc(t->frame_len + 1);
                if (!resp->body)
                        return -ENOMEM;
                memcpy(resp->body, t->frame + LWS_PRE, t->frame_len);
                resp->body[t->frame_len] = '\n';
                resp->len = t->frame_len + 1;
                resp->status = 200;
                resp->content_type = "application/json";
                return 0;
        }
        if (streq(path, "/history")) {
                char arg[32];
                const char *v = lws_get_urlarg_by_name(wsi, "since=", arg, sizeof arg);
                unsigned char *h;
                long long since = 0;
                char *end;

                if (v) {
                        errno = 0;
                        since = strtoll(v, &end, 10);
                        if (errno != 0 || end == v || *end != '\0' || since < 0)
                                return ws_http_error(resp, 400, "invalid_since",
                                                     "since must be seconds since the epoch, 0 or more");
                }
                r = telemetry_history(t, since, &h, &resp->len);
                if (r < 0)
                        return r;
                /* The body is the frame without its headroom. */
                memmove(h, h + LWS_PRE, resp->len);
                resp->body = (char *) h;
                resp->status = 200;
                resp->content_type = "application/json";
                return 0;
        }
        if (streq(path, "/metrics")) {
                r = telemetry_metrics(t, &resp->body, &resp->len);
                if (r < 0)
                        return r;
                resp->status = 200;
                resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
                return 0;
        }
        return -ENOENT;
}

int telemetry_history(struct telemetry *t, int64_t since, unsigned char **ret, size_t *len) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        unsigned char *frame;
        FILE *f;
        int r;

        if (!t->history)
                return -ENODATA;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        /* Headroom first, so the frame is the buffer itself. */
        fprintf(f, "%*s", LWS_PRE, "");
        r = history_write_json(t->history, since > INT64_MAX / 1000 ? INT64_MAX : since * 1000, t->interval, f);
        if (fclose(f) != 0 || r < 0)
                return log_error_errno(r < 0 ? r : -ENOMEM, "Failed to write the history: %m");
        frame = (unsigned char *) TAKE_PTR(buf);
        *ret = frame;
        *len = size - LWS_PRE;
        return 0;
}

static void stream_signal(struct ws_server *s, const struct signalfd_siginfo *si) {
        struct telemetry *t = ws_server_userdata(s);
        int v = si->ssi_int;

        if ((int) si->ssi_signo != RESOLVIX_SIGNAL_INTERVAL) {
                log_debug("Ignoring signal %u: the configuration is read at start only", si->ssi_signo);
                return;
        }
        if (v < 1 || v > 86400) {
                log_notice("Ignoring an interval change to %d s from pid %u: expected 1..86400", v, si->ssi_pid);
                return;
        }
        log_info("Interval changed from %u s to %d s", t->interval, v);
        t->interval = (unsigned) v;
        /* Sample now and keep the new cadence from here: waiting out the
         * rest of an old 60 s period would leave clients without data. */
        schedule(t, now_usec(CLOCK_MONOTONIC));
}

const struct ws_server_ops telemetry_ops = {
        .protocol = "resolvix-telemetry",
        .client_size = sizeof(struct client),
        .open = stream_open,
        .close = stream_close,
        .message = stream_message,
        .writeable = stream_writeable,
        .http = stream_http,
        .signal = stream_signal,
};
