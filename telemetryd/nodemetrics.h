/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdio.h>

/* The node_* and process_* families of /metrics: what node_exporter's
 * default collectors show on Linux, under its names, types, labels and
 * units, so that its dashboards and alerts work unchanged
 * (docs/telemetry-stream.md#metrics). Read from /proc and /sys at each
 * scrape, never from a sample, which may be an interval old; the files stay
 * open from one scrape to the next. */
struct node_metrics;

int node_metrics_new(struct node_metrics **ret);
void node_metrics_free(struct node_metrics *m);

/* Every family. A source that cannot be read leaves its families out and is
 * logged once (until it can be read again). -ENOMEM only. */
int node_metrics_write(struct node_metrics *m, FILE *f);
