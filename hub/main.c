/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "clientid.h"
#include "digest.h"
#include "fileio.h"
#include "hub.h"
#include "json-arena.h"
#include "log.h"
#include "notify.h"
#include "remote-write.h"
#include "store-codec.h"
#include "timeutil.h"
#include "wstls.h"

/* A WebSocket text message on /echo is one record: far below this. */
#define MAX_MESSAGE (64 * 1024)
/* The whole body of a request must arrive within this; a late answer
 * (a commit) is waited for as long again. */
#define REQUEST_DEADLINE_SEC 30
/* An idle node connection is kept longer than a push interval (pushd's
 * default is 10 s), so that a node pushes on one connection for good instead
 * of opening one per push, and never races the hub closing it. */
#define KEEPALIVE_SEC 75
#define CLIENT_CACHE_SLOTS 65536
#define MAINTAIN_IDLE_USEC (30 * USEC_PER_SEC)
#define MAINTAIN_BUSY_USEC (1 * USEC_PER_SEC)

static const struct conf_flag flags[] = {
        { "listen", 0, "hub", "listen", "ADDRESS", "address to listen on" },
        { "port", 'p', "hub", "port", "PORT", "HTTP and WebSocket port" },
        { "database", 'd', "hub", "database", "URL", "\"\" (SQLite in state_dir) or postgresql://..." },
        { "state-dir", 0, "control", "state_dir", "DIR", "where the SQLite database lives" },
        { "max-nodes", 0, "hub", "max_nodes", "N", "most nodes the hub will register" },
        { 0 },
};

int64_t now_ms(void) {
        return (int64_t) (now_usec(CLOCK_REALTIME) / USEC_PER_MSEC);
}

void hub_reject(struct hub *h, enum reject why) {
        h->stats.rejected[why]++;
}

/* ---- store maintenance: rollups and expiry, a slice at a time ----------- */

struct maintain_job {
        struct job job;
        struct store_retention retention;
        int more;
        uint64_t size;
        bool size_known;
};

static void maintain_run(struct job *j, struct store *st, struct lane_ctx *ctx) {
        struct maintain_job *m = container_of(j, struct maintain_job, job);

        m->more = store_maintain(st, now_ms(), &m->retention);
        j->result = m->more < 0 ? m->more : 0;
        m->size_known = store_size_bytes(st, &m->size) == 0;
}

static void maintain_done(struct hub *h, struct job *j) {
        struct maintain_job *m = container_of(j, struct maintain_job, job);

        h->maintaining = false;
        if (j->result < 0)
                log_warning_errno(j->result, "Database maintenance failed: %m");
        if (m->size_known) {
                h->stats.db_size = m->size;
                h->stats.db_size_known = true;
        }
        hub_maintain_later(h, m->more > 0 ? MAINTAIN_BUSY_USEC : MAINTAIN_IDLE_USEC);
        job_free(j);
}

static void maintain_tick(lws_sorted_usec_list_t *sul) {
        struct hub *h = container_of(sul, struct hub, maintain_timer);
        struct maintain_job *m;

        if (h->maintaining || ws_server_stopping(h->server))
                return;
        m = calloc(1, sizeof *m);
        if (!m)
                return hub_maintain_later(h, MAINTAIN_IDLE_USEC);
        m->job.lane = LANE_READ;
        m->job.run = maintain_run;
        m->job.done = maintain_done;
        m->retention = (struct store_retention){ .raw_days = h->conf.hub.retention_days,
                                                 .rollup_days = h->conf.hub.rollup_retention_days };
        if (lanes_submit(h, &m->job) < 0) {
                free(m);
                hub_maintain_later(h, MAINTAIN_IDLE_USEC);
                return;
        }
        h->maintaining = true;
}

void hub_maintain_later(struct hub *h, uint64_t usec) {
        lws_sul_schedule(ws_server_context(h->server), 0, &h->maintain_timer, maintain_tick, (lws_usec_t) usec);
}

/* ---- systemd ------------------------------------------------------------ */

static void watchdog_tick(lws_sorted_usec_list_t *sul) {
        struct hub *h = container_of(sul, struct hub, watchdog_timer);

        /* From the loop itself: a loop that stops turning stops these. */
        (void) sd_notify(0, "WATCHDOG=1");
        lws_sul_schedule(ws_server_context(h->server), 0, &h->watchdog_timer, watchdog_tick,
                         (lws_usec_t) h->watchdog_usec / 2);
}

/* Opening the database may migrate its schema, which rebuilds indexes on a
 * large PostgreSQL database for minutes (docs/fleet.md, "Storage"), longer
 * than systemd waits for a start. While it lasts, a thread asks for more
 * time, every OPEN_EXTEND_USEC, OPEN_EXTEND_USEC * 3 at a time. */
#define OPEN_EXTEND_USEC (10 * USEC_PER_SEC)

struct opening {
        pthread_mutex_t lock;
        pthread_cond_t done_cond;
        bool done;
};

static void *extend_start(void *arg) {
        struct opening *o = arg;
        bool told = false;

        pthread_mutex_lock(&o->lock);
        while (!o->done) {
                struct timespec until = timespec_after(CLOCK_MONOTONIC, OPEN_EXTEND_USEC);

                while (!o->done && pthread_cond_timedwait(&o->done_cond, &o->lock, &until) != ETIMEDOUT)
                        ;
                if (o->done)
                        break;
                if (!told)
                        log_info("Still opening the database (migrating its schema, or waiting for a lock on "
                                 "it); asking systemd for more time to start");
                told = true;
                (void) sd_notifyf(0, "EXTEND_TIMEOUT_USEC=%llu\nSTATUS=opening the database",
                                  OPEN_EXTEND_USEC * 3);
        }
        pthread_mutex_unlock(&o->lock);
        return NULL;
}

/* The writer's store and the reader's, opened while extend_start() runs. */
static int open_stores(const struct conf *c, struct store **writer, struct store **reader) {
        struct opening o = { .lock = PTHREAD_MUTEX_INITIALIZER, .done = false };
        pthread_t thread;
        bool started;
        int r;

        cond_init_clock(&o.done_cond, CLOCK_MONOTONIC);
        started = pthread_create(&thread, NULL, extend_start, &o) == 0;

        r = store_open(c->hub.database, c->control.state_dir, writer);
        if (r >= 0)
                r = store_open(c->hub.database, c->control.state_dir, reader);

        pthread_mutex_lock(&o.lock);
        o.done = true;
        pthread_cond_signal(&o.done_cond);
        pthread_mutex_unlock(&o.lock);
        if (started)
                pthread_join(thread, NULL);
        pthread_cond_destroy(&o.done_cond);
        return r;
}

static int apply_agent_allow(struct hub *h, const char *list) {
        size_t n;
        int r = cidr_list_parse(list, h->agent_allow, ELEMENTSOF(h->agent_allow), &n);

        if (r < 0)
                return r;
        h->n_agent_allow = n;
        return 0;
}

void hub_reload(struct hub *h);
void hub_reload(struct hub *h) {
        static struct conf next;
        struct conf_cli cli;
        int r;

        (void) sd_notify(0, "RELOADING=1");
        r = conf_load_args(h->argc, h->argv, "", flags, &next, &cli);
        if (r < 0) {
                log_error("Configuration not reloaded: it has errors; the one in effect stays");
                (void) sd_notify(0, "READY=1");
                return;
        }
        if (!streq(next.hub.stream.listen, h->conf.hub.stream.listen) ||
            next.hub.stream.port != h->conf.hub.stream.port || !streq(next.hub.database, h->conf.hub.database) ||
            !streq(next.control.state_dir, h->conf.control.state_dir) ||
            next.hub.max_body != h->conf.hub.max_body ||
            next.hub.stream.max_clients != h->conf.hub.stream.max_clients ||
            !streq(next.hub.remote_write_url, h->conf.hub.remote_write_url) ||
            next.hub.remote_write_queue_mb != h->conf.hub.remote_write_queue_mb)
                log_warning("Listen, port, database, state_dir, max_body, max_clients and remote_write_* change only "
                            "with a restart");
        if (apply_agent_allow(h, next.hub.agent_allow) < 0) {
                log_error("Configuration not reloaded: bad agent_allow");
                (void) sd_notify(0, "READY=1");
                return;
        }
        memcpy(h->conf.hub.stream.token, next.hub.stream.token, sizeof next.hub.stream.token);
        memcpy(h->conf.hub.enroll_token, next.hub.enroll_token, sizeof next.hub.enroll_token);
        memcpy(h->conf.hub.agent_allow, next.hub.agent_allow, sizeof next.hub.agent_allow);
        h->conf.hub.retention_days = next.hub.retention_days;
        h->conf.hub.rollup_retention_days = next.hub.rollup_retention_days;
        h->conf.hub.max_nodes = next.hub.max_nodes;
        h->conf.node.verbose = next.node.verbose;
        log_set_max_level(next.node.verbose ? LOG_DEBUG : LOG_INFO);
        log_info("Configuration reloaded");
        (void) sd_notify(0, "READY=1\nSTATUS=configuration reloaded");
}

/* ---- start-up ----------------------------------------------------------- */

/* How a node proves who it is (docs/tls.md, "Client certificates at the
 * hub"): a client CA makes every handshake carry a certificate, so "token"
 * alone cannot go with one, and the other two need one. */
static bool tls_client_auth_valid(const struct conf *c) {
        const char *a = c->hub.tls_client_auth;
        bool ca = c->hub.tls_client_ca[0] != '\0';

        if (a[0] && !streq(a, "token") && !streq(a, "certificate") && !streq(a, "both")) {
                log_error("Invalid configuration: [hub] tls_client_auth: expected token, certificate or both, got '%s'",
                          a);
                return false;
        }
        if ((streq(a, "certificate") || streq(a, "both")) && !ca) {
                log_error("Invalid configuration: [hub] tls_client_auth = %s needs tls_client_ca (the CA that signs "
                          "the nodes' certificates)",
                          a);
                return false;
        }
        if (streq(a, "token") && ca) {
                log_error("Invalid configuration: [hub] tls_client_auth = token cannot go with tls_client_ca, which "
                          "asks every client for a certificate: set both (the default there) or certificate");
                return false;
        }
        return true;
}

static bool conf_valid(const struct conf *c) {
        const char *db = c->hub.database;

        if (db[0] && !strneq(db, "postgresql://", 13) && !strneq(db, "postgres://", 11)) {
                log_error("Invalid configuration: [hub] database: expected empty (SQLite) or a postgresql:// URL, "
                          "got '%s'", db);
                return false;
        }
        if (c->hub.remote_write_url[0] && !remote_write_url_valid(c->hub.remote_write_url))
                return false;
        if (!tls_client_auth_valid(c))
                return false;
        return ws_tls_check_listener(&c->hub.stream, c->hub.tls_client_ca, true) >= 0;
}

static int load_node(const struct store_node *n, void *userdata) {
        struct hub *h = userdata;

        return registry_put(h->registry, n) ? 0 : -ENOMEM;
}

static int load_latest(const char *node_id, int64_t ts, const char *json, size_t len, void *userdata) {
        struct hub *h = userdata;
        struct node *n = registry_get(h->registry, node_id);

        if (n) {
                cJSON *tree = cJSON_ParseWithLength(json, len);
                struct sample_summary summary;

                sample_summarize(tree, n->s.kind, &summary);
                node_set_latest(n, ts, json, len, &summary);
                cJSON_Delete(tree);
                /* Without a push since the start, the last sample is the
                 * last sign of life. */
                if (ts > n->s.last_seen)
                        n->s.last_seen = ts;
        }
        return 0;
}

static int load_registry(struct hub *h, struct store *st) {
        int r = store_nodes_each(st, load_node, h);

        if (r < 0)
                return log_error_errno(r, "Cannot read the nodes from the database: %m");
        r = store_latest_each(st, load_latest, h);
        if (r < 0)
                return log_error_errno(r, "Cannot read the nodes' latest samples: %m");
        return 0;
}

/* ---- resolvix-hub --new-enroll-token ------------------------------------- */

struct new_token_args {
        bool wanted;
        int64_t ttl;
        const char *note;
};

/* Take --new-enroll-token, --token-ttl SECONDS and --token-note TEXT out of
 * argv (the rest is the usual configuration flags). -EINVAL on a bad one. */
static int take_token_args(int *argc, char **argv, struct new_token_args *ret) {
        struct new_token_args a = { .ttl = ENROLL_TOKEN_TTL_DEFAULT, .note = "" };
        int out = 1;
        bool options = false;

        for (int i = 1; i < *argc; i++) {
                const char *arg = argv[i], *value = NULL;

                if (streq(arg, "--new-enroll-token")) {
                        a.wanted = true;
                        continue;
                }
                const char *eq = strchr(arg, '=');
                size_t name_len = eq ? (size_t) (eq - arg) : strlen(arg);

                if ((name_len == 11 && strneq(arg, "--token-ttl", 11)) ||
                    (name_len == 12 && strneq(arg, "--token-note", 12))) {
                        if (eq)
                                value = eq + 1;
                        else if (i + 1 < *argc)
                                value = argv[++i];
                        else {
                                log_error("%.*s needs a value", (int) name_len, arg);
                                return -EINVAL;
                        }
                        options = true;
                        if (name_len == 11) {
                                char *end;
                                long long v;

                                errno = 0;
                                v = strtoll(value, &end, 10);
                                if (errno || end == value || *end || v < 1 || v > ENROLL_TOKEN_TTL_MAX) {
                                        log_error("--token-ttl: expected 1 to %d seconds, got '%s'",
                                                  ENROLL_TOKEN_TTL_MAX, value);
                                        return -EINVAL;
                                }
                                a.ttl = v;
                        } else
                                a.note = value;
                        continue;
                }
                argv[out++] = argv[i];
        }
        if (options && !a.wanted) {
                log_error("--token-ttl and --token-note go with --new-enroll-token");
                return -EINVAL;
        }
        argv[out] = NULL;
        *argc = out;
        *ret = a;
        return 0;
}

/* Straight into the configured database, so that it works whether the hub
 * runs or not, and needs no token for the API: whoever may read the
 * configuration and the database may make one (docs/fleet.md). */
static int new_enroll_token(const struct conf *c, const struct new_token_args *a) {
        struct store_enroll_token t;
        struct store *st = NULL;
        char token[SHA256_HEX_LEN + 1], expires[ISO8601_MAX];
        int r;

        if (c->hub.database[0] == '\0') {
                _cleanup_free_ char *path = NULL;

                /* Made by root, a new database would be root's, which a hub
                 * running as its own user could not open. */
                if (asprintf(&path, "%s/hub.sqlite", c->control.state_dir) < 0)
                        return log_error_errno(ENOMEM, "Out of memory");
                if (access(path, F_OK) < 0)
                        return log_error_errno(errno, "No hub database at %s (start the hub once first): %m", path);
        }
        r = enroll_token_make(a->ttl, a->note, now_ms(), token, &t);
        if (r == -EINVAL)
                return log_error_errno(r, "--token-note: at most %d characters, no control characters",
                                       STORE_ENROLL_NOTE_MAX);
        if (r < 0)
                return log_error_errno(r, "Cannot make a token: %m");
        r = store_open(c->hub.database, c->control.state_dir, &st);
        if (r < 0)
                return log_error_errno(r, "Cannot open the database (%s): %m",
                                       c->hub.database[0] ? "PostgreSQL" : c->control.state_dir);
        r = enroll_token_store(st, &t);
        store_close(st);
        if (r == -E2BIG)
                return log_error_errno(r, "Too many unspent enroll tokens wait already: spend or revoke some first");
        if (r < 0)
                return log_error_errno(r, "Cannot store the token: %m");
        format_iso8601((uint64_t) t.expires * USEC_PER_MSEC, expires);
        printf("%s\n", token);
        log_info("One-time enroll token %.16s stored, valid until %s", t.token_sha256, expires);
        return 0;
}

int main(int argc, char **argv) {
        static struct hub h; /* struct conf is large: keep it off the stack */
        struct store *writer = NULL, *reader = NULL;
        struct conf_stream stream;
        struct ws_server_params params;
        struct new_token_args token_args;
        int r, exit_code = 1;

        log_open("resolvix-hub", NULL);
        if (take_token_args(&argc, argv, &token_args) < 0)
                return 2;
        h.argc = argc;
        h.argv = argv;
        r = conf_main(argc, argv,
                      "Collect samples from a fleet of nodes, keep their history and answer questions about it.\n"
                      "With --new-enroll-token [--token-ttl SECONDS] [--token-note TEXT]: store a one-time\n"
                      "enroll token in the configured database, print it and exit.",
                      flags, &h.conf, conf_valid);
        if (r >= 0)
                return r;
        if (token_args.wanted)
                return new_enroll_token(&h.conf, &token_args) < 0 ? 1 : 0;
        log_route_lws();
        r = json_arena_setup(0);
        if (r < 0)
                log_warning_errno(r, "Cannot reserve address space for parsing pushes, parsing them on the heap: %m");
        (void) apply_agent_allow(&h, h.conf.hub.agent_allow);

        /* systemd's StateDirectory= makes it; by hand, the hub does. */
        if (h.conf.hub.database[0] == '\0') {
                r = mkdir_parents(h.conf.control.state_dir, 0700);
                if (r < 0 && r != -EEXIST) {
                        notify_failure(r, "database_failed", "Cannot create %s: %s", h.conf.control.state_dir,
                                       strerror(-r));
                        goto out;
                }
        }
        r = open_stores(&h.conf, &writer, &reader);
        if (r < 0) {
                notify_failure(r, r == -ENOTCONN ? "database_unavailable" : "database_failed",
                               "Cannot open the database (%s): %s",
                               h.conf.hub.database[0] ? "PostgreSQL" : h.conf.control.state_dir, strerror(-r));
                goto out;
        }
        h.backend = store_backend(writer);
        if (registry_new(&h.registry) < 0 || fleet_new(&h.fleet) < 0 || body_codec_new(&h.codec) < 0 ||
            client_cache_new(CLIENT_CACHE_SLOTS, &h.clients) < 0) {
                log_error("Out of memory");
                goto out;
        }
        if (load_registry(&h, reader) < 0)
                goto out;
        (void) monitor_cpu_load(&h.cpu);

        /* Every path decides its own access (docs/fleet.md, "How the hub works"): the
         * shared handshake check must not demand the query token of /echo. */
        stream = h.conf.hub.stream;
        stream.token[0] = '\0';
        stream.allowed_origins[0] = '\0';
        params = (struct ws_server_params){
                .name = "resolvix-hub",
                .stream = &stream,
                .max_message = MAX_MESSAGE,
                .max_body = h.conf.hub.max_body,
                .request_deadline = REQUEST_DEADLINE_SEC,
                .tls_client_ca = h.conf.hub.tls_client_ca,
                .keepalive_timeout = KEEPALIVE_SEC,
                .userdata = &h,
        };
        r = ws_server_new(&hub_ops, &params, &h.server);
        if (r < 0)
                goto out;
        if (h.conf.hub.remote_write_url[0]) {
                r = remote_write_start(&h.conf, &h.remote_write);
                if (r < 0) {
                        notify_failure(r, "remote_write_failed", "Cannot start remote write to %s: %s",
                                       h.conf.hub.remote_write_url, strerror(-r));
                        goto out;
                }
        }
        r = lanes_start(&h, writer, reader);
        if (r < 0)
                goto out;

        if (sd_watchdog_enabled(false, &h.watchdog_usec) > 0 && h.watchdog_usec > 0)
                watchdog_tick(&h.watchdog_timer);
        hub_maintain_later(&h, 5 * USEC_PER_SEC);
        log_info("Listening on %s:%u; %s database; %zu nodes known", h.conf.hub.stream.listen,
                 h.conf.hub.stream.port, h.backend, registry_count(h.registry));
        notify_ready(NULL, "listening on %s:%u, %s, %zu nodes", h.conf.hub.stream.listen, h.conf.hub.stream.port,
                     h.backend, registry_count(h.registry));

        r = ws_server_run(h.server);
        (void) sd_notify(0, "STOPPING=1\nSTATUS=committing what is queued");
        exit_code = r < 0 || h.failed ? 1 : 0;
out:
        /* Everything queued is committed before the database closes: a
         * sample that reached the hub is stored even if its answer could
         * not be sent any more. */
        lanes_stop(&h);
        remote_write_stop(h.remote_write);
        if (h.server) {
                lws_sul_cancel(&h.watchdog_timer);
                lws_sul_cancel(&h.maintain_timer);
        }
        ws_server_free(h.server);
        if (h.registry && h.fleet) {
                size_t n = 0;
                _cleanup_free_ struct node **nodes = registry_sorted(h.registry, &n);

                for (size_t i = 0; nodes && i < n; i++)
                        fleet_forget(&h, nodes[i]);
        }
        store_close(writer);
        store_close(reader);
        fleet_free(h.fleet);
        registry_free(h.registry);
        client_cache_free(h.clients);
        body_codec_free(h.codec);
        if (exit_code == 0)
                log_info("Stopped after storing %llu samples", (unsigned long long) h.stats.samples);
        return exit_code;
}
