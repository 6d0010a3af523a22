/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"
#include "jsonutil.h"
#include "net.h"
#include "term.h"

/* nodes and history: what a resolvix-hub holds (docs/fleet.md, "Native
 * API"), from GET /api/v1/nodes and /api/v1/query. */

#define HUB "resolvix-hub"

/* The metrics history suggests when a query comes back empty. */
static const char known_metrics[] =
        "cpu.cpu_usage_percent, memory.memory_usage_percent, cpu.load_avg_1min, "
        "disk.disk_io.read_mb_per_sec, network.bytes_recv_mb_per_sec (or cpu, mem, storage for a Flask client)";

void ctl_hub_url(const struct ctl *c, const char *path, char *buf, size_t size) {
        char hp[CTL_HOST_MAX + 16];

        format_host_port(c->hub.host, (uint16_t) c->hub.port, hp, sizeof hp);
        snprintf(buf, size, "%s://%s%s%s", c->hub.scheme, hp, c->hub.path, path);
}

/* The hub's 404 for a node it does not know (docs/fleet.md, "Native API"),
 * rather than one for a path it does not serve. */
static bool names_no_node(const struct ctl_reply *reply) {
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(reply->body, reply->len);
        const cJSON *detail = cJSON_GetObjectItemCaseSensitive(j, "detail");

        return cJSON_IsString(detail) && streq(detail->valuestring, "no_such_node");
}

/* GET path on the hub; the answer's JSON in *ret, or status 404 and no
 * answer for a node the hub does not know. A 401 says which token. */
static int hub_get(const struct ctl *c, const char *path, long *status, cJSON **ret) {
        _cleanup_(ctl_reply_done) struct ctl_reply reply = { 0 };
        char url[CTL_URL_MAX + 512];
        int r;

        ctl_hub_url(c, path, url, sizeof url);
        r = ctl_http(c, url, c->hub_token, NULL, HUB, &reply);
        if (r < 0)
                return r;
        *status = reply.status;
        if (reply.status == 401) {
                ctl_error("%s refused the request: missing or wrong token (401); pass --token TOKEN or set "
                          "RESOLVIX_HUB_TOKEN to the hub's [hub] token",
                          HUB);
                return -EACCES;
        }
        if (reply.status == 404 && names_no_node(&reply))
                return 0; /* the caller names what is unknown */
        r = ctl_reply_check(c, &reply, HUB);
        if (r < 0)
                return r;
        *ret = cJSON_ParseWithLength(reply.body, reply.len);
        if (!*ret) {
                ctl_error("%s answered something that is not JSON", HUB);
                return -EBADMSG;
        }
        return 0;
}

/* "12 s ago", "3 min ago", "2 h ago", "5 d ago"; "never". */
static void format_ago(const char *iso, time_t now, char *buf, size_t size) {
        struct tm tm = { 0 };
        const char *end;
        long long ago;

        if (!iso) {
                snprintf(buf, size, "never");
                return;
        }
        end = strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!end) {
                snprintf(buf, size, "%s", iso);
                return;
        }
        ago = (long long) now - (long long) timegm(&tm);
        if (ago < 0)
                ago = 0;
        if (ago < 60)
                snprintf(buf, size, "%lld s ago", ago);
        else if (ago < 3600)
                snprintf(buf, size, "%lld min ago", ago / 60);
        else if (ago < 86400)
                snprintf(buf, size, "%lld h ago", ago / 3600);
        else
                snprintf(buf, size, "%lld d ago", ago / 86400);
}

static void figure(struct row *row, unsigned col, double v, const char *unit) {
        if (isnan(v))
                table_cell(row, col, NULL, "-");
        else
                table_cell(row, col, NULL, "%.*f%s", unit[0] ? 1 : 2, v, unit);
}

static void print_json(const cJSON *j) {
        _cleanup_free_ char *text = json_print(j);

        if (text)
                puts(text);
}

int ctl_cmd_nodes(struct ctl *c) {
        static const char *const head[] = { "NODE", "KIND", "ONLINE", "LAST SEEN", ">CPU", ">MEMORY", ">LOAD" };
        _cleanup_json_ cJSON *list = NULL;
        _cleanup_(table_free) struct table t = { 0 };
        struct ctl_render opts = { .color = c->color };
        struct out o = { .f = stdout, .o = &opts };
        const cJSON *n;
        time_t now = time(NULL);
        long status = 0;
        int r;

        r = hub_get(c, "/api/v1/nodes", &status, &list);
        if (r < 0)
                return r;
        if (!cJSON_IsArray(list)) {
                ctl_error("%s answered /api/v1/nodes with something that is not a list", HUB);
                return -EBADMSG;
        }
        if (c->json) {
                print_json(list);
                return fflush(stdout) == 0 ? 0 : -EIO;
        }
        if (cJSON_GetArraySize(list) == 0) {
                printf("No nodes: none has reported to the hub at %s yet.\n", c->hub.host);
                return 0;
        }
        table_init(&t, ELEMENTSOF(head), head);
        cJSON_ArrayForEach(n, list) {
                const cJSON *latest = cJSON_GetObjectItemCaseSensitive(n, "latest");
                const char *id = json_string(n, "node_id"), *kind = json_string(n, "kind");
                const char *seen = json_string(n, "last_seen");
                bool online = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n, "online"));
                double mem = json_number(latest, "memory_usage_percent");
                struct row *row = table_row(&t);
                char ago[64];

                if (!row)
                        return -ENOMEM;
                if (isnan(mem))
                        mem = json_number(latest, "mem"); /* a Flask client's */
                format_ago(seen, now, ago, sizeof ago);
                table_cell(row, 0, NULL, "%s", id ?: "?");
                table_cell(row, 1, NULL, "%s", kind ?: "?");
                table_cell(row, 2, online ? SGR_OK : SGR_BAD, "%s", online ? "yes" : "no");
                table_cell(row, 3, NULL, "%s", ago);
                figure(row, 4, json_number(latest, "cpu_usage_percent"), "%");
                figure(row, 5, mem, "%");
                figure(row, 6, json_number(latest, "load_avg_1min"), "");
        }
        table_print(&o, &t);
        return fflush(stdout) == 0 ? 0 : -EIO;
}

static void format_time(double t, char *buf, size_t size) {
        time_t s = (time_t) floor(t);
        struct tm tm;

        if (!localtime_r(&s, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, size, "%.0f", t);
}

static void format_duration(unsigned long long s, char *buf, size_t size) {
        if (s % 86400 == 0)
                snprintf(buf, size, "%llud", s / 86400);
        else if (s % 3600 == 0)
                snprintf(buf, size, "%lluh", s / 3600);
        else if (s % 60 == 0)
                snprintf(buf, size, "%llum", s / 60);
        else
                snprintf(buf, size, "%llus", s);
}

static unsigned terminal_width(void) {
        struct winsize ws;

        return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
}

int ctl_cmd_history(struct ctl *c) {
        static const char *const head[] = { "TIME", ">VALUE" };
        const char *node = c->argv[0], *metric = c->argv[1];
        _cleanup_json_ cJSON *answer = NULL;
        _cleanup_(table_free) struct table t = { 0 };
        _cleanup_free_ double *values = NULL;
        struct ctl_render opts = { .color = c->color };
        struct out o = { .f = stdout, .o = &opts };
        char path[CTL_URL_MAX], enode[CTL_URL_MAX / 4], emetric[CTL_URL_MAX / 4], since[32], step[32];
        const cJSON *series, *points, *p;
        unsigned long long span = c->since_s ?: 86400, st;
        long long end = (long long) time(NULL);
        double mn = INFINITY, mx = -INFINITY, sum = 0;
        size_t n = 0;
        long status = 0;
        int r;

        /* At most 11,000 points a series (the hub's bound); by default
         * about 288, a day at 5 minutes. */
        st = c->step_s ?: (span + 287) / 288;
        if (span / st > 11000) {
                ctl_error("--since %llus at --step %llus is %llu points; the hub answers at most 11000: raise --step",
                          span, st, span / st);
                return -EINVAL;
        }
        ctl_url_encode(node, enode, sizeof enode);
        ctl_url_encode(metric, emetric, sizeof emetric);
        snprintf(path, sizeof path, "/api/v1/query?node=%s&metric=%s&start=%lld&end=%lld&step=%llu", enode, emetric,
                 end - (long long) span, end, st);
        r = hub_get(c, path, &status, &answer);
        if (r < 0)
                return r;
        if (status == 404) {
                ctl_error("unknown node \"%s\": the hub has no such node (resolvixctl nodes lists them)", node);
                return -ENOENT;
        }
        format_duration(span, since, sizeof since);
        format_duration(st, step, sizeof step);
        series = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(answer, "series"), 0);
        points = cJSON_GetObjectItemCaseSensitive(series, "points");
        if (cJSON_GetArraySize(points) == 0) {
                ctl_error("no \"%s\" for node \"%s\" in the last %s: an unknown metric, or no samples then; "
                          "metrics are dotted paths into the sample such as %s",
                          metric, node, since, known_metrics);
                return -ENOENT;
        }
        if (c->json) {
                print_json(answer);
                return fflush(stdout) == 0 ? 0 : -EIO;
        }
        values = calloc((size_t) cJSON_GetArraySize(points), sizeof *values);
        if (!values)
                return -ENOMEM;
        table_init(&t, ELEMENTSOF(head), head);
        cJSON_ArrayForEach(p, points) {
                const cJSON *tv = cJSON_GetArrayItem(p, 0), *vv = cJSON_GetArrayItem(p, 1);
                struct row *row;
                char when[64];

                if (!cJSON_IsNumber(tv) || !cJSON_IsNumber(vv))
                        continue;
                row = table_row(&t);
                if (!row)
                        return -ENOMEM;
                format_time(tv->valuedouble, when, sizeof when);
                table_cell(row, 0, NULL, "%s", when);
                table_cell(row, 1, NULL, "%.2f", vv->valuedouble);
                values[n++] = vv->valuedouble;
                mn = fmin(mn, vv->valuedouble);
                mx = fmax(mx, vv->valuedouble);
                sum += vv->valuedouble;
        }
        /* On a terminal, the shape first: one line that fits it. */
        if (isatty(STDOUT_FILENO) && n > 0) {
                char spark[4 * 512];
                unsigned width = terminal_width();

                printf("%s %s, last %s at %s: min %.2f  avg %.2f  max %.2f\n", node, metric, since, step, mn,
                       sum / (double) n, mx);
                ctl_sparkline(spark, sizeof spark, values, n, width > 512 ? 512 : width, NAN, NAN);
                printf("%s\n\n", spark);
        }
        table_print(&o, &t);
        return fflush(stdout) == 0 ? 0 : -EIO;
}
