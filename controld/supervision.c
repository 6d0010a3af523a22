/* SPDX-License-Identifier: MIT */
#include "macro.h"
#include "supervision.h"

static const char *const state_names[_WORKER_STATE_MAX] = {
        [WORKER_STOPPED] = "stopped", [WORKER_STARTING] = "starting", [WORKER_RUNNING] = "running",
        [WORKER_STOPPING] = "stopping", [WORKER_BACKOFF] = "backoff", [WORKER_FAILED] = "failed",
        [WORKER_UNRESPONSIVE] = "unresponsive",
};

static const char *const event_names[_WORKER_EVENT_MAX] = {
        [WORKER_EV_START] = "start", [WORKER_EV_STOP] = "stop",       [WORKER_EV_READY] = "ready",
        [WORKER_EV_EXIT] = "exit",   [WORKER_EV_TIMEOUT] = "timeout", [WORKER_EV_PING] = "ping",
};

const char *worker_state_to_string(enum worker_state s) {
        return s < _WORKER_STATE_MAX ? state_names[s] : "invalid";
}

const char *worker_event_to_string(enum worker_event e) {
        return e < _WORKER_EVENT_MAX ? event_names[e] : "invalid";
}

uint64_t worker_backoff_usec(unsigned recent_crashes) {
        uint64_t d = WORKER_BACKOFF_MIN_USEC;

        for (unsigned i = 1; i < recent_crashes && d < WORKER_BACKOFF_MAX_USEC; i++)
                d *= 2;
        return d < WORKER_BACKOFF_MAX_USEC ? d : WORKER_BACKOFF_MAX_USEC;
}

/* After an unexpected exit: back off, or give up on a crash loop. */
static struct worker_decision crashed(const struct worker_facts *f) {
        if (f->recent_crashes > WORKER_CRASH_LIMIT)
                return (struct worker_decision){ .next = WORKER_FAILED, .count_crash = true };
        return (struct worker_decision){ .next = WORKER_BACKOFF, .action = WORKER_ACT_SCHEDULE, .count_crash = true };
}

struct worker_decision worker_decide(enum worker_state state, enum worker_event event,
                                     const struct worker_facts *f) {
        const struct worker_decision stay = { .next = state };
        const struct worker_decision spawn = { .next = WORKER_STARTING, .action = WORKER_ACT_SPAWN };

        switch (state) {
        case WORKER_STOPPED:
        case WORKER_FAILED:
                switch (event) {
                case WORKER_EV_START:
                        return spawn;
                case WORKER_EV_STOP:
                        return (struct worker_decision){ .next = WORKER_STOPPED, .answer_stopped = true };
                default:
                        return stay;
                }

        case WORKER_STARTING:
                switch (event) {
                case WORKER_EV_READY:
                        return (struct worker_decision){ .next = WORKER_RUNNING,
                                                         .action = WORKER_ACT_WATCH,
                                                         .answer_started = true };
                case WORKER_EV_EXIT:
                        /* An operator waiting on this start gets the error
                         * and decides; nobody waiting means a restart or a
                         * restore, which keeps trying. */
                        if (f->operator_waiting)
                                return (struct worker_decision){ .next = WORKER_FAILED, .answer_failed = true };
                        return crashed(f);
                case WORKER_EV_TIMEOUT:
                        /* Never became ready: it is hung. The operator who
                         * asked is told so; without one, the kill's exit
                         * arrives here as a crash and is retried like one. */
                        if (!f->operator_waiting)
                                return (struct worker_decision){ .next = WORKER_STARTING, .action = WORKER_ACT_KILL };
                        return (struct worker_decision){ .next = WORKER_STOPPING,
                                                         .action = WORKER_ACT_KILL,
                                                         .answer_failed = true };
                case WORKER_EV_STOP:
                        return (struct worker_decision){ .next = WORKER_STOPPING,
                                                         .action = WORKER_ACT_TERMINATE,
                                                         .answer_failed = true };
                default:
                        return stay;
                }

        case WORKER_RUNNING:
                switch (event) {
                case WORKER_EV_EXIT:
                        return crashed(f);
                case WORKER_EV_STOP:
                        return (struct worker_decision){ .next = WORKER_STOPPING, .action = WORKER_ACT_TERMINATE };
                case WORKER_EV_PING:
                        return (struct worker_decision){ .next = WORKER_RUNNING, .action = WORKER_ACT_WATCH };
                case WORKER_EV_TIMEOUT:
                        /* A period without WATCHDOG=1 (SIGSTOP, a hung loop):
                         * the health check says so at once; one more period
                         * of silence and it is killed. */
                        return (struct worker_decision){ .next = WORKER_UNRESPONSIVE, .action = WORKER_ACT_WATCH };
                default:
                        return stay;
                }

        case WORKER_UNRESPONSIVE:
                switch (event) {
                case WORKER_EV_PING:
                        return (struct worker_decision){ .next = WORKER_RUNNING, .action = WORKER_ACT_WATCH };
                case WORKER_EV_TIMEOUT:
                        /* Its exit comes back as a crash: backoff, restart. */
                        return (struct worker_decision){ .next = WORKER_UNRESPONSIVE, .action = WORKER_ACT_KILL };
                case WORKER_EV_EXIT:
                        return crashed(f);
                case WORKER_EV_STOP:
                        return (struct worker_decision){ .next = WORKER_STOPPING, .action = WORKER_ACT_TERMINATE };
                default:
                        return stay;
                }

        case WORKER_STOPPING:
                switch (event) {
                case WORKER_EV_EXIT:
                        if (f->restart_after_stop)
                                return (struct worker_decision){ .next = WORKER_STARTING,
                                                                 .action = WORKER_ACT_SPAWN,
                                                                 .answer_stopped = true };
                        return (struct worker_decision){ .next = WORKER_STOPPED,
                                                         .action = WORKER_ACT_CANCEL_TIMER,
                                                         .answer_stopped = true };
                case WORKER_EV_TIMEOUT:
                        return (struct worker_decision){ .next = WORKER_STOPPING, .action = WORKER_ACT_KILL };
                default:
                        return stay;
                }

        case WORKER_BACKOFF:
                switch (event) {
                case WORKER_EV_TIMEOUT:
                case WORKER_EV_START:
                        return spawn;
                case WORKER_EV_STOP:
                        return (struct worker_decision){ .next = WORKER_STOPPED,
                                                         .action = WORKER_ACT_CANCEL_TIMER,
                                                         .answer_stopped = true };
                default:
                        return stay;
                }

        default:
                return stay;
        }
}
