/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "store.h"

/* The Prometheus name of one stored value (docs/fleet.md, "Remote write"):
 * node_exporter's name, label and unit where a sample carries what
 * node_exporter measures (cpu.load_avg_1min is node_load1,
 * memory.memory_available_gb is node_memory_MemAvailable_bytes), otherwise
 * resolvix_ and the dotted path with '_' (the key of a per-mount,
 * per-device or per-interface object becomes a label instead). Pure. */

enum rw_root {
        RW_ROOT_METRICS, /* a resolvix sample: its "metrics" object */
        RW_ROOT_STATS,   /* a System Monitor send_stats body: its "stats" */
        RW_ROOT_CLIENT,  /* a Flask client's record */
};

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
int rw_name_of(const char *path, enum rw_root root, struct rw_name *ret);
