/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "macro.h"
#include "sample.h"

/* The headline series of the last samples, for GET /history and the
 * dashboard's charts after a reload (docs/telemetry-stream.md#history): a
 * ring of fixed-size numeric records allocated once, so that what it costs
 * is known at start and never grows. */

/* Per-core figures kept for at most this many CPUs; the total covers all. */
#define HISTORY_CORES_MAX 64
/* Most records a history holds: an hour at the shortest interval. */
#define HISTORY_RECORDS_MAX 3600
/* What a history covers by default: records = this / interval. */
#define HISTORY_SECONDS 3600

struct history;

/* capacity records, 2..HISTORY_RECORDS_MAX. */
int history_new(size_t capacity, struct history **ret);
void history_free(struct history *h);

static inline void history_freep(struct history **h) {
        history_free(*h);
}
#define _cleanup_history_ _cleanup_(history_freep)

/* The capacity for an hour at interval seconds, within the bounds above. */
size_t history_capacity_for(unsigned interval);

/* Record a sample; the oldest record goes when the ring is full. */
void history_add(struct history *h, const struct sample *s);

size_t history_size(const struct history *h);
size_t history_capacity(const struct history *h);

/* Write the records taken after since_ms (milliseconds since the epoch; 0
 * for all) as the JSON object docs/telemetry-stream.md#history describes,
 * oldest first. Returns the number of records written, or -EIO. */
int history_write_json(const struct history *h, int64_t since_ms, unsigned interval, FILE *f);
