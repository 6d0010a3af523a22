/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "errors.h"
#include "fileio.h"
#include "history.h"
#include "log.h"
#include "net.h"
#include "nodemetrics.h"
#include "nodeid.h"
#include "notify.h"
#include "telemetryd.h"
#include "wstls.h"

/* A client sends commands of a few dozen bytes; anything near this is not
 * one, and is closed with 1009. */
#define MAX_MESSAGE 4096

static const struct conf_flag flags[] = {
        { "listen", 0, "telemetry", "listen", "ADDRESS", "address to listen on" },
        { "port", 'p', "telemetry", "port", "PORT", "WebSocket and HTTP port" },
        { "interval", 'i', "telemetry", "interval", "SECONDS", "seconds between samples, 1..86400" },
        { "token", 0, "telemetry", "token", "TOKEN", "token stream clients must present" },
        { "max-clients", 0, "telemetry", "max_clients", "N", "most clients connected at once" },
        { "ingest-port", 0, "telemetry", "ingest_port", "PORT", "custom metrics put/get port, 0 = off" },
        { 0 },
};

/* Whatever main() set up, in the order that lets each part let go of the
 * next: the ingest port's descriptors live in the server's loop. */
static void telemetry_release(struct telemetry **t) {
        ingest_free((*t)->ingest);
        ws_server_free((*t)->server);
        node_metrics_free((*t)->node);
        sampler_free((*t)->sampler);
        history_free((*t)->history);
        free((*t)->frame);
}

/* --check, too, says whether the TLS files can be used (docs/tls.md); under
 * controld the reason goes to it as well. */
static bool tls_usable(const struct conf *c) {
        return ws_tls_check_listener(&c->telemetry.stream, NULL, true) >= 0;
}

int main(int argc, char **argv) {
        static struct telemetry t; /* struct conf is large: keep it off the stack */
        _cleanup_(telemetry_release) struct telemetry *owned = &t;
        struct ws_server_params params;
        char ingest[CONF_ADDR_MAX + 16] = "";
        int r;

        log_open("telemetryd", "telemetry");
        r = conf_main(argc, argv, "Sample /proc and broadcast it to WebSocket clients; serve /sample and /metrics.",
                      flags, &t.conf, tls_usable);
        if (r >= 0)
                return r;
        log_route_lws();

        t.interval = t.conf.telemetry.interval;
        node_id_resolve(t.conf.node.id, t.node_id, sizeof t.node_id);

        r = sampler_new(NULL, &t.sampler);
        if (r >= 0)
                r = node_metrics_new(&t.node);
        /* Sized at start for the configured interval: an interval that
         * controld changes later keeps the ring and so covers more or less
         * than an hour (docs/telemetry-stream.md#history). */
        if (r >= 0)
                r = history_new(history_capacity_for(t.interval), &t.history);
        if (r < 0) {
                notify_failure(r, ERROR_SPAWN_FAILED, "cannot open /proc: %m");
                return 1;
        }

        params = (struct ws_server_params){
                .name = "telemetryd",
                .stream = &t.conf.telemetry.stream,
                .max_message = MAX_MESSAGE,
                .userdata = &t,
        };
        /* Before the server sizes its descriptor table by the limit. */
        if (t.conf.telemetry.ingest_port > 0)
                fd_limit_reserve(t.conf.telemetry.ingest_max_clients + 8);
        r = ws_server_new(&telemetry_ops, &params, &t.server);
        if (r < 0)
                return 1;

        if (t.conf.telemetry.ingest_port > 0) {
                r = ingest_new(t.server, &t.conf, &t.ingest);
                if (r < 0)
                        return 1;
                format_host_port(t.conf.telemetry.ingest_listen, t.conf.telemetry.ingest_port, ingest,
                                 sizeof ingest);
        }

        telemetry_start(&t);
        log_info("Listening on %s:%u, a sample every %u s, node id %s%s%s", t.conf.telemetry.stream.listen,
                 t.conf.telemetry.stream.port, t.interval, t.node_id, t.ingest ? "; custom metrics on " : "",
                 ingest);
        notify_ready(NULL, "listening on %s:%u, interval %us%s%s", t.conf.telemetry.stream.listen,
                     t.conf.telemetry.stream.port, t.interval, t.ingest ? ", custom metrics on " : "", ingest);

        r = ws_server_run(t.server);

        log_info("Stopped after %llu samples", (unsigned long long) t.samples);
        return r < 0 ? 1 : 0;
}
