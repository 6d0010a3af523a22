/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "api.h"
#include "build-config.h"
#include "command.h"
#include "connections.h"
#include "dashboard.h"
#include "errors.h"
#include "grow.h"
#include "jsonutil.h"
#include "log.h"
#include "manager.h"
#include "notify.h"
#include "secret.h"
#include "timeutil.h"

/* One HTTP request, from its first byte to its answer. A control command
 * that must wait for a worker parks here (the connection suspended) and is
 * resumed by the waiter callback. */
struct request {
        struct manager *manager;
        struct MHD_Connection *connection;
        char *body;
        size_t len, body_size;
        bool too_large;

        struct command command;
        struct worker *target;
        struct waiter waiter;
        bool parked;    /* in a waiter list */
        bool suspended; /* MHD connection suspended */

        unsigned status;
        char *answer; /* JSON text, set once known */
};

enum route {
        ROUTE_NONE,
        ROUTE_CONTROL,
        ROUTE_STATUS,
        ROUTE_HEALTH,
        ROUTE_DASHBOARD,
};

static enum route route_of(const char *url) {
        if (dashboard_serves(url))
                return ROUTE_DASHBOARD;
        if (strneq(url, "/api/", 5))
                url += 4;
        if (streq(url, "/control"))
                return ROUTE_CONTROL;
        if (streq(url, "/status"))
                return ROUTE_STATUS;
        if (streq(url, "/health"))
                return ROUTE_HEALTH;
        return ROUTE_NONE;
}

/* ---- answers ------------------------------------------------------------ */

static void set_answer(struct request *r, unsigned status, cJSON *body) {
        char *text = json_print(body);

        cJSON_Delete(body);
        free(r->answer);
        r->answer = NULL;
        r->status = status;
        if (text && asprintf(&r->answer, "%s\n", text) < 0)
                r->answer = NULL;
        free(text);
}

static void set_error(struct request *r, const char *detail, const char *message) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "status", "error");
        cJSON_AddStringToObject(o, "detail", detail);
        cJSON_AddStringToObject(o, "message", message);
        set_answer(r, error_status(detail), o);
}

static enum MHD_Result send_answer(struct request *r, const char *allow) {
        static const char oom[] = "{\"status\":\"error\",\"detail\":\"out_of_memory\",\"message\":\"out of memory\"}\n";
        struct MHD_Response *resp;
        enum MHD_Result ret;
        unsigned status = r->answer ? r->status : MHD_HTTP_INTERNAL_SERVER_ERROR;

        if (r->answer)
                resp = MHD_create_response_from_buffer(strlen(r->answer), r->answer, MHD_RESPMEM_MUST_COPY);
        else
                resp = MHD_create_response_from_buffer(sizeof oom - 1, (void *) oom, MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return MHD_NO;
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (allow)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
        if (status == MHD_HTTP_UNAUTHORIZED)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"resolvix\"");
        ret = MHD_queue_response(r->connection, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* A worker's stream port and what it runs with: the interval, or the log
 * actually followed (the journal, when livelogd fell back to it). */
static void add_stream_fields(cJSON *o, const struct worker *w) {
        const struct conf *c = &w->manager->conf;

        if (w->kind == KIND_TELEMETRY) {
                cJSON_AddNumberToObject(o, "ws_port", c->telemetry.stream.port);
                cJSON_AddNumberToObject(o, "interval", w->interval);
        } else if (w->kind == KIND_PUSH) {
                /* pushd listens on nothing: where it pushes stands in for a port. */
                cJSON_AddStringToObject(o, "hub_url", w->push.hub_url[0] ? w->push.hub_url : c->push.hub_url);
                cJSON_AddStringToObject(o, "protocol", c->push.protocol);
                cJSON_AddNumberToObject(o, "interval", c->push.interval);
        } else {
                cJSON_AddNumberToObject(o, "ws_port", c->livelogs.stream.port);
                cJSON_AddStringToObject(o, "log_file", w->followed[0] ? w->followed : c->livelogs.log_file);
        }
}

/* What a started worker looks like in an answer: pid, port, and what it runs with. */
static cJSON *worker_answer(const struct worker *w, const char *status) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "status", status);
        cJSON_AddNumberToObject(o, "pid", w->pid);
        add_stream_fields(o, w);
        return o;
}

static cJSON *simple_status(const char *status) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "status", status);
        return o;
}

static void on_outcome(struct waiter *waiter, const struct outcome *o) {
        struct request *r = container_of(waiter, struct request, waiter);

        r->parked = false;
        if (o->error < 0)
                set_error(r, o->detail, o->message);
        else if (r->command.verb == VERB_STOP)
                set_answer(r, MHD_HTTP_OK, simple_status("stopped"));
        else
                set_answer(r, MHD_HTTP_OK,
                           worker_answer(r->target, r->command.verb == VERB_RESTART ? "restarted" : "started"));
        if (r->suspended) {
                r->suspended = false;
                MHD_resume_connection(r->connection);
                manager_kick_http(r->manager);
        }
}

/* ---- POST /control ------------------------------------------------------ */

static void park(struct request *r) {
        r->waiter = (struct waiter){ .done = on_outcome };
        r->parked = true;
}

/* What a command wants is written down before anything is done: one that
 * could not be kept across a restart of controld is refused, not half done. */
static bool persist(struct request *r, struct worker *w, bool desired, unsigned interval) {
        bool was_desired = w->desired;
        unsigned was_interval = w->interval;
        char message[PATH_MAX + 128];
        int e;

        if (desired == was_desired && interval == was_interval)
                return true;
        w->desired = desired;
        w->interval = interval;
        e = manager_save_state(r->manager);
        if (e >= 0)
                return true;
        w->desired = was_desired;
        w->interval = was_interval;
        snprintf(message, sizeof message, "cannot save the desired state in %s: %s; nothing was changed",
                 r->manager->conf.control.state_dir, strerror(-e));
        set_error(r, ERROR_STATE_NOT_SAVED, message);
        return false;
}

static void control(struct request *r) {
        struct manager *m = r->manager;
        struct command_error err;
        struct worker *w;
        unsigned interval;
        int e;

        e = command_parse(r->body, r->len, &r->command, &err);
        if (e == -ENOMEM) {
                set_error(r, ERROR_OUT_OF_MEMORY, "out of memory");
                return;
        }
        if (e < 0) {
                set_error(r, err.detail, err.message);
                return;
        }
        if (m->shutting_down) {
                set_error(r, ERROR_SHUTTING_DOWN, "resolvix-controld is shutting down");
                return;
        }
        w = r->target = &m->workers[r->command.target];
        interval = r->command.has_interval ? r->command.interval : w->interval;
        log_info("Control: %s", r->command.name);

        switch (r->command.verb) {
        case VERB_START:
                if (w->state == WORKER_RUNNING) {
                        bool changed = interval != w->interval;
                        if (changed) {
                                if (!persist(r, w, true, interval))
                                        return;
                                (void) worker_set_interval(w, interval);
                        }
                        set_answer(r, MHD_HTTP_OK, worker_answer(w, changed ? "reconfigured" : "already_running"));
                        return;
                }
                __attribute__((fallthrough));
        case VERB_RESTART:
                /* Both wait for the worker's READY=1, with the interval asked for. */
                if (!persist(r, w, true, interval))
                        return;
                park(r);
                /* One that stopped answering is not "already running": it is replaced. */
                if (r->command.verb == VERB_START && w->state != WORKER_UNRESPONSIVE)
                        worker_start(w, &r->waiter);
                else
                        worker_restart(w, &r->waiter);
                return;

        case VERB_STOP:
                if (!persist(r, w, false, w->interval))
                        return;
                if (!worker_alive(w) && w->state != WORKER_BACKOFF) {
                        bool was_failed = w->state == WORKER_FAILED;
                        worker_stop(w, NULL);
                        set_answer(r, MHD_HTTP_OK, simple_status(was_failed ? "stopped" : "already_stopped"));
                        return;
                }
                park(r);
                worker_stop(w, &r->waiter);
                return;
        }
}

/* ---- GET / : the dashboard ------------------------------------------------ */

static enum MHD_Result dashboard(struct request *r, const char *url) {
        char missing[PATH_MAX + 64];
        int e = dashboard_send(r->connection, url, missing, sizeof missing);

        if (e == -ENOENT) {
                set_error(r, ERROR_NOT_INSTALLED, missing);
                return send_answer(r, NULL);
        }
        return e < 0 ? MHD_NO : MHD_YES;
}

/* ---- GET /status and /health ---------------------------------------------- */

/* The hub link as pushd last reported it; null before its first report. */
static void add_push_figures(cJSON *o, const struct worker *w) {
        const struct push_figures *f = &w->push;

        cJSON_AddBoolToObject(o, "connected", worker_alive(w) && f->valid && f->connected);
        if (!f->valid) {
                cJSON_AddNullToObject(o, "spooled");
                cJSON_AddNullToObject(o, "dropped");
                cJSON_AddNullToObject(o, "last_ack_seq");
                cJSON_AddNullToObject(o, "last_error");
                return;
        }
        cJSON_AddNumberToObject(o, "spooled", (double) f->spooled);
        cJSON_AddNumberToObject(o, "dropped", (double) f->dropped);
        cJSON_AddNumberToObject(o, "last_ack_seq", (double) f->last_ack_seq);
        if (f->last_error[0])
                cJSON_AddStringToObject(o, "last_error", f->last_error);
        else
                cJSON_AddNullToObject(o, "last_error");
}

static cJSON *worker_status(const struct worker *w) {
        cJSON *o = cJSON_CreateObject();
        char when[ISO8601_MAX];

        cJSON_AddBoolToObject(o, "running", w->state == WORKER_RUNNING);
        if (w->pid > 0)
                cJSON_AddNumberToObject(o, "pid", w->pid);
        else
                cJSON_AddNullToObject(o, "pid");
        add_stream_fields(o, w);
        cJSON_AddStringToObject(o, "state", worker_state_to_string(w->state));
        cJSON_AddBoolToObject(o, "enabled", w->desired);
        cJSON_AddNumberToObject(o, "restarts", w->restarts);
        if (w->last_exit.valid) {
                cJSON *e = cJSON_AddObjectToObject(o, "last_exit");
                if (w->last_exit.signaled) {
                        char sig[16];
                        snprintf(sig, sizeof sig, "SIG%s", sigabbrev_np(w->last_exit.code) ?: "UNKNOWN");
                        cJSON_AddStringToObject(e, "signal", sig);
                } else
                        cJSON_AddNumberToObject(e, "code", w->last_exit.code);
        } else
                cJSON_AddNullToObject(o, "last_exit");
        if ((w->state == WORKER_RUNNING || w->state == WORKER_UNRESPONSIVE) && w->started_at) {
                format_iso8601(w->started_at, when);
                cJSON_AddStringToObject(o, "started_at", when);
        } else
                cJSON_AddNullToObject(o, "started_at");
        if (w->kind == KIND_PUSH)
                add_push_figures(o, w);
        return o;
}

static void status(struct request *r) {
        const struct manager *m = r->manager;
        const struct worker *ll = &m->workers[KIND_LIVELOGS];
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "node_id", m->node_id);
        cJSON_AddStringToObject(o, "log_file", ll->followed[0] ? ll->followed : m->conf.livelogs.log_file);
        cJSON_AddItemToObject(o, "livelogs", worker_status(ll));
        cJSON_AddItemToObject(o, "telemetry", worker_status(&m->workers[KIND_TELEMETRY]));
        cJSON_AddItemToObject(o, "push", worker_status(&m->workers[KIND_PUSH]));
        cJSON_AddStringToObject(o, "version", RESOLVIX_VERSION);
        cJSON_AddNumberToObject(o, "uptime_s", (double) ((now_usec(CLOCK_MONOTONIC) - m->started_usec) / USEC_PER_SEC));
        set_answer(r, MHD_HTTP_OK, o);
}

static void health(struct request *r) {
        const struct manager *m = r->manager;
        cJSON *o = cJSON_CreateObject(), *workers = cJSON_CreateObject();
        bool healthy = !m->shutting_down;

        for (size_t i = 0; i < _KIND_MAX; i++) {
                const struct worker *w = &m->workers[i];
                if (w->desired && w->state != WORKER_RUNNING)
                        healthy = false;
                cJSON_AddStringToObject(workers, w->name, worker_state_to_string(w->state));
        }
        cJSON_AddStringToObject(o, "status", healthy ? "healthy" : "degraded");
        cJSON_AddItemToObject(o, "workers", workers);
        set_answer(r, healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, o);
}

/* ---- the handler ---------------------------------------------------------- */

static bool authorized(struct manager *m, struct MHD_Connection *c) {
        const char *h;

        if (m->conf.control.token[0] == '\0')
                return true;
        h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        return bearer_matches(h, m->conf.control.token);
}

static struct access_rules access_rules(const struct manager *m) {
        return (struct access_rules){
                .listen = m->conf.control.listen,
                .port = m->conf.control.port,
                .allowed_hosts = m->conf.control.allowed_hosts,
                .allowed_origins = m->conf.control.allowed_origins,
        };
}

/* Checks made before any body is read: a refused request costs nothing. */
static bool refuse_early(struct request *r, enum route route, const char *method, const char **allow) {
        struct access_rules rules = access_rules(r->manager);
        const char *v, *host;

        /* First of all: a page whose name was rebound to this node must not
         * learn even which paths exist. */
        host = MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
        if (!host_allowed(host, &rules)) {
                set_error(r, ERROR_MISDIRECTED_HOST,
                          "this resolvix-controld answers only for localhost, 127.0.0.1, [::1], its listen "
                          "address and the names in [control] allowed_hosts");
                return true;
        }
        if (route == ROUTE_NONE) {
                set_error(r, ERROR_NOT_FOUND,
                          "no such endpoint; try /status, /health or /control, or / for the dashboard");
                return true;
        }
        /* The page itself holds nothing secret: it asks for the token
         * when /status answers 401. */
        if (!(route == ROUTE_HEALTH && streq(method, "GET")) && route != ROUTE_DASHBOARD &&
            !authorized(r->manager, r->connection)) {
                set_error(r, ERROR_UNAUTHORIZED,
                          "missing or wrong token: send Authorization: Bearer <token>");
                return true;
        }
        if (route == ROUTE_CONTROL && !streq(method, "POST")) {
                *allow = "POST";
                set_error(r, ERROR_METHOD_NOT_ALLOWED, "use POST for /control");
                return true;
        }
        if (route != ROUTE_CONTROL && !streq(method, "GET") && !streq(method, "HEAD")) {
                *allow = "GET, HEAD";
                set_error(r, ERROR_METHOD_NOT_ALLOWED, "use GET for this endpoint");
                return true;
        }
        if (route != ROUTE_CONTROL)
                return false;
        /* A browser says which page sends the command: only the dashboard's
         * own, or one the operator allowed, may (a token in a page is no
         * defence against the page itself). */
        v = MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_ORIGIN);
        if (!origin_allowed(v, host, &rules)) {
                set_error(r, ERROR_ORIGIN_NOT_ALLOWED,
                          "commands from a web page are taken only from this controld's own dashboard or an "
                          "origin in [control] allowed_origins");
                return true;
        }
        v = MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (v && strtoull(v, NULL, 10) > CONTROL_BODY_MAX) {
                set_error(r, ERROR_BODY_TOO_LARGE, "the request body is over 64 KiB");
                return true;
        }
        v = MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!content_type_is_json(v)) {
                set_error(r, ERROR_UNSUPPORTED_MEDIA_TYPE,
                          "send the command as Content-Type: application/json");
                return true;
        }
        return false;
}

enum MHD_Result api_handle(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls) {
        struct manager *m = cls;
        struct request *r = *con_cls;
        enum route route = route_of(url);
        const char *allow = NULL;

        if (!r) {
                r = calloc(1, sizeof *r);
                if (!r)
                        return MHD_NO;
                r->manager = m;
                r->connection = connection;
                *con_cls = r;
                if (refuse_early(r, route, method, &allow))
                        return send_answer(r, allow);
                return MHD_YES;
        }

        if (r->answer && !r->parked)
                return send_answer(r, NULL);

        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;

                *upload_data_size = 0;
                if (r->too_large || r->len + n > CONTROL_BODY_MAX) {
                        /* Chunked bodies carry no Content-Length: count them here. */
                        r->too_large = true;
                        return MHD_YES;
                }
                if (GROW(r->body, r->body_size, r->len + n + 1, 1024) < 0)
                        return MHD_NO;
                memcpy(r->body + r->len, upload_data, n);
                r->len += n;
                r->body[r->len] = '\0';
                return MHD_YES;
        }

        /* The request is whole: what follows is ours to answer, in whatever
         * time a worker takes. */
        connection_request_received(connection);

        if (r->too_large) {
                set_error(r, ERROR_BODY_TOO_LARGE, "the request body is over 64 KiB");
                return send_answer(r, NULL);
        }

        switch (route) {
        case ROUTE_CONTROL:
                control(r);
                break;
        case ROUTE_STATUS:
                status(r);
                break;
        case ROUTE_HEALTH:
                health(r);
                break;
        case ROUTE_DASHBOARD:
                return dashboard(r, url);
        case ROUTE_NONE:
                break;
        }
        /* Still parked: the outcome is not known yet (a spawn that failed at
         * once has already answered and unparked). */
        if (r->parked) {
                r->suspended = true;
                MHD_suspend_connection(connection);
                return MHD_YES;
        }
        return send_answer(r, NULL);
}

void api_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                   enum MHD_RequestTerminationCode toe) {
        struct request *r = *con_cls;

        /* Answered: the connection may carry the next request, which has
         * a deadline of its own. */
        connection_request_done(connection);
        if (!r)
                return;
        if (r->parked && r->target)
                worker_forget(r->target, &r->waiter);
        free(r->body);
        free(r->answer);
        free(r);
        *con_cls = NULL;
}
