/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "ingest-client.h"
#include "jsonutil.h"
#include "net.h"

/* put and get: the custom-metrics text protocol on telemetryd's ingest port. */

static void ingest_closep(struct ingest_client **c) {
        if (*c)
                ingest_close(*c);
}

static int connect_ingest(const struct ctl *c, struct ingest_client **ret) {
        char hp[CTL_HOST_MAX + 16];
        int r;

        if (c->ingest_port == 0) {
                ctl_error("custom metrics are off: [telemetry] ingest_port is 0 in %s; give --ingest-port PORT",
                          ctl_config_name(c));
                return -ENOTCONN;
        }
        r = ingest_connect(c->ingest_host, (uint16_t) c->ingest_port, c->timeout_s * 1000, ret);
        if (r >= 0)
                return 0;
        format_host_port(c->ingest_host, (uint16_t) c->ingest_port, hp, sizeof hp);
        if (r == -ECONNREFUSED)
                ctl_error("cannot connect to %s: connection refused — is telemetry running with an ingest_port? "
                          "try: resolvixctl status",
                          hp);
        else
                ctl_error("cannot connect to %s: %s", hp, strerror(-r));
        return r;
}

static int request_failed(const struct ctl *c, const char *what, int r) {
        char hp[CTL_HOST_MAX + 16];

        format_host_port(c->ingest_host, (uint16_t) c->ingest_port, hp, sizeof hp);
        switch (r) {
        case -EBADMSG:
                ctl_error("%s: the server at %s answered \"error: wrong command\"", what, hp);
                return -EIO;
        case -EPROTO:
                ctl_error("%s: the server at %s does not speak the put/get protocol", what, hp);
                return -EPROTO;
        case -EINVAL:
                ctl_error("%s: the metric name must be one word (no white space) and the value a finite number", what);
                return -EINVAL;
        default:
                ctl_error("%s: %s: %s", what, hp, strerror(-r));
                return r;
        }
}

/* The shortest text that reads back as the same double. */
static void format_value(double v, char *buf, size_t size) {
        for (int prec = 6; prec <= 17; prec++) {
                snprintf(buf, size, "%.*g", prec, v);
                if (strtod(buf, NULL) == v)
                        return;
        }
}

int ctl_cmd_put(struct ctl *c) {
        _cleanup_(ingest_closep) struct ingest_client *ic = NULL;
        const char *metric = c->argv[0], *value_text = c->argv[1];
        double value;
        int64_t timestamp = (int64_t) time(NULL);
        char *end;
        int r;

        errno = 0;
        value = strtod(value_text, &end);
        if (errno || *end || end == value_text || !isfinite(value)) {
                ctl_error("put: \"%s\" is not a number", value_text);
                return -EINVAL;
        }
        if (c->argc > 2) {
                unsigned long long t;

                errno = 0;
                t = strtoull(c->argv[2], &end, 10);
                if (errno || *end || c->argv[2][0] < '0' || c->argv[2][0] > '9' || t > INT64_MAX) {
                        ctl_error("put: the timestamp is whole seconds since the epoch, not \"%s\"", c->argv[2]);
                        return -EINVAL;
                }
                timestamp = (int64_t) t;
        }
        if (metric[0] == '\0' || metric[strcspn(metric, " \t\r\n")] != '\0' || strlen(metric) >= INGEST_METRIC_MAX) {
                ctl_error("put: the metric name must be one word of fewer than %d bytes", INGEST_METRIC_MAX);
                return -EINVAL;
        }

        r = connect_ingest(c, &ic);
        if (r < 0)
                return r;
        r = ingest_put(ic, metric, value, timestamp);
        if (r < 0)
                return request_failed(c, "put", r);
        return 0;
}

int ctl_cmd_get(struct ctl *c) {
        _cleanup_(ingest_closep) struct ingest_client *ic = NULL;
        _cleanup_free_ struct ingest_point *points = NULL;
        const char *metric = c->argv[0];
        size_t n = 0;
        char value[64];
        int r;

        if (metric[0] == '\0' || metric[strcspn(metric, " \t\r\n")] != '\0') {
                ctl_error("get: the metric name must be one word, or '*' for all");
                return -EINVAL;
        }
        r = connect_ingest(c, &ic);
        if (r < 0)
                return r;
        r = ingest_get(ic, metric, &points, &n);
        if (r < 0)
                return request_failed(c, "get", r);

        if (c->json) {
                _cleanup_json_ cJSON *o = cJSON_CreateObject();
                _cleanup_free_ char *text = NULL;

                for (size_t i = 0; o && i < n; i++) {
                        cJSON *list = cJSON_GetObjectItemCaseSensitive(o, points[i].metric), *pair;

                        if (!list)
                                list = cJSON_AddArrayToObject(o, points[i].metric);
                        pair = cJSON_CreateArray();
                        if (!list || !pair || !cJSON_AddItemToArray(list, pair) ||
                            !cJSON_AddItemToArray(pair, cJSON_CreateNumber((double) points[i].timestamp)) ||
                            !cJSON_AddItemToArray(pair, cJSON_CreateNumber(points[i].value))) {
                                ctl_error("out of memory");
                                return -ENOMEM;
                        }
                }
                text = o ? json_print(o) : NULL;
                if (!text) {
                        ctl_error("out of memory");
                        return -ENOMEM;
                }
                puts(text);
        } else
                for (size_t i = 0; i < n; i++) {
                        format_value(points[i].value, value, sizeof value);
                        printf("%s %s %" PRId64 "\n", points[i].metric, value, points[i].timestamp);
                }
        return fflush(stdout) == 0 ? 0 : -EPIPE;
}
