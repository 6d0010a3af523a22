/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "frame.h"
#include "grep.h"
#include "grepcheck.h"
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
/* Matching work per writeable callback, in grep_cost() units: about a
 * millisecond (a 64 KiB line with the costliest pattern is about half
 * of it). A client whose pattern is slow on the lines at hand goes on at
 * its next turn, after everyone else had theirs: however many such
 * clients there are, the loop comes round in their number of
 * milliseconds. */
#define GREP_COST_PER_TURN (2u << 20)

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
        struct grep *grep;      /* NULL: every line */
        char peer[64];
};

/* A GET /tail being answered: streamed from the ring as the peer takes it,
 * so that it costs this and no copy of the lines, however many peers ask
 * and however slowly they read (docs/livelogs-stream.md, "GET /tail"). */
enum tail_phase {
        TAIL_FIND,  /* back from the newest line to the n-th match */
        TAIL_SEND,  /* the matches from there on, in order */
        TAIL_CLOSE, /* what ends the body */
        TAIL_DONE,
};

struct tail {
        enum tail_phase phase;
        bool text;
        bool matched; /* entry seq matches; off of its bytes are out */
        bool any;     /* a frame was sent: the next needs a comma */
        struct grep *grep;
        unsigned long want, found;
        uint64_t seq, end; /* [seq, end): what is left to look at */
        size_t off;
};

/* The per-connection area: a WebSocket client, or an HTTP request. */
union conn_area {
        struct client ws;
        struct tail http;
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

void stream_free(struct stream *st) {
        if (!st)
                return;
        ring_free(st->ring);
        free(st);
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
static int parse_options(struct lws *wsi, bool *text, struct grep **grep, char *reason, size_t reason_size) {
        char expr[GREP_PATTERN_MAX + 1], format[16], why[160];
        int r;

        *text = false;
        *grep = NULL;
        r = url_arg(wsi, "format", format, sizeof format);
        if (r >= 0 && streq(format, "text"))
                *text = true;
        else if (r != -ENOENT && !(r >= 0 && streq(format, "json"))) {
                snprintf(reason, reason_size, "format must be json or text");
                return HTTP_STATUS_BAD_REQUEST;
        }

        r = url_arg(wsi, "grep", expr, sizeof expr);
        if (r == -E2BIG) {
                snprintf(reason, reason_size, "invalid grep expression: longer than %d bytes", GREP_PATTERN_MAX);
                return HTTP_STATUS_BAD_REQUEST;
        }
        if (r <= 0) /* absent or empty: everything matches */
                return 0;
        r = grep_new(expr, (size_t) r, grep, why, sizeof why);
        if (r == -EINVAL) {
                snprintf(reason, reason_size, "invalid grep expression: %s", why);
                return HTTP_STATUS_BAD_REQUEST;
        }
        if (r < 0) {
                snprintf(reason, reason_size, "out of memory");
                return HTTP_STATUS_SERVICE_UNAVAILABLE;
        }
        return 0;
}

static bool entry_matches(const struct entry *e, const struct grep *grep) {
        return !grep || grep_match(grep, entry_text(e), e->text_len);
}

/* What matching e costs, for GREP_COST_PER_TURN. */
static size_t entry_cost(const struct entry *e, const struct grep *grep) {
        return grep ? grep_cost(grep, e->text_len) : 0;
}

/* ---- WebSocket clients -------------------------------------------------- */

static int client_filter(struct ws_server *s, struct lws *wsi, void *userdata, char *reason, size_t reason_size) {
        _cleanup_(grep_freep) struct grep *grep = NULL;
        bool text;

        /* Only validated here: a refused handshake never reaches close(),
         * so nothing may be kept. open() parses again for good. */
        return parse_options(wsi, &text, &grep, reason, reason_size);
}

static void client_open(struct ws_server *s, struct lws *wsi, void *userdata) {
        struct stream *st = ws_server_userdata(s);
        struct client *c = userdata;
        uint64_t first = ring_first(st->ring), next = ring_next(st->ring);
        char reason[256];

        c->wsi = wsi;
        lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
        (void) parse_options(wsi, &c->text, &c->grep, reason, sizeof reason);
        /* The backlog: the last `backlog` lines, or what the ring still has. */
        c->next_seq = next - first > st->backlog ? next - st->backlog : first;

        c->next = st->clients;
        if (c->next)
                c->next->prev = c;
        st->clients = c;

        log_info("Client %s connected%s%s (%u clients)", c->peer, c->text ? ", plain text" : "",
                 c->grep ? ", filtered by grep" : "", ws_server_clients(s));
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
        grep_free(c->grep);
        c->grep = NULL;
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
        size_t cost = 0;

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
        while (scanned < SCAN_PER_WRITE && cost < GREP_COST_PER_TURN && !lws_partial_buffered(wsi)) {
                const struct entry *e = entry_get(st, c->next_seq);
                int r;

                if (!e)
                        break;
                c->next_seq++;
                scanned++;
                cost += entry_cost(e, c->grep);
                if (!entry_matches(e, c->grep))
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
        return ws_http_error(resp, HTTP_STATUS_BAD_REQUEST, "bad_request", message);
}

static int stream_http(struct ws_server *s, struct lws *wsi, void *client, const char *path,
                       struct ws_http_response *resp) {
        struct stream *st = ws_server_userdata(s);
        struct tail *t = &((union conn_area *) client)->http;
        char arg[32], reason[256];
        unsigned long n = st->backlog;
        int r, status;

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
        status = parse_options(wsi, &t->text, &t->grep, reason, sizeof reason);
        if (status != 0)
                return ws_http_error(resp, status, status == HTTP_STATUS_BAD_REQUEST ? "bad_request" : "unavailable",
                                     reason);

        /* No more than a client would be replayed, out of what is there
         * now: lines that come while the answer goes out are not in it. */
        t->want = n < st->backlog ? n : st->backlog;
        t->seq = t->end = ring_next(st->ring);
        t->phase = TAIL_FIND;
        resp->status = HTTP_STATUS_OK;
        resp->content_type = t->text ? "text/plain; charset=utf-8" : "application/json";
        resp->streamed = true;
        return 0;
}

/* Back from the newest line until want matches are behind t->seq, in
 * steps bounded like a client's turn. */
static int tail_find(const struct stream *st, struct tail *t) {
        uint64_t first = ring_first(st->ring);
        unsigned scanned = 0;
        size_t cost = 0;

        if (!t->grep) {
                t->seq = t->end - first > t->want ? t->end - t->want : first;
                return 0;
        }
        while (t->found < t->want && t->seq > first) {
                const struct entry *e = entry_get(st, t->seq - 1);

                if (scanned++ >= SCAN_PER_WRITE || cost >= GREP_COST_PER_TURN)
                        return -EAGAIN;
                cost += entry_cost(e, t->grep);
                if (entry_matches(e, t->grep))
                        t->found++;
                t->seq--;
        }
        /* The oldest lines may have gone while looking. */
        if (t->seq < first)
                t->seq = first;
        return 0;
}

/* Copy what fits of the bytes [*off, end of parts) into dst. */
static size_t copy_parts(char *dst, size_t room, const char *const *part, const size_t *len, size_t nparts,
                         size_t *off) {
        size_t n = 0, skip = *off;

        for (size_t i = 0; i < nparts && n < room; i++) {
                size_t take;

                if (skip >= len[i]) {
                        skip -= len[i];
                        continue;
                }
                take = len[i] - skip < room - n ? len[i] - skip : room - n;
                memcpy(dst + n, part[i] + skip, take);
                n += take;
                skip = 0;
        }
        *off += n;
        return n;
}

static ssize_t tail_body(struct ws_server *s, struct lws *wsi, void *client, char *buf, size_t size) {
        const struct stream *st = ws_server_userdata(s);
        struct tail *t = &((union conn_area *) client)->http;
        unsigned scanned = 0;
        size_t n = 0, cost = 0;
        int r;

        if (t->phase == TAIL_FIND) {
                r = tail_find(st, t);
                if (r < 0)
                        return r;
                t->phase = TAIL_SEND;
                t->off = 0;
        }
        while (n < size && t->phase != TAIL_DONE) {
                const struct entry *e;
                const char *part[3];
                size_t len[3];

                if (t->phase == TAIL_CLOSE) {
                        part[0] = t->text ? "" : t->any ? "]\n" : "[]\n";
                        len[0] = strlen(part[0]);
                        n += copy_parts(buf + n, size - n, part, len, 1, &t->off);
                        if (t->off == len[0])
                                t->phase = TAIL_DONE;
                        continue;
                }
                if (t->seq == t->end) {
                        t->phase = TAIL_CLOSE;
                        t->off = 0;
                        continue;
                }
                e = entry_get(st, t->seq);
                if (!e)
                        /* The log pushed it out of the ring before this peer
                         * took it: the answer cannot be whole, so it is not
                         * finished (a chunked body without its end). */
                        return -EPIPE;
                if (!t->matched) {
                        if (scanned++ >= SCAN_PER_WRITE || cost >= GREP_COST_PER_TURN)
                                break;
                        cost += entry_cost(e, t->grep);
                        if (!entry_matches(e, t->grep)) {
                                t->seq++;
                                continue;
                        }
                        t->matched = true;
                        t->off = 0;
                }
                if (t->text) {
                        part[0] = entry_text(e), len[0] = e->text_len;
                        part[1] = "\n", len[1] = 1;
                } else {
                        part[0] = t->any ? "," : "[", len[0] = 1;
                        part[1] = entry_json(e), len[1] = e->json_len;
                }
                n += copy_parts(buf + n, size - n, part, len, 2, &t->off);
                if (t->off == len[0] + len[1]) {
                        t->matched = false;
                        t->any = true;
                        t->seq++;
                }
        }
        if (n > 0)
                return (ssize_t) n;
        return t->phase == TAIL_DONE ? 0 : -EAGAIN;
}

static void tail_done(struct ws_server *s, struct lws *wsi, void *client) {
        struct tail *t = &((union conn_area *) client)->http;

        grep_free(t->grep);
        t->grep = NULL;
}

const struct ws_server_ops stream_ops = {
        .protocol = "resolvix-livelogs",
        .client_size = sizeof(union conn_area),
        .filter = client_filter,
        .open = client_open,
        .close = client_close,
        .message = client_message,
        .writeable = client_writeable,
        .http = stream_http,
        .http_body = tail_body,
        .http_done = tail_done,
};
