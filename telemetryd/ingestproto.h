/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest-client.h"

/* The custom-metrics text protocol (docs/custom-metrics.md), as pure
 * functions: a request line in, a request out; values and points formatted
 * the way the replies and the append log spell them. Existing clients speak
 * it, so every byte is fixed:
 *
 *   put <metric> <value> <timestamp>\n  ->  ok\n\n
 *   get <metric>\n                      ->  ok\n(<metric> <value> <timestamp>\n)*\n
 *   get *\n                             ->  the same, for every metric
 *   anything else                       ->  error\nwrong command\n\n
 *
 * Fields are separated by one space. A line may end in "\r\n" (telnet
 * sends that). A metric name is 1 to INGEST_METRIC_MAX - 1 bytes of UTF-8
 * with no white space or control characters; "*" names no metric. A value
 * is a finite decimal number (no "nan", "inf" or hex: JSON and Prometheus
 * could not carry the first two, and no client sends the last); a
 * timestamp an integer of at most 2^53 - 1 in magnitude, so that a JSON
 * number holds it exactly and its milliseconds fit Prometheus' int64. */

#define INGEST_REPLY_OK "ok\n\n"
#define INGEST_REPLY_ERROR "error\nwrong command\n\n"

#define INGEST_TIMESTAMP_MAX ((INT64_C(1) << 53) - 1)
/* The longest formatted value ("-2.2250738585072014e-308") and point line. */
#define INGEST_VALUE_MAX 32
#define INGEST_POINT_MAX (INGEST_METRIC_MAX + INGEST_VALUE_MAX + 24)

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
