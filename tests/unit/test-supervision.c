/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdio.h>

#include "supervision.h"

struct row {
        enum worker_state state;
        enum worker_event event;
        struct worker_facts facts;
        enum worker_state next;
        enum worker_action action;
        bool started, failed, stopped, crash;
};

#define S(x) WORKER_##x
#define E(x) WORKER_EV_##x
#define A(x) WORKER_ACT_##x

/* The whole supervision contract, one line per case. */
static const struct row table[] = {
        /* state       event       facts                         next          action            st  fa  so  cr */
        { S(STOPPED),  E(START),   { 0 },                        S(STARTING),  A(SPAWN),         0,  0,  0,  0 },
        { S(STOPPED),  E(STOP),    { 0 },                        S(STOPPED),   A(NONE),          0,  0,  1,  0 },
        { S(STOPPED),  E(EXIT),    { 0 },                        S(STOPPED),   A(NONE),          0,  0,  0,  0 },
        { S(STARTING), E(READY),   { .operator_waiting = true }, S(RUNNING),   A(WATCH),         1,  0,  0,  0 },
        /* pings before READY=1 change nothing: the readiness timer runs on */
        { S(STARTING), E(PING),    { 0 },                        S(STARTING),  A(NONE),          0,  0,  0,  0 },
        /* exits before ready: an operator waiting gets the error, no retry */
        { S(STARTING), E(EXIT),    { .operator_waiting = true, .recent_crashes = 1 },
                                                                 S(FAILED),    A(NONE),          0,  1,  0,  0 },
        /* ... nobody waiting (restore, restart): it is a crash, back off */
        { S(STARTING), E(EXIT),    { .recent_crashes = 1 },      S(BACKOFF),   A(SCHEDULE),      0,  0,  0,  1 },
        { S(STARTING), E(TIMEOUT), { .operator_waiting = true }, S(STOPPING),  A(KILL),          0,  1,  0,  0 },
        /* hung on a restart or restore: killed, and its exit is a crash */
        { S(STARTING), E(TIMEOUT), { 0 },                        S(STARTING),  A(KILL),          0,  0,  0,  0 },
        { S(STARTING), E(STOP),    { .operator_waiting = true }, S(STOPPING),  A(TERMINATE),     0,  1,  0,  0 },
        { S(STARTING), E(START),   { .operator_waiting = true }, S(STARTING),  A(NONE),          0,  0,  0,  0 },
        { S(RUNNING),  E(EXIT),    { .recent_crashes = 1 },      S(BACKOFF),   A(SCHEDULE),      0,  0,  0,  1 },
        { S(RUNNING),  E(EXIT),    { .recent_crashes = 5 },      S(BACKOFF),   A(SCHEDULE),      0,  0,  0,  1 },
        /* the sixth crash within the window: give up */
        { S(RUNNING),  E(EXIT),    { .recent_crashes = 6 },      S(FAILED),    A(NONE),          0,  0,  0,  1 },
        { S(RUNNING),  E(STOP),    { 0 },                        S(STOPPING),  A(TERMINATE),     0,  0,  0,  0 },
        { S(RUNNING),  E(READY),   { 0 },                        S(RUNNING),   A(NONE),          0,  0,  0,  0 },
        { S(RUNNING),  E(START),   { 0 },                        S(RUNNING),   A(NONE),          0,  0,  0,  0 },
        /* watchdog: each ping re-arms; a silent period makes it unresponsive, a second one kills it */
        { S(RUNNING),  E(PING),    { 0 },                        S(RUNNING),   A(WATCH),         0,  0,  0,  0 },
        { S(RUNNING),  E(TIMEOUT), { 0 },                        S(UNRESPONSIVE), A(WATCH),      0,  0,  0,  0 },
        { S(UNRESPONSIVE), E(PING), { 0 },                       S(RUNNING),   A(WATCH),         0,  0,  0,  0 },
        { S(UNRESPONSIVE), E(TIMEOUT), { 0 },                    S(UNRESPONSIVE), A(KILL),       0,  0,  0,  0 },
        { S(UNRESPONSIVE), E(EXIT), { .recent_crashes = 1 },     S(BACKOFF),   A(SCHEDULE),      0,  0,  0,  1 },
        { S(UNRESPONSIVE), E(EXIT), { .recent_crashes = 6 },     S(FAILED),    A(NONE),          0,  0,  0,  1 },
        { S(UNRESPONSIVE), E(STOP), { 0 },                       S(STOPPING),  A(TERMINATE),     0,  0,  0,  0 },
        { S(UNRESPONSIVE), E(START), { .operator_waiting = true }, S(UNRESPONSIVE), A(NONE),     0,  0,  0,  0 },
        { S(STOPPING), E(PING),    { 0 },                        S(STOPPING),  A(NONE),          0,  0,  0,  0 },
        { S(STOPPING), E(EXIT),    { 0 },                        S(STOPPED),   A(CANCEL_TIMER),  0,  0,  1,  0 },
        { S(STOPPING), E(EXIT),    { .restart_after_stop = true }, S(STARTING), A(SPAWN),        0,  0,  1,  0 },
        { S(STOPPING), E(TIMEOUT), { 0 },                        S(STOPPING),  A(KILL),          0,  0,  0,  0 },
        { S(STOPPING), E(START),   { 0 },                        S(STOPPING),  A(NONE),          0,  0,  0,  0 },
        { S(BACKOFF),  E(TIMEOUT), { 0 },                        S(STARTING),  A(SPAWN),         0,  0,  0,  0 },
        { S(BACKOFF),  E(START),   { .operator_waiting = true }, S(STARTING),  A(SPAWN),         0,  0,  0,  0 },
        { S(BACKOFF),  E(STOP),    { 0 },                        S(STOPPED),   A(CANCEL_TIMER),  0,  0,  1,  0 },
        { S(FAILED),   E(START),   { .operator_waiting = true }, S(STARTING),  A(SPAWN),         0,  0,  0,  0 },
        { S(FAILED),   E(STOP),    { 0 },                        S(STOPPED),   A(NONE),          0,  0,  1,  0 },
        { S(FAILED),   E(TIMEOUT), { 0 },                        S(FAILED),    A(NONE),          0,  0,  0,  0 },
};

Test(supervision, transition_table) {
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
                const struct row *t = &table[i];
                struct worker_decision d = worker_decide(t->state, t->event, &t->facts);
                char what[96];

                snprintf(what, sizeof what, "row %zu: %s + %s", i, worker_state_to_string(t->state),
                         worker_event_to_string(t->event));
                cr_expect_eq(d.next, t->next, "%s: next %s, want %s", what, worker_state_to_string(d.next),
                             worker_state_to_string(t->next));
                cr_expect_eq(d.action, t->action, "%s: action %d, want %d", what, d.action, t->action);
                cr_expect_eq(d.answer_started, t->started, "%s: answer_started", what);
                cr_expect_eq(d.answer_failed, t->failed, "%s: answer_failed", what);
                cr_expect_eq(d.answer_stopped, t->stopped, "%s: answer_stopped", what);
                cr_expect_eq(d.count_crash, t->crash, "%s: count_crash", what);
        }
}

Test(supervision, every_state_answers_every_event) {
        /* No combination may leave the table (an invalid next state). */
        for (int s = 0; s < _WORKER_STATE_MAX; s++)
                for (int e = 0; e < _WORKER_EVENT_MAX; e++) {
                        struct worker_facts f = { .recent_crashes = 1 };
                        struct worker_decision d = worker_decide((enum worker_state) s, (enum worker_event) e, &f);
                        cr_expect_lt((int) d.next, _WORKER_STATE_MAX, "%d x %d", s, e);
                }
}

Test(supervision, backoff_doubles_from_100ms_to_30s) {
        cr_expect_eq(worker_backoff_usec(0), 100000);
        cr_expect_eq(worker_backoff_usec(1), 100000);
        cr_expect_eq(worker_backoff_usec(2), 200000);
        cr_expect_eq(worker_backoff_usec(3), 400000);
        cr_expect_eq(worker_backoff_usec(5), 1600000);
        cr_expect_eq(worker_backoff_usec(9), 25600000);
        cr_expect_eq(worker_backoff_usec(10), 30000000);
        cr_expect_eq(worker_backoff_usec(1000), 30000000);
}

Test(supervision, names) {
        cr_expect_str_eq(worker_state_to_string(WORKER_BACKOFF), "backoff");
        cr_expect_str_eq(worker_state_to_string(WORKER_FAILED), "failed");
        cr_expect_str_eq(worker_state_to_string(_WORKER_STATE_MAX), "invalid");
        cr_expect_str_eq(worker_event_to_string(WORKER_EV_READY), "ready");
        cr_expect_str_eq(worker_state_to_string(WORKER_UNRESPONSIVE), "unresponsive");
        cr_expect_str_eq(worker_event_to_string(WORKER_EV_PING), "ping");
}
