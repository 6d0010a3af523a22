/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "linesplit.h"
#include "macro.h"
#include "utf8.h"

struct line_splitter {
        /* The partial line: never more than one piece, since a full piece is
         * handed out as soon as it is complete. */
        char pending[LINE_PIECE_MAX];
        size_t pending_len;
        char clean[LINE_SANITISED_MAX];
};

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
        return cb(s->clean, utf8_repair(p, len, s->clean), continues, userdata);
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
