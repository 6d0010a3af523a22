/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "sample-values.h"

/* The body of POST /api/v1/push (docs/fleet.md, "Native API"): NDJSON, one
 * sample per line plus "stream" and "seq". Pure: bytes in, parsed lines
 * out, so that every way a batch can be wrong is tested without a hub. */

/* How far ahead of the hub's clock a sample may be stamped. */
#define PUSH_FUTURE_MAX_MS (10 * 60 * 1000)
/* Samples in one batch; pushd sends at most 500. */
#define PUSH_LINES_MAX 10000

struct push_line {
        size_t line;      /* 1-based line number in the body */
        const char *json; /* the line as sent (not NUL-terminated) */
        size_t len;
        /* Read in one pass (sample_scan()): its values, named, and the
         * stream, in one block it owns; tree is NULL. Or, when the scan
         * handed it to cJSON, the tree it owns, values NULL and the stream
         * in the tree. */
        void *scanned;
        const struct store_value *values;
        size_t n_values;
        enum sample_root root;
        cJSON *tree;
        const char *stream;
        int64_t seq;
        int64_t ts;       /* Unix ms */
};

struct push_error {
        size_t line; /* 0: the batch as a whole */
        char message[256];
};

/* Parse every line; on the first bad one return -EBADMSG (-E2BIG for more
 * than PUSH_LINES_MAX lines) with err saying which and why, and nothing
 * allocated. Blank lines are skipped (but counted); a batch without a
 * sample is an error. */
int push_parse(const char *body, size_t len, int64_t now_ms, struct push_line **ret, size_t *ret_n,
               struct push_error *err);
void push_lines_free(struct push_line *lines, size_t n);

/* "2024-01-15T10:30:45Z", with optional fractional seconds and a
 * +HH:MM / -HH:MM offset instead of Z. */
int parse_iso8601_ms(const char *s, int64_t *ret);

/* A "timestamp" member: an ISO-8601 string or Unix seconds. */
int sample_timestamp_ms(const struct json_member *value, int64_t *ret);

/* Inflate a gzip body, refusing to produce more than max bytes (-EFBIG)
 * and corrupt input (-EBADMSG). The result is NUL-terminated. */
int gunzip_capped(const void *in, size_t len, size_t max, char **ret, size_t *ret_len);
