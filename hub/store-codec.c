/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "grow.h"
#include "macro.h"
#include "store-codec.h"

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

/* Samples are small (1-3 KB) and nearly all alike: most of their bytes are
 * the same keys in the same order. A zstd dictionary made of typical samples
 * lets the first bytes of each frame refer back to it instead of spelling
 * the keys out (bench/hub-store-bytes measures the difference). Raw content,
 * not a trained dictionary, so that it is readable here and rebuilt by any
 * zstd. It is part of the on-disk format: changing it means a new version
 * byte, and keeping this one for what is already stored. */
static const char dictionary_v1[] =
        "{\"type\":\"CLIENT_DATA\",\"cpu\":12.5,\"mem\":8513,\"storage\":81720,\"unix_time\":1651155333}"
        "{\"action\":\"send_stats\",\"system_id\":\"host-01\",\"url\":\"http://hub:8757/system-monitor\","
        "\"interval\":60,\"epoch\":1700000000,\"stats\":{\"cpu\":{\"count\":8,\"frequency\":2400,"
        "\"percent_used\":12.5},\"memory\":{\"total\":16777216000,\"available\":8388608000,"
        "\"percent_used\":50.0,\"used\":8388608000,\"free\":4194304000},\"processes\":[{\"pid\":1,"
        "\"name\":\"systemd\",\"username\":\"root\"},{\"pid\":412,\"name\":\"sshd\",\"username\":\"root\"}],"
        "\"disks\":{\"/dev/sda1\":{\"file_system\":\"ext4\",\"mount_point\":\"/\",\"total\":107374182400,"
        "\"used\":53687091200,\"free\":53687091200}},\"network\":{\"eth0\":{\"ip\":\"192.168.1.100\","
        "\"netmask\":\"255.255.255.0\",\"bytes_sent\":123456789,\"bytes_recv\":987654321}}}}"
        "{\"timestamp\":\"2024-01-15T10:30:45Z\",\"node_id\":\"192.168.1.100\",\"seq\":1234,\"interval\":10,"
        "\"metrics\":{\"cpu\":{\"cpu_usage_percent\":45.2,\"cpu_per_core_percent\":[50.1,40.3,12.5,3.25,"
        "0.5,1.02,7.75,100],\"load_avg_1min\":2.5,\"load_avg_5min\":2.1,\"load_avg_15min\":1.8,\"count\":8,"
        "\"frequency_mhz\":2694.88},\"memory\":{\"memory_total_gb\":16,\"memory_used_gb\":8.5,"
        "\"memory_available_gb\":7.5,\"memory_usage_percent\":53.1,\"swap_total_gb\":4,\"swap_used_gb\":0.5,"
        "\"swap_usage_percent\":12.5},\"disk\":{\"disk_usage\":{\"/\":{\"total_gb\":100,\"used_gb\":60,"
        "\"free_gb\":40,\"usage_percent\":60,\"device\":\"/dev/sda1\",\"file_system\":\"ext4\"},\"/boot\":{"
        "\"total_gb\":0.94,\"used_gb\":0.12,\"free_gb\":0.76,\"usage_percent\":13.63,\"device\":\"/dev/nvme0n1p2\","
        "\"file_system\":\"xfs\"}},\"disk_io\":{\"read_mb_per_sec\":5.2,\"write_mb_per_sec\":2.1}},"
        "\"network\":{\"bytes_sent_mb_per_sec\":1.5,\"bytes_recv_mb_per_sec\":3.2,\"packets_sent\":1234567,"
        "\"packets_recv\":2345678,\"active_connections\":45,\"interfaces\":{\"eth0\":{\"bytes_sent\":214761,"
        "\"bytes_recv\":191949903,\"packets_sent\":2626,\"packets_recv\":4720,\"errin\":0,\"errout\":0,"
        "\"dropin\":0,\"dropout\":0},\"docker0\":{\"bytes_sent\":0,\"bytes_recv\":0,\"packets_sent\":0,"
        "\"packets_recv\":0,\"errin\":0,\"errout\":0,\"dropin\":0,\"dropout\":0}}},\"processes\":{"
        "\"process_count\":234,\"top_memory_processes\":[{\"pid\":1234,\"name\":\"chrome\",\"memory_percent\":15.2,"
        "\"username\":\"alice\"},{\"pid\":2211,\"name\":\"postgres\",\"memory_percent\":4.61,\"username\":"
        "\"postgres\"},{\"pid\":981,\"name\":\"java\",\"memory_percent\":3.07,\"username\":\"www-data\"},"
        "{\"pid\":1,\"name\":\"systemd\",\"memory_percent\":0.06,\"username\":\"root\"},{\"pid\":28949,\"name\":"
        "\"telemetryd\",\"memory_percent\":0.02,\"username\":\"root\"}]},\"custom\":{}},\"stream\":"
        "\"5f0c2a7e-3b1d-4c39-9d6e-2f8a1b7c4e90\"}";

#define BODY_PLAIN 0
#define BODY_VERSION 1
/* Measured on samples (bench/hub-store): level 1 takes about two thirds of
 * level 3's time for 6 % more bytes; ingest is the budget that binds. */
#define BODY_LEVEL 1

struct body_codec {
        ZSTD_CCtx *cctx;
        ZSTD_DCtx *dctx;
        ZSTD_CDict *cdict;
        ZSTD_DDict *ddict;
        char *out;
        size_t out_cap;
};

void body_codec_free(struct body_codec *c) {
        if (!c)
                return;
        ZSTD_freeCCtx(c->cctx);
        ZSTD_freeDCtx(c->dctx);
        ZSTD_freeCDict(c->cdict);
        ZSTD_freeDDict(c->ddict);
        free(c->out);
        free(c);
}

int body_codec_new(struct body_codec **ret) {
        struct body_codec *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->cctx = ZSTD_createCCtx();
        c->dctx = ZSTD_createDCtx();
        /* Not starting with zstd's dictionary magic, the text is taken as
         * raw content. */
        c->cdict = ZSTD_createCDict(dictionary_v1, sizeof(dictionary_v1) - 1, BODY_LEVEL);
        c->ddict = ZSTD_createDDict(dictionary_v1, sizeof(dictionary_v1) - 1);
        if (!c->cctx || !c->dctx || !c->cdict || !c->ddict) {
                body_codec_free(c);
                return -ENOMEM;
        }
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
        if (len < 2 || p[0] != BODY_VERSION)
                return -EBADMSG;
        size = ZSTD_getFrameContentSize(p + 1, len - 1);
        if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > STORE_SAMPLE_MAX)
                return -EBADMSG;
        r = out_reserve(c, size);
        if (r < 0)
                return r;
        n = ZSTD_decompress_usingDDict(c->dctx, c->out, size, p + 1, len - 1, c->ddict);
        if (ZSTD_isError(n) || n != size)
                return -EBADMSG;
        c->out[n] = 0;
        *ret = c->out;
        *ret_len = n;
        return 0;
}
