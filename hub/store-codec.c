/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "grow.h"
#include "macro.h"
#include "store-codec.h"
#include "store-dictionary.h"

int bytes_reserve(struct bytes *b, size_t more) {
        if (more > SIZE_MAX - b->len)
                return -ENOMEM;
        return GROW(b->p, b->cap, b->len + more, 256);
}

int bytes_append(struct bytes *b, const void *data, size_t len) {
        int r = bytes_reserve(b, len);

        if (r < 0)
                return r;
        memcpy(b->p + b->len, data, len);
        b->len += len;
        return 0;
}

void bytes_done(struct bytes *b) {
        free(b->p);
        *b = (struct bytes){ 0 };
}

void varint_put(struct bytes *b, uint64_t v) {
        while (v >= 0x80) {
                b->p[b->len++] = (uint8_t) (v | 0x80);
                v >>= 7;
        }
        b->p[b->len++] = (uint8_t) v;
}

size_t varint_get(const uint8_t *p, const uint8_t *end, uint64_t *ret) {
        uint64_t v = 0;

        for (size_t i = 0; i < 10 && p + i < end; i++) {
                v |= (uint64_t) (p[i] & 0x7f) << (7 * i);
                if (!(p[i] & 0x80)) {
                        *ret = v;
                        return i + 1;
                }
        }
        return 0;
}

/* 2^53: beyond it not every integer is a double. */
#define CENTI_LIMIT 9007199254740992.0

static bool centi(double v, int64_t *ret) {
        double x = v * 100.0;

        if (!(fabs(x) < CENTI_LIMIT))
                return false;
        int64_t c = llround(x);
        if ((double) c / 100.0 != v)
                return false;
        *ret = c;
        return true;
}

static uint64_t zigzag(int64_t v) {
        return ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);
}

static int64_t unzigzag(uint64_t u) {
        return (int64_t) (u >> 1) ^ -(int64_t) (u & 1);
}

static void double_put(struct bytes *b, double v) {
        uint64_t u;

        memcpy(&u, &v, sizeof(u));
        b->p[b->len++] = 0x01;
        for (int i = 0; i < 8; i++)
                b->p[b->len++] = (uint8_t) (u >> (8 * i));
}

void value_put(struct bytes *b, double v) {
        int64_t c;

        if (centi(v, &c))
                varint_put(b, zigzag(c) << 1);
        else
                double_put(b, v);
}

/* A varint with the low bit set can only be the marker 0x01 itself: zigzag
 * values are shifted left, so the marker never collides with one. */
size_t value_get(const uint8_t *p, const uint8_t *end, double *ret) {
        uint64_t u;
        size_t n = varint_get(p, end, &u);

        if (n == 0)
                return 0;
        if (!(u & 1)) {
                *ret = (double) unzigzag(u >> 1) / 100.0;
                return n;
        }
        if (u != 1 || end - p < 9)
                return 0;
        u = 0;
        for (int i = 0; i < 8; i++)
                u |= (uint64_t) p[1 + i] << (8 * i);
        memcpy(ret, &u, sizeof(*ret));
        return 9;
}

int values_layout(const uint8_t *p, const uint8_t *end, int64_t *ret, const uint8_t **rest) {
        uint64_t u;
        size_t n = varint_get(p, end, &u);

        if (n == 0 || u > INT64_MAX)
                return -EBADMSG;
        *ret = (int64_t) u;
        *rest = p + n;
        return 0;
}

int values_at(const uint8_t *p, const uint8_t *end, size_t pos, double *ret) {
        for (size_t i = 0;; i++) {
                double v;
                size_t n = value_get(p, end, &v);

                if (n == 0)
                        return -EBADMSG;
                if (i == pos) {
                        *ret = v;
                        return 0;
                }
                p += n;
        }
}

/* ---- downsampling ------------------------------------------------------- */

static void agg_to_inexact(struct agg *a) {
        if (!a->inexact) {
                a->dsum = (double) a->csum / 100.0;
                a->inexact = true;
        }
}

void agg_add(struct agg *a, double v) {
        int64_t c;

        if (a->count == 0) {
                *a = (struct agg){ .count = 1, .min = v, .max = v, .last = v };
                if (centi(v, &c))
                        a->csum = c;
                else {
                        a->inexact = true;
                        a->dsum = v;
                }
                return;
        }
        a->count++;
        if (v < a->min)
                a->min = v;
        if (v > a->max)
                a->max = v;
        a->last = v;
        if (!a->inexact && centi(v, &c) && !__builtin_add_overflow(a->csum, c, &a->csum))
                return;
        agg_to_inexact(a);
        a->dsum += v;
}

void agg_merge(struct agg *a, const struct agg *b) {
        if (b->count == 0)
                return;
        if (a->count == 0) {
                *a = *b;
                return;
        }
        a->count += b->count;
        if (b->min < a->min)
                a->min = b->min;
        if (b->max > a->max)
                a->max = b->max;
        a->last = b->last;
        if (!a->inexact && !b->inexact && !__builtin_add_overflow(a->csum, b->csum, &a->csum))
                return;
        agg_to_inexact(a);
        a->dsum += b->inexact ? b->dsum : (double) b->csum / 100.0;
}

double agg_value(const struct agg *a, enum store_agg how) {
        switch (how) {
        case STORE_AGG_MIN:
                return a->min;
        case STORE_AGG_MAX:
                return a->max;
        case STORE_AGG_LAST:
                return a->last;
        default:
                return (a->inexact ? a->dsum : (double) a->csum / 100.0) / (double) a->count;
        }
}

static void sum_put(struct bytes *b, const struct agg *a) {
        if (a->inexact)
                double_put(b, a->dsum);
        else
                varint_put(b, zigzag(a->csum) << 1);
}

static size_t sum_get(const uint8_t *p, const uint8_t *end, struct agg *a) {
        uint64_t u;
        size_t n = varint_get(p, end, &u);

        if (n == 0)
                return 0;
        if (!(u & 1)) {
                a->inexact = false;
                a->csum = unzigzag(u >> 1);
                return n;
        }
        a->inexact = true;
        return value_get(p, end, &a->dsum);
}

int chunk_encode(const struct agg *slots, size_t n, struct bytes *out) {
        int r = bytes_reserve(out, 1 + n * (2 * 10 + 4 * VALUE_MAX_BYTES));

        if (r < 0)
                return r;
        out->p[out->len++] = CHUNK_VERSION;
        for (size_t i = 0; i < n; i++) {
                const struct agg *a = &slots[i];

                if (a->count == 0)
                        continue;
                varint_put(out, i);
                varint_put(out, a->count);
                value_put(out, a->min);
                value_put(out, a->max);
                sum_put(out, a);
                value_put(out, a->last);
        }
        return 0;
}

int chunk_decode(const uint8_t *p, size_t len, struct agg *slots, size_t n) {
        const uint8_t *end = p + len;

        memset(slots, 0, n * sizeof(*slots));
        if (len < 1 || p[0] != CHUNK_VERSION)
                return -EBADMSG;
        p++;
        while (p < end) {
                uint64_t slot, count;
                struct agg a = { 0 };
                size_t k;

                if (!(k = varint_get(p, end, &slot)) || slot >= n)
                        return -EBADMSG;
                p += k;
                if (!(k = varint_get(p, end, &count)) || count == 0)
                        return -EBADMSG;
                p += k;
                a.count = count;
                if (!(k = value_get(p, end, &a.min)))
                        return -EBADMSG;
                p += k;
                if (!(k = value_get(p, end, &a.max)))
                        return -EBADMSG;
                p += k;
                if (!(k = sum_get(p, end, &a)))
                        return -EBADMSG;
                p += k;
                if (!(k = value_get(p, end, &a.last)))
                        return -EBADMSG;
                p += k;
                slots[slot] = a;
        }
        return 0;
}

/* ---- bodies ------------------------------------------------------------- */

#define BODY_PLAIN 0
/* What body_compress() writes (store-dictionary.h); decoding takes any
 * version up to it. */
#define BODY_VERSION 2
#define BODY_VERSIONS (BODY_VERSION + 1)
/* Measured on samples (bench/hub-store): level 1 takes about two thirds of
 * level 3's time for 6 % more bytes; ingest is the budget that binds. */
#define BODY_LEVEL 1

struct body_codec {
        ZSTD_CCtx *cctx;
        ZSTD_DCtx *dctx;
        ZSTD_CDict *cdict;
        ZSTD_DDict *ddict[BODY_VERSIONS];
        char *out;
        size_t out_cap;
};

void body_codec_free(struct body_codec *c) {
        if (!c)
                return;
        ZSTD_freeCCtx(c->cctx);
        ZSTD_freeDCtx(c->dctx);
        ZSTD_freeCDict(c->cdict);
        for (size_t v = 0; v < BODY_VERSIONS; v++)
                ZSTD_freeDDict(c->ddict[v]);
        free(c->out);
        free(c);
}

/* By version. Version 1, not starting with zstd's dictionary magic, is
 * taken as raw content. */
static const struct {
        const void *p;
        const size_t *size;
} dictionary[BODY_VERSIONS] = {
        [1] = { body_dictionary_v1, &body_dictionary_v1_size },
        [2] = { body_dictionary_v2, &body_dictionary_v2_size },
};

int body_codec_new(struct body_codec **ret) {
        struct body_codec *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->cctx = ZSTD_createCCtx();
        c->dctx = ZSTD_createDCtx();
        c->cdict = ZSTD_createCDict(dictionary[BODY_VERSION].p, *dictionary[BODY_VERSION].size, BODY_LEVEL);
        for (size_t v = 1; v < BODY_VERSIONS; v++)
                if (!(c->ddict[v] = ZSTD_createDDict(dictionary[v].p, *dictionary[v].size)))
                        goto fail;
        if (!c->cctx || !c->dctx || !c->cdict)
                goto fail;
        /* The frame says how long the content is (a bound for decoding) and
         * needs neither a checksum (the database has its own) nor a dictID
         * (the version byte names the dictionary). */
        if (ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 0)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_dictIDFlag, 0)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_contentSizeFlag, 1)) ||
            ZSTD_isError(ZSTD_CCtx_refCDict(c->cctx, c->cdict))) {
                body_codec_free(c);
                return -EIO;
        }
        *ret = c;
        return 0;
fail:
        body_codec_free(c);
        return -ENOMEM;
}

int body_compress(struct body_codec *c, const char *json, size_t len, struct bytes *out) {
        size_t bound = ZSTD_compressBound(len), n;
        int r = bytes_reserve(out, 1 + bound);

        if (r < 0)
                return r;
        n = ZSTD_compress2(c->cctx, out->p + out->len + 1, bound, json, len);
        if (ZSTD_isError(n))
                return -EIO;
        out->p[out->len] = BODY_VERSION;
        out->len += 1 + n;
        return 0;
}

int body_plain(const char *json, size_t len, struct bytes *out) {
        int r = bytes_reserve(out, 1 + len);

        if (r < 0)
                return r;
        out->p[out->len] = BODY_PLAIN;
        memcpy(out->p + out->len + 1, json, len);
        out->len += 1 + len;
        return 0;
}

static int out_reserve(struct body_codec *c, size_t size) {
        char *o;

        if (c->out_cap >= size + 1)
                return 0;
        o = realloc(c->out, size + 1);
        if (!o)
                return -ENOMEM;
        c->out = o;
        c->out_cap = size + 1;
        return 0;
}

int body_decompress(struct body_codec *c, const uint8_t *p, size_t len, const char **ret, size_t *ret_len) {
        unsigned long long size;
        size_t n;
        int r;

        if (len >= 1 && p[0] == BODY_PLAIN) {
                if (len - 1 > STORE_SAMPLE_MAX)
                        return -EBADMSG;
                r = out_reserve(c, len - 1);
                if (r < 0)
                        return r;
                memcpy(c->out, p + 1, len - 1);
                c->out[len - 1] = 0;
                *ret = c->out;
                *ret_len = len - 1;
                return 0;
        }
        if (len < 2 || p[0] >= BODY_VERSIONS)
                return -EBADMSG;
        size = ZSTD_getFrameContentSize(p + 1, len - 1);
        if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > STORE_SAMPLE_MAX)
                return -EBADMSG;
        r = out_reserve(c, size);
        if (r < 0)
                return r;
        n = ZSTD_decompress_usingDDict(c->dctx, c->out, size, p + 1, len - 1, c->ddict[p[0]]);
        if (ZSTD_isError(n) || n != size)
                return -EBADMSG;
        c->out[n] = 0;
        *ret = c->out;
        *ret_len = n;
        return 0;
}
