/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "errors.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "notify.h"
#include "spawn.h"
#include "worker.h"
#include "timeutil.h"

static const struct {
        const char *name;
        const char *executable;
} kinds[_KIND_MAX] = {
        [KIND_TELEMETRY] = { "telemetry", "telemetryd" },
        [KIND_LIVELOGS] = { "livelogs", "livelogd" },
        [KIND_PUSH] = { "push", "pushd" },
};

static void apply(struct worker *w, enum worker_event event);

void strv_free(char **l) {
        if (!l)
                return;
        for (char **p = l; *p; p++)
                free(*p);
        free(l);
}

bool strv_equal(char *const *a, char *const *b) {
        if (!a || !b)
                return a == b;
        for (; *a && *b; a++, b++)
                if (!streq(*a, *b))
                        return false;
        return !*a && !*b;
}

void worker_init(struct worker *w, struct manager *m, enum worker_kind kind) {
        *w = (struct worker){
                .manager = m,
                .kind = kind,
                .name = kinds[kind].name,
                .executable = kinds[kind].executable,
                .interval = m->conf.telemetry.interval,
        };
}

bool worker_alive(const struct worker *w) {
        return w->pid > 0;
}

static unsigned crashes_in_window(const struct worker *w, uint64_t now) {
        unsigned n = 0;

        for (size_t i = 0; i < ELEMENTSOF(w->crash_times); i++)
                if (w->crash_times[i] != 0 && now - w->crash_times[i] < WORKER_CRASH_WINDOW_USEC)
                        n++;
        return n;
}

static void record_crash(struct worker *w, uint64_t now) {
        size_t oldest = 0;

        for (size_t i = 1; i < ELEMENTSOF(w->crash_times); i++)
                if (w->crash_times[i] < w->crash_times[oldest])
                        oldest = i;
        w->crash_times[oldest] = now;
}

/* ---- waiters ------------------------------------------------------------ */

static void answer(struct waiter **list, const struct outcome *o) {
        struct waiter *w = *list;

        *list = NULL;
        while (w) {
                struct waiter *next = w->next;
                w->done(w, o);
                w = next;
        }
}

static void park(struct waiter **list, struct waiter *w) {
        if (!w)
                return;
        w->next = *list;
        *list = w;
}

/* ---- timers ------------------------------------------------------------- */

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct worker *w = userdata;

        w->timer = sd_event_source_disable_unref(w->timer);
        apply(w, WORKER_EV_TIMEOUT);
        return 0;
}

static void arm_timer(struct worker *w, uint64_t usec) {
        int r;

        /* Re-armed on every WATCHDOG=1: the source is kept, not remade. */
        if (w->timer) {
                r = sd_event_source_set_time_relative(w->timer, usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(w->timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time_relative(w->manager->event, &w->timer, CLOCK_MONOTONIC, usec,
                                               10 * USEC_PER_MSEC, on_timer, w);
        if (r < 0)
                log_error_errno(r, "%s: cannot arm a timer: %m", w->name);
}

/* ---- process ------------------------------------------------------------ */

const char *worker_tls_cert(const struct worker *w) {
        const struct conf *c = &w->manager->conf;

        return w->kind == KIND_TELEMETRY ? c->telemetry.stream.tls_cert
               : w->kind == KIND_LIVELOGS ? c->livelogs.stream.tls_cert
                                          : "";
}

char **worker_build_env(const struct worker *w) {
        const struct manager *m = w->manager;
        struct conf c = m->conf;
        const char *keep[] = { "JOURNAL_STREAM", "INVOCATION_ID", "LANG", "TZ" };
        size_t n = 0, max = 96;
        char **env = calloc(max, sizeof *env);
        int r;

        if (!env)
                return NULL;
        c.telemetry.interval = w->interval;
        /* The worker gets the resolved configuration, not the file: what
         * controld was told on its command line and environment holds too. */
        snprintf(c.node.id, sizeof c.node.id, "%s", m->node_id);
        r = conf_to_env(&c, env, max - 16);
        if (r < 0)
                goto fail;
        n = (size_t) r;
        if (asprintf(&env[n++], "RESOLVIX_CONFIG=") < 0 ||
            asprintf(&env[n++], "NOTIFY_SOCKET=%s", m->notify_address) < 0 ||
            asprintf(&env[n++], "PATH=/usr/sbin:/usr/bin:/sbin:/bin") < 0)
                goto fail;
        /* As systemd tells a service with WatchdogSec=: the worker pings at
         * half the period (sd_watchdog_enabled()). The pid is filled in by
         * the child, which alone knows it (spawn_worker()). */
        if (c.control.worker_watchdog > 0 &&
            (asprintf(&env[n++], "WATCHDOG_USEC=%llu",
                      (unsigned long long) c.control.worker_watchdog * USEC_PER_SEC) < 0 ||
             !(env[n++] = strdup(SPAWN_WATCHDOG_PID))))
                goto fail;
        for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
                const char *v = getenv(keep[i]);
                if (v && asprintf(&env[n++], "%s=%s", keep[i], v) < 0)
                        goto fail;
        }
        return env;
fail:
        strv_free(env);
        return NULL;
}

static int on_exit_event(sd_event_source *s, const siginfo_t *si, void *userdata) {
        struct worker *w = userdata;

        w->last_exit = (struct last_exit){
                .valid = true,
                .signaled = si->si_code != CLD_EXITED,
                .code = si->si_status,
        };
        if (w->last_exit.signaled)
                log_full(w->state == WORKER_STOPPING ? LOG_INFO : LOG_WARNING, "%s worker (pid %d) killed by signal SIG%s",
                         w->name, (int) w->pid, sigabbrev_np(si->si_status) ?: "?");
        else
                log_full(w->state == WORKER_STOPPING && si->si_status == 0 ? LOG_INFO : LOG_WARNING,
                         "%s worker (pid %d) exited with status %d", w->name, (int) w->pid, si->si_status);
        w->child_source = sd_event_source_disable_unref(w->child_source);
        w->pid = 0;
        apply(w, WORKER_EV_EXIT);
        return 0;
}

static int do_spawn(struct worker *w, struct outcome *o) {
        char path[PATH_MAX];
        char *argv[] = { path, NULL };
        int pidfd, r;
        pid_t pid;

        snprintf(path, sizeof path, "%s/%s", w->manager->conf.control.worker_dir, w->executable);
        strv_free(w->env);
        w->env = worker_build_env(w);
        if (!w->env)
                r = -ENOMEM;
        else
                r = spawn_worker(argv, w->env, &pid, &pidfd);
        if (r < 0) {
                o->error = r;
                o->detail = ERROR_SPAWN_FAILED;
                snprintf(o->message, sizeof o->message, "cannot start %s: %s%s", path, strerror(-r),
                         r == -ENOENT ? " (set [control] worker_dir or RESOLVIX_WORKER_DIR)" : "");
                log_error("%s: %s", w->name, o->message);
                return r;
        }
        r = sd_event_add_child_pidfd(w->manager->event, &w->child_source, pidfd, WEXITED, on_exit_event, w);
        if (r < 0) {
                close(pidfd);
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                o->error = r;
                o->detail = ERROR_SPAWN_FAILED;
                snprintf(o->message, sizeof o->message, "cannot watch %s: %s", path, strerror(-r));
                return log_error_errno(r, "%s: %s", w->name, o->message);
        }
        (void) sd_event_source_set_child_pidfd_own(w->child_source, true);
        w->push.connected = false;
        w->pid = pid;
        w->watchdog_usec = (uint64_t) w->manager->conf.control.worker_watchdog * USEC_PER_SEC;
        w->status[0] = w->error_detail[0] = w->followed[0] = '\0';
        log_info("%s worker started: %s (pid %d)", w->name, path, (int) pid);
        return 0;
}

/* Why a start did not come up, for the operator waiting on it. */
static void describe_failure(const struct worker *w, struct outcome *o) {
        o->error = -ECHILD;
        if (w->error_detail[0]) {
                o->detail = streq(w->error_detail, ERROR_PORT_IN_USE)           ? ERROR_PORT_IN_USE
                            : streq(w->error_detail, ERROR_LOG_FILE_UNREADABLE) ? ERROR_LOG_FILE_UNREADABLE
                            : streq(w->error_detail, ERROR_BAD_CONFIG)          ? ERROR_BAD_CONFIG
                                                                                 : ERROR_WORKER_EXITED;
                snprintf(o->message, sizeof o->message, "%s", w->status);
                return;
        }
        o->detail = ERROR_WORKER_EXITED;
        if (!w->last_exit.valid)
                snprintf(o->message, sizeof o->message, "%s did not become ready", w->executable);
        else if (w->last_exit.signaled)
                snprintf(o->message, sizeof o->message, "%s was killed by SIG%s before it was ready", w->executable,
                         sigabbrev_np(w->last_exit.code) ?: "?");
        else
                snprintf(o->message, sizeof o->message, "%s exited with status %d before it was ready%s%s",
                         w->executable, w->last_exit.code, w->status[0] ? ": " : "", w->status);
}

static void apply(struct worker *w, enum worker_event event) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        struct worker_facts facts = {
                .operator_waiting = w->start_waiters != NULL,
                .restart_after_stop = w->restart_after_stop,
                .recent_crashes = crashes_in_window(w, now) + (event == WORKER_EV_EXIT),
        };
        struct worker_decision d = worker_decide(w->state, event, &facts);
        enum worker_state old = w->state;
        struct outcome o = { 0 };

        if (d.count_crash)
                record_crash(w, now);
        /* Counted when a restart happens: the crash that ends a loop in
         * "failed" restarts nothing. */
        if (old == WORKER_BACKOFF && d.action == WORKER_ACT_SPAWN)
                w->restarts++;
        w->state = d.next;
        if (old != d.next)
                log_debug("%s: %s --%s--> %s", w->name, worker_state_to_string(old), worker_event_to_string(event),
                          worker_state_to_string(d.next));
        if (d.next == WORKER_UNRESPONSIVE && old != WORKER_UNRESPONSIVE)
                log_warning("%s worker (pid %d) sent no WATCHDOG=1 for %llu s: unresponsive; it is killed if it "
                            "stays silent for %llu s more",
                            w->name, (int) w->pid, (unsigned long long) (w->watchdog_usec / USEC_PER_SEC),
                            (unsigned long long) (w->watchdog_usec / USEC_PER_SEC));
        else if (old == WORKER_UNRESPONSIVE && d.next == WORKER_RUNNING)
                log_notice("%s worker (pid %d) answers again", w->name, (int) w->pid);

        if (d.answer_stopped) {
                w->restart_after_stop = false;
                answer(&w->stop_waiters, &(struct outcome){ 0 });
        }
        if (d.answer_failed) {
                if (event == WORKER_EV_TIMEOUT) {
                        o = (struct outcome){ .error = -ETIMEDOUT, .detail = ERROR_START_TIMEOUT };
                        snprintf(o.message, sizeof o.message, "%s did not report ready within %llu s; killed",
                                 w->executable, (unsigned long long) (WORKER_READY_TIMEOUT_USEC / USEC_PER_SEC));
                } else if (event == WORKER_EV_STOP && w->manager->shutting_down) {
                        o = (struct outcome){ .error = -ECANCELED, .detail = ERROR_SHUTTING_DOWN };
                        snprintf(o.message, sizeof o.message, "resolvix-controld is shutting down");
                } else if (event == WORKER_EV_STOP) {
                        o = (struct outcome){ .error = -ECANCELED, .detail = ERROR_START_CANCELLED };
                        snprintf(o.message, sizeof o.message, "%s was stopped before it became ready", w->name);
                } else
                        describe_failure(w, &o);
                log_error("%s: start failed: %s", w->name, o.message);
                /* The operator is told it failed: it is no longer wanted, now
                 * or after controld restarts (a hung start ends up stopped,
                 * not failed, but was answered just the same). controld's
                 * own shutdown keeps the desired state, though. */
                if (w->start_waiters && !w->manager->shutting_down) {
                        w->desired = false;
                        (void) manager_save_state(w->manager);
                }
                answer(&w->start_waiters, &o);
        }

        switch (d.action) {
        case WORKER_ACT_NONE:
                break;
        case WORKER_ACT_CANCEL_TIMER:
                w->timer = sd_event_source_disable_unref(w->timer);
                break;
        case WORKER_ACT_WATCH:
                if (w->watchdog_usec > 0)
                        arm_timer(w, w->watchdog_usec);
                else
                        w->timer = sd_event_source_disable_unref(w->timer);
                break;
        case WORKER_ACT_SPAWN:
                if (do_spawn(w, &o) < 0) {
                        /* As if it had exited at once: same bookkeeping, same answers. */
                        w->state = WORKER_STARTING;
                        w->last_exit = (struct last_exit){ 0 };
                        if (w->start_waiters) {
                                w->state = WORKER_FAILED;
                                w->desired = false;
                                (void) manager_save_state(w->manager);
                                answer(&w->start_waiters, &o);
                        } else
                                apply(w, WORKER_EV_EXIT);
                        break;
                }
                arm_timer(w, WORKER_READY_TIMEOUT_USEC);
                break;
        case WORKER_ACT_TERMINATE:
                log_info("%s: stopping worker (pid %d)", w->name, (int) w->pid);
                (void) sd_event_source_send_child_signal(w->child_source, SIGTERM, NULL, 0);
                arm_timer(w, WORKER_STOP_TIMEOUT_USEC);
                break;
        case WORKER_ACT_KILL:
                if (old == WORKER_UNRESPONSIVE)
                        log_error("%s: worker (pid %d) sent no WATCHDOG=1 for %llu s; sending SIGKILL", w->name,
                                  (int) w->pid, (unsigned long long) (2 * w->watchdog_usec / USEC_PER_SEC));
                else
                        log_warning("%s: worker (pid %d) did not %s in time; sending SIGKILL", w->name, (int) w->pid,
                                    old == WORKER_STARTING ? "become ready" : "stop");
                (void) sd_event_source_send_child_signal(w->child_source, SIGKILL, NULL, 0);
                w->timer = sd_event_source_disable_unref(w->timer);
                break;
        case WORKER_ACT_SCHEDULE: {
                uint64_t delay = worker_backoff_usec(facts.recent_crashes);
                log_warning("%s: restarting in %.1f s (crash %u of at most %d in %llu s)", w->name,
                            (double) delay / USEC_PER_SEC, facts.recent_crashes, WORKER_CRASH_LIMIT,
                            (unsigned long long) (WORKER_CRASH_WINDOW_USEC / USEC_PER_SEC));
                arm_timer(w, delay);
                break;
        }
        }

        if (d.next == WORKER_FAILED && d.count_crash)
                log_error("%s: %u crashes within %llu s: giving up until the next start command", w->name,
                          facts.recent_crashes, (unsigned long long) (WORKER_CRASH_WINDOW_USEC / USEC_PER_SEC));
        if (d.answer_started) {
                w->started_at = now_usec(CLOCK_REALTIME);
                log_info("%s worker ready (pid %d)%s%s", w->name, (int) w->pid, w->status[0] ? ": " : "", w->status);
                answer(&w->start_waiters, &(struct outcome){ 0 });
        }
        /* A ping that changes nothing is not news for STATUS=. */
        if (event != WORKER_EV_PING || old != d.next)
                manager_worker_changed(w->manager);
}

/* ---- requests ----------------------------------------------------------- */

void worker_start(struct worker *w, struct waiter *waiter) {
        w->desired = true;
        if (w->state == WORKER_FAILED)
                memset(w->crash_times, 0, sizeof w->crash_times);
        if (w->state == WORKER_STOPPING)
                w->restart_after_stop = true;
        park(&w->start_waiters, waiter);
        apply(w, WORKER_EV_START);
        (void) manager_save_state(w->manager);
}

void worker_stop(struct worker *w, struct waiter *waiter) {
        w->desired = false;
        w->restart_after_stop = false;
        if (w->start_waiters && w->state != WORKER_STARTING) {
                /* A restart in progress was overtaken by this stop. */
                struct outcome o = { .error = -ECANCELED, .detail = ERROR_START_CANCELLED };
                snprintf(o.message, sizeof o.message, "%s was stopped before it became ready", w->name);
                answer(&w->start_waiters, &o);
        }
        park(&w->stop_waiters, waiter);
        apply(w, WORKER_EV_STOP);
        (void) manager_save_state(w->manager);
}

void worker_shutdown(struct worker *w) {
        w->restart_after_stop = false;
        apply(w, WORKER_EV_STOP);
}

void worker_restart(struct worker *w, struct waiter *waiter) {
        if (!worker_alive(w)) {
                worker_start(w, waiter);
                return;
        }
        w->desired = true;
        w->restart_after_stop = true;
        park(&w->start_waiters, waiter);
        apply(w, WORKER_EV_STOP);
        (void) manager_save_state(w->manager);
}

/* The worker now runs with a new interval: say so in the environment it was
 * started with, which a reload compares to decide on a restart. */
static void env_set_interval(char **env, unsigned interval) {
        static const char key[] = "RESOLVIX_TELEMETRY_INTERVAL=";
        char *entry;

        for (char **p = env; p && *p; p++)
                if (strneq(*p, key, strlen(key))) {
                        if (asprintf(&entry, "%s%u", key, interval) < 0)
                                return;
                        free(*p);
                        *p = entry;
                        return;
                }
}

int worker_set_interval(struct worker *w, unsigned interval) {
        union sigval v = { .sival_int = (int) interval };

        w->interval = interval;
        (void) manager_save_state(w->manager);
        if (!worker_alive(w))
                return 0;
        if (sigqueue(w->pid, RESOLVIX_SIGNAL_INTERVAL, v) < 0)
                return log_error_errno(errno, "%s: cannot hand the worker its new interval: %m", w->name);
        env_set_interval(w->env, interval);
        log_info("%s: interval changed to %u s", w->name, interval);
        return 0;
}

/* ---- NOTIFY_SOCKET ------------------------------------------------------ */

static void field(const char *fields, const char *name, char *buf, size_t size) {
        size_t l = strlen(name);

        for (const char *p = fields; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
                if (strneq(p, name, l) && p[l] == '=') {
                        const char *v = p + l + 1;
                        size_t n = strcspn(v, "\n");
                        if (n >= size)
                                n = size - 1;
                        memcpy(buf, v, n);
                        buf[n] = '\0';
                        return;
                }
        }
}

static bool field_u64(const char *fields, const char *name, unsigned long long *ret) {
        char buf[32] = "", *end;
        unsigned long long v;

        field(fields, name, buf, sizeof buf);
        if (!buf[0])
                return false;
        errno = 0;
        v = strtoull(buf, &end, 10);
        if (errno != 0 || *end != '\0')
                return false;
        *ret = v;
        return true;
}

/* pushd's figures come as RESOLVIX_PUSH_* fields beside its WATCHDOG=1. */
static void push_fields(struct worker *w, const char *fields) {
        struct push_figures *f = &w->push;
        char connected[8] = "";

        field(fields, "RESOLVIX_PUSH_CONNECTED", connected, sizeof connected);
        if (!connected[0])
                return;
        f->valid = true;
        f->connected = streq(connected, "1");
        (void) field_u64(fields, "RESOLVIX_PUSH_SPOOLED", &f->spooled);
        (void) field_u64(fields, "RESOLVIX_PUSH_DROPPED", &f->dropped);
        (void) field_u64(fields, "RESOLVIX_PUSH_LAST_ACK_SEQ", &f->last_ack_seq);
        field(fields, "RESOLVIX_PUSH_URL", f->hub_url, sizeof f->hub_url);
        f->last_error[0] = '\0';
        field(fields, "RESOLVIX_PUSH_LAST_ERROR", f->last_error, sizeof f->last_error);
}

void worker_notify(struct worker *w, const char *fields) {
        char ready[8] = "", watchdog[8] = "";

        if (w->kind == KIND_PUSH)
                push_fields(w, fields);

        field(fields, "STATUS", w->status, sizeof w->status);
        field(fields, "RESOLVIX_ERROR", w->error_detail, sizeof w->error_detail);
        field(fields, "RESOLVIX_LOG_FILE", w->followed, sizeof w->followed);
        field(fields, "READY", ready, sizeof ready);
        field(fields, "WATCHDOG", watchdog, sizeof watchdog);
        if (streq(ready, "1"))
                apply(w, WORKER_EV_READY);
        if (streq(watchdog, "1"))
                apply(w, WORKER_EV_PING);
}

static void unlink_waiter(struct waiter **list, struct waiter *waiter) {
        for (; *list; list = &(*list)->next)
                if (*list == waiter) {
                        *list = waiter->next;
                        return;
                }
}

void worker_forget(struct worker *w, struct waiter *waiter) {
        unlink_waiter(&w->start_waiters, waiter);
        unlink_waiter(&w->stop_waiters, waiter);
}

void worker_done(struct worker *w) {
        w->timer = sd_event_source_disable_unref(w->timer);
        w->child_source = sd_event_source_disable_unref(w->child_source);
        strv_free(w->env);
        w->env = NULL;
}
