/* SPDX-License-Identifier: MIT */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "supervision.h"

struct manager;

enum worker_kind {
        KIND_TELEMETRY,
        KIND_LIVELOGS,
        KIND_PUSH,
        _KIND_MAX,
};

/* How a start or stop request ended, handed to whoever waits for it. */
struct outcome {
        int error;          /* 0 on success, else a negative errno */
        const char *detail; /* machine word on error: port_in_use, ... */
        char message[512];  /* human sentence on error */
};

/* A request parked until the worker reaches a state: embedded in the API's
 * per-connection context. */
struct waiter {
        struct waiter *next;
        void (*done)(struct waiter *w, const struct outcome *o);
};

/* What pushd last reported of its hub and spool (docs/control-api.md,
 * "push"): kept after it exits, so /status still tells what it left. */
struct push_figures {
        bool valid;
        bool connected;
        unsigned long long spooled, dropped, last_ack_seq;
        char hub_url[1024];
        char last_error[256];
};

struct last_exit {
        bool valid;
        bool signaled;
        int code; /* exit status or signal number */
};

/* One worker process controld supervises: what it should be doing, what it
 * is doing (its state in the table of supervision.h), and the process. */
struct worker {
        struct manager *manager;
        enum worker_kind kind;
        const char *name;       /* "telemetry" */
        const char *executable; /* "telemetryd" */

        enum worker_state state;
        bool desired;      /* should it run: what is persisted */
        unsigned interval; /* telemetry only: what it was last told */

        pid_t pid;
        uint64_t watchdog_usec; /* the period the running process was given; 0 = none */
        sd_event_source *child_source;
        sd_event_source *timer; /* start, stop, backoff, or watchdog: one at a time */
        char **env; /* environment it was started with, NULL-terminated */

        uint64_t crash_times[WORKER_CRASH_LIMIT + 1]; /* CLOCK_MONOTONIC usec, ring */
        unsigned restarts;
        uint64_t started_at; /* CLOCK_REALTIME usec of the last READY */
        struct last_exit last_exit;

        /* What the current run reported on NOTIFY_SOCKET. */
        char status[256];
        char error_detail[32];
        char followed[PATH_MAX]; /* livelogs: RESOLVIX_LOG_FILE */
        struct push_figures push;  /* push: its RESOLVIX_PUSH_* fields */

        bool restart_after_stop;
        struct waiter *start_waiters;
        struct waiter *stop_waiters;
};

void worker_init(struct worker *w, struct manager *m, enum worker_kind kind);
void worker_done(struct worker *w);

/* Operator requests. The waiter (optional) is told the outcome once known. */
void worker_start(struct worker *w, struct waiter *waiter);
void worker_stop(struct worker *w, struct waiter *waiter);
void worker_restart(struct worker *w, struct waiter *waiter);

/* A waiting request went away (its client disconnected): drop it. */
void worker_forget(struct worker *w, struct waiter *waiter);

/* Stop for controld's own shutdown: the desired state is kept, so the worker
 * comes back when controld does. */
void worker_shutdown(struct worker *w);

/* Hand a running telemetry worker a new interval without a restart. */
int worker_set_interval(struct worker *w, unsigned interval);

/* A datagram from NOTIFY_SOCKET that came from w->pid. */
void worker_notify(struct worker *w, const char *fields);

/* The environment this worker would be started with now; freed with strv_free. */
char **worker_build_env(const struct worker *w);
/* The worker's [section] tls_cert, "" when its port is plain. */
const char *worker_tls_cert(const struct worker *w);
void strv_free(char **l);
bool strv_equal(char *const *a, char *const *b);

bool worker_alive(const struct worker *w);
