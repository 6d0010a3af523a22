/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http-response.h"

enum {
        S_HEAD,
        S_BODY_LENGTH,
        S_BODY_CLOSE,
        S_CHUNK_SIZE,
        S_CHUNK_DATA,
        S_CHUNK_END,
        S_TRAILER,
        S_DONE,
        S_FAILED,
};

void http_response_init(struct http_response *r, char *body, size_t body_max) {
        r->status = 0;
        r->retry_after = -1;
        r->close = false;
        r->body = body;
        r->body_max = body_max;
        r->body_len = 0;
        r->body[0] = '\0';
        r->body_total = 0;
        r->error = NULL;
        r->failure = 0;
        r->state = S_HEAD;
        r->chunked = r->has_length = r->started = false;
        r->remaining = 0;
        r->head_len = r->line_len = r->trailer_len = 0;
}

bool http_response_started(const struct http_response *r) {
        return r->started;
}

static int fail(struct http_response *r, int error, const char *why) {
        r->state = S_FAILED;
        r->failure = error;
        r->error = why;
        return error;
}

static bool is_digits(const char *s, size_t len) {
        if (len == 0)
                return false;
        for (size_t i = 0; i < len; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

/* Whether the comma-separated list value (len bytes) holds token; when
 * last, only its final element counts (Transfer-Encoding). */
static bool list_has(const char *value, size_t len, const char *token, bool last) {
        size_t tl = strlen(token), i = 0;
        bool found = false;

        while (i < len) {
                size_t start, end;
                bool match;

                while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
                        i++;
                start = i;
                while (i < len && value[i] != ',')
                        i++;
                end = i;
                while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
                        end--;
                if (end == start)
                        continue;
                match = end - start == tl && strncasecmp(value + start, token, tl) == 0;
                if (last)
                        found = match;
                else if (match)
                        found = true;
        }
        return found;
}

static bool name_is(const char *name, size_t len, const char *want) {
        return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

static int header(struct http_response *r, const char *name, size_t nlen, const char *value, size_t vlen,
                  bool *keep_alive) {
        if (name_is(name, nlen, "content-length")) {
                uint64_t v = 0;

                if (!is_digits(value, vlen) || vlen > 18)
                        return fail(r, -EBADMSG, "bad Content-Length");
                for (size_t i = 0; i < vlen; i++)
                        v = v * 10 + (uint64_t) (value[i] - '0');
                if (r->has_length && v != r->remaining)
                        return fail(r, -EBADMSG, "two different Content-Length");
                r->has_length = true;
                r->remaining = v;
        } else if (name_is(name, nlen, "transfer-encoding")) {
                /* Any other coding last: the body runs until close. */
                r->chunked = list_has(value, vlen, "chunked", true);
                if (!r->chunked)
                        r->close = true;
        } else if (name_is(name, nlen, "connection")) {
                if (list_has(value, vlen, "close", false))
                        r->close = true;
                if (list_has(value, vlen, "keep-alive", false))
                        *keep_alive = true;
        } else if (name_is(name, nlen, "retry-after")) {
                long v = 0;

                /* Seconds; an HTTP date is left to the backoff. */
                if (is_digits(value, vlen)) {
                        for (size_t i = 0; i < vlen && v <= HTTP_RETRY_AFTER_MAX; i++)
                                v = v * 10 + (value[i] - '0');
                        r->retry_after = v > HTTP_RETRY_AFTER_MAX ? HTTP_RETRY_AFTER_MAX : v;
                }
        }
        return 0;
}

/* The head is complete in r->head (head_len bytes, ending in an empty
 * line): the status line, then one header a line. */
static int parse_head(struct http_response *r) {
        const char *p = r->head, *end = r->head + r->head_len;
        bool http10, keep_alive = false;
        int status;

        if (r->head_len < 13 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
            !is_digits(p + 9, 3) || (p[12] != ' ' && p[12] != '\r' && p[12] != '\n'))
                return fail(r, -EBADMSG, "not an HTTP/1.x status line");
        http10 = p[7] == '0';
        status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
        if (status < 100 || status > 599)
                return fail(r, -EBADMSG, "status code out of range");
        r->status = status;
        p = memchr(p, '\n', (size_t) (end - p)) + 1;

        for (;;) {
                const char *eol = memchr(p, '\n', (size_t) (end - p)), *colon, *v, *ve;
                size_t len = (size_t) (eol - p);
                int k;

                if (len > 0 && p[len - 1] == '\r')
                        len--;
                if (len == 0)
                        break;
                if (p[0] == ' ' || p[0] == '\t')
                        return fail(r, -EBADMSG, "folded header line");
                colon = memchr(p, ':', len);
                if (!colon || colon == p)
                        return fail(r, -EBADMSG, "header line without a name");
                for (const char *c = p; c < colon; c++)
                        if (*c <= ' ' || *c >= 127)
                                return fail(r, -EBADMSG, "bad header name");
                v = colon + 1;
                ve = p + len;
                while (v < ve && (*v == ' ' || *v == '\t'))
                        v++;
                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                        ve--;
                k = header(r, p, (size_t) (colon - p), v, (size_t) (ve - v), &keep_alive);
                if (k < 0)
                        return k;
                p = eol + 1;
        }
        if (http10 && !keep_alive)
                r->close = true;

        if (status >= 100 && status < 200 && status != 101) {
                /* An interim answer: the real one follows. */
                r->head_len = 0;
                r->status = 0;
                r->retry_after = -1;
                r->close = r->chunked = r->has_length = false;
                r->remaining = 0;
                return 0;
        }
        if (status == 101 || status == 204 || status == 304) {
                r->close = r->close || status == 101;
                r->state = S_DONE;
        } else if (r->chunked) {
                /* Both: the length is not to be trusted, nor the connection. */
                if (r->has_length)
                        r->close = true;
                r->state = S_CHUNK_SIZE;
        } else if (r->has_length) {
                if (r->remaining > HTTP_BODY_READ_MAX)
                        return fail(r, -EFBIG, "the body is larger than 1 MiB");
                r->state = r->remaining == 0 ? S_DONE : S_BODY_LENGTH;
        } else {
                r->close = true;
                r->state = S_BODY_CLOSE;
        }
        return 0;
}

static int body_take(struct http_response *r, const char *data, size_t len) {
        size_t room = r->body_max - r->body_len;

        r->body_total += len;
        if (r->body_total > HTTP_BODY_READ_MAX)
                return fail(r, -EFBIG, "the body is larger than 1 MiB");
        if (len < room)
                room = len;
        memcpy(r->body + r->body_len, data, room);
        r->body_len += room;
        r->body[r->body_len] = '\0';
        return 0;
}

/* One more byte of a chunk-size, chunk-end or trailer line; 1 when the
 * line is complete in r->line (r->line_len, without its CRLF). */
static int line_byte(struct http_response *r, char c) {
        if (c == '\n') {
                if (r->line_len > 0 && r->line[r->line_len - 1] == '\r')
                        r->line_len--;
                return 1;
        }
        if (r->line_len >= sizeof r->line)
                return fail(r, -EBADMSG, "chunk line too long");
        r->line[r->line_len++] = c;
        return 0;
}

static int chunk_size(struct http_response *r) {
        uint64_t v = 0;
        size_t i = 0;

        for (; i < r->line_len && i < 16; i++) {
                char c = r->line[i];
                int d = c >= '0' && c <= '9' ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
                if (d < 0)
                        break;
                v = v * 16 + (uint64_t) d;
        }
        if (i == 0 || (i < r->line_len && r->line[i] != ';' && r->line[i] != ' ' && r->line[i] != '\t'))
                return fail(r, -EBADMSG, "bad chunk size");
        if (v > HTTP_BODY_READ_MAX - r->body_total)
                return fail(r, -EFBIG, "the body is larger than 1 MiB");
        r->remaining = v;
        r->state = v == 0 ? S_TRAILER : S_CHUNK_DATA;
        return 0;
}

int http_response_feed(struct http_response *r, const void *data, size_t len, size_t *used) {
        const char *d = data;
        size_t i = 0;
        int k;

        while (i < len && r->state != S_DONE && r->state != S_FAILED) {
                char c = d[i];
                size_t n;

                switch (r->state) {
                case S_HEAD:
                        /* Empty lines before a status line are skipped. */
                        if (r->head_len == 0 && (c == '\r' || c == '\n')) {
                                i++;
                                break;
                        }
                        if (r->head_len >= HTTP_HEAD_MAX)
                                return fail(r, -E2BIG, "the header block is larger than 16 KiB");
                        r->head[r->head_len++] = c;
                        r->started = true;
                        i++;
                        if (c == '\n' && r->head_len >= 2 &&
                            (r->head[r->head_len - 2] == '\n' ||
                             (r->head_len >= 3 && r->head[r->head_len - 2] == '\r' && r->head[r->head_len - 3] == '\n'))) {
                                k = parse_head(r);
                                if (k < 0)
                                        return k;
                        }
                        break;
                case S_BODY_LENGTH:
                case S_CHUNK_DATA:
                        n = len - i;
                        if (n > r->remaining)
                                n = (size_t) r->remaining;
                        k = body_take(r, d + i, n);
                        if (k < 0)
                                return k;
                        i += n;
                        r->remaining -= n;
                        if (r->remaining == 0) {
                                r->state = r->state == S_BODY_LENGTH ? S_DONE : S_CHUNK_END;
                                r->line_len = 0;
                        }
                        break;
                case S_BODY_CLOSE:
                        k = body_take(r, d + i, len - i);
                        if (k < 0)
                                return k;
                        i = len;
                        break;
                case S_CHUNK_SIZE:
                case S_CHUNK_END:
                case S_TRAILER:
                        k = line_byte(r, c);
                        i++;
                        if (k < 0)
                                return k;
                        if (r->state == S_TRAILER && (r->trailer_len += 1) > HTTP_HEAD_MAX)
                                return fail(r, -E2BIG, "the trailers are larger than 16 KiB");
                        if (k == 0)
                                break;
                        if (r->state == S_CHUNK_SIZE) {
                                k = chunk_size(r);
                                if (k < 0)
                                        return k;
                        } else if (r->state == S_CHUNK_END) {
                                if (r->line_len != 0)
                                        return fail(r, -EBADMSG, "chunk data longer than its size");
                                r->state = S_CHUNK_SIZE;
                        } else if (r->line_len == 0)
                                r->state = S_DONE;
                        r->line_len = 0;
                        break;
                }
        }
        if (r->state == S_FAILED)
                return r->failure;
        if (used)
                *used = i;
        return r->state == S_DONE ? 1 : 0;
}

int http_response_eof(struct http_response *r) {
        if (r->state == S_BODY_CLOSE)
                r->state = S_DONE;
        if (r->state == S_DONE)
                return 1;
        if (r->state != S_FAILED)
                fail(r, -EPIPE,
                     http_response_started(r) ? "the connection closed in the middle of the answer"
                                              : "the connection closed before any answer");
        return -EPIPE;
}
