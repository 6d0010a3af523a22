/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-response.h"
#include "http-url.h"

#define KEEP 16

struct outcome {
        int r;          /* the last feed's, or eof's */
        size_t used;    /* bytes of the input the answer took */
        int status;
        long retry_after;
        bool close;
        char body[KEEP + 1];
        size_t body_len;
        uint64_t body_total;
};

static struct http_response resp;

/* Feed text in pieces cut at the given offsets (ascending), then the close
 * of the connection if eof. */
static struct outcome run(const char *text, size_t len, const size_t *cuts, size_t n_cuts, bool eof) {
        struct outcome o = { 0 };
        size_t from = 0;

        http_response_init(&resp, o.body, KEEP);
        for (size_t i = 0; i <= n_cuts; i++) {
                size_t to = i < n_cuts ? cuts[i] : len, used = 0;

                o.r = http_response_feed(&resp, text + from, to - from, &used);
                if (o.r != 0) {
                        o.used = from + used;
                        break;
                }
                from = to;
                o.used = to;
        }
        if (o.r == 0 && eof)
                o.r = http_response_eof(&resp);
        o.status = resp.status;
        o.retry_after = resp.retry_after;
        o.close = resp.close;
        o.body_len = resp.body_len;
        o.body_total = resp.body_total;
        return o;
}

static void assert_same(const struct outcome *a, const struct outcome *b, const char *what, size_t at) {
        cr_assert_eq(a->r, b->r, "%s cut at %zu: %d against %d", what, at, a->r, b->r);
        cr_assert_eq(a->status, b->status, "%s cut at %zu", what, at);
        cr_assert_eq(a->retry_after, b->retry_after, "%s cut at %zu", what, at);
        cr_assert_eq(a->close, b->close, "%s cut at %zu", what, at);
        cr_assert_eq(a->body_len, b->body_len, "%s cut at %zu", what, at);
        cr_assert_eq(memcmp(a->body, b->body, a->body_len), 0, "%s cut at %zu", what, at);
        cr_assert_eq(a->body_total, b->body_total, "%s cut at %zu", what, at);
        if (a->r == 1)
                cr_assert_eq(a->used, b->used, "%s cut at %zu", what, at);
}

/* The answer read whole, then cut at every byte boundary, then cut at
 * every pair of boundaries, then a byte at a time: always the same. */
static struct outcome check(const char *text, bool eof) {
        size_t len = strlen(text);
        struct outcome whole = run(text, len, NULL, 0, eof), o;
        size_t *each = malloc((len + 1) * sizeof *each);

        for (size_t i = 0; i <= len; i++) {
                o = run(text, len, &i, 1, eof);
                assert_same(&whole, &o, text, i);
                for (size_t j = i; j <= len && len < 400; j++) {
                        size_t two[2] = { i, j };
                        o = run(text, len, two, 2, eof);
                        assert_same(&whole, &o, text, j);
                }
                each[i] = i;
        }
        o = run(text, len, each, len, eof);
        assert_same(&whole, &o, text, 0);
        free(each);
        return whole;
}

Test(http_response, content_length_keep_alive) {
        const char *text = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-LENGTH: 11\r\n\r\n{\"acked\":1}";
        struct outcome o = check(text, false);

        cr_assert_eq(o.r, 1);
        cr_assert_eq(o.status, 200);
        cr_assert_eq(o.close, false);
        cr_assert_eq(o.retry_after, -1);
        cr_assert_str_eq(o.body, "{\"acked\":1}");
        cr_assert_eq(o.used, strlen(text));
}

Test(http_response, what_follows_the_answer_is_not_taken) {
        const char *text = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n";
        struct outcome o = check(text, false);

        cr_assert_eq(o.r, 1);
        cr_assert_eq(o.status, 201);
        cr_assert_eq(o.used, strlen(text) - strlen("HTTP/1.1 200 OK\r\n"));
}

Test(http_response, chunked_with_extensions_and_trailers) {
        const char *text = "HTTP/1.1 200 OK\r\nTransfer-Encoding:  Chunked \r\n\r\n"
                           "5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n";
        struct outcome o = check(text, false);

        cr_assert_eq(o.r, 1);
        cr_assert_eq(o.close, false);
        cr_assert_eq(o.body_total, 16);
        cr_assert_str_eq(o.body, "hello 0123456789");
}

Test(http_response, chunked_and_a_length_closes) {
        struct outcome o = check("HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "2\r\nok\r\n0\r\n\r\n",
                                 false);

        cr_assert_eq(o.r, 1);
        cr_assert_str_eq(o.body, "ok");
        cr_assert(o.close);
}

Test(http_response, body_until_close) {
        const char *text = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 7\r\n\r\nbusy";
        struct outcome o = check(text, false);

        cr_assert_eq(o.r, 0);
        o = check(text, true);
        cr_assert_eq(o.r, 1);
        cr_assert_eq(o.status, 503);
        cr_assert(o.close);
        cr_assert_eq(o.retry_after, 7);
        cr_assert_str_eq(o.body, "busy");

        /* Chunked, but not as the last coding: the body runs until close. */
        o = check("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, x-other\r\n\r\n0\r\n\r\n", true);
        cr_assert_eq(o.r, 1);
        cr_assert(o.close);
        cr_assert_str_eq(o.body, "0\r\n\r\n");
}

Test(http_response, connection_close_with_a_length) {
        struct outcome o = check("HTTP/1.1 401 Unauthorized\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n",
                                 false);

        cr_assert_eq(o.r, 1);
        cr_assert_eq(o.status, 401);
        cr_assert(o.close);
        cr_assert_eq(o.body_len, 0);
}

Test(http_response, http10_closes_unless_kept_alive) {
        struct outcome o = check("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false);

        cr_assert_eq(o.r, 1);
        cr_assert(o.close);
        o = check("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", false);
        cr_assert_eq(o.r, 1);
        cr_assert_not(o.close);
}

Test(http_response, no_body_for_204_and_interim_answers_skipped) {
        struct outcome o = check("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nRetry-After: 1\r\n\r\n", false);

        cr_assert_eq(o.r, 1);
        cr_assert_eq(o.status, 204);
        cr_assert_eq(o.retry_after, 1);
        cr_assert_eq(o.body_total, 0);
}

Test(http_response, bare_newlines_and_no_reason) {
        struct outcome o = check("\r\nHTTP/1.1 202\nContent-Length: 3\n\nyes", false);

        cr_assert_eq(o.r, 1);
        cr_assert_eq(o.status, 202);
        cr_assert_str_eq(o.body, "yes");
}

Test(http_response, retry_after_seconds_capped_dates_ignored) {
        struct outcome o = check("HTTP/1.1 429 Too Many\r\nRetry-After: 999999999999999999999\r\nContent-Length: 0\r\n\r\n",
                                 false);

        cr_assert_eq(o.retry_after, HTTP_RETRY_AFTER_MAX);
        o = check("HTTP/1.1 429 Too Many\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\nContent-Length: 0\r\n\r\n",
                  false);
        cr_assert_eq(o.r, 1);
        cr_assert_eq(o.retry_after, -1);
}

Test(http_response, body_kept_up_to_the_buffer_rest_read) {
        const char *text = "HTTP/1.1 400 Bad Request\r\nContent-Length: 40\r\n\r\n"
                           "0123456789abcdef0123456789abcdef01234567";
        struct outcome o = check(text, false);

        cr_assert_eq(o.r, 1);
        cr_assert_eq(o.body_len, KEEP);
        cr_assert_str_eq(o.body, "0123456789abcdef");
        cr_assert_eq(o.body_total, 40);
        cr_assert_eq(o.used, strlen(text));
}

Test(http_response, malformed_answers) {
        static const char *bad[] = {
                "HTTP/2 200 OK\r\n\r\n",
                "HTTP/1.1 20 OK\r\n\r\n",
                "HTTP/1.1 2000 OK\r\n\r\n",
                "HTTP/1.1 099 Odd\r\n\r\n",
                "SSH-2.0-OpenSSH_9.2\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
                "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
                "HTTP/1.1 200 OK\r\nX: 1\r\n folded\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
        };

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                struct outcome o = check(bad[i], false);

                cr_assert_eq(o.r, -EBADMSG, "%s: %d", bad[i], o.r);
                cr_assert_not_null(resp.error);
        }
}

Test(http_response, cut_short) {
        struct outcome o = check("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true);

        cr_assert_eq(o.r, -EPIPE);
        cr_assert_str_eq(resp.error, "the connection closed in the middle of the answer");
        o = run("", 0, NULL, 0, true);
        cr_assert_eq(o.r, -EPIPE);
        cr_assert_not(http_response_started(&resp));
        cr_assert_str_eq(resp.error, "the connection closed before any answer");
        o = run("HTTP/1.1 2", 10, NULL, 0, false);
        cr_assert(http_response_started(&resp));
}

static char *big(size_t head_fill, const char *head_end, size_t body) {
        size_t cap = head_fill + body + 256;
        char *s = malloc(cap);
        size_t n = (size_t) snprintf(s, cap, "HTTP/1.1 200 OK\r\nX-Fill: ");

        memset(s + n, 'x', head_fill);
        n += head_fill;
        n += (size_t) snprintf(s + n, cap - n, "\r\n%s\r\n\r\n", head_end);
        memset(s + n, 'b', body);
        s[n + body] = '\0';
        return s;
}

Test(http_response, head_bound) {
        char *fits = big(HTTP_HEAD_MAX - 64, "Content-Length: 0", 0);
        char *over = big(HTTP_HEAD_MAX, "Content-Length: 0", 0);
        struct outcome o = run(fits, strlen(fits), NULL, 0, false);

        cr_assert_eq(o.r, 1);
        o = run(over, strlen(over), NULL, 0, false);
        cr_assert_eq(o.r, -E2BIG);
        cr_assert_str_eq(resp.error, "the header block is larger than 16 KiB");
        free(fits);
        free(over);
}

Test(http_response, body_bound) {
        char *fits = big(0, "Connection: close", HTTP_BODY_READ_MAX);
        char *over = big(0, "Connection: close", HTTP_BODY_READ_MAX + 1);
        struct outcome o = run(fits, strlen(fits), NULL, 0, true);
        char text[200];

        cr_assert_eq(o.r, 1);
        cr_assert_eq(o.body_total, HTTP_BODY_READ_MAX);
        cr_assert_eq(o.body_len, KEEP);
        o = run(over, strlen(over), NULL, 0, true);
        cr_assert_eq(o.r, -EFBIG);
        cr_assert_str_eq(resp.error, "the body is larger than 1 MiB");

        /* Announced too large: refused at once. */
        snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", HTTP_BODY_READ_MAX + 1);
        o = run(text, strlen(text), NULL, 0, false);
        cr_assert_eq(o.r, -EFBIG);
        snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n",
                 HTTP_BODY_READ_MAX + 1);
        o = run(text, strlen(text), NULL, 0, false);
        cr_assert_eq(o.r, -EFBIG);
        snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n", HTTP_BODY_READ_MAX);
        o = run(text, strlen(text), NULL, 0, false);
        cr_assert_eq(o.r, 0);
        free(fits);
        free(over);
}

struct url_case {
        const char *url;
        int r;
        bool tls, literal;
        const char *host, *port, *authority, *path;
};

Test(http_url, parse) {
        static const struct url_case cases[] = {
                { "http://127.0.0.1:8757", 0, false, true, "127.0.0.1", "8757", "127.0.0.1:8757", "" },
                { "https://hub.example", 0, true, false, "hub.example", "443", "hub.example", "" },
                { "HTTP://hub.example/", 0, false, false, "hub.example", "80", "hub.example", "" },
                { "https://[::1]:9/fleet/hub//", 0, true, true, "::1", "9", "[::1]:9", "/fleet/hub" },
                { "http://[fe80::1]/x", 0, false, true, "fe80::1", "80", "[fe80::1]", "/x" },
                { "http://h:65535?a=b", 0, false, false, "h", "65535", "h:65535", "/?a=b" },
                { .url = "http://h:0", .r = -EINVAL }, { .url = "http://h:65536", .r = -EINVAL }, { .url = "http://h:", .r = -EINVAL },
                { .url = "http://h:80x", .r = -EINVAL }, { .url = "http://", .r = -EINVAL }, { .url = "http:///path", .r = -EINVAL },
                { .url = "http://user@h", .r = -EINVAL }, { .url = "http://[::1", .r = -EINVAL }, { .url = "http://[zz]", .r = -EINVAL },
                { .url = "http://[::1]x", .r = -EINVAL }, { .url = "http://h h", .r = -EINVAL }, { .url = "ftp://h", .r = -EINVAL },
                { .url = "ws://h", .r = -EINVAL },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                const struct url_case *c = &cases[i];
                struct http_url u = { .host = "untouched" };

                cr_assert_eq(http_url_parse(c->url, &u), c->r, "%s", c->url);
                if (c->r < 0) {
                        cr_assert_str_eq(u.host, "untouched");
                        continue;
                }
                cr_assert_eq(u.tls, c->tls, "%s", c->url);
                cr_assert_eq(u.literal, c->literal, "%s", c->url);
                cr_assert_str_eq(u.host, c->host, "%s", c->url);
                cr_assert_str_eq(u.port, c->port, "%s", c->url);
                cr_assert_str_eq(u.authority, c->authority, "%s", c->url);
                cr_assert_str_eq(u.path, c->path, "%s", c->url);
        }
}
