/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The one buffer every client reads from (the libwebsockets broker pattern:
 * one ring, a tail per client), numbered by sequence instead of by slot so
 * that a client's tail is a plain number that can never dangle.
 *
 * Entries are opaque byte blocks laid out back to back in one arena that is
 * allocated once: adding an entry costs no allocation, and memory is
 * bounded by the arena whatever the clients do. When an entry does not fit,
 * the oldest go, whoever has not read them yet; a client whose tail falls
 * below ring_first() has lost ring_first() - tail entries. */

#define RING_ALIGN 8

struct ring;

/* arena_bytes: total size of all entries; slots: most entries held (a power
 * of two is used, at least this many). */
int ring_new(size_t arena_bytes, size_t slots, struct ring **ret);
void ring_free(struct ring *r);
static inline void ring_freep(struct ring **r) {
        if (*r)
                ring_free(*r);
}

/* Room for an entry of up to max bytes, RING_ALIGN-aligned, evicting the
 * oldest entries as needed; NULL if max exceeds the arena. Nothing is
 * visible until ring_commit(). */
void *ring_reserve(struct ring *r, size_t max);
/* Publish the reserved entry with its real length (<= max); returns its
 * sequence number. */
uint64_t ring_commit(struct ring *r, size_t len);

/* The entry with this sequence number, or NULL if it is gone or not there
 * yet. */
const void *ring_get(const struct ring *r, uint64_t seq, size_t *len);

/* Oldest sequence still held, and the one the next entry will get: the
 * ring holds [first, next). */
uint64_t ring_first(const struct ring *r);
uint64_t ring_next(const struct ring *r);
size_t ring_arena_size(const struct ring *r);
