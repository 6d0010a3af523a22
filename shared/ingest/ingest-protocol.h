/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

/* The custom-metrics text protocol (docs/custom-metrics.md), as both its
 * server (telemetryd's ingest port) and its client see it. Existing clients
 * speak it, so every byte is fixed:
 *
 *   put <metric> <value> <timestamp>\n  ->  ok\n\n
 *   get <metric>\n                      ->  ok\n(<metric> <value> <timestamp>\n)*\n
 *   get *\n                             ->  the same, for every metric
 *   anything else                       ->  error\nwrong command\n\n
 *
 * Fields are separated by one space. A line may end in "\r\n" (telnet sends
 * that). A metric name is 1 to INGEST_METRIC_MAX - 1 bytes of UTF-8 with no
 * white space or control characters; "*" names no metric. A value is a
 * finite decimal number (no "nan", "inf" or hex: JSON and Prometheus could
 * not carry the first two, and no client sends the last); a timestamp an
 * integer of at most 2^53 - 1 in magnitude, so that a JSON number holds it
 * exactly and its milliseconds fit Prometheus' int64. */

#define INGEST_METRIC_MAX 256

#define INGEST_REPLY_OK "ok\n\n"
#define INGEST_REPLY_ERROR "error\nwrong command\n\n"

#define INGEST_TIMESTAMP_MAX ((INT64_C(1) << 53) - 1)
/* The longest formatted value ("-2.2250738585072014e-308") and point line. */
#define INGEST_VALUE_MAX 32
#define INGEST_POINT_MAX (INGEST_METRIC_MAX + INGEST_VALUE_MAX + 24)
