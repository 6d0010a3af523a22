/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Turns a byte stream into the lines livelogd sends, with no I/O of its own:
 * bytes go in as they were read, complete lines come out through a callback.
 *
 *  - A last line without its newline is held until the newline arrives (or
 *    line_splitter_flush() says the stream ended, e.g. on rotation).
 *  - A line longer than LINE_PIECE_MAX bytes comes out in pieces of at most
 *    that size, cut on character boundaries; every piece but the last is
 *    marked `continues`.
 *  - "\r\n" endings lose their "\r".
 *  - Every line handed out is valid UTF-8 (utf8.h). */

#define LINE_PIECE_MAX (64 * 1024)

/* A sanitised piece can be up to three times its input (every byte an
 * invalid one, each becoming the three bytes of U+FFFD). */
#define LINE_SANITISED_MAX (3 * LINE_PIECE_MAX)

/* Returns 0 to go on, or a negative errno that stops feeding and is
 * returned by the feeding call. */
typedef int (*line_handler_t)(const char *line, size_t len, bool continues, void *userdata);

struct line_splitter;

int line_splitter_new(struct line_splitter **ret);
struct line_splitter *line_splitter_free(struct line_splitter *s);
static inline void line_splitter_freep(struct line_splitter **s) {
        if (*s)
                line_splitter_free(*s);
}

int line_splitter_feed(struct line_splitter *s, const char *data, size_t len, line_handler_t cb, void *userdata);

/* The stream ended (the file was rotated, truncated or removed): hand out
 * the held partial line, if any, as a complete line. */
int line_splitter_flush(struct line_splitter *s, line_handler_t cb, void *userdata);

/* Bytes held waiting for a newline. */
size_t line_splitter_pending(const struct line_splitter *s);

/* Hand out one complete record (a journal message) through the same piece
 * splitting and sanitising, without touching any held partial line. */
int line_splitter_record(struct line_splitter *s, const char *data, size_t len, line_handler_t cb, void *userdata);
