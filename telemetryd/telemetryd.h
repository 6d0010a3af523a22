/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "conf.h"
#include "ingest.h"
#include "macro.h"
#include "sample.h"
#include "wsserver.h"

struct client;

/* The worker's whole state: one per process, owned by main(). */
struct telemetry {
        struct conf conf;
        char node_id[256];
        unsigned interval; /* seconds; controld may change it at run time */

        struct ws_server *server;
        struct sampler *sampler;
        struct ingest *ingest; /* NULL when ingest_port = 0 */
        const struct sample *sample; /* the newest, NULL before the first */

        /* The newest sample serialised once, after LWS_PRE bytes of
         * headroom, for every client to send from. Reused from sample to
         * sample: lws copies whatever a socket does not take at once, so
         * no client holds on to it between callbacks. */
        unsigned char *frame;
        size_t frame_size, frame_len;
        uint64_t custom_generation; /* of the custom metrics the frame holds */
        /* Bumped for each scheduled sample. A client remembers the one it
         * sent, so a slow client skips to the newest (latest wins). */
        uint64_t generation;
        struct client *clients;

        lws_sorted_usec_list_t tick;
        uint64_t next_tick_usec; /* CLOCK_MONOTONIC */

        uint64_t frames_coalesced;
        uint64_t samples;
};

/* stream.c */
extern const struct ws_server_ops telemetry_ops;
/* Start sampling: the first sample follows a short priming window. */
void telemetry_start(struct telemetry *t);
/* The newest sample, taking a new one if it is older than a second (HTTP
 * requests and get_metrics want current values even at interval = 60), and
 * holding the custom metrics as they are now. */
int telemetry_fresh_sample(struct telemetry *t);

/* prometheus.c: GET /metrics, Prometheus text exposition format. */
int telemetry_metrics(struct telemetry *t, char **ret, size_t *len);
