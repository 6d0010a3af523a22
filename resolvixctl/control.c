/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "conf.h"
#include "ctl.h"
#include "jsonutil.h"
#include "net.h"

/* What messages call controld: the name the operator knows the service by. */
#define CONTROLD "resolvix"

void ctl_control_url(const struct ctl *c, const char *path, char *buf, size_t size) {
        char hp[CTL_HOST_MAX + 16];

        format_host_port(c->control.host, (uint16_t) c->control.port, hp, sizeof hp);
        snprintf(buf, size, "%s://%s%s", c->control.scheme[0] ? c->control.scheme : "http", hp, path);
}

static int parse_body(const struct ctl_reply *r, cJSON **ret) {
        cJSON *j = cJSON_ParseWithLength(r->body, r->len);

        if (!j || !cJSON_IsObject(j)) {
                cJSON_Delete(j);
                ctl_error("%s answered something that is not a JSON object: %.200s", CONTROLD, r->body);
                return -EBADMSG;
        }
        *ret = j;
        return 0;
}

/* GET /status, the answer checked to be a 2xx. */
static int fetch_status(const struct ctl *c, struct ctl_reply *ret) {
        char url[CTL_URL_MAX];
        int r;

        ctl_control_url(c, "/status", url, sizeof url);
        r = ctl_http(c, url, c->token, NULL, CONTROLD, ret);
        if (r < 0)
                return r;
        return ctl_reply_check(c, ret, CONTROLD);
}

int ctl_get_status(const struct ctl *c, cJSON **ret) {
        _cleanup_(ctl_reply_done) struct ctl_reply reply = { 0 };
        int r;

        r = fetch_status(c, &reply);
        if (r < 0)
                return r;
        return parse_body(&reply, ret);
}

static unsigned default_stream_port(const struct ctl *c, const char *worker) {
        return streq(worker, "telemetry") ? c->conf->telemetry.stream.port : c->conf->livelogs.stream.port;
}

/* wss:// when controld is reached over https, or when this machine's
 * configuration gives the stream a certificate (docs/tls.md). */
static const char *stream_scheme(const struct ctl *c, const char *worker) {
        const char *cert = streq(worker, "telemetry") ? c->conf->telemetry.stream.tls_cert
                                                      : c->conf->livelogs.stream.tls_cert;

        return streq(c->control.scheme, "https") || cert[0] ? "wss" : "ws";
}

int ctl_stream_address(const struct ctl *c, const char *worker, struct ctl_address *ret) {
        _cleanup_json_ cJSON *status = NULL;
        const cJSON *w, *port;
        struct ctl_address a = { 0 };
        char err[256];
        int r;

        if (c->uri) {
                r = ctl_parse_address(c->uri, &a, err, sizeof err);
                if (r < 0) {
                        ctl_error("%s", err);
                        return r;
                }
                if (a.port == 0)
                        a.port = default_stream_port(c, worker);
                *ret = a;
                return 0;
        }

        r = ctl_get_status(c, &status);
        if (r < 0)
                return r;
        w = cJSON_GetObjectItemCaseSensitive(status, worker);
        port = cJSON_GetObjectItemCaseSensitive(w, "ws_port");
        if (!cJSON_IsNumber(port) || port->valuedouble < 1 || port->valuedouble > 65535) {
                ctl_error("%s's /status has no %s.ws_port", CONTROLD, worker);
                return -EBADMSG;
        }
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(w, "running"))) {
                ctl_error("the %s stream is not running; start it with: resolvixctl start %s", worker, worker);
                return -ENOTCONN;
        }
        snprintf(a.scheme, sizeof a.scheme, "%s", stream_scheme(c, worker));
        snprintf(a.host, sizeof a.host, "%s", c->control.host);
        a.port = (unsigned) port->valueint;
        *ret = a;
        return 0;
}

int ctl_cmd_status(struct ctl *c) {
        _cleanup_(ctl_reply_done) struct ctl_reply reply = { 0 };
        _cleanup_json_ cJSON *status = NULL;
        int r;

        r = fetch_status(c, &reply);
        if (r < 0)
                return r;
        if (c->json) {
                fputs(reply.body, stdout);
                if (reply.len == 0 || reply.body[reply.len - 1] != '\n')
                        putchar('\n');
                return 0;
        }
        r = parse_body(&reply, &status);
        if (r < 0)
                return r;
        ctl_render_status(stdout, status, &(struct ctl_render){ .color = c->color });
        return 0;
}

/* ---- start, stop, restart ------------------------------------------------ */

static long number_of(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        return cJSON_IsNumber(v) ? (long) v->valuedouble : -1;
}

static void print_outcome(const struct ctl *c, const char *worker, const cJSON *a) {
        const char *status = json_string(a, "status") ?: "";
        long pid = number_of(a, "pid"), port = number_of(a, "ws_port"), interval = number_of(a, "interval");
        const char *log_file = json_string(a, "log_file");
        char hp[CTL_HOST_MAX + 16] = "";

        if (streq(status, "stopped")) {
                printf("%s stopped\n", worker);
                return;
        }
        if (streq(status, "already_stopped")) {
                printf("%s was not running\n", worker);
                return;
        }
        if (port > 0)
                format_host_port(c->control.host, (uint16_t) port, hp, sizeof hp);
        if (streq(status, "already_running"))
                printf("%s is already running", worker);
        else
                printf("%s %s", worker, status);
        if (pid > 0)
                printf(": pid %ld", pid);
        if (hp[0])
                printf(", stream %s://%s", stream_scheme(c, worker), hp);
        if (interval > 0)
                printf(", a sample every %ld s", interval);
        if (log_file)
                printf(", following %s", log_file);
        putchar('\n');
}

/* c->argv[0] is a worker's name: the command line was checked. */
static int control(struct ctl *c, const char *verb) {
        _cleanup_(ctl_reply_done) struct ctl_reply reply = { 0 };
        _cleanup_json_ cJSON *req = NULL, *answer = NULL;
        _cleanup_free_ char *body = NULL;
        const char *worker = c->argv[0];
        char url[CTL_URL_MAX], command[64];
        int r;

        snprintf(command, sizeof command, "%s_%s", verb, worker);
        req = cJSON_CreateObject();
        if (!req || !cJSON_AddStringToObject(req, "command", command) ||
            (c->has_interval && !cJSON_AddNumberToObject(req, "interval", c->interval)) ||
            !(body = json_print(req))) {
                ctl_error("out of memory");
                return -ENOMEM;
        }

        ctl_control_url(c, "/control", url, sizeof url);
        r = ctl_http(c, url, c->token, body, CONTROLD, &reply);
        if (r < 0)
                return r;
        if (reply.status == 401)
                return ctl_reply_check(c, &reply, CONTROLD);
        answer = cJSON_ParseWithLength(reply.body, reply.len);
        if (c->json && answer) {
                fputs(reply.body, stdout);
                if (reply.body[reply.len - 1] != '\n')
                        putchar('\n');
        }
        if (reply.status != 200) {
                const char *message = json_string(answer, "message"), *detail = json_string(answer, "detail");

                if (!message)
                        return ctl_reply_check(c, &reply, CONTROLD);
                ctl_error("cannot %s %s: %s%s%s%s", verb, worker, message, detail ? " (" : "", detail ?: "",
                          detail ? ")" : "");
                return -EIO;
        }
        if (!answer)
                return parse_body(&reply, &answer);
        if (!c->json)
                print_outcome(c, worker, answer);
        return 0;
}

int ctl_cmd_start(struct ctl *c) {
        return control(c, "start");
}

int ctl_cmd_stop(struct ctl *c) {
        return control(c, "stop");
}

int ctl_cmd_restart(struct ctl *c) {
        return control(c, "restart");
}
