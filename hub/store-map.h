/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* A small open-addressing map from byte strings to int64, for the store's
 * per-handle caches (node ids, streams, metric paths, layouts). Keys are
 * copied. A cache never needs to delete one key at a time except for dead
 * nodes, so removal is by tombstone. */

struct store_map;

uint64_t store_hash(const void *key, size_t len);

struct store_map *store_map_new(void);
void store_map_free(struct store_map *m);
/* Drop everything (a cache that grew past its bound starts over). */
void store_map_clear(struct store_map *m);
size_t store_map_size(const struct store_map *m);

/* 1 and *ret set when found, 0 when not. */
int store_map_get(const struct store_map *m, const void *key, size_t len, int64_t *ret);
/* Insert or overwrite. -ENOMEM. */
int store_map_put(struct store_map *m, const void *key, size_t len, int64_t value);
void store_map_remove(struct store_map *m, const void *key, size_t len);

static inline void store_map_freep(struct store_map **m) {
        store_map_free(*m);
}
