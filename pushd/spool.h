/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spool-record.h"

/* pushd's spool (docs/fleet.md, "The spool"): every sample is appended here
 * before it is sent, and stays until the hub acknowledged it. Append-only
 * segment files named by their first seq, a CRC per record, data synced at
 * most once a second, the position (what is done) saved by rename. Over
 * its byte bound the oldest segment goes, and what it held unsent is
 * counted as dropped. */

struct spool;

struct spool_figures {
        const char *stream;
        uint64_t next_seq;     /* what the next append gets */
        uint64_t done;         /* every seq <= done is acknowledged or dropped */
        uint64_t last_ack;     /* highest seq the hub acknowledged, 0 = none yet */
        uint64_t pending;      /* records waiting for the hub */
        uint64_t dropped;      /* records given up: the bound, or refused by the hub */
        uint64_t bytes;        /* segment bytes on disk */
        uint64_t torn;         /* bytes skipped as torn or corrupt since open */
};

/* Open (creating) the spool in dir, holding at most max_bytes of segments.
 * A torn tail is cut off and reported in the log; corrupt records are
 * skipped. */
int spool_open(const char *dir, uint64_t max_bytes, struct spool **ret);
void spool_free(struct spool *s);

static inline void spool_freep(struct spool **s) {
        spool_free(*s);
}
#define _cleanup_spool_ _cleanup_(spool_freep)

/* The seq the next append gets, so the payload can carry it. */
uint64_t spool_next_seq(const struct spool *s);
int spool_append(struct spool *s, const char *payload, size_t len);

/* fdatasync the active segment when it has unsynced data; at most once a
 * second is the caller's part. */
int spool_sync(struct spool *s);

/* Call fn for up to max_n pending records with seq >= from, oldest first.
 * fn returns false to stop early (the record it was handed not taken).
 * Returns the number taken or a negative errno. */
typedef bool (*spool_record_fn)(const struct spool_record *rec, void *userdata);
int spool_read(struct spool *s, uint64_t from, size_t max_n, spool_record_fn fn, void *userdata);

/* Is seq still waiting for the hub? */
bool spool_is_pending(const struct spool *s, uint64_t seq);

/* The hub holds seq (acked) or refused it for good (dropped): it is done.
 * Segments left with nothing pending are removed; the position is saved by
 * spool_save(), once for a whole answer of the hub. 1 when seq was
 * pending, 0 when it was done already. */
int spool_ack(struct spool *s, uint64_t seq);
int spool_drop(struct spool *s, uint64_t seq);
/* Write the position atomically (write, fsync, rename). */
int spool_save(struct spool *s);

void spool_get_figures(const struct spool *s, struct spool_figures *ret);
