/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metricstore.h"

static struct metric_store *store(size_t max_metrics, size_t max_points) {
        struct metric_store *s = NULL;

        cr_assert_eq(metric_store_new(max_metrics, max_points, &s), 0);
        return s;
}

/* The points of a metric as "ts=value ts=value ...". */
static const char *points(const struct metric_store *s, const char *name) {
        static char buf[4096];
        const struct metric *m = metric_store_find(s, name);
        size_t len = 0;

        buf[0] = '\0';
        for (size_t i = 0; m && i < metric_size(m); i++) {
                struct metric_point p = metric_point_at(m, i);
                len += (size_t) snprintf(buf + len, sizeof buf - len, "%s%lld=%g", i ? " " : "", (long long) p.timestamp,
                                         p.value);
        }
        return buf;
}

Test(metricstore, points_come_back_in_timestamp_order) {
        struct metric_store *s = store(10, 10);

        cr_assert_eq(metric_store_put(s, "palm.cpu", 20, 2.0), METRIC_ADDED);
        cr_assert_eq(metric_store_put(s, "palm.cpu", 10, 1.0), METRIC_ADDED);
        cr_assert_eq(metric_store_put(s, "palm.cpu", 30, 3.0), METRIC_ADDED);
        cr_assert_eq(metric_store_put(s, "palm.cpu", 15, 1.5), METRIC_ADDED);
        cr_assert_str_eq(points(s, "palm.cpu"), "10=1 15=1.5 20=2 30=3");
        cr_assert_eq(metric_store_points(s), 4);
        cr_assert_eq(metric_store_size(s), 1);
        cr_assert_null(metric_store_find(s, "palm"));
        cr_assert_str_eq(points(s, "nope"), "");
        metric_store_free(s);
}

Test(metricstore, same_timestamp_replaces_the_value) {
        struct metric_store *s = store(10, 3);
        uint64_t g;

        metric_store_put(s, "m", 1, 1.0);
        metric_store_put(s, "m", 2, 2.0);
        g = metric_store_generation(s);
        cr_assert_eq(metric_store_put(s, "m", 1, 0.5), METRIC_REPLACED);
        cr_assert_neq(metric_store_generation(s), g);
        cr_assert_str_eq(points(s, "m"), "1=0.5 2=2");
        cr_assert_eq(metric_store_points(s), 2);
        /* Replacing in a full metric evicts nothing. */
        metric_store_put(s, "m", 3, 3.0);
        cr_assert_eq(metric_store_put(s, "m", 1, 0.25), METRIC_REPLACED);
        cr_assert_str_eq(points(s, "m"), "1=0.25 2=2 3=3");
        metric_store_free(s);
}

Test(metricstore, max_points_evicts_the_oldest) {
        struct metric_store *s = store(10, 3);
        uint64_t g;

        for (int t = 1; t <= 3; t++)
                cr_assert_eq(metric_store_put(s, "m", t, t), METRIC_ADDED);
        cr_assert_eq(metric_store_put(s, "m", 4, 4), METRIC_EVICTED);
        cr_assert_str_eq(points(s, "m"), "2=2 3=3 4=4");
        /* Older than the newest but not than all: the oldest still goes. */
        cr_assert_eq(metric_store_put(s, "m", 3, 30), METRIC_REPLACED);
        cr_assert_eq(metric_store_put(s, "m", 2, 20), METRIC_REPLACED);
        cr_assert_eq(metric_store_put(s, "m", 0, 0), METRIC_TOO_OLD);
        g = metric_store_generation(s);
        cr_assert_eq(metric_store_put(s, "m", 1, 1), METRIC_TOO_OLD);
        cr_assert_eq(metric_store_generation(s), g, "a point not kept changes nothing");
        cr_assert_str_eq(points(s, "m"), "2=20 3=30 4=4");
        cr_assert_eq(metric_store_points(s), 3);
        metric_store_free(s);
}

Test(metricstore, one_point_per_metric) {
        struct metric_store *s = store(10, 1);

        cr_assert_eq(metric_store_put(s, "m", 5, 5), METRIC_ADDED);
        cr_assert_eq(metric_store_put(s, "m", 4, 4), METRIC_TOO_OLD);
        cr_assert_eq(metric_store_put(s, "m", 6, 6), METRIC_EVICTED);
        cr_assert_eq(metric_store_put(s, "m", 6, 7), METRIC_REPLACED);
        cr_assert_str_eq(points(s, "m"), "6=7");
        metric_store_free(s);
}

Test(metricstore, max_metrics_refuses_new_names_only) {
        struct metric_store *s = store(2, 10);

        cr_assert_eq(metric_store_put(s, "a", 1, 1), METRIC_ADDED);
        cr_assert_eq(metric_store_put(s, "b", 1, 1), METRIC_ADDED);
        cr_assert_eq(metric_store_put(s, "c", 1, 1), -ENOSPC);
        cr_assert_null(metric_store_find(s, "c"));
        cr_assert_eq(metric_store_put(s, "a", 2, 2), METRIC_ADDED);
        cr_assert_eq(metric_store_size(s), 2);
        cr_assert_eq(metric_store_points(s), 3);
        metric_store_free(s);
}

Test(metricstore, bounds_must_be_positive) {
        struct metric_store *s = NULL;

        cr_assert_eq(metric_store_new(0, 1, &s), -EINVAL);
        cr_assert_eq(metric_store_new(1, 0, &s), -EINVAL);
        cr_assert_null(s);
}

Test(metricstore, names_in_byte_order_and_a_cursor_that_survives_inserts) {
        static const char *const names[] = { "palm.cpu", "eardrum.memory", "a", "palm.cpu.x", "Z", "é.utf8" };
        struct metric_store *s = store(100, 10);
        char seen[16][64];
        size_t n = 0;

        for (size_t i = 0; i < 4; i++)
                metric_store_put(s, names[i], 1, 1);
        cr_assert_str_eq(metric_name(metric_store_at(s, 0)), "a");
        cr_assert_str_eq(metric_name(metric_store_at(s, 3)), "palm.cpu.x");
        cr_assert_null(metric_store_at(s, 4));

        /* Walk as "get *" does, adding metrics on both sides of the cursor
         * half way: each name comes once, the new one after it too. */
        for (size_t i = metric_store_after(s, ""); i < metric_store_size(s); i = metric_store_after(s, seen[n - 1])) {
                snprintf(seen[n++], sizeof seen[0], "%s", metric_name(metric_store_at(s, i)));
                if (n == 2) {
                        metric_store_put(s, names[4], 1, 1); /* "Z": before the cursor */
                        metric_store_put(s, names[5], 1, 1); /* after it */
                }
        }
        cr_assert_eq(n, 5);
        cr_assert_str_eq(seen[0], "a");
        cr_assert_str_eq(seen[1], "eardrum.memory");
        cr_assert_str_eq(seen[2], "palm.cpu");
        cr_assert_str_eq(seen[3], "palm.cpu.x");
        cr_assert_str_eq(seen[4], "é.utf8");
        cr_assert_eq(metric_store_after(s, "\xff"), metric_store_size(s));
        metric_store_free(s);
}

/* Against a plain model: a sorted array that keeps the newest max points.
 * Random timestamps in a narrow window make replaces, out-of-order inserts
 * and evictions all common, and the ring wraps many times. */
Test(metricstore, agrees_with_a_model_under_random_puts) {
        enum { MAX = 7, ROUNDS = 20000 };
        struct metric_point model[MAX + 1];
        size_t n = 0;
        struct metric_store *s = store(1, MAX);

        srand(7);
        for (int round = 0; round < ROUNDS; round++) {
                int64_t ts = round / 3 + rand() % 12 - 6;
                double v = rand();
                size_t pos = 0;
                int want, r;

                while (pos < n && model[pos].timestamp < ts)
                        pos++;
                if (pos < n && model[pos].timestamp == ts) {
                        model[pos].value = v;
                        want = METRIC_REPLACED;
                } else if (n == MAX && pos == 0)
                        want = METRIC_TOO_OLD;
                else {
                        memmove(model + pos + 1, model + pos, (n - pos) * sizeof model[0]);
                        model[pos] = (struct metric_point){ ts, v };
                        n++;
                        want = METRIC_ADDED;
                        if (n > MAX) {
                                memmove(model, model + 1, MAX * sizeof model[0]);
                                n = MAX;
                                want = METRIC_EVICTED;
                        }
                }
                r = metric_store_put(s, "m", ts, v);
                cr_assert_eq(r, want, "round %d: put %lld gave %d, want %d", round, (long long) ts, r, want);

                const struct metric *m = metric_store_find(s, "m");
                cr_assert_eq(metric_size(m), n);
                for (size_t i = 0; i < n; i++) {
                        struct metric_point p = metric_point_at(m, i);
                        cr_assert_eq(p.timestamp, model[i].timestamp, "round %d point %zu", round, i);
                        cr_assert_eq(p.value, model[i].value, "round %d point %zu", round, i);
                }
        }
        cr_assert_eq(metric_store_points(s), n);
        metric_store_free(s);
}
