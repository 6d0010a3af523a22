/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <systemd/sd-daemon.h>

#include "api.h"
#include "connections.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "net.h"
#include "nodeid.h"
#include "state.h"
#include "timeutil.h"
#include "tls.h"

/* libmicrohttpd's idle timeout: it still covers an answer the peer does not
 * read; a request that does not arrive is cut by request_deadline. */
#define HTTP_CONNECTION_TIMEOUT_S 30

static void mhd_log(void *cls, const char *fmt, va_list ap) {
        struct manager *m = cls;
        char line[512];
        size_t n;

        /* Said once per refused connection: a flood would flood the journal. */
        if (streq(fmt, "Server reached connection limit. Closing inbound connection.\n")) {
                connections_refused(&m->connections);
                return;
        }
        vsnprintf(line, sizeof line, fmt, ap);
        n = strlen(line);
        while (n > 0 && line[n - 1] == '\n')
                line[--n] = '\0';
        /* A peer gone in the middle of its request, or one cut at its
         * deadline (counted in one line by connections.c), or one whose TLS
         * handshake failed (plain HTTP on the https port, a client that does
         * not trust the certificate, a scanner): no news. */
        if (strneq(fmt, "Connection socket is closed when reading request", 48) ||
            strneq(fmt, "Socket has been disconnected when reading request", 49) ||
            streq(fmt, "Error: received handshake message out of context.\n")) {
                log_debug("http: %s", line);
                return;
        }
        log_warning("http: %s", line);
}

/* ---- libmicrohttpd inside sd-event -------------------------------------- */

/* A resumed request is picked up only by the next MHD_run(), and nothing
 * wakes the loop for it: run libmicrohttpd once more, after the current
 * callback, rather than from inside it. */
void manager_kick_http(struct manager *m) {
        if (m->httpd_kick)
                (void) sd_event_source_set_enabled(m->httpd_kick, SD_EVENT_ONESHOT);
}

static int on_httpd_kick(sd_event_source *s, void *userdata) {
        struct manager *m = userdata;

        (void) MHD_run(m->httpd);
        return 0;
}

static int on_httpd_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct manager *m = userdata;

        (void) MHD_run(m->httpd);
        return 0;
}

static int on_httpd_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;

        (void) MHD_run(m->httpd);
        return 0;
}

/* Before every poll: let libmicrohttpd's own timeouts (idle connections)
 * decide when we next wake up for it. */
static int on_httpd_prepare(sd_event_source *s, void *userdata) {
        struct manager *m = userdata;
        MHD_UNSIGNED_LONG_LONG timeout_ms;

        if (MHD_get_timeout(m->httpd, &timeout_ms) != MHD_YES)
                return sd_event_source_set_enabled(m->httpd_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_time_relative(m->httpd_timer, timeout_ms * USEC_PER_MSEC);
        return sd_event_source_set_enabled(m->httpd_timer, SD_EVENT_ONESHOT);
}

static int start_http(struct manager *m) {
        const union MHD_DaemonInfo *info;
        char where[CONF_ADDR_MAX + 16];
        const char *scheme = "http";
        struct MHD_OptionItem tls_options[] = {
                { MHD_OPTION_HTTPS_PRIORITIES, 0, (void *) control_tls_priorities },
                { MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *) control_tls_cert_callback },
                { MHD_OPTION_END, 0, NULL },
        };
        int fd, r;

        if (m->conf.control.tls_cert[0]) {
                r = control_tls_new(m->conf.control.tls_cert, m->conf.control.tls_key, &m->tls);
                if (r < 0)
                        return r;
                control_tls_bind(m->tls);
                scheme = "https";
        }
        format_host_port(m->conf.control.listen, m->conf.control.port, where, sizeof where);
        fd = tcp_bind(m->conf.control.listen, m->conf.control.port, true);
        if (fd < 0)
                return log_error_errno(fd, "Cannot listen on %s: %m", where);

        r = connections_init(&m->connections, m);
        if (r < 0) {
                close(fd);
                return r;
        }
        /* Past max_connections libmicrohttpd stops accepting (newcomers
         * wait); past max_connections_per_ip it closes the newcomer at once,
         * so that a few addresses cannot take every connection. */
        m->httpd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                                            (m->tls ? MHD_USE_TLS : 0),
                                    0, NULL, NULL, api_handle, m,
                                    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, m,
                                    MHD_OPTION_LISTEN_SOCKET, fd,
                                    MHD_OPTION_NOTIFY_COMPLETED, api_completed, m,
                                    MHD_OPTION_NOTIFY_CONNECTION, connections_notify, &m->connections,
                                    MHD_OPTION_CONNECTION_LIMIT, m->conf.control.max_connections,
                                    MHD_OPTION_PER_IP_CONNECTION_LIMIT, m->conf.control.max_connections_per_ip,
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) HTTP_CONNECTION_TIMEOUT_S,
                                    MHD_OPTION_ARRAY, m->tls ? tls_options : &tls_options[2],
                                    MHD_OPTION_END);
        if (!m->httpd) {
                close(fd);
                return log_error_errno(EIO, "Cannot start the HTTP server on %s", where);
        }
        info = MHD_get_daemon_info(m->httpd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return log_error_errno(EIO, "Cannot get the HTTP server's epoll fd");
        r = sd_event_add_io(m->event, &m->httpd_io, info->epoll_fd, EPOLLIN, on_httpd_io, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the HTTP server: %m");
        /* Accuracy 0 would mean sd-event's default of 250 ms: a request whose
         * body is still in the socket after one MHD_run() (timeout 0) would
         * then be read 16 KiB per quarter second. */
        r = sd_event_add_time_relative(m->event, &m->httpd_timer, CLOCK_MONOTONIC, 0, 1, on_httpd_timer, m);
        if (r < 0)
                return log_error_errno(r, "Cannot create the HTTP timer: %m");
        (void) sd_event_source_set_enabled(m->httpd_timer, SD_EVENT_OFF);
        r = sd_event_add_defer(m->event, &m->httpd_kick, on_httpd_kick, m);
        if (r < 0)
                return log_error_errno(r, "Cannot create the HTTP wake-up: %m");
        (void) sd_event_source_set_enabled(m->httpd_kick, SD_EVENT_OFF);
        r = sd_event_source_set_prepare(m->httpd_io, on_httpd_prepare);
        if (r < 0)
                return log_error_errno(r, "Cannot hook the HTTP server into the loop: %m");
        log_info("Control API listening on %s://%s (dashboard at %s://%s/)", scheme, where, scheme, where);
        return 0;
}

/* ---- the workers' NOTIFY_SOCKET ----------------------------------------- */

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct manager *m = userdata;
        char buf[4096];
        union {
                struct cmsghdr h;
                uint8_t buf[CMSG_SPACE(sizeof(struct ucred))];
        } control;
        struct iovec iov = { buf, sizeof buf - 1 };
        struct msghdr msg = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof control,
        };
        struct ucred *cred = NULL;
        ssize_t n;

        n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n < 0)
                return 0;
        if ((size_t) n >= sizeof buf || (msg.msg_flags & MSG_CTRUNC)) {
                log_warning("Dropped an oversized message on the workers' notify socket");
                return 0;
        }
        buf[n] = '\0';
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                    c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                        cred = (struct ucred *) (void *) CMSG_DATA(c);
        if (!cred)
                return 0;
        /* The socket is reachable by any local process: only our own
         * children's words count. */
        for (size_t i = 0; i < _KIND_MAX; i++)
                if (m->workers[i].pid > 0 && m->workers[i].pid == cred->pid) {
                        worker_notify(&m->workers[i], buf);
                        return 0;
                }
        log_debug("Ignored a notify message from pid %d, which is not a worker", (int) cred->pid);
        return 0;
}

static int start_notify_socket(struct manager *m) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        socklen_t len;
        int one = 1, r;

        /* Abstract, so it needs no writable directory (ProtectSystem=strict)
         * and vanishes with us. */
        snprintf(m->notify_address, sizeof m->notify_address, "@resolvix-controld/%d/notify", (int) getpid());
        snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "%s", m->notify_address + 1);
        len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(m->notify_address));

        m->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (m->notify_fd < 0)
                return log_error_errno(errno, "Cannot create the workers' notify socket: %m");
        if (bind(m->notify_fd, (struct sockaddr *) &sa, len) < 0)
                return log_error_errno(errno, "Cannot bind the workers' notify socket: %m");
        if (setsockopt(m->notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
                return log_error_errno(errno, "Cannot enable credentials on the notify socket: %m");
        r = sd_event_add_io(m->event, &m->notify_source, m->notify_fd, EPOLLIN, on_notify, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the notify socket: %m");
        return 0;
}

/* ---- state and status --------------------------------------------------- */

int manager_save_state(struct manager *m) {
        struct desired_state s = {
                .telemetry = m->workers[KIND_TELEMETRY].desired,
                .livelogs = m->workers[KIND_LIVELOGS].desired,
                .push = m->workers[KIND_PUSH].desired,
                .interval = m->workers[KIND_TELEMETRY].interval,
        };
        int r = state_save(m->conf.control.state_dir, &s);

        if (r < 0)
                return log_error_errno(r, "Cannot save state in %s: %m", m->conf.control.state_dir);
        return 0;
}

static void restore_state(struct manager *m) {
        struct desired_state s;
        int r = state_load(m->conf.control.state_dir, &s);

        if (r == -ENOENT) {
                /* First start: autostart seeds the desired state. */
                s = (struct desired_state){
                        .telemetry = m->conf.telemetry.stream.autostart,
                        .livelogs = m->conf.livelogs.stream.autostart,
                        .push = m->conf.push.autostart,
                        .interval = m->conf.telemetry.interval,
                };
                log_info("No saved state in %s: starting from autostart (telemetry %s, livelogs %s, push %s)",
                         m->conf.control.state_dir, s.telemetry ? "on" : "off", s.livelogs ? "on" : "off",
                         s.push ? "on" : "off");
        } else if (r < 0) {
                log_warning_errno(r, "Ignoring unreadable state %s/" STATE_FILE ": %m", m->conf.control.state_dir);
                s = (struct desired_state){ .interval = m->conf.telemetry.interval };
        } else
                log_info("Restoring saved state: telemetry %s (interval %u s), livelogs %s, push %s",
                         s.telemetry ? "on" : "off", s.interval, s.livelogs ? "on" : "off", s.push ? "on" : "off");

        m->workers[KIND_TELEMETRY].interval = s.interval;
        if (s.telemetry)
                worker_start(&m->workers[KIND_TELEMETRY], NULL);
        if (s.livelogs)
                worker_start(&m->workers[KIND_LIVELOGS], NULL);
        if (s.push)
                worker_start(&m->workers[KIND_PUSH], NULL);
        (void) manager_save_state(m);
}

static bool any_starting(const struct manager *m) {
        for (size_t i = 0; i < _KIND_MAX; i++)
                if (m->workers[i].state == WORKER_STARTING)
                        return true;
        return false;
}

static bool any_alive(const struct manager *m) {
        for (size_t i = 0; i < _KIND_MAX; i++)
                if (worker_alive(&m->workers[i]))
                        return true;
        return false;
}

static void status_line(const struct manager *m, char *buf, size_t size) {
        size_t off = 0;

        for (size_t i = 0; i < _KIND_MAX && off < size; i++) {
                const struct worker *w = &m->workers[i];
                int n;

                if (w->pid > 0)
                        n = snprintf(buf + off, size - off, "%s%s: %s (pid %d)", i ? ", " : "", w->name,
                                     worker_state_to_string(w->state), (int) w->pid);
                else
                        n = snprintf(buf + off, size - off, "%s%s: %s", i ? ", " : "", w->name,
                                     worker_state_to_string(w->state));
                if (n < 0)
                        return;
                off += (size_t) n;
        }
}

void manager_worker_changed(struct manager *m) {
        char status[256];

        if (!m->event)
                return;
        status_line(m, status, sizeof status);
        /* Ready once the API accepts and restored workers have settled. */
        if (!m->ready_sent && m->httpd && !any_starting(m)) {
                m->ready_sent = true;
                (void) sd_notifyf(0, "READY=1\nSTATUS=%s", status);
                log_info("Ready: %s", status);
        } else
                (void) sd_notifyf(0, "STATUS=%s", status);
        if (m->shutting_down && !any_alive(m))
                (void) sd_event_exit(m->event, 0);
}

/* ---- signals ------------------------------------------------------------ */

/* systemd waits for READY=1 to end a reload, whether or not it succeeded. */
static void reload_done(struct manager *m) {
        char status[256];

        status_line(m, status, sizeof status);
        (void) sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

static int on_shutdown_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;

        if (m->shutting_down)
                return 0;
        m->shutting_down = true;
        log_info("Received SIG%s: stopping workers and exiting", sigabbrev_np((int) si->ssi_signo) ?: "?");
        (void) sd_notify(0, "STOPPING=1\nSTATUS=Stopping workers");
        for (size_t i = 0; i < _KIND_MAX; i++)
                worker_shutdown(&m->workers[i]);
        manager_worker_changed(m);
        return 0;
}

static int on_reload_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;
        struct conf next;
        struct conf_cli cli;
        unsigned old_interval = m->conf.telemetry.interval;
        int r;

        (void) sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading configuration",
                          (unsigned long long) now_usec(CLOCK_MONOTONIC));
        r = conf_load_args(m->argc, m->argv, "", m->flags, &next, &cli);
        if (r < 0) {
                log_error("Reload failed: keeping the running configuration");
                reload_done(m);
                return 0;
        }
        if (!streq(next.control.listen, m->conf.control.listen) || next.control.port != m->conf.control.port ||
            next.control.max_connections != m->conf.control.max_connections ||
            next.control.max_connections_per_ip != m->conf.control.max_connections_per_ip)
                log_warning("[control] listen, port, max_connections and max_connections_per_ip changes take "
                            "effect only when controld restarts");
        /* The certificate and key are re-read whether or not their paths
         * changed: replacing the files is the usual way to renew them. */
        if (!!m->tls != !!next.control.tls_cert[0])
                log_warning("[control] tls_cert switched on or off: takes effect only when controld restarts");
        else if (m->tls)
                (void) control_tls_reload(m->tls, next.control.tls_cert, next.control.tls_key);
        /* The socket stays where it is: keep the old address in the new config. */
        snprintf(next.control.listen, sizeof next.control.listen, "%s", m->conf.control.listen);
        next.control.port = m->conf.control.port;
        next.control.max_connections = m->conf.control.max_connections;
        next.control.max_connections_per_ip = m->conf.control.max_connections_per_ip;
        m->conf = next;
        log_set_max_level(m->conf.node.verbose ? LOG_DEBUG : LOG_INFO);
        node_id_resolve(m->conf.node.id, m->node_id, sizeof m->node_id);
        log_info("Configuration reloaded from %s", m->conf.path[0] ? m->conf.path : "defaults and environment");

        if (m->conf.telemetry.interval != old_interval)
                (void) worker_set_interval(&m->workers[KIND_TELEMETRY], m->conf.telemetry.interval);
        /* A worker whose settings changed is restarted to pick them up. */
        for (size_t i = 0; i < _KIND_MAX; i++) {
                struct worker *w = &m->workers[i];
                char **env;

                if (w->state != WORKER_RUNNING)
                        continue;
                env = worker_build_env(w);
                if (env && !strv_equal(env, w->env)) {
                        log_info("%s: settings changed; restarting the worker", w->name);
                        worker_restart(w, NULL);
                } else if (worker_tls_cert(w)[0] && kill(w->pid, SIGHUP) < 0)
                        /* It re-reads its certificate without dropping its clients. */
                        log_warning("%s: cannot pass the reload on: %m", w->name);
                strv_free(env);
        }
        reload_done(m);
        return 0;
}

/* ---- life cycle --------------------------------------------------------- */

int manager_new(const struct manager_args *args, struct manager **ret) {
        struct manager *m;
        sigset_t mask;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return log_error_errno(ENOMEM, "Out of memory");
        m->conf = *args->conf;
        m->argc = args->argc;
        m->argv = args->argv;
        m->flags = args->flags;
        m->notify_fd = -1;
        m->started_usec = now_usec(CLOCK_MONOTONIC);
        node_id_resolve(m->conf.node.id, m->node_id, sizeof m->node_id);
        for (size_t i = 0; i < _KIND_MAX; i++)
                worker_init(&m->workers[i], m, (enum worker_kind) i);

        /* Children are watched through pidfds; SIGCHLD itself is not wanted. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        r = sd_event_new(&m->event);
        if (r < 0) {
                free(m);
                return log_error_errno(r, "Cannot create the event loop: %m");
        }
        (void) sd_event_set_watchdog(m->event, true);
        r = sd_event_add_signal(m->event, NULL, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, on_shutdown_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_shutdown_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP | SD_EVENT_SIGNAL_PROCMASK, on_reload_signal, m);
        if (r < 0) {
                manager_free(m);
                return log_error_errno(r, "Cannot watch signals: %m");
        }
        *ret = m;
        return 0;
}

int manager_start(struct manager *m) {
        int r;

        r = mkdir_parents(m->conf.control.state_dir, 0755);
        if (r < 0)
                return log_error_errno(r, "Cannot create state directory %s: %m", m->conf.control.state_dir);
        r = start_notify_socket(m);
        if (r < 0)
                return r;
        r = start_http(m);
        if (r < 0)
                return r;
        log_info("Node id %s; workers from %s; state in %s", m->node_id, m->conf.control.worker_dir,
                 m->conf.control.state_dir);
        restore_state(m);
        manager_worker_changed(m);
        return 0;
}

int manager_run(struct manager *m) {
        int r = sd_event_loop(m->event);

        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return r;
}

void manager_free(struct manager *m) {
        if (!m)
                return;
        for (size_t i = 0; i < _KIND_MAX; i++)
                worker_done(&m->workers[i]);
        m->httpd_io = sd_event_source_disable_unref(m->httpd_io);
        m->httpd_timer = sd_event_source_disable_unref(m->httpd_timer);
        m->httpd_kick = sd_event_source_disable_unref(m->httpd_kick);
        if (m->httpd)
                MHD_stop_daemon(m->httpd);
        control_tls_free(m->tls);
        connections_done(&m->connections);
        m->notify_source = sd_event_source_disable_unref(m->notify_source);
        if (m->notify_fd >= 0)
                close(m->notify_fd);
        sd_event_unref(m->event);
        free(m);
}
