/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "conf.h"
#include "metricstore.h"
#include "wsserver.h"

/* The custom-metrics port: the put/get text protocol of
 * docs/custom-metrics.md over TCP, served from telemetryd's event loop, into
 * a metric store kept durable by an append log under [control] state_dir. */

struct ingest;

struct ingest_stats {
        unsigned clients;
        uint64_t requests, errors, refused;
};

/* Replay the log, bind [telemetry] ingest_listen:ingest_port and start
 * serving in s's loop. A failure is reported to the supervisor
 * (notify_failure: port_in_use for a taken port) and returned. */
int ingest_new(struct ws_server *s, const struct conf *conf, struct ingest **ret);
/* Close every connection and the log (fsync()ed). Before ws_server_free(). */
void ingest_free(struct ingest *in);

const struct metric_store *ingest_store(const struct ingest *in);
struct ingest_stats ingest_stats(const struct ingest *in);
