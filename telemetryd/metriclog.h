/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metricstore.h"

/* The custom metrics on disk: an append log of "put <metric> <value>
 * <timestamp>" lines, the protocol's own requests, in <state_dir>/
 * custom-metrics.log. Opening it replays it into a store and rewrites it
 * (compacts it) to exactly what the store holds, which also drops a line
 * torn by a crash. It is compacted again whenever it has grown past twice
 * what the last compaction wrote (and at least METRIC_LOG_COMPACT_MIN more).
 *
 * What a crash can lose: puts are written to the file before the client is
 * told "ok" (one that could not be written is told the error instead), so a
 * crash of the process loses nothing that was acknowledged;
 * the file is fsync()ed at most a second after a write, so a crash of the
 * machine loses at most the last second of puts. A compaction is written to
 * a new file, fsync()ed and renamed over the log: either the old or the new
 * file survives, never a mix. */

#define METRIC_LOG_NAME "custom-metrics.log"
#define METRIC_LOG_COMPACT_MIN (1u << 20)

struct metric_log;

struct metric_log_replay {
        size_t lines;   /* put lines replayed */
        size_t bad;     /* lines that were not a put (a torn last line, damage) */
        size_t refused; /* puts of metrics beyond max_metrics */
        int unwritable; /* -ENOSPC or -EDQUOT: the rewrite failed, see metric_log_open() */
};

/* Open (creating the directory and the file as needed) and replay into
 * store. Only one process may hold a state directory's log: a second gets
 * -EBUSY. On a full disk, where the rewrite that follows the replay cannot
 * be written, the log opens all the same, not writable (and
 * replay->unwritable says why) until metric_log_compact_if_due() works. */
int metric_log_open(const char *dir, struct metric_store *store, struct metric_log **ret,
                    struct metric_log_replay *replay);
/* Flushes, fsync()s and closes. */
void metric_log_free(struct metric_log *l);

static inline void metric_log_freep(struct metric_log **l) {
        if (*l)
                metric_log_free(*l);
}
#define _cleanup_metric_log_ _cleanup_(metric_log_freep)

/* Queue a put: the request line as the client sent it, without its line
 * end. The replay parses it back to the same point, and copying it costs
 * nothing like spelling a double anew. metric_log_flush() writes what is
 * queued. */
int metric_log_append(struct metric_log *l, const char *request, size_t len);
/* Write the queued puts to the file. On a write error the queue is dropped,
 * the log is not writable, and the next metric_log_compact_if_due()
 * rewrites the file from the store, which still holds them. Until then the
 * queued puts are not known to be on disk: their clients must not be told
 * they are. */
int metric_log_flush(struct metric_log *l);
/* False from a failed write or fsync until a compaction has rewritten the
 * file: a put appended now would not reach it. */
bool metric_log_writable(const struct metric_log *l);
/* fsync() what was written since the last call; 0 if nothing was. A
 * failure, like a failed write, makes a rewrite due. */
int metric_log_sync(struct metric_log *l);
bool metric_log_unsynced(const struct metric_log *l);

/* Compact now if the log has grown past its bound or a write failed:
 * returns 1 if it did, 0 if it was not due. */
int metric_log_compact_if_due(struct metric_log *l, const struct metric_store *store);
int metric_log_compact(struct metric_log *l, const struct metric_store *store);

/* Bytes in the file now, and what the last compaction wrote. */
uint64_t metric_log_size(const struct metric_log *l);
uint64_t metric_log_compacted_size(const struct metric_log *l);
