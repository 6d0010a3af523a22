/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest-protocol.h"

/* The custom-metrics text protocol (ingest-protocol.h, docs/custom-metrics.md)
 * as pure functions: a request line in, a request out; values and points
 * formatted the way the replies and the append log spell them. */

enum ingest_command {
        INGEST_PUT,
        INGEST_GET,
};

struct ingest_request {
        enum ingest_command command;
        bool all; /* get * */
        char metric[INGEST_METRIC_MAX];
        double value;
        int64_t timestamp;
};

/* One request line, without its "\n". Returns 0, or -EINVAL for anything
 * that earns INGEST_REPLY_ERROR. */
int ingest_parse(const char *line, size_t len, struct ingest_request *ret);

bool ingest_metric_valid(const char *name, size_t len);

/* A value as Python's repr() spells a float, which is what the protocol's
 * reference server answers: the shortest digits that read back as the same
 * double, fixed notation with at least one decimal ("2.0", "0.0001") for
 * exponents -4..15, else scientific ("1e+16", "1.5e-05"). Returns the
 * length written to buf. */
size_t ingest_format_value(double v, char buf[static INGEST_VALUE_MAX]);

/* "<metric> <value> <timestamp>\n" into buf (INGEST_POINT_MAX bytes are
 * always enough); returns its length. */
size_t ingest_format_point(char *buf, size_t size, const char *metric, int64_t timestamp, double value);
