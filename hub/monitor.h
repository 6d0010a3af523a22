/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "procfs.h"

/* The hub's own figures under /monitor, as the Flask system-monitor server reported them
 * with psutil (docs/fleet.md, "Flask system-monitor API"): CPU load, memory and the root
 * filesystem, in a unit the client picks. */

/* units=B|KB|MB|GB|TB (NULL or "" = MB) → the power of 1024 as a shift
 * and the canonical name. -EINVAL for anything else. */
int monitor_units(const char *units, unsigned *ret_shift, const char **ret_name);

/* {active, available, buffers, cached, free, inactive, percent, shared,
 * slab, total, used}, sizes in the unit, as psutil.virtual_memory(). */
cJSON *monitor_memory_json(const struct meminfo *m, unsigned shift);

struct fs_usage {
        uint64_t total, free, used; /* free: what an unprivileged user may still use */
};

/* {free, percent, total, units, used} as psutil.disk_usage(). */
cJSON *monitor_storage_json(const struct fs_usage *u, unsigned shift, const char *units);

/* CPU busy percent since the previous call (at least a quarter of a
 * second apart: closer calls get the last figure again). */
struct cpu_load {
        struct cpu_times prev;
        uint64_t prev_usec;
        double last;
        bool primed;
};
double monitor_cpu_load(struct cpu_load *l);

int monitor_read_meminfo(struct meminfo *ret);
int monitor_read_fs(const char *path, struct fs_usage *ret);
