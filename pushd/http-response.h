/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The hub's answer to one HTTP/1.1 request, parsed as its bytes arrive, in
 * pieces of any size (pure: no I/O). pushd keeps the first body_max bytes
 * of the body (its "message"); the rest is read and discarded, up to
 * HTTP_BODY_READ_MAX, past which the answer is refused and the connection
 * dropped (docs/fleet.md, "pushd on every node"). */

#define HTTP_HEAD_MAX (16 * 1024)
#define HTTP_BODY_READ_MAX (1024 * 1024)
#define HTTP_RETRY_AFTER_MAX 3600

struct http_response {
        /* What the answer says, once http_response_feed() returned 1. */
        int status;
        long retry_after;  /* seconds (capped at HTTP_RETRY_AFTER_MAX), -1 = none or a date */
        bool close;        /* the connection cannot carry another request */
        char *body;        /* the caller's buffer of body_max + 1 bytes, NUL-terminated */
        size_t body_max, body_len;
        uint64_t body_total;     /* every body byte read, kept or not */
        const char *error;       /* what was wrong, when a call failed */

        /* The parser's own state. */
        int state, failure;
        bool chunked, has_length, started;
        uint64_t remaining;      /* of the Content-Length body or of the chunk */
        size_t head_len;
        char head[HTTP_HEAD_MAX];
        size_t line_len, trailer_len;
        char line[256];          /* a chunk-size line or a trailer line */
};

void http_response_init(struct http_response *r, char *body, size_t body_max);

/* Feed the next len bytes. Returns 1 when the answer is complete (*used
 * bytes of data belong to it; what follows them does not), 0 when it needs
 * more (all of data used), -EBADMSG when the bytes are not an HTTP/1.x
 * answer, -E2BIG when the head passes HTTP_HEAD_MAX, -EFBIG when the body
 * passes HTTP_BODY_READ_MAX; r->error says which. */
int http_response_feed(struct http_response *r, const void *data, size_t len, size_t *used);

/* The peer closed the connection: 1 when that completes the answer (a body
 * that runs until close), -EPIPE when the answer is cut short (r->error). */
int http_response_eof(struct http_response *r);

/* Whether any byte of an answer arrived. */
bool http_response_started(const struct http_response *r);
