/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "frame.h"
#include "jsonutil.h"
#include "log.h"
#include "macro.h"
#include "ring.h"
#include "stream.h"
#include "timeutil.h"

/* The ring holds at least the backlog, and at least this much: enough for
 * a client to ride out a burst of some thousands of lines. */
#define RING_MIN_BYTES (1024 * 1024)
#define RING_MAX_BYTES (64 * 1024 * 1024)
#define RING_BYTES_PER_LINE 1024
#define RING_BYTES_PER_SLOT 256

/* Ring entries looked at per writeable callback: bounds the work for a
 * client whose grep matches nothing, or whose socket never fills. */
#define SCAN_PER_WRITE 4096

#define GREP_MAX 512

/* At the start of every ring entry; the JSON frame follows at JSON_OFF,
 * the raw line (for grep and ?format=text) at text_off. Both have LWS_PRE
 * bytes in front for libwebsockets to write the frame header into. */
struct entry {
        uint32_t json_len;
        uint32_t text_off;
        uint32_t text_len;
        uint32_t unused;
};
#define JSON_OFF (sizeof(struct entry) + LWS_PRE)

struct client {
        struct client *prev, *next;
        struct lws *wsi;
        uint64_t next_seq;
        uint64_t dropped;       /* lost and not yet reported */
        uint64_t sent, dropped_total;
        bool text;
        bool has_grep;
        regex_t grep;
        char peer[64];
};

struct stream {
        struct ring *ring;
        struct frame_writer fw;
        unsigned backlog;
        struct client *clients;
        bool dirty;
        void (*drained)(void *userdata);
        void *drained_data;
};

static size_t align8(size_t n) {
        return (n + 7) & ~(size_t) 7;
}

static const struct entry *entry_get(const struct stream *st, uint64_t seq) {
        size_t len;

        return ring_get(st->ring, seq, &len);
}

static char *entry_json(const struct entry *e) {
        return (char *) e + JSON_OFF;
}

static char *entry_text(const struct entry *e) {
        return (char *) e + e->text_off;
}

int stream_new(const char *node_id, unsigned backlog, struct stream **ret) {
        _cleanup_(stream_freep) struct stream *st = NULL;
        size_t bytes = (size_t) backlog * RING_BYTES_PER_LINE;
        size_t slots;
        int r;

        if (bytes < RING_MIN_BYTES)
                bytes = RING_MIN_BYTES;
        if (bytes > RING_MAX_BYTES)
                bytes = RING_MAX_BYTES;
        slots = bytes / RING_BYTES_PER_SLOT;
        if (slots < backlog)
                slots = backlog;

        st = calloc(1, sizeof *st);
        if (!st)
                return -ENOMEM;
        r = ring_new(bytes, slots, &st->ring);
        if (r < 0)
                return r;
        frame_writer_init(&st->fw, node_id);
        st->backlog = backlog;
        *ret = TAKE_PTR(st);
        return 0;
}

struct stream *stream_free(struct stream *st) {
        if (!st)
                return NULL;
        ring_free(st->ring);
        free(st);
        return NULL;
}

size_t stream_backlog_bytes(const struct stream *st) {
        return ring_arena_size(st->ring) / 2;
}

int stream_line(const char *line, size_t len, bool continues, const struct line_meta *meta, void *userdata) {
        struct stream *st = userdata;
        size_t bound = frame_bound(&st->fw, line, len, meta), n, text_off;
        struct entry *e;
        char *p;

        p = ring_reserve(st->ring, JSON_OFF + align8(bound) + LWS_PRE + len + 1);
        if (!p)
                return -E2BIG; /* cannot happen: the ring holds the largest line */
        n = frame_json(&st->fw, p + JSON_OFF, line, len, continues, meta, ring_next(st->ring),
                       now_usec(CLOCK_REALTIME));
        text_off = JSON_OFF + align8(n) + LWS_PRE;
        memcpy(p + text_off, line, len);
        p[text_off + len] = '\0';
        e = (struct entry *) p;
        *e = (struct entry){ .json_len = (uint32_t) n, .text_off = (uint32_t) text_off, .text_len = (uint32_t) len };
        (void) ring_commit(st->ring, text_off + len + 1);
        st->dirty = true;
        return 0;
}

bool stream_drained(const struct stream *st) {
        if (!st->clients)
                return true;
        for (const struct client *c = st->clients; c; c = c->next)
                if (c->next_seq >= ring_next(st->ring))
                        return true;
        return false;
}

void stream_when_drained(struct stream *st, void (*cb)(void *userdata), void *userdata) {
        st->drained = cb;
        st->drained_data = userdata;
}

static void notify_drained(struct stream *st) {
        void (*cb)(void *) = st->drained;

        if (!cb || !stream_drained(st))
                return;
        st->drained = NULL;
        cb(st->drained_data);
}

void stream_flush(struct stream *st) {
        if (!st->dirty)
                return;
        st->dirty = false;
        for (struct client *c = st->clients; c; c = c->next)
                lws_callback_on_writable(c->wsi);
}

/* ---- query arguments ---------------------------------------------------- */

/* The value of ?name=..., urldecoded by lws, NUL-terminated. -ENOENT when
 * absent, -E2BIG when it does not fit (lws_get_urlarg_by_name() would
 * report that as absent, which would silently drop a filter). */
static int url_arg(struct lws *wsi, const char *name, char *buf, size_t size) {
        size_t name_len = strlen(name);

        for (int i = 0; i < 64; i++) {
                int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
                _cleanup_free_ char *frag = NULL;

                if (len <= 0)
                        break;
                frag = malloc((size_t) len + 1);
                if (!frag)
                        return -ENOMEM;
                if (lws_hdr_copy_fragment(wsi, frag, len + 1, WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
                        continue;
                if (!strneq(frag, name, name_len) || frag[name_len] != '=')
                        continue;
                if ((size_t) len - name_len - 1 >= size)
                        return -E2BIG;
                memcpy(buf, frag + name_len + 1, (size_t) len - name_len);
                return len - (int) name_len - 1;
        }
        return -ENOENT;
}

/* What a client asked for with ?format= and ?grep=. Returns 0, or an HTTP
 * status with the reason. */
static int parse_options(struct lws *wsi, bool *text, bool *has_grep, regex_t *grep, char *reason,
                         size_t reason_size) {
        char expr[GREP_MAX + 1], format[16];
        int r, e;

        *text = false;
        *has_grep = false;
        r = url_arg(wsi, "format", format, sizeof format);
        if (r >= 0 && streq(format, "text"))
                *text = true;
        else if (r != -ENOENT && !(r >= 0 && streq(format, "json"))) {
                snprintf(reason, reason_size, "format must be json or text");
                return HTTP_STATUS_BAD_REQUEST;
        }

        r = url_arg(wsi, "grep", expr, sizeof expr);
        if (r == -E2BIG) {
                snprintf(reason, reason_size, "grep expression longer than %d bytes", GREP_MAX);
                return HTTP_STATUS_BAD_REQUEST;
        }
        if (r <= 0) /* absent or empty: everything matches */
                return 0;
        e = regcomp(grep, expr, REG_EXTENDED | REG_NOSUB);
        if (e != 0) {
                char msg[160];

                regerror(e, grep, msg, sizeof msg);
                snprintf(reason, reason_size, "invalid grep expression: %s", msg);
                return HTTP_STATUS_BAD_REQUEST;
        }
        *has_grep = true;
        return 0;
}

static bool entry_matches(const struct entry *e, bool has_grep, const regex_t *grep) {
        /* REG_STARTEND: the line's own length, NULs in it included. */
        regmatch_t m = { .rm_so = 0, .rm_eo = (regoff_t) e->text_len };

        return !has_grep || regexec(grep, entry_text(e), 1, &m, REG_STARTEND) == 0;
}

/* ---- WebSocket clients -------------------------------------------------- */

static int client_filter(struct ws_server *s, struct lws *wsi, void *userdata, char *reason, size_t reason_size) {
        bool text, has_grep;
        regex_t grep;
        int status;

        /* Only validated here: a refused handshake never reaches close(),
         * so nothing may be kept. open() parses again for good. */
        status = parse_options(wsi, &text, &has_grep, &grep, reason, reason_size);
        if (has_grep)
                regfree(&grep);
        return status;
}

static void client_open(struct ws_server *s, struct lws *wsi, void *userdata) {
        struct stream *st = ws_server_userdata(s);
        struct client *c = userdata;
        uint64_t first = ring_first(st->ring), next = ring_next(st->ring);
        char reason[256];

        c->wsi = wsi;
        lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
        (void) parse_options(wsi, &c->text, &c->has_grep, &c->grep, reason, sizeof reason);
        /* The backlog: the last `backlog` lines, or what the ring still has. */
        c->next_seq = next - first > st->backlog ? next - st->backlog : first;

        c->next = st->clients;
        if (c->next)
                c->next->prev = c;
        st->clients = c;

        log_info("Client %s connected%s%s (%u clients)", c->peer, c->text ? ", plain text" : "",
                 c->has_grep ? ", filtered by grep" : "", ws_server_clients(s));
}

static void client_close(struct ws_server *s, struct lws *wsi, void *userdata) {
        struct stream *st = ws_server_userdata(s);
        struct client *c = userdata;

        if (c->prev)
                c->prev->next = c->next;
        else
                st->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        if (c->has_grep)
                regfree(&c->grep);
        log_info("Client %s disconnected after %" PRIu64 " lines (%" PRIu64 " dropped; %u clients left)", c->peer,
                 c->sent, c->dropped_total, ws_server_clients(s));
        notify_drained(st);
}

static void client_message(struct ws_server *s, struct lws *wsi, void *userdata, const char *msg, size_t len) {
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(msg, len);
        cJSON *cmd = cJSON_GetObjectItemCaseSensitive(j, "command");

        if (!j)
                (void) ws_reply_textf(wsi, "{\"type\":\"error\",\"error\":\"invalid_json\","
                                           "\"message\":\"messages must be JSON objects like {\\\"command\\\":\\\"ping\\\"}\"}");
        else if (cJSON_IsString(cmd) && streq(cmd->valuestring, "ping"))
                (void) ws_reply_textf(wsi, "{\"type\":\"pong\"}");
        else
                (void) ws_reply_textf(wsi, "{\"type\":\"error\",\"error\":\"unknown_command\","
                                           "\"message\":\"the only command is ping; lines are sent without asking\"}");
}

/* ---- sending ------------------------------------------------------------ */

/* Small frames go out many to a send(): a loopback reader takes lines far
 * faster than one system call (and one poll() round) per line allows.
 * They are framed here and handed to lws as raw bytes, which lws sends (or
 * queues, if the socket is full) without looking inside; every batch holds
 * whole frames only, so lws' own control frames never land in the middle
 * of one. lws passes at most rx_buffer_size (4096) to one send(): a batch
 * that size is one system call, never a copy. */
#define TX_BATCH 4096
#define WS_HEADER_MAX 10

struct batch {
        struct lws *wsi;
        size_t len;
        unsigned frames;
        unsigned char buf[LWS_PRE + TX_BATCH];
};

static size_t ws_text_header(unsigned char *h, size_t len) {
        h[0] = 0x81; /* FIN, text */
        if (len < 126) {
                h[1] = (unsigned char) len;
                return 2;
        }
        if (len < 65536) {
                h[1] = 126;
                h[2] = (unsigned char) (len >> 8);
                h[3] = (unsigned char) len;
                return 4;
        }
        h[1] = 127;
        for (int i = 0; i < 8; i++)
                h[2 + i] = (unsigned char) ((uint64_t) len >> (56 - 8 * i));
        return 10;
}

static int batch_flush(struct batch *b) {
        size_t len = b->len;

        unsigned frames = b->frames;

        if (len == 0)
                return 0;
        b->len = 0;
        b->frames = 0;
        return ws_send_frames(b->wsi, b->buf + LWS_PRE, len, frames);
}

/* One text frame. payload has LWS_PRE bytes of headroom, for a frame too
 * big to batch, which lws frames and sends itself. */
static int batch_add(struct batch *b, const char *payload, size_t len) {
        if (len > TX_BATCH - WS_HEADER_MAX) {
                if (batch_flush(b) < 0)
                        return -1;
                return ws_send_text(b->wsi, (unsigned char *) payload, len);
        }
        if (b->len + WS_HEADER_MAX + len > TX_BATCH && batch_flush(b) < 0)
                return -1;
        b->len += ws_text_header(b->buf + LWS_PRE + b->len, len);
        memcpy(b->buf + LWS_PRE + b->len, payload, len);
        b->len += len;
        b->frames++;
        return 0;
}

/* The frame for a client that lost lines before it: the shared one with
 * "dropped" added. Rare enough to allocate. */
static int add_with_dropped(struct batch *b, struct client *c, const struct entry *e) {
        _cleanup_free_ char *buf = malloc(LWS_PRE + e->json_len + FRAME_DROPPED_EXTRA);

        if (!buf)
                return -1;
        return batch_add(b, buf + LWS_PRE, frame_with_dropped(buf + LWS_PRE, entry_json(e), e->json_len, c->dropped));
}

/* Plain text has no field to say it: a line of its own does, in the style
 * of journalctl's "-- ... --" markers. */
static int add_text_dropped(struct batch *b, struct client *c) {
        char buf[LWS_PRE + 64];
        int n = snprintf(buf + LWS_PRE, 64, "-- livelogd: %" PRIu64 " lines dropped --", c->dropped);

        return batch_add(b, buf + LWS_PRE, (size_t) n);
}

static int client_writeable(struct ws_server *s, struct lws *wsi, void *userdata) {
        struct stream *st = ws_server_userdata(s);
        struct client *c = userdata;
        uint64_t first = ring_first(st->ring);
        struct batch b = { .wsi = wsi };
        unsigned scanned = 0;

        if (c->next_seq < first) {
                c->dropped += first - c->next_seq;
                c->dropped_total += first - c->next_seq;
                c->next_seq = first;
        }
        if (c->text && c->dropped > 0) {
                if (add_text_dropped(&b, c) < 0)
                        return -1;
                c->dropped = 0;
        }

        /* Until the socket is full (lws then holds the rest of a send):
         * several writes per callback are allowed while nothing is left
         * buffered. */
        while (scanned < SCAN_PER_WRITE && !lws_partial_buffered(wsi)) {
                const struct entry *e = entry_get(st, c->next_seq);
                int r;

                if (!e)
                        break;
                c->next_seq++;
                scanned++;
                if (!entry_matches(e, c->has_grep, &c->grep))
                        continue;
                if (c->text)
                        r = batch_add(&b, entry_text(e), e->text_len);
                else if (c->dropped > 0) {
                        r = add_with_dropped(&b, c, e);
                        c->dropped = 0;
                } else
                        r = batch_add(&b, entry_json(e), e->json_len);
                if (r < 0)
                        return -1;
                c->sent++;
        }
        if (batch_flush(&b) < 0)
                return -1;
        if (c->next_seq < ring_next(st->ring))
                lws_callback_on_writable(wsi);
        else
                notify_drained(st);
        return 0;
}

/* ---- GET /tail ---------------------------------------------------------- */

static int bad_request(struct ws_http_response *resp, const char *message) {
        _cleanup_json_ cJSON *j = cJSON_CreateObject();

        cJSON_AddStringToObject(j, "status", "error");
        cJSON_AddStringToObject(j, "detail", "bad_request");
        cJSON_AddStringToObject(j, "message", message);
        resp->body = cJSON_PrintUnformatted(j);
        if (!resp->body)
                return -ENOMEM;
        resp->status = HTTP_STATUS_BAD_REQUEST;
        resp->content_type = "application/json";
        resp->len = strlen(resp->body);
        return 0;
}

static int stream_http(struct ws_server *s, struct lws *wsi, void *client, const char *path,
                       struct ws_http_response *resp) {
        struct stream *st = ws_server_userdata(s);
        uint64_t first = ring_first(st->ring), seq = ring_next(st->ring);
        char arg[32], reason[256], *p;
        unsigned long n = st->backlog, found = 0;
        bool text, has_grep;
        regex_t grep;
        size_t size = 4;
        int r;

        if (!streq(path, "/tail"))
                return -ENOENT;

        r = url_arg(wsi, "n", arg, sizeof arg);
        if (r >= 0) {
                char *end;

                errno = 0;
                n = strtoul(arg, &end, 10);
                if (r == 0 || *end != '\0' || errno != 0 || arg[0] == '-')
                        return bad_request(resp, "n must be a whole number of lines");
        } else if (r != -ENOENT)
                return bad_request(resp, "n must be a whole number of lines");
        /* No more than a client would be replayed. */
        if (n > st->backlog)
                n = st->backlog;
        if (parse_options(wsi, &text, &has_grep, &grep, reason, sizeof reason) != 0)
                return bad_request(resp, reason);

        /* Back from the newest to the n-th match, then out in order. */
        while (found < n && seq > first) {
                const struct entry *e = entry_get(st, --seq);

                if (!entry_matches(e, has_grep, &grep))
                        continue;
                found++;
                size += (text ? e->text_len : e->json_len) + 1;
        }
        resp->body = p = malloc(size);
        if (!resp->body) {
                if (has_grep)
                        regfree(&grep);
                return -ENOMEM;
        }
        if (!text)
                *p++ = '[';
        for (uint64_t end = ring_next(st->ring); seq < end; seq++) {
                const struct entry *e = entry_get(st, seq);

                if (!entry_matches(e, has_grep, &grep))
                        continue;
                if (text) {
                        memcpy(p, entry_text(e), e->text_len);
                        p += e->text_len;
                        *p++ = '\n';
                } else {
                        if (p[-1] != '[')
                                *p++ = ',';
                        memcpy(p, entry_json(e), e->json_len);
                        p += e->json_len;
                }
        }
        if (!text) {
                *p++ = ']';
                *p++ = '\n';
        }
        if (has_grep)
                regfree(&grep);
        resp->status = HTTP_STATUS_OK;
        resp->content_type = text ? "text/plain; charset=utf-8" : "application/json";
        resp->len = (size_t) (p - resp->body);
        return 0;
}

const struct ws_server_ops stream_ops = {
        .protocol = "resolvix-livelogs",
        .client_size = sizeof(struct client),
        .filter = client_filter,
        .open = client_open,
        .close = client_close,
        .message = client_message,
        .writeable = client_writeable,
        .http = stream_http,
};
