/* SPDX-License-Identifier: MIT */
/* The hub's answer as pushd reads it (pushd/http-response.c), from a hub
 * or from anything that answers on its port: whatever the bytes, the
 * parser stays inside its bounds, and reading them in pieces comes to the
 * same as reading them whole. The first byte picks where to cut. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http-response.h"

#define KEEP 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
        int r;
        size_t used;
        int status;
        long retry_after;
        bool close;
        size_t body_len;
        uint64_t body_total;
        char body[KEEP + 1];
};

static struct http_response resp;

static void parse(const uint8_t *data, size_t size, size_t step, struct result *o) {
        size_t off = 0;

        memset(o, 0, sizeof *o);
        http_response_init(&resp, o->body, KEEP);
        for (;;) {
                size_t n = size - off < step ? size - off : step, used = 0;

                o->r = http_response_feed(&resp, data + off, n, &used);
                if (o->r != 0) {
                        if (o->r == 1 && used > n)
                                abort();
                        o->used = off + used;
                        break;
                }
                off += n;
                if (off == size) {
                        o->r = http_response_eof(&resp);
                        o->used = off;
                        break;
                }
        }
        if (o->r != 1 && o->r != -EBADMSG && o->r != -E2BIG && o->r != -EFBIG && o->r != -EPIPE)
                abort();
        if (o->r < 0 && !resp.error)
                abort();
        if (resp.body_len > KEEP || resp.body_len > resp.body_total || resp.body_total > HTTP_BODY_READ_MAX ||
            o->body[resp.body_len] != '\0')
                abort();
        if (o->r == 1 && (resp.status < 100 || resp.status > 599 || resp.retry_after > HTTP_RETRY_AFTER_MAX))
                abort();
        o->status = resp.status;
        o->retry_after = resp.retry_after;
        o->close = resp.close;
        o->body_len = resp.body_len;
        o->body_total = resp.body_total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct result whole, cut;
        size_t step;

        if (size < 1)
                return 0;
        step = (size_t) data[0] % 17 + 1;
        data++;
        size--;
        parse(data, size, size ? size : 1, &whole);
        parse(data, size, step, &cut);
        if (whole.r != cut.r || whole.status != cut.status || whole.retry_after != cut.retry_after ||
            whole.close != cut.close || whole.body_len != cut.body_len || whole.body_total != cut.body_total ||
            memcmp(whole.body, cut.body, whole.body_len) != 0 || (whole.r == 1 && whole.used != cut.used))
                abort();
        return 0;
}
