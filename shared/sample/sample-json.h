/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "jsonutil.h"
#include "sample.h"

/* The sample's wire format (docs/telemetry-stream.md): what the telemetry
 * stream sends, GET /sample answers and the fleet's push carries. */

/* The latest point of one custom metric, for metrics.custom. */
struct sample_custom {
        const char *name;
        double value;
        int64_t timestamp;
};

/* Where the custom metrics come from: at() fills the i-th (0 <= i < n), or
 * returns false to skip it (a metric without points). */
struct sample_custom_source {
        size_t n;
        bool (*at)(const void *data, size_t i, struct sample_custom *ret);
        const void *data;
};

/* The sample as text, written into w as it goes (json_writer_end()'s
 * result). interval 0 leaves the "interval" key out. metrics.custom is
 * always there, {} when custom is NULL or has no points, so that clients
 * can index it on every sample like the rest. */
ssize_t sample_write_json(struct json_writer *w, const struct sample *s, const char *node_id, unsigned interval,
                          const struct sample_custom_source *custom);

/* The same as a tree, for those who read it or add to it. */
cJSON *sample_to_json(const struct sample *s, const char *node_id, unsigned interval,
                      const struct sample_custom_source *custom);
