/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The custom metrics applications push (docs/custom-metrics.md), held in
 * memory: for each metric name its points in timestamp order. Both
 * dimensions are bounded: at most max_metrics names, and at most max_points
 * points per name, a new point beyond that pushing out the oldest. No I/O
 * here: the ingest server, the append log and the samples all read and
 * write through this. */

struct metric_point {
        int64_t timestamp;
        double value;
};

struct metric;
struct metric_store;

int metric_store_new(size_t max_metrics, size_t max_points, struct metric_store **ret);
void metric_store_free(struct metric_store *s);

static inline void metric_store_freep(struct metric_store **s) {
        metric_store_free(*s);
}
#define _cleanup_metric_store_ _cleanup_(metric_store_freep)

enum metric_put {
        METRIC_ADDED,    /* a new point */
        METRIC_REPLACED, /* a point with this timestamp was there: its value is replaced */
        METRIC_EVICTED,  /* added, and the oldest point went to make room */
        METRIC_TOO_OLD,  /* the metric is full and this is older than all it holds: not kept */
};

/* Store a point. name is taken as it is (the protocol validates names).
 * Returns an enum metric_put, -ENOSPC for a new name when max_metrics are
 * held already, or -ENOMEM. */
int metric_store_put(struct metric_store *s, const char *name, int64_t timestamp, double value);

size_t metric_store_size(const struct metric_store *s);   /* metrics */
size_t metric_store_points(const struct metric_store *s); /* points, all metrics together */
/* Changes with every stored point: tells a reader whether what it built
 * from the store is still current. */
uint64_t metric_store_generation(const struct metric_store *s);

/* Metrics in byte order of their names, 0 <= i < metric_store_size(). */
const struct metric *metric_store_at(const struct metric_store *s, size_t i);
/* The index of the first metric whose name sorts after name ("" for the
 * first of all), metric_store_size() if none does: a cursor that stays right
 * while metrics are added between two calls. */
size_t metric_store_after(const struct metric_store *s, const char *name);
const struct metric *metric_store_find(const struct metric_store *s, const char *name);

const char *metric_name(const struct metric *m);
size_t metric_size(const struct metric *m);
/* The i-th oldest point, 0 <= i < metric_size(); i = metric_size() - 1 is
 * the latest. */
struct metric_point metric_point_at(const struct metric *m, size_t i);
