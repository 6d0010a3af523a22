/* SPDX-License-Identifier: MIT */
/* A stand-in worker for controld's integration tests. Installed (as links)
 * under the names telemetryd and livelogd, it plays that role on the real
 * shared WebSocket server, and misbehaves on request: the file
 * "<its directory>/behaviour-<role>" may hold one word per line:
 *   exit-before-ready=CODE  exit with CODE before reporting readiness
 *   no-ready                listen, but never send READY=1
 *   ready-delay-ms=N        send READY=1 only N ms after listening
 *   crash-after-ms=N        abort() N ms after becoming ready
 *   ignore-term             ignore SIGTERM (controld must SIGKILL it)
 *   hang-after-ms=N         N ms after becoming ready, block the loop for
 *                           good (no more WATCHDOG=1: controld must notice)
 * GET /state answers {"role":..., "pid":..., "interval":...} so tests can see
 * what the worker was told, e.g. a new interval delivered by signal. */
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>


#include "conf.h"
#include "fileio.h"
#include "log.h"
#include "notify.h"
#include "wsserver.h"

struct behaviour {
        int exit_before_ready; /* -1: no */
        bool no_ready;
        unsigned crash_after_ms;
        unsigned ready_delay_ms;
        unsigned hang_after_ms;
        bool ignore_term;
};

static unsigned interval;
static const char *role;
static struct conf conf;
static lws_sorted_usec_list_t crash_timer, ready_timer, hang_timer;

static void read_behaviour(const char *argv0, struct behaviour *b) {
        char path[PATH_MAX], dir[PATH_MAX], buf[1024];
        char *save = NULL;

        *b = (struct behaviour){ .exit_before_ready = -1 };
        snprintf(dir, sizeof dir, "%s", argv0);
        snprintf(path, sizeof path, "%s/behaviour-%s", dirname(dir), role);
        if (read_file(path, buf, sizeof buf) < 0)
                return;
        for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (sscanf(l, "exit-before-ready=%d", &b->exit_before_ready) == 1)
                        continue;
                if (sscanf(l, "crash-after-ms=%u", &b->crash_after_ms) == 1)
                        continue;
                if (sscanf(l, "ready-delay-ms=%u", &b->ready_delay_ms) == 1)
                        continue;
                if (sscanf(l, "hang-after-ms=%u", &b->hang_after_ms) == 1)
                        continue;
                if (streq(l, "no-ready"))
                        b->no_ready = true;
                else if (streq(l, "ignore-term"))
                        b->ignore_term = true;
        }
}

static int http(struct ws_server *s, struct lws *wsi, const char *path, struct ws_http_response *resp) {
        int n;

        if (!streq(path, "/state"))
                return -ENOENT;
        n = asprintf(&resp->body, "{\"role\":\"%s\",\"pid\":%d,\"interval\":%u}\n", role, (int) getpid(), interval);
        if (n < 0)
                return -ENOMEM;
        resp->status = 200;
        resp->content_type = "application/json";
        resp->len = (size_t) n;
        return 0;
}

static void message(struct ws_server *s, struct lws *wsi, void *client, const char *msg, size_t len) {
        ws_reply_textf(wsi, "{\"type\":\"echo\",\"length\":%zu}", len);
}

static void on_signal(struct ws_server *s, const struct signalfd_siginfo *si) {
        if ((int) si->ssi_signo == RESOLVIX_SIGNAL_INTERVAL) {
                interval = (unsigned) si->ssi_int;
                log_info("test worker: interval now %us", interval);
        }
}

static void crash(lws_sorted_usec_list_t *sul) {
        log_error("test worker: crashing as asked");
        abort();
}

static void hang(lws_sorted_usec_list_t *sul) {
        log_error("test worker: hanging as asked");
        /* Every signal but SIGKILL is blocked or read from a signalfd: this
         * never returns. */
        for (;;)
                pause();
}

static void report_ready(lws_sorted_usec_list_t *sul) {
        const struct conf_stream *stream = streq(role, "livelogs") ? &conf.livelogs.stream : &conf.telemetry.stream;

        char fields[PATH_MAX + 32];

        if (streq(role, "livelogs")) {
                snprintf(fields, sizeof fields, "RESOLVIX_LOG_FILE=%s", conf.livelogs.log_file);
                notify_ready(fields, "following %s", conf.livelogs.log_file);
        } else
                notify_ready(NULL, "listening on %s:%u", stream->listen, stream->port);
}

static const struct ws_server_ops ops = {
        .protocol = "resolvix-test",
        .message = message,
        .http = http,
        .signal = on_signal,
};

int main(int argc, char **argv) {
        char base[PATH_MAX];
        struct behaviour b;
        struct ws_server *s = NULL;
        const struct conf_stream *stream;
        int r;

        snprintf(base, sizeof base, "%s", argv[0]);
        role = streq(basename(base), "livelogd") ? "livelogs" : "telemetry";
        log_open(basename(base), role);
        r = conf_main(argc, argv, "resolvix test worker", NULL, &conf, NULL);
        if (r >= 0)
                return r;
        read_behaviour(argv[0], &b);
        if (b.exit_before_ready >= 0) {
                log_error("test worker: exiting with %d before ready, as asked", b.exit_before_ready);
                return b.exit_before_ready;
        }

        interval = conf.telemetry.interval;
        stream = streq(role, "livelogs") ? &conf.livelogs.stream : &conf.telemetry.stream;
        r = ws_server_new(&ops, &(struct ws_server_params){ .name = role, .stream = stream, .max_message = 1024 },
                          &s);
        if (r < 0)
                return 1;
        if (b.ignore_term) {
                sigset_t term;

                /* The server reads SIGTERM from a signalfd, so it is blocked,
                 * and the kernel queues a blocked signal even when ignored:
                 * unblock it too, or it would still be read and obeyed. */
                sigemptyset(&term);
                sigaddset(&term, SIGTERM);
                signal(SIGTERM, SIG_IGN);
                (void) sigprocmask(SIG_UNBLOCK, &term, NULL);
        }
        /* A late READY=1 lets tests tell "started" from "spawned". */
        if (!b.no_ready && b.ready_delay_ms > 0)
                lws_sul_schedule(ws_server_context(s), 0, &ready_timer, report_ready,
                                 (lws_usec_t) b.ready_delay_ms * LWS_US_PER_MS);
        else if (!b.no_ready)
                report_ready(NULL);
        if (b.crash_after_ms > 0)
                lws_sul_schedule(ws_server_context(s), 0, &crash_timer, crash,
                                 (lws_usec_t) b.crash_after_ms * LWS_US_PER_MS);
        if (b.hang_after_ms > 0)
                lws_sul_schedule(ws_server_context(s), 0, &hang_timer, hang,
                                 (lws_usec_t) b.hang_after_ms * LWS_US_PER_MS);
        r = ws_server_run(s);
        ws_server_free(s);
        return r < 0 ? 1 : 0;
}
