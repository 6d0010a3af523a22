/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ingest-protocol.h"

/* A client of the custom-metrics text protocol (ingest-protocol.h).
 * Errors are returned, never printed: negative errno for I/O (-ECONNREFUSED,
 * -ETIMEDOUT, ...), -EBADMSG when the server answered "error", -EPROTO when
 * the answer was not the protocol, -EINVAL for a request that cannot be sent
 * (a metric name with white space, a non-finite value). */

struct ingest_client;

struct ingest_point {
        char metric[INGEST_METRIC_MAX];
        double value;
        int64_t timestamp;
};

int ingest_connect(const char *host, uint16_t port, unsigned timeout_ms, struct ingest_client **ret);
void ingest_close(struct ingest_client *c);

int ingest_put(struct ingest_client *c, const char *metric, double value, int64_t timestamp);

/* metric, or "*" for every metric. On success *ret is a malloc'd array of *n
 * points (possibly 0), in the order the server sent them. */
int ingest_get(struct ingest_client *c, const char *metric, struct ingest_point **ret, size_t *n);
