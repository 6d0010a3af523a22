/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sample-values.h"
#include "store.h"

/* The Prometheus name of one stored value (docs/fleet.md, "Remote write"):
 * node_exporter's name, label and unit where a sample carries what
 * node_exporter measures (cpu.load_avg_1min is node_load1,
 * memory.memory_available_gb is node_memory_MemAvailable_bytes), otherwise
 * resolvix_ and the dotted path with '_' (the key of a per-mount,
 * per-device or per-interface object becomes a label instead). Pure. */

/* A metric name: "resolvix_" + a 255-byte path, each byte at most once. */
#define RW_NAME_MAX (9 + STORE_METRIC_MAX)

struct rw_name {
        char name[RW_NAME_MAX + 1];
        const char *label;               /* NULL, or the name of the one extra label */
        char label_value[STORE_METRIC_MAX + 1];
        double scale;                    /* multiply the stored value by this */
};

/* path as sample_values_flatten() names it (keys joined by '.', escaped
 * with '\'). -EINVAL when it is empty or malformed. */
int rw_name_of(const char *path, enum sample_root root, struct rw_name *ret);

/* The names of the paths met lately, so that the rules run once per path
 * rather than for every value of every sample: a hub sees the same few
 * hundred paths again and again. Bounded, since a node may send any number
 * of distinct paths: past RW_NAME_CACHE_MAX names it starts over, and a
 * path it cannot keep is named by the rules as before. */
#define RW_NAME_CACHE_MAX 4096

struct rw_name_cache;

/* rw_name_of()'s answer, in the cache: valid until the next lookup. */
struct rw_name_view {
        const char *name;
        const char *label; /* NULL, or the name of the one extra label */
        const char *label_value;
        double scale;
};

int rw_name_cache_new(struct rw_name_cache **ret);
void rw_name_cache_free(struct rw_name_cache *c);
/* As rw_name_of(). */
int rw_name_cached(struct rw_name_cache *c, const char *path, enum sample_root root, struct rw_name_view *ret);
size_t rw_name_cache_size(const struct rw_name_cache *c);
