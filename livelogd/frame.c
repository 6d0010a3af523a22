/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "frame.h"
#include "macro.h"

#define HEAD_START "{\"type\":\"live_log\",\"node_id\":\""
#define HEAD_END "\",\"timestamp\":\""
#define MID "\",\"log\":\""
#define SEQ "\",\"seq\":"
#define CONTINUES ",\"continues\":true"
#define UNIT ",\"unit\":\""
#define PRIORITY ",\"priority\":"
#define JOURNAL_TS ",\"journal_timestamp\":\""

/* Bytes that cannot appear raw in a JSON string. */
static bool needs_escape(unsigned char c) {
        return c < 0x20 || c == '"' || c == '\\';
}

size_t json_escape(char *out, const char *in, size_t len) {
        static const char hex[] = "0123456789abcdef";
        char *o = out;
        size_t i = 0;

        while (i < len) {
                size_t run = i;

                while (run < len && !needs_escape((unsigned char) in[run]))
                        run++;
                memcpy(o, in + i, run - i);
                o += run - i;
                if (run == len)
                        break;

                unsigned char c = (unsigned char) in[run];
                *o++ = '\\';
                switch (c) {
                case '"':
                case '\\':
                        *o++ = (char) c;
                        break;
                case '\n':
                        *o++ = 'n';
                        break;
                case '\t':
                        *o++ = 't';
                        break;
                case '\r':
                        *o++ = 'r';
                        break;
                default:
                        *o++ = 'u';
                        *o++ = '0';
                        *o++ = '0';
                        *o++ = hex[c >> 4];
                        *o++ = hex[c & 0xF];
                }
                i = run + 1;
        }
        return (size_t) (o - out);
}

static char *put(char *o, const char *s, size_t n) {
        memcpy(o, s, n);
        return o + n;
}
#define PUT(o, lit) put((o), (lit), sizeof(lit) - 1)

void frame_writer_init(struct frame_writer *w, const char *node_id) {
        size_t n = strlen(node_id);
        char *o = w->head;

        /* A node id is a short token; one that would not fit is cut rather
         * than trusted to overflow. */
        if (n > (sizeof w->head - sizeof HEAD_START - sizeof HEAD_END) / 6)
                n = (sizeof w->head - sizeof HEAD_START - sizeof HEAD_END) / 6;
        o = PUT(o, HEAD_START);
        o += json_escape(o, node_id, n);
        o = PUT(o, HEAD_END);
        w->head_len = (size_t) (o - w->head);
        w->second = UINT64_MAX;
}

size_t json_escaped_len(const char *in, size_t len) {
        size_t n = len;

        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) in[i];

                if (!needs_escape(c))
                        continue;
                n += c == '"' || c == '\\' || c == '\n' || c == '\t' || c == '\r' ? 1 : 5;
        }
        return n;
}

size_t frame_bound(const struct frame_writer *w, const char *line, size_t len, const struct line_meta *meta) {
        size_t n = w->head_len + ISO8601_MAX + sizeof MID + json_escaped_len(line, len) + sizeof SEQ + 20 +
                   sizeof CONTINUES + 1;

        if (meta) {
                n += sizeof UNIT + (meta->unit ? json_escaped_len(meta->unit, strlen(meta->unit)) : 0) + 1;
                n += sizeof PRIORITY + 1;
                n += sizeof JOURNAL_TS + ISO8601_MAX + 1;
        }
        return n;
}

size_t frame_json(struct frame_writer *w, char *out, const char *line, size_t len, bool continues,
                  const struct line_meta *meta, uint64_t seq, uint64_t now_usec) {
        char *o = out;

        if (now_usec / USEC_PER_SEC != w->second) {
                w->second = now_usec / USEC_PER_SEC;
                format_iso8601(now_usec, w->timestamp);
        }
        o = put(o, w->head, w->head_len);
        o = put(o, w->timestamp, strlen(w->timestamp));
        o = PUT(o, MID);
        o += json_escape(o, line, len);
        o = PUT(o, SEQ);
        o += sprintf(o, "%" PRIu64, seq);
        if (continues)
                o = PUT(o, CONTINUES);
        if (meta) {
                if (meta->unit) {
                        o = PUT(o, UNIT);
                        o += json_escape(o, meta->unit, strlen(meta->unit));
                        *o++ = '"';
                }
                if (meta->priority >= 0 && meta->priority <= 7) {
                        o = PUT(o, PRIORITY);
                        *o++ = (char) ('0' + meta->priority);
                }
                if (meta->realtime_usec > 0) {
                        char ts[ISO8601_MAX];

                        format_iso8601_usec(meta->realtime_usec, ts);
                        o = PUT(o, JOURNAL_TS);
                        o = put(o, ts, strlen(ts));
                        *o++ = '"';
                }
        }
        *o++ = '}';
        return (size_t) (o - out);
}

size_t frame_with_dropped(char *out, const char *json, size_t len, uint64_t dropped) {
        /* json ends with its object's closing brace: reopen it. */
        memcpy(out, json, len - 1);
        return len - 1 + (size_t) sprintf(out + len - 1, ",\"dropped\":%" PRIu64 "}", dropped);
}
