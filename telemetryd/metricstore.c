/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "macro.h"
#include "metricstore.h"

/* Points live in a ring kept in timestamp order. Applications put their
 * points in time order, so the usual put appends at the end and, once the
 * metric is full, drops the head: both O(1), where a plain array would move
 * every point on each put. A point older than the newest is put in its place
 * by shifting the ones after it, which is rare. */
struct metric {
        struct metric_point *ring;
        size_t head, count, capacity;
        char name[];
};

struct metric_store {
        struct metric **metrics; /* sorted by name */
        size_t n_metrics, allocated;
        size_t max_metrics, max_points;
        size_t points;
        uint64_t generation;
};

int metric_store_new(size_t max_metrics, size_t max_points, struct metric_store **ret) {
        struct metric_store *s;

        if (max_metrics == 0 || max_points == 0)
                return -EINVAL;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->max_metrics = max_metrics;
        s->max_points = max_points;
        *ret = s;
        return 0;
}

void metric_store_free(struct metric_store *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_metrics; i++) {
                free(s->metrics[i]->ring);
                free(s->metrics[i]);
        }
        free(s->metrics);
        free(s);
}

static struct metric_point *slot(const struct metric *m, size_t i) {
        return &m->ring[(m->head + i) % m->capacity];
}

/* The first position whose timestamp is >= ts. */
static size_t lower_bound(const struct metric *m, int64_t ts) {
        size_t lo = 0, hi = m->count;

        /* The common case, a point newer than all, without the search. */
        if (m->count > 0 && slot(m, m->count - 1)->timestamp < ts)
                return m->count;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (slot(m, mid)->timestamp < ts)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static int grow(struct metric *m, size_t max_points) {
        size_t capacity = m->capacity ? m->capacity * 2 : 2;
        struct metric_point *ring;

        if (capacity > max_points)
                capacity = max_points;
        ring = malloc(capacity * sizeof *ring);
        if (!ring)
                return -ENOMEM;
        for (size_t i = 0; i < m->count; i++)
                ring[i] = *slot(m, i);
        free(m->ring);
        m->ring = ring;
        m->head = 0;
        m->capacity = capacity;
        return 0;
}

/* Where name is, or would go, in the sorted array. */
static size_t find_index(const struct metric_store *s, const char *name, bool *found) {
        size_t lo = 0, hi = s->n_metrics;

        *found = false;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(s->metrics[mid]->name, name);
                if (c == 0) {
                        *found = true;
                        return mid;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static int add_metric(struct metric_store *s, size_t at, const char *name, struct metric **ret) {
        size_t len = strlen(name);
        struct metric *m;

        if (s->n_metrics >= s->max_metrics)
                return -ENOSPC;
        if (GROW(s->metrics, s->allocated, s->n_metrics + 1, 16) < 0)
                return -ENOMEM;
        m = calloc(1, sizeof *m + len + 1);
        if (!m)
                return -ENOMEM;
        memcpy(m->name, name, len + 1);
        memmove(s->metrics + at + 1, s->metrics + at, (s->n_metrics - at) * sizeof *s->metrics);
        s->metrics[at] = m;
        s->n_metrics++;
        *ret = m;
        return 0;
}

int metric_store_put(struct metric_store *s, const char *name, int64_t timestamp, double value) {
        enum metric_put result = METRIC_ADDED;
        struct metric *m;
        bool found;
        size_t at = find_index(s, name, &found), pos;
        int r;

        if (found)
                m = s->metrics[at];
        else {
                r = add_metric(s, at, name, &m);
                if (r < 0)
                        return r;
        }

        pos = lower_bound(m, timestamp);
        if (pos < m->count && slot(m, pos)->timestamp == timestamp) {
                slot(m, pos)->value = value;
                s->generation++;
                return METRIC_REPLACED;
        }
        if (m->count == s->max_points) {
                if (pos == 0)
                        return METRIC_TOO_OLD;
                m->head = (m->head + 1) % m->capacity;
                m->count--;
                s->points--;
                pos--;
                result = METRIC_EVICTED;
        }
        if (m->count == m->capacity) {
                r = grow(m, s->max_points);
                if (r < 0)
                        return r;
        }
        for (size_t i = m->count; i > pos; i--)
                *slot(m, i) = *slot(m, i - 1);
        *slot(m, pos) = (struct metric_point){ .timestamp = timestamp, .value = value };
        m->count++;
        s->points++;
        s->generation++;
        return result;
}

size_t metric_store_size(const struct metric_store *s) {
        return s->n_metrics;
}

size_t metric_store_points(const struct metric_store *s) {
        return s->points;
}

uint64_t metric_store_generation(const struct metric_store *s) {
        return s->generation;
}

const struct metric *metric_store_at(const struct metric_store *s, size_t i) {
        return i < s->n_metrics ? s->metrics[i] : NULL;
}

size_t metric_store_after(const struct metric_store *s, const char *name) {
        bool found;
        size_t i = find_index(s, name, &found);

        return found ? i + 1 : i;
}

const struct metric *metric_store_find(const struct metric_store *s, const char *name) {
        bool found;
        size_t i = find_index(s, name, &found);

        return found ? s->metrics[i] : NULL;
}

const char *metric_name(const struct metric *m) {
        return m->name;
}

size_t metric_size(const struct metric *m) {
        return m->count;
}

struct metric_point metric_point_at(const struct metric *m, size_t i) {
        return *slot(m, i);
}
