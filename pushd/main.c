/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "conf.h"
#include "errors.h"
#include "fileio.h"
#include "http-url.h"
#include "jsonutil.h"
#include "log.h"
#include "macro.h"
#include "nodeid.h"
#include "notify.h"
#include "pushd.h"
#include "sample-json.h"
#include "signals.h"
#include "sysmon.h"
#include "timeutil.h"

#define PRIME_NSEC (200 * 1000 * 1000L)

static const struct conf_flag flags[] = {
        { "hub-url", 0, "push", "hub_url", "URL", "hub to push to; several, space-separated, are tried in turn" },
        { "interval", 'i', "push", "interval", "SECONDS", "seconds between samples, 1..86400" },
        { "protocol", 0, "push", "protocol", "NAME", "resolvix or system-monitor" },
        { "state-dir", 's', "control", "state_dir", "DIR", "where the spool and the node token are kept" },
        { 0 },
};

static bool valid_url(const char *u) {
        struct http_url url;

        return http_url_parse(u, &url) == 0;
}

/* A client certificate pushd cannot read would fail every handshake with
 * a hub that asks for one: better refused at start, naming the file
 * (docs/tls.md, "Client certificates at the hub"). */
static bool client_cert_valid(const struct conf *c) {
        const char *files[][2] = { { "tls_cert", c->push.tls_cert }, { "tls_key", c->push.tls_key } };

        if (!c->push.tls_cert[0] != !c->push.tls_key[0]) {
                notify_failure(EINVAL, ERROR_BAD_CONFIG, "[push] tls_cert and tls_key must be set together");
                return false;
        }
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (files[i][1][0] && access(files[i][1], R_OK) < 0) {
                        int e = errno;

                        notify_failure(e, ERROR_BAD_CONFIG, "[push] %s %s cannot be read: %s", files[i][0],
                                       files[i][1], strerror(e));
                        return false;
                }
        return true;
}

/* What conf.c cannot know: how pushd reads its own keys. */
static bool validate(const struct conf *c) {
        char urls[CONF_ORIGINS_MAX], *save = NULL;

        if (!streq(c->push.protocol, "resolvix") && !streq(c->push.protocol, "system-monitor")) {
                notify_failure(EINVAL, ERROR_BAD_CONFIG,
                               "[push] protocol = %s is not known; expected resolvix or system-monitor",
                               c->push.protocol);
                return false;
        }
        if (!c->push.hub_url[0]) {
                notify_failure(EINVAL, ERROR_BAD_CONFIG, "[push] hub_url is not set: there is nowhere to push to");
                return false;
        }
        snprintf(urls, sizeof urls, "%s", c->push.hub_url);
        for (char *u = strtok_r(urls, " \t", &save); u; u = strtok_r(NULL, " \t", &save))
                if (!valid_url(u)) {
                        notify_failure(EINVAL, ERROR_BAD_CONFIG, "[push] hub_url %s is not an http:// or https:// URL", u);
                        return false;
                }
        return client_cert_valid(c);
}

static void split_urls(struct pushd *p) {
        char urls[CONF_ORIGINS_MAX], *save = NULL;

        snprintf(urls, sizeof urls, "%s", p->conf.push.hub_url);
        /* validate() refused any URL that does not parse. */
        for (char *u = strtok_r(urls, " \t", &save); u && p->n_urls < PUSHD_URLS_MAX; u = strtok_r(NULL, " \t", &save))
                if (http_url_parse(u, &p->hubs[p->n_urls]) == 0)
                        snprintf(p->urls[p->n_urls++], sizeof p->urls[0], "%s", u);
}

static void identify(struct pushd *p) {
        char buf[128];

        node_id_resolve(p->conf.node.id, p->node_id, sizeof p->node_id);
        if (streq(p->conf.push.system_id, "auto"))
                snprintf(p->system_id, sizeof p->system_id, "%s", p->node_id);
        else
                snprintf(p->system_id, sizeof p->system_id, "%s", p->conf.push.system_id);
        if (gethostname(p->hostname, sizeof p->hostname - 1) < 0)
                snprintf(p->hostname, sizeof p->hostname, "%s", p->node_id);
        if (read_file("/etc/machine-id", buf, sizeof buf) > 0) {
                buf[strcspn(buf, "\r\n")] = '\0';
                snprintf(p->machine_id, sizeof p->machine_id, "%s", buf);
        }
}

static void take_sample(struct pushd *p) {
        const struct sample *s;
        struct spool_figures f;
        _cleanup_free_ char *line = NULL;
        int r;

        r = sampler_take(p->sampler, &s);
        if (r < 0) {
                log_warning_errno(r, "Cannot take a sample: %m");
                return;
        }
        spool_get_figures(p->spool, &f);
        line = pushd_format_sample(p, s, spool_next_seq(p->spool), f.stream);
        if (!line) {
                log_error("Cannot format a sample: out of memory");
                return;
        }
        r = spool_append(p->spool, line, strlen(line));
        if (r < 0)
                return; /* logged; the next tick tries again */
        p->samples++;
        p->figures_changed = true;
}

/* What controld shows in /status "push" (docs/control-api.md), as notify
 * fields beside WATCHDOG=1. */
static void notify_figures(struct pushd *p, bool ping) {
        struct spool_figures f;
        char msg[1024];

        spool_get_figures(p->spool, &f);
        snprintf(msg, sizeof msg,
                 "%sRESOLVIX_PUSH_URL=%s\nRESOLVIX_PUSH_CONNECTED=%d\nRESOLVIX_PUSH_SPOOLED=%llu\n"
                 "RESOLVIX_PUSH_DROPPED=%llu\nRESOLVIX_PUSH_LAST_ACK_SEQ=%llu\nRESOLVIX_PUSH_LAST_ERROR=%s",
                 ping ? "WATCHDOG=1\n" : "", p->urls[p->url_i], p->connected ? 1 : 0, (unsigned long long) f.pending,
                 (unsigned long long) f.dropped, (unsigned long long) f.last_ack, p->last_error);
        (void) notify_send(msg);
        p->figures_changed = false;
}

static int setup_signals(struct pushd *p) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGPIPE);
        p->sigfd = signalfd_blocking(&mask, NULL);
        return p->sigfd < 0 ? p->sigfd : 0;
}

static void read_signals(struct pushd *p) {
        struct signalfd_siginfo si;

        while (read(p->sigfd, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                        log_info("Stopping on SIG%s", sigabbrev_np((int) si.ssi_signo));
                        p->quit = true;
                }
        }
}

static uint64_t earliest(uint64_t a, uint64_t b) {
        return a < b ? a : b;
}

static int run(struct pushd *p) {
        uint64_t interval = (uint64_t) p->conf.push.interval * USEC_PER_SEC;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        p->next_sample = now + interval;
        p->tokens_at = now;
        p->next_ping = p->watchdog_usec ? now + p->watchdog_usec / 2 : UINT64_MAX;
        p->next_sync = UINT64_MAX;

        while (!p->quit) {
                struct pollfd fds[2] = { { .fd = p->sigfd, .events = POLLIN } };
                uint64_t wake = UINT64_MAX, client_deadline;
                int timeout;

                now = now_usec(CLOCK_MONOTONIC);
                if (now >= p->next_sample) {
                        take_sample(p);
                        p->next_sample += interval;
                        if (p->next_sample <= now) /* fell behind (suspend): no burst of samples */
                                p->next_sample = now + interval;
                        if (p->next_sync == UINT64_MAX)
                                p->next_sync = now + USEC_PER_SEC;
                }
                /* Data reaches the disk at most once a second: a sample is
                 * written before it is sent, synced soon after. */
                if (now >= p->next_sync) {
                        (void) spool_sync(p->spool);
                        p->next_sync = UINT64_MAX;
                }
                pushd_client_kick(p, now, &wake);

                if (now >= p->next_ping) {
                        notify_figures(p, true);
                        p->next_ping = now + p->watchdog_usec / 2;
                } else if (p->figures_changed)
                        notify_figures(p, false);

                fds[1].fd = pushd_client_poll(p, &fds[1].events, &client_deadline);
                wake = earliest(wake, earliest(p->next_sample, earliest(p->next_sync, p->next_ping)));
                wake = earliest(wake, client_deadline);
                now = now_usec(CLOCK_MONOTONIC);
                timeout = wake <= now ? 0 : (int) earliest((wake - now + 999) / 1000, 60000);
                if (poll(fds, 2, timeout) < 0 && errno != EINTR)
                        return log_error_errno(errno, "Cannot wait in poll(): %m");
                if (fds[0].revents & POLLIN)
                        read_signals(p);
                now = now_usec(CLOCK_MONOTONIC);
                if (fds[1].revents || now >= client_deadline)
                        pushd_client_step(p, now);
        }
        return 0;
}

static void pushd_release(struct pushd **pp) {
        struct pushd *p = *pp;

        pushd_client_done(p);
        spool_free(p->spool);
        sampler_free(p->sampler);
        if (p->sigfd >= 0)
                (void) close(p->sigfd);
}

int main(int argc, char **argv) {
        static struct pushd p = { .sigfd = -1 }; /* struct conf is large: keep it off the stack */
        _cleanup_(pushd_release) struct pushd *owned = &p;
        char spool_dir[PATH_MAX];
        struct spool_figures f;
        int r;

        log_open("pushd", "push");
        r = conf_main(argc, argv, "Sample /proc and push the samples to a resolvix hub, spooling them on disk.", flags,
                      &p.conf, validate);
        if (r >= 0)
                return r;
        p.sysmon = streq(p.conf.push.protocol, "system-monitor");
        split_urls(&p);
        identify(&p);

        r = setup_signals(&p);
        if (r < 0) {
                notify_failure(r, ERROR_SPAWN_FAILED, "cannot set up signals: %m");
                return 1;
        }
        r = sampler_new(NULL, &p.sampler);
        if (r >= 0)
                r = sampler_prime(p.sampler);
        if (r < 0) {
                notify_failure(r, ERROR_SPAWN_FAILED, "cannot open /proc: %m");
                return 1;
        }
        snprintf(spool_dir, sizeof spool_dir, "%s/push-spool", p.conf.control.state_dir);
        r = spool_open(spool_dir, (uint64_t) p.conf.push.spool_max_mb * 1024 * 1024, &p.spool);
        if (r < 0) {
                notify_failure(r, ERROR_SPAWN_FAILED, "cannot open the spool %s: %m", spool_dir);
                return 1;
        }
        r = pushd_client_init(&p);
        if (r < 0) {
                notify_failure(r, ERROR_SPAWN_FAILED, "cannot set up the HTTP client: %m");
                return 1;
        }
        if (notify_watchdog_usec(&p.watchdog_usec) <= 0)
                p.watchdog_usec = 0;

        spool_get_figures(p.spool, &f);
        log_info("Pushing to %s (%s) every %u s, node id %s; spool %s: stream %s, %llu samples waiting, next seq %llu",
                 p.conf.push.hub_url, p.conf.push.protocol, p.conf.push.interval, p.node_id, spool_dir, f.stream,
                 (unsigned long long) f.pending, (unsigned long long) f.next_seq);
        if (f.torn > 0)
                log_warning("The spool had %llu torn or corrupt bytes, skipped", (unsigned long long) f.torn);
        /* The first sample right away: a node shows up on the hub at start,
         * not one interval later. It waits out a short window after the
         * priming reading, since CPU percents over a few microseconds would
         * be noise (a first sample read 100 %). */
        (void) nanosleep(&(struct timespec){ .tv_nsec = PRIME_NSEC }, NULL);
        take_sample(&p);
        notify_ready(NULL, "pushing to %s (%s), interval %us", p.conf.push.hub_url, p.conf.push.protocol,
                     p.conf.push.interval);
        notify_figures(&p, false);

        r = run(&p);
        spool_get_figures(p.spool, &f);
        log_info("Stopped after %llu samples; %llu waiting in the spool", (unsigned long long) p.samples,
                 (unsigned long long) f.pending);
        return r < 0 ? 1 : 0;
}
