/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "digest.h"
#include "hub.h"
#include "jsonutil.h"
#include "log.h"
#include "pyjson.h"
#include "secret.h"

/* The HTTP side of the hub's one port: answers, the access rules, and
 * which API serves which path (docs/fleet.md, "resolvix-hub"). */

/* ---- answers ------------------------------------------------------------ */

int respond_raw(struct ws_http_response *r, int status, const char *type, char *body, size_t len) {
        free(r->body);
        free(r->headers);
        *r = (struct ws_http_response){ .status = status, .content_type = type, .body = body, .len = len };
        return body || len == 0 ? 0 : -ENOMEM;
}

int respond_json(struct ws_http_response *r, int status, const cJSON *j) {
        char *s = j ? json_print(j) : NULL;
        size_t len;

        if (!s)
                return -ENOMEM;
        len = strlen(s);
        /* A newline ends the answer, as curl users expect. */
        s = realloc(s, len + 2);
        if (!s)
                return -ENOMEM;
        s[len] = '\n';
        s[len + 1] = '\0';
        return respond_raw(r, status, "application/json", s, len + 1);
}

int respond_pyjson(struct ws_http_response *r, int status, const cJSON *j) {
        size_t len;
        char *s = j ? pyjson_print_alloc(j, &len) : NULL;

        if (!s)
                return -ENOMEM;
        return respond_raw(r, status, "application/json", s, len);
}

/* The body every resolvix server gives its errors (ws_http_error), with a
 * message that may quote what the client sent. */
int respond_error(struct ws_http_response *r, int status, const char *detail, const char *fmt, ...) {
        char message[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(message, sizeof message, fmt, ap);
        va_end(ap);
        return ws_http_error(r, status, detail, message);
}

int respond_flask_error(struct ws_http_response *r, int status, const char *error) {
        _cleanup_json_ cJSON *j = cJSON_CreateObject();

        if (!j || !cJSON_AddStringToObject(j, "error", error))
                return -ENOMEM;
        return respond_pyjson(r, status, j);
}

int respond_method_not_allowed(struct ws_http_response *r, const char *allow) {
        int ret = respond_error(r, HTTP_STATUS_METHOD_NOT_ALLOWED, "method_not_allowed", "allowed here: %s", allow);

        r->allow = allow;
        return ret;
}

int respond_store_error(struct hub *h, struct ws_http_response *r, int err) {
        int ret;

        if (err == -ENOTCONN || err == -EAGAIN || err == -EBUSY) {
                hub_reject(h, REJECT_UNAVAILABLE);
                ret = respond_error(r, HTTP_STATUS_SERVICE_UNAVAILABLE, "database_unavailable",
                                    err == -EBUSY ? "the hub is busy; try again shortly"
                                                  : "the database is not answering; try again shortly");
                r->retry_after = HUB_RETRY_AFTER_SEC;
                return ret;
        }
        if (err == -ENOSPC)
                return respond_error(r, HTTP_INSUFFICIENT_STORAGE, "database_full", "the database is full");
        return respond_error(r, HTTP_STATUS_INTERNAL_SERVER_ERROR, "database_error", "the database failed: %s",
                             strerror(-err));
}

int request_defer(struct request *rq, struct job *j) {
        int r;

        j->wsi = rq->wsi;
        j->conn = rq->conn;
        r = lanes_submit(rq->h, j);
        if (r < 0) {
                job_free(j);
                return respond_store_error(rq->h, rq->resp, r);
        }
        rq->conn->job = j;
        return -EINPROGRESS;
}

void job_answer(struct hub *h, struct job *j, struct ws_http_response *resp) {
        if (!j->wsi) {
                free(resp->body);
                resp->body = NULL;
                return;
        }
        j->conn->job = NULL;
        (void) ws_http_respond(j->wsi, resp);
        j->wsi = NULL;
}

/* ---- the request ---------------------------------------------------------- */

int request_header(struct lws *wsi, enum lws_token_indexes h, char *buf, size_t size) {
        int n = lws_hdr_copy(wsi, buf, (int) size, h);

        if (n <= 0) {
                buf[0] = '\0';
                return n < 0 ? -E2BIG : 0;
        }
        return n;
}

bool request_arg(struct lws *wsi, const char *name, char *buf, size_t size) {
        char full[2048];
        size_t l = strlen(name);
        int i = 0;

        /* lws_get_urlarg_by_name() matches "name=" as a prefix of any
         * argument; walk them to find this one exactly. */
        while (lws_hdr_copy_fragment(wsi, full, sizeof full, WSI_TOKEN_HTTP_URI_ARGS, i++) >= 0) {
                if (strneq(full, name, l) && full[l] == '=') {
                        snprintf(buf, size, "%s", full + l + 1);
                        return true;
                }
                if (streq(full, name)) {
                        buf[0] = '\0';
                        return true;
                }
        }
        return false;
}

static bool peer_address(struct lws *wsi, struct sockaddr_storage *ss) {
        socklen_t len = sizeof *ss;
        /* An HTTP/2 stream has no socket of its own. */
        int fd = lws_get_socket_fd(lws_get_network_wsi(wsi));

        return fd >= 0 && getpeername(fd, (struct sockaddr *) ss, &len) == 0;
}

bool peer_in(struct lws *wsi, const struct cidr *ranges, size_t n) {
        struct sockaddr_storage ss;

        if (!peer_address(wsi, &ss))
                return false;
        for (size_t i = 0; i < n; i++)
                if (cidr_match(&ranges[i], (struct sockaddr *) &ss))
                        return true;
        return false;
}

bool peer_is_loopback(struct lws *wsi) {
        static struct cidr loopback[2];
        static bool parsed;

        if (!parsed) {
                (void) cidr_parse("127.0.0.0/8", &loopback[0]);
                (void) cidr_parse("::1", &loopback[1]);
                parsed = true;
        }
        return peer_in(wsi, loopback, ELEMENTSOF(loopback));
}

const char *bearer_token(struct lws *wsi, char *buf, size_t size) {
        if (request_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, buf, size) <= 0 || strncasecmp(buf, "Bearer ", 7) != 0)
                return NULL;
        return buf + 7 + strspn(buf + 7, " ");
}

int check_query_auth(struct request *rq) {
        const char *token = rq->h->conf.hub.stream.token;
        char buf[CONF_TOKEN_MAX + 32];
        const char *given;

        if (token[0] == '\0') {
                if (peer_is_loopback(rq->wsi))
                        return 0;
                hub_reject(rq->h, REJECT_FORBIDDEN);
                respond_error(rq->resp, HTTP_STATUS_FORBIDDEN, "forbidden",
                              "no [hub] token is set: queries are served to loopback peers only");
                return -EACCES;
        }
        given = bearer_token(rq->wsi, buf, sizeof buf);
        if (given && secret_equal(given, token))
                return 0;
        hub_reject(rq->h, REJECT_UNAUTHORIZED);
        respond_error(rq->resp, HTTP_STATUS_UNAUTHORIZED, "unauthorized", "missing or wrong token");
        rq->resp->www_authenticate = "Bearer";
        return -EACCES;
}

struct node *bearer_node(struct request *rq) {
        char buf[CONF_TOKEN_MAX + 32], hex[SHA256_HEX_LEN + 1];
        const char *given = bearer_token(rq->wsi, buf, sizeof buf);

        if (!given || given[0] == '\0')
                return NULL;
        sha256_hex(given, strlen(given), hex);
        return registry_by_token(rq->h->registry, hex);
}

static int hub_request(struct ws_server *s, struct lws *wsi, void *client, const struct ws_http_request *req,
                       struct ws_http_response *resp) {
        struct hub *h = ws_server_userdata(s);
        struct hub_conn *c = client;
        struct request rq = { .h = h, .wsi = wsi, .conn = c, .req = req, .resp = resp };
        const char *path = req->path;
        int r;

        c->role = ROLE_HTTP;
        c->wsi = wsi;
        c->job = NULL;
        if (ws_server_stopping(s)) {
                r = respond_error(resp, HTTP_STATUS_SERVICE_UNAVAILABLE, "shutting_down", "the hub is stopping");
                resp->retry_after = HUB_RETRY_AFTER_SEC;
                return r;
        }
        /* The Flask API's paths are served as they are and under /api. */
        if (strneq(path, "/api/", 5) && !strneq(path, "/api/v1/", 8))
                path += 4;
        snprintf(rq.path, sizeof rq.path, "%s", path);

        if (streq(rq.path, "/client") || strneq(rq.path, "/client/", 8) || strneq(rq.path, "/monitor/", 9))
                r = clients_request(&rq);
        else if (streq(rq.path, "/system-monitor"))
                r = agents_request(&rq);
        else if (streq(rq.path, "/metrics"))
                r = metrics_request(&rq);
        else if (streq(rq.path, "/health") || strneq(rq.path, "/api/v1/", 8))
                r = native_request(&rq);
        else if (streq(rq.path, "/echo"))
                r = respond_error(resp, HTTP_UPGRADE_REQUIRED, "websocket_only",
                                  "%s is a WebSocket endpoint", req->path);
        else
                r = dashboard_request(&rq);
        if (r == -ENOENT)
                return respond_error(resp, HTTP_STATUS_NOT_FOUND, "not_found", "no such path: %.200s", req->path);
        return r;
}

static void hub_request_gone(struct ws_server *s, struct lws *wsi, void *client) {
        struct hub_conn *c = client;

        if (c->job) {
                c->job->wsi = NULL;
                c->job = NULL;
        }
}

/* ---- WebSocket: /echo and /api/v1/fleet --------------------------------- */

static enum conn_role ws_role(struct lws *wsi) {
        char uri[256];

        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
                return ROLE_NONE;
        if (streq(uri, "/echo") || streq(uri, "/api/echo"))
                return ROLE_ECHO;
        if (streq(uri, "/api/v1/fleet"))
                return ROLE_FLEET;
        return ROLE_NONE;
}

static int hub_filter(struct ws_server *s, struct lws *wsi, void *client, char *reason, size_t reason_size) {
        struct hub *h = ws_server_userdata(s);
        const char *token = h->conf.hub.stream.token;
        char buf[CONF_TOKEN_MAX + 32];
        const char *given;

        switch (ws_role(wsi)) {
        case ROLE_ECHO:
                return 0;
        case ROLE_FLEET:
                if (token[0] == '\0') {
                        if (peer_is_loopback(wsi))
                                return 0;
                        snprintf(reason, reason_size, "no [hub] token is set: the fleet stream is served to loopback peers only");
                        return HTTP_STATUS_FORBIDDEN;
                }
                given = bearer_token(wsi, buf, sizeof buf);
                if (given && secret_equal(given, token))
                        return 0;
                if (request_arg(wsi, "token", buf, sizeof buf) && secret_equal(buf, token))
                        return 0;
                snprintf(reason, reason_size, "missing or wrong token");
                return HTTP_STATUS_UNAUTHORIZED;
        default:
                snprintf(reason, reason_size, "no WebSocket endpoint here: use /echo or /api/v1/fleet");
                return HTTP_STATUS_NOT_FOUND;
        }
}

static void hub_open(struct ws_server *s, struct lws *wsi, void *client) {
        struct hub *h = ws_server_userdata(s);
        struct hub_conn *c = client;

        c->wsi = wsi;
        c->job = NULL;
        lws_get_peer_simple(lws_get_network_wsi(wsi), c->peer, sizeof c->peer);
        if (ws_role(wsi) == ROLE_FLEET)
                fleet_open(h, c);
        else {
                c->role = ROLE_ECHO;
                log_debug("Echo client %s connected", c->peer);
        }
}

static void hub_close(struct ws_server *s, struct lws *wsi, void *client) {
        struct hub *h = ws_server_userdata(s);
        struct hub_conn *c = client;

        if (c->job) {
                c->job->wsi = NULL;
                c->job = NULL;
        }
        if (c->role == ROLE_FLEET)
                fleet_close(h, c);
        c->role = ROLE_NONE;
}

static void hub_message(struct ws_server *s, struct lws *wsi, void *client, const char *msg, size_t len) {
        struct hub *h = ws_server_userdata(s);
        struct hub_conn *c = client;

        if (c->role == ROLE_ECHO)
                echo_message(h, c, msg, len);
        else
                ws_reply_textf(wsi, "{\"type\":\"error\",\"error\":\"read_only\","
                                    "\"message\":\"the fleet stream takes no messages\"}");
}

static int hub_writeable(struct ws_server *s, struct lws *wsi, void *client) {
        struct hub *h = ws_server_userdata(s);
        struct hub_conn *c = client;

        return c->role == ROLE_FLEET ? fleet_writeable(h, c) : 0;
}

void hub_reload(struct hub *h);

static void hub_signal(struct ws_server *s, const struct signalfd_siginfo *si) {
        if (si->ssi_signo == SIGHUP)
                hub_reload(ws_server_userdata(s));
}

const struct ws_server_ops hub_ops = {
        .protocol = "resolvix-hub",
        .client_size = sizeof(struct hub_conn),
        .filter = hub_filter,
        .open = hub_open,
        .close = hub_close,
        .message = hub_message,
        .writeable = hub_writeable,
        .request = hub_request,
        .request_gone = hub_request_gone,
        .signal = hub_signal,
};
