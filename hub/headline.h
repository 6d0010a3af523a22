/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "store.h"

/* The few figures that say how a node is doing, from its latest sample,
 * whatever kind of node sent it (docs/fleet.md, "Native API"): what
 * /api/v1/nodes shows as "latest" and /metrics as resolvix_node_*. Pure. */

enum headline_field {
        HEADLINE_CPU,            /* percent busy */
        HEADLINE_MEMORY,         /* percent used */
        HEADLINE_LOAD1,
        HEADLINE_DISK,           /* percent used of / */
        HEADLINE_DISK_READ,      /* MB/s */
        HEADLINE_DISK_WRITE,     /* MB/s */
        HEADLINE_NET_RECV,       /* MB/s */
        HEADLINE_NET_SENT,       /* MB/s */
        HEADLINE_CLIENT_MEM,     /* Flask clients: as the client sent it */
        HEADLINE_CLIENT_STORAGE,
        _HEADLINE_MAX,
};

struct headline_info {
        const char *json_name;   /* in /api/v1/nodes "latest" */
        const char *metric_name; /* resolvix_node_<this> */
        const char *help;
};

extern const struct headline_info headline_info[_HEADLINE_MAX];

struct headline {
        double v[_HEADLINE_MAX];
        bool has[_HEADLINE_MAX];
};

void headline_from_sample(const cJSON *sample, enum store_node_kind kind, struct headline *ret);
