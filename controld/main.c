/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "conf.h"
#include "log.h"
#include "manager.h"
#include "tls.h"

static const struct conf_flag flags[] = {
        { "listen", 'l', "control", "listen", "ADDRESS", "address of the control API" },
        { "port", 'p', "control", "port", "PORT", "port of the control API" },
        { "state-dir", 's', "control", "state_dir", "DIR", "where the desired state is kept" },
        { "worker-dir", 'w', "control", "worker_dir", "DIR", "where telemetryd, livelogd and pushd are" },
        { 0 },
};

/* A control API reachable from the network without a token would let
 * anyone start and stop streams: refuse rather than warn. */
static bool token_guards_listen(const struct conf *c) {
        char err[2 * PATH_MAX + 128];

        /* Here rather than at start only, so that --check finds it too. */
        if ((c->control.tls_cert[0] || c->control.tls_key[0]) &&
            control_tls_check(c->control.tls_cert, c->control.tls_key, err, sizeof err) < 0) {
                log_error("Invalid configuration: [control] %s", err);
                return false;
        }
        if (conf_address_is_loopback(c->control.listen) || c->control.token[0] != '\0')
                return true;
        log_error("Refusing to listen on %s without a token: set [control] token (or "
                  "RESOLVIX_CONTROL_TOKEN), or listen on a loopback address",
                  c->control.listen);
        return false;
}

int main(int argc, char **argv) {
        struct manager *m = NULL;
        static struct conf conf; /* large: keep it off the stack */
        int r;

        log_open("resolvix-controld", NULL);
        r = conf_main(argc, argv,
                      "Start, stop and supervise the resolvix telemetry and live-log workers.\n"
                      "Control API: POST /control, GET /status, GET /health.",
                      flags, &conf, token_guards_listen);
        if (r >= 0)
                return r;

        r = manager_new(&(struct manager_args){ .conf = &conf, .argc = argc, .argv = argv, .flags = flags }, &m);
        if (r < 0)
                return 1;
        r = manager_start(m);
        if (r >= 0)
                r = manager_run(m);
        manager_free(m);
        if (r < 0) {
                (void) sd_notifyf(0, "STATUS=Failed: %s\nERRNO=%d", strerror(-r), -r);
                return 1;
        }
        log_info("Stopped");
        return 0;
}
