/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The remote-write queue on disk (docs/fleet.md, "Remote write"): records
 * (one encoded WriteRequest each, and how many samples it carries) appended
 * to segment files in one directory, read back in order by one sender, the
 * read position saved atomically after each acknowledged batch, so a
 * restart neither loses nor repeats what the receiver has taken. Past
 * max_bytes the oldest segment is dropped and its samples counted.
 * Thread-safe: one thread appends, another reads. */

struct rwq;

struct rwq_stats {
        uint64_t queued_samples, queued_bytes, dropped_samples;
};

/* Open (creating) dir and take up what is in it: a torn record at the end
 * of a segment (a crash while writing) is cut off. */
int rwq_open(const char *dir, uint64_t max_bytes, struct rwq **ret);
void rwq_free(struct rwq *q);

int rwq_append(struct rwq *q, const void *data, size_t len, uint32_t samples);

/* Wait up to timeout_ms for something to read (or rwq_wake()). */
bool rwq_wait(struct rwq *q, int timeout_ms);
void rwq_wake(struct rwq *q);

/* Read whole records from the read position, up to max_bytes of payload
 * (at least one record), concatenated into *buf (grown as needed). A
 * protobuf message concatenated to another is their merge, so the result
 * is one WriteRequest. Returns the number of records (0: nothing), and in
 * *cursor what rwq_consume() needs. */
struct rwq_cursor {
        uint64_t id, start, end;
        uint64_t samples;
};
int rwq_read(struct rwq *q, size_t max_bytes, uint8_t **buf, size_t *cap, size_t *len, struct rwq_cursor *cursor);

/* The records read are done with (sent, or refused for good): move past
 * them and save the position. Returns false when they had been dropped for
 * room meanwhile (already counted). */
bool rwq_consume(struct rwq *q, const struct rwq_cursor *cursor);

void rwq_get_stats(struct rwq *q, struct rwq_stats *ret);
