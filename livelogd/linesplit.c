/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linesplit.h"
#include "macro.h"

struct line_splitter {
        /* The partial line: never more than one piece, since a full piece is
         * handed out as soon as it is complete. */
        char pending[LINE_PIECE_MAX];
        size_t pending_len;
        char clean[LINE_SANITISED_MAX];
};

/* ---- UTF-8 --------------------------------------------------------------- */

#define ASCII_MASK UINT64_C(0x8080808080808080)

/* Length of the well-formed sequence at p (Unicode Table 3-7), or minus the
 * length of its maximal ill-formed subpart, which becomes one U+FFFD. */
static int utf8_sequence(const unsigned char *p, const unsigned char *end) {
        unsigned char lo = 0x80, hi = 0xBF;
        int need;

        if (p[0] < 0x80)
                return 1;
        if (p[0] < 0xC2)
                return -1;
        if (p[0] < 0xE0)
                need = 2;
        else if (p[0] < 0xF0) {
                need = 3;
                if (p[0] == 0xE0)
                        lo = 0xA0; /* overlong */
                else if (p[0] == 0xED)
                        hi = 0x9F; /* surrogates */
        } else if (p[0] < 0xF5) {
                need = 4;
                if (p[0] == 0xF0)
                        lo = 0x90; /* overlong */
                else if (p[0] == 0xF4)
                        hi = 0x8F; /* beyond U+10FFFF */
        } else
                return -1;

        for (int i = 1; i < need; i++) {
                if (p + i >= end || p[i] < lo || p[i] > hi)
                        return -i;
                lo = 0x80;
                hi = 0xBF;
        }
        return need;
}

/* Bytes from s that are plain ASCII, eight at a time while that lasts. */
static size_t ascii_run(const unsigned char *s, size_t len) {
        size_t i = 0;

        for (; i + 8 <= len; i += 8) {
                uint64_t w;

                memcpy(&w, s + i, 8);
                if (w & ASCII_MASK)
                        break;
        }
        while (i < len && s[i] < 0x80)
                i++;
        return i;
}

bool utf8_valid(const char *str, size_t len) {
        const unsigned char *s = (const unsigned char *) str, *end = s + len;

        while (s < end) {
                int n;

                s += ascii_run(s, (size_t) (end - s));
                if (s == end)
                        break;
                n = utf8_sequence(s, end);
                if (n < 0)
                        return false;
                s += n;
        }
        return true;
}

size_t utf8_sanitise(const char *in, size_t len, char *out) {
        const unsigned char *s = (const unsigned char *) in, *end = s + len;
        char *o = out;

        while (s < end) {
                size_t run = ascii_run(s, (size_t) (end - s));
                int n;

                memcpy(o, s, run);
                o += run;
                s += run;
                if (s == end)
                        break;
                n = utf8_sequence(s, end);
                if (n > 0) {
                        memcpy(o, s, (size_t) n);
                        o += n;
                        s += n;
                } else {
                        memcpy(o, "\xEF\xBF\xBD", 3);
                        o += 3;
                        s += -n;
                }
        }
        return (size_t) (o - out);
}

/* ---- lines --------------------------------------------------------------- */

int line_splitter_new(struct line_splitter **ret) {
        struct line_splitter *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

struct line_splitter *line_splitter_free(struct line_splitter *s) {
        free(s);
        return NULL;
}

size_t line_splitter_pending(const struct line_splitter *s) {
        return s->pending_len;
}

static int emit(struct line_splitter *s, const char *p, size_t len, bool continues, line_handler_t cb,
                void *userdata) {
        if (!continues && len > 0 && p[len - 1] == '\r')
                len--;
        if (utf8_valid(p, len))
                return cb(p, len, continues, userdata);
        return cb(s->clean, utf8_sanitise(p, len, s->clean), continues, userdata);
}

/* Where to end a piece of at most `max` bytes of p (which holds more) so
 * that a character is not cut in two, which would turn both halves into
 * U+FFFD: a character that starts in the last three bytes and would need
 * more than what is left moves whole to the next piece. Only p[0..max) is
 * read. */
static size_t piece_end(const char *p, size_t max) {
        const unsigned char *u = (const unsigned char *) p;
        size_t i = max - 1;
        size_t need;

        while (i > 0 && max - 1 - i < 3 && (u[i] & 0xC0) == 0x80)
                i--;
        if (u[i] >= 0xC2 && u[i] <= 0xDF)
                need = 2;
        else if (u[i] >= 0xE0 && u[i] <= 0xEF)
                need = 3;
        else if (u[i] >= 0xF0 && u[i] <= 0xF4)
                need = 4;
        else
                need = 1;
        if (i > 0 && need > max - i)
                return i;
        return max;
}

/* Append to the partial line, handing out full pieces as they fill up. */
static int hold(struct line_splitter *s, const char *p, size_t len, line_handler_t cb, void *userdata) {
        while (s->pending_len + len > LINE_PIECE_MAX) {
                size_t take = LINE_PIECE_MAX - s->pending_len, cut, rest;
                int r;

                memcpy(s->pending + s->pending_len, p, take);
                p += take;
                len -= take;
                cut = piece_end(s->pending, LINE_PIECE_MAX);
                r = emit(s, s->pending, cut, true, cb, userdata);
                if (r < 0)
                        return r;
                rest = LINE_PIECE_MAX - cut;
                memmove(s->pending, s->pending + cut, rest);
                s->pending_len = rest;
        }
        memcpy(s->pending + s->pending_len, p, len);
        s->pending_len += len;
        return 0;
}

/* One complete line: straight from the caller's buffer when nothing is
 * held, which is the common case and costs no copy. */
static int complete(struct line_splitter *s, const char *p, size_t len, line_handler_t cb, void *userdata) {
        int r;

        if (s->pending_len > 0) {
                r = hold(s, p, len, cb, userdata);
                if (r < 0)
                        return r;
                len = s->pending_len;
                s->pending_len = 0;
                return emit(s, s->pending, len, false, cb, userdata);
        }
        while (len > LINE_PIECE_MAX) {
                size_t cut = piece_end(p, LINE_PIECE_MAX);

                r = emit(s, p, cut, true, cb, userdata);
                if (r < 0)
                        return r;
                p += cut;
                len -= cut;
        }
        return emit(s, p, len, false, cb, userdata);
}

int line_splitter_feed(struct line_splitter *s, const char *data, size_t len, line_handler_t cb, void *userdata) {
        const char *p = data, *end = data + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                int r;

                if (!nl)
                        return hold(s, p, (size_t) (end - p), cb, userdata);
                r = complete(s, p, (size_t) (nl - p), cb, userdata);
                if (r < 0)
                        return r;
                p = nl + 1;
        }
        return 0;
}

int line_splitter_flush(struct line_splitter *s, line_handler_t cb, void *userdata) {
        size_t len = s->pending_len;

        if (len == 0)
                return 0;
        s->pending_len = 0;
        return emit(s, s->pending, len, false, cb, userdata);
}

int line_splitter_record(struct line_splitter *s, const char *data, size_t len, line_handler_t cb, void *userdata) {
        while (len > LINE_PIECE_MAX) {
                size_t cut = piece_end(data, LINE_PIECE_MAX);
                int r = emit(s, data, cut, true, cb, userdata);

                if (r < 0)
                        return r;
                data += cut;
                len -= cut;
        }
        return emit(s, data, len, false, cb, userdata);
}
