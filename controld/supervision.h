/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Supervision as an explicit table: a worker is in one state, an event
 * arrives, worker_decide() says what state follows and what to do. It is
 * pure, so the whole table is unit-tested; worker.c carries the actions out. */

enum worker_state {
        WORKER_STOPPED,
        WORKER_STARTING, /* spawned, waiting for READY=1 */
        WORKER_RUNNING,
        WORKER_STOPPING, /* SIGTERM sent, waiting for the exit */
        WORKER_BACKOFF,  /* crashed, restart timer armed */
        WORKER_FAILED,   /* crashed too often, or could not start: no restarts */
        WORKER_UNRESPONSIVE, /* running, but its WATCHDOG=1 stopped: killed unless it answers */
        _WORKER_STATE_MAX,
};

enum worker_event {
        WORKER_EV_START,   /* an operator (or restore) wants it running */
        WORKER_EV_STOP,    /* an operator (or shutdown) wants it stopped */
        WORKER_EV_READY,   /* READY=1 from the worker's pid */
        WORKER_EV_EXIT,    /* the process is gone */
        WORKER_EV_TIMEOUT, /* the armed timer fired */
        WORKER_EV_PING,    /* WATCHDOG=1 from the worker's pid */
        _WORKER_EVENT_MAX,
};

enum worker_action {
        WORKER_ACT_NONE,
        WORKER_ACT_SPAWN,          /* fork+exec, arm the readiness timer */
        WORKER_ACT_TERMINATE,      /* SIGTERM, arm the SIGKILL timer */
        WORKER_ACT_KILL,           /* SIGKILL */
        WORKER_ACT_SCHEDULE,       /* arm the restart timer (backoff) */
        WORKER_ACT_CANCEL_TIMER,
        WORKER_ACT_WATCH,          /* arm the watchdog timer (cancel it when the watchdog is off) */
};

struct worker_facts {
        bool operator_waiting;   /* a start request waits for the outcome */
        bool restart_after_stop; /* a restart asked to start again once stopped */
        unsigned recent_crashes; /* within the crash window, this exit included */
};

struct worker_decision {
        enum worker_state next;
        enum worker_action action;
        bool answer_started;   /* tell waiting start requests it is up */
        bool answer_failed;    /* tell waiting start requests it is not */
        bool answer_stopped;   /* tell waiting stop requests it is down */
        bool count_crash;      /* this event is a crash */
};

#define WORKER_CRASH_WINDOW_USEC (60ULL * 1000000ULL)
#define WORKER_CRASH_LIMIT 5
#define WORKER_BACKOFF_MIN_USEC (100ULL * 1000ULL)
#define WORKER_BACKOFF_MAX_USEC (30ULL * 1000000ULL)
#define WORKER_STOP_TIMEOUT_USEC (5ULL * 1000000ULL)
#define WORKER_READY_TIMEOUT_USEC (10ULL * 1000000ULL)

struct worker_decision worker_decide(enum worker_state state, enum worker_event event,
                                     const struct worker_facts *facts);

/* 0.1 s for the first crash, doubling per crash in the window, at most 30 s. */
uint64_t worker_backoff_usec(unsigned recent_crashes);

const char *worker_state_to_string(enum worker_state s);
const char *worker_event_to_string(enum worker_event e);
