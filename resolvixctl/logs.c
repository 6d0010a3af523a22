/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "ctl.h"
#include "jsonutil.h"
#include "net.h"

/* logs: the last lines from livelogd's GET /tail, then with -f the live
 * stream. The stream replays its whole backlog on connect; lines already
 * printed from /tail are recognised by their seq and skipped, so -n N -f
 * prints N lines and then only new ones, none twice, none lost between the
 * two requests. */

#define LOGS_DEFAULT_LINES 10

struct logs {
        const struct ctl *c;
        uint64_t last_seq; /* the newest line printed */
        bool tty;
};

/* Terminals interpret escape sequences; a log line may hold any bytes. */
static void print_line(const struct logs *l, const char *text) {
        if (!l->tty) {
                puts(text);
                return;
        }
        for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
                if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
                        putchar('^');
                        putchar(*p == 0x7f ? '?' : *p + '@');
                } else
                        putchar(*p);
        }
        putchar('\n');
}

static uint64_t seq_of(const cJSON *e) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "seq");

        return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t) v->valuedouble : 0;
}

static int print_entry(struct logs *l, const cJSON *e) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(e, "log");
        const cJSON *dropped = cJSON_GetObjectItemCaseSensitive(e, "dropped");
        uint64_t seq = seq_of(e);

        if (seq > 0 && seq <= l->last_seq)
                return 0;
        if (seq > l->last_seq)
                l->last_seq = seq;
        if (cJSON_IsNumber(dropped) && dropped->valuedouble > 0)
                ctl_error("%.0f lines dropped: this client fell behind the log", dropped->valuedouble);
        if (l->c->json) {
                _cleanup_free_ char *s = json_print(e);

                if (!s)
                        return -ENOMEM;
                puts(s);
        } else if (cJSON_IsString(text))
                print_line(l, text->valuestring);
        return 0;
}

static void tail_url(const struct ctl *c, const struct ctl_address *a, unsigned long n, char *buf, size_t size) {
        char hp[CTL_HOST_MAX + 16], grep[1024] = "";

        format_host_port(a->host, (uint16_t) a->port, hp, sizeof hp);
        if (c->grep) {
                char enc[900];

                ctl_url_encode(c->grep, enc, sizeof enc);
                snprintf(grep, sizeof grep, "&grep=%s", enc);
        }
        snprintf(buf, size, "%s://%s/tail?n=%lu%s", streq(a->scheme, "wss") || streq(a->scheme, "https") ? "https" : "http",
                 hp, n, grep);
}

/* Print the last n lines (n may be 0: then only learn where the log is). */
static int tail(struct logs *l, const struct ctl_address *a, unsigned long n) {
        _cleanup_(ctl_reply_done) struct ctl_reply reply = { 0 };
        _cleanup_json_ cJSON *lines = NULL;
        char url[CTL_URL_MAX];
        const cJSON *e;
        int i = 0, skip;
        int r;

        /* One line more than asked for when none are: its seq says where
         * the stream's new lines start. */
        tail_url(l->c, a, n ? n : 1, url, sizeof url);
        r = ctl_http(l->c, url, l->c->livelogs_token, NULL, "livelogd", &reply);
        if (r < 0)
                return r;
        if (reply.status == 401 || reply.status == 403) {
                ctl_error("livelogd refused the request: missing or wrong token (%ld); pass --stream-token TOKEN, set "
                          "RESOLVIX_STREAM_TOKEN, or set [livelogs] token in %s",
                          reply.status, ctl_config_name(l->c));
                return -EACCES;
        }
        if (reply.status == 400) {
                (void) ctl_reply_check(l->c, &reply, "livelogd");
                return -EINVAL;
        }
        r = ctl_reply_check(l->c, &reply, "livelogd");
        if (r < 0)
                return r;
        lines = cJSON_ParseWithLength(reply.body, reply.len);
        if (!cJSON_IsArray(lines)) {
                ctl_error("livelogd's /tail answered something that is not a JSON array");
                return -EBADMSG;
        }
        skip = n ? 0 : cJSON_GetArraySize(lines);
        cJSON_ArrayForEach(e, lines) {
                if (i++ < skip) {
                        if (seq_of(e) > l->last_seq)
                                l->last_seq = seq_of(e);
                        continue;
                }
                r = print_entry(l, e);
                if (r < 0)
                        return r;
        }
        return fflush(stdout) == 0 ? 0 : -EPIPE;
}

static int on_message(struct ctl_stream *s, void *userdata, const char *msg, size_t len) {
        struct logs *l = userdata;
        _cleanup_json_ cJSON *e = cJSON_ParseWithLength(msg, len);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type");
        int r;

        if (!cJSON_IsString(type) || !streq(type->valuestring, "live_log"))
                return 0;
        r = print_entry(l, e);
        if (r < 0)
                return r;
        return fflush(stdout) == 0 ? 0 : -EPIPE;
}

int ctl_cmd_logs(struct ctl *c) {
        static const struct ctl_stream_ops ops = { .message = on_message };
        struct logs l = { .c = c, .tty = isatty(STDOUT_FILENO) };
        struct ctl_address a;
        char query[1024] = "";
        unsigned long n = c->has_n ? c->n : LOGS_DEFAULT_LINES;
        int r;

        r = ctl_stream_address(c, "livelogs", &a);
        if (r < 0)
                return r;
        r = tail(&l, &a, n);
        if (r < 0 || !c->follow)
                return r;

        if (c->grep) {
                char enc[900];

                ctl_url_encode(c->grep, enc, sizeof enc);
                snprintf(query, sizeof query, "grep=%s", enc);
        }
        if (!a.scheme[0] || streq(a.scheme, "http"))
                snprintf(a.scheme, sizeof a.scheme, "ws");
        else if (streq(a.scheme, "https"))
                snprintf(a.scheme, sizeof a.scheme, "wss");
        return ctl_stream_run(&ops, &(struct ctl_stream_params){
                                            .address = &a,
                                            .query = query[0] ? query : NULL,
                                            .token = c->livelogs_token,
                                            .what = "livelogd",
                                            .ca_file = c->ca_file,
                                            .insecure = c->insecure,
                                            .userdata = &l,
                                    });
}
