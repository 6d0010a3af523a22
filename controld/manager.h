/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>
#include <systemd/sd-event.h>

#include "conf.h"
#include "connections.h"
#include "worker.h"

/* What main() hands over: the parsed configuration, and the command line it
 * came from so that SIGHUP can parse it again the same way. */
struct manager_args {
        const struct conf *conf;
        int argc;
        char **argv;
        const struct conf_flag *flags;
};

struct manager {
        sd_event *event;
        struct conf conf;
        int argc;
        char **argv;
        const struct conf_flag *flags;
        char node_id[256];
        uint64_t started_usec; /* CLOCK_MONOTONIC */

        struct worker workers[_KIND_MAX];

        struct MHD_Daemon *httpd;
        struct control_tls *tls; /* NULL: plain HTTP */
        struct connections connections;
        sd_event_source *httpd_io;
        sd_event_source *httpd_timer;
        sd_event_source *httpd_kick;

        int notify_fd;
        char notify_address[108]; /* abstract: starts with '@' */
        sd_event_source *notify_source;

        bool ready_sent;
        bool shutting_down;
};

int manager_new(const struct manager_args *args, struct manager **ret);
int manager_start(struct manager *m);
int manager_run(struct manager *m);
void manager_free(struct manager *m);

/* A worker changed state: update STATUS=, finish a shutdown when all are down. */
void manager_worker_changed(struct manager *m);

/* Have libmicrohttpd pick up a resumed request. */
void manager_kick_http(struct manager *m);

/* Persist which workers should run and the interval, atomically. */
int manager_save_state(struct manager *m);
