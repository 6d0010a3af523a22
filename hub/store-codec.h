/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* How the store lays bytes out in the database (docs/fleet.md, "Storage"),
 * and the arithmetic of downsampling. Pure: no database, no files; the
 * same code serves both back ends, so they store the same bytes.
 *
 *   values blob  varint layout_ref, then one value per metric of the layout
 *   value        an exact multiple of 0.01 below 2^53/100 (what telemetry
 *                sends): varint zigzag(v*100) << 1; anything else: the byte
 *                0x01 then the IEEE double, little-endian
 *   layout       the metric_refs of a sample's values, varints, in order
 *   chunk        one rollup row: a version byte, then per slot that has
 *                values: varint slot, varint count, min, max, sum, last
 *   body         a version byte, then a zstd frame of the raw JSON made
 *                with the built-in dictionary of that version
 *                (store-dictionary.h); version 0:
 *                the JSON as is (the latest sample of each node, read far
 *                more often than written: /api/v1/nodes, the fleet view) */

/* A growable byte buffer. */
struct bytes {
        uint8_t *p;
        size_t len, cap;
};
int bytes_reserve(struct bytes *b, size_t more);
int bytes_append(struct bytes *b, const void *data, size_t len);
void bytes_done(struct bytes *b);

void varint_put(struct bytes *b, uint64_t v); /* caller reserved 10 bytes */
/* Bytes consumed, or 0 when the input ends or the varint is too long. */
size_t varint_get(const uint8_t *p, const uint8_t *end, uint64_t *ret);

#define VALUE_MAX_BYTES 10
void value_put(struct bytes *b, double v); /* caller reserved VALUE_MAX_BYTES */
size_t value_get(const uint8_t *p, const uint8_t *end, double *ret);

/* The value at position pos of a values blob (after its layout_ref). */
int values_at(const uint8_t *p, const uint8_t *end, size_t pos, double *ret);
/* The layout_ref a values blob starts with; sets *rest to what follows. */
int values_layout(const uint8_t *p, const uint8_t *end, int64_t *ret, const uint8_t **rest);

/* ---- downsampling ------------------------------------------------------ */

/* Aggregate of the values in one slot or bucket. Sums of values that are
 * exact hundredths are kept in integer hundredths, so a sum does not depend
 * on the order it was added in: the raw rows and the rollups give the same
 * average to the last bit for what telemetry sends. */
struct agg {
        uint64_t count;
        double min, max, last;
        bool inexact;  /* some value was not an exact hundredth: use dsum */
        int64_t csum;  /* hundredths, while !inexact */
        double dsum;
};

void agg_add(struct agg *a, double v);
/* Merge b, which comes later in time than everything in a. */
void agg_merge(struct agg *a, const struct agg *b);
double agg_value(const struct agg *a, enum store_agg how);

#define CHUNK_VERSION 1
/* Encode the slots that have a count. */
int chunk_encode(const struct agg *slots, size_t n, struct bytes *out);
/* Decode into slots[0..n) (zeroed first). -EBADMSG on damage. */
int chunk_decode(const uint8_t *p, size_t len, struct agg *slots, size_t n);

/* ---- bodies ------------------------------------------------------------ */

struct body_codec;
int body_codec_new(struct body_codec **ret);
void body_codec_free(struct body_codec *c);
/* Append the stored form of json to out. */
int body_compress(struct body_codec *c, const char *json, size_t len, struct bytes *out);
/* Append json in the uncompressed form (version 0). */
int body_plain(const char *json, size_t len, struct bytes *out);
/* The JSON back, NUL-terminated, in a buffer owned by c and valid until the
 * next call. -EBADMSG on damage or an unknown version. */
int body_decompress(struct body_codec *c, const uint8_t *p, size_t len, const char **ret, size_t *ret_len);
