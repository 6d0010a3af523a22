/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "sample-values.h"

/* Forwarding of stored samples to a Prometheus remote-write receiver
 * (docs/fleet.md, "Remote write"). The writer thread stages each sample's
 * values as it adds them to a batch and, once the batch committed, keeps
 * those the store took as new: they are encoded as WriteRequests and
 * appended to the queue on disk (remote-write-queue.c) before the pushes
 * are answered. A thread of its own sends the queue, snappy-compressed,
 * in order, retrying with backoff, so the event loop never waits on the
 * receiver. */

struct remote_write;

struct remote_write_stats {
        uint64_t sent_samples, sent_requests;
        uint64_t failed_requests;  /* answered 429 or 5xx, or not at all: retried */
        uint64_t rejected_samples; /* refused for good with another 4xx */
        uint64_t dropped_samples;  /* the oldest, dropped for room in the queue */
        uint64_t queued_samples, queued_bytes;
};

/* Whether url is one remote_write_url may be; logs why not. */
bool remote_write_url_valid(const char *url);

/* Open the queue under state_dir and start sending. */
int remote_write_start(const struct conf *c, struct remote_write **ret);
/* Stop sending (what is queued stays on disk for the next start). */
void remote_write_stop(struct remote_write *rw);

/* ---- the writer thread ---- */
size_t remote_write_staged(const struct remote_write *rw);
/* Stage one sample's values (the object they came from, root, says how to
 * name them). */
int remote_write_stage(struct remote_write *rw, const char *node_id, int64_t ts_ms, enum sample_root root,
                       const struct store_value *values, size_t n_values);
/* Forget the staged samples from the n-th on (their batch failed). */
void remote_write_truncate(struct remote_write *rw, size_t n);
/* Whether the i-th staged sample goes out: only those stored as new, not
 * duplicates of stored ones (sent already). */
void remote_write_keep(struct remote_write *rw, size_t i, bool keep);
/* Queue what was kept on disk and forget everything staged. */
void remote_write_flush(struct remote_write *rw);

/* ---- the loop ---- */
void remote_write_get_stats(struct remote_write *rw, struct remote_write_stats *ret);
