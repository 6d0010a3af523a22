/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "grow.h"
#include "term.h"

/* watch's history: telemetryd's headline series (docs/telemetry-stream.md,
 * "History"), asked for once on connect, then grown by each sample, drawn
 * as sparklines. Pure: JSON in, arrays out. */

static const struct {
        const char *label;
        const char *history[2]; /* the history's columns, summed */
        const char *sample[2][3]; /* the sample's: its path under "metrics" */
        const char *unit;
} series[CTL_HISTORY_SERIES] = {
        { "CPU", { "cpu_usage_percent" }, { { "cpu", "cpu_usage_percent" } }, "%" },
        { "Mem", { "memory_usage_percent" }, { { "memory", "memory_usage_percent" } }, "%" },
        { "load", { "load_avg_1min" }, { { "cpu", "load_avg_1min" } }, "" },
        { "disk", { "disk_read_mb_per_sec", "disk_write_mb_per_sec" },
          { { "disk", "disk_io", "read_mb_per_sec" }, { "disk", "disk_io", "write_mb_per_sec" } }, " MB/s" },
        { "net", { "bytes_recv_mb_per_sec", "bytes_sent_mb_per_sec" },
          { { "network", "bytes_recv_mb_per_sec" }, { "network", "bytes_sent_mb_per_sec" } }, " MB/s" },
};

void ctl_history_free(struct ctl_history *h) {
        for (size_t i = 0; i < CTL_HISTORY_SERIES; i++)
                free(h->v[i]);
        free(h->t);
        *h = (struct ctl_history){ 0 };
}

static int grow(struct ctl_history *h, size_t n) {
        size_t cap = h->cap;

        if (n <= h->cap)
                return 0;
        if (GROW(h->t, cap, n, 64) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < CTL_HISTORY_SERIES; i++) {
                size_t c = h->cap;

                if (GROW(h->v[i], c, n, 64) < 0)
                        return -ENOMEM;
        }
        h->cap = cap;
        return 0;
}

/* Past the bound, the oldest go. */
static void trim(struct ctl_history *h) {
        size_t drop;

        if (h->n <= CTL_HISTORY_MAX)
                return;
        drop = h->n - CTL_HISTORY_MAX;
        memmove(h->t, h->t + drop, (h->n - drop) * sizeof *h->t);
        for (size_t i = 0; i < CTL_HISTORY_SERIES; i++)
                memmove(h->v[i], h->v[i] + drop, (h->n - drop) * sizeof *h->v[i]);
        h->n -= drop;
}

/* A column's first value, or NULL when it has none; the history's columns
 * run beside its timestamps, one value each, and are walked with them. */
static const cJSON *column_first(const cJSON *history, const char *name) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(history, name);

        return cJSON_IsArray(c) ? c->child : NULL;
}

static double column_value(const cJSON *v) {
        return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Each array is walked once, beside the others: asking cJSON for item i
 * walks from the first each time, and a full history holds thousands. */
int ctl_history_from_json(struct ctl_history *h, const cJSON *history) {
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(history, "timestamps"), *t;
        const cJSON *col[CTL_HISTORY_SERIES][2] = { { NULL } };
        int n = cJSON_GetArraySize(ts), from = 0, i = 0;

        if (!cJSON_IsArray(ts))
                return -EBADMSG;
        if (n > CTL_HISTORY_MAX)
                from = n - CTL_HISTORY_MAX;
        if (grow(h, (size_t) (n - from)) < 0)
                return -ENOMEM;
        for (size_t s = 0; s < CTL_HISTORY_SERIES; s++)
                for (size_t k = 0; k < 2 && series[s].history[k]; k++)
                        col[s][k] = column_first(history, series[s].history[k]);
        h->n = 0;
        cJSON_ArrayForEach(t, ts) {
                if (i++ >= from) {
                        if (!cJSON_IsNumber(t))
                                return -EBADMSG;
                        h->t[h->n] = t->valuedouble / 1000.0;
                        for (size_t s = 0; s < CTL_HISTORY_SERIES; s++) {
                                double v = column_value(col[s][0]);

                                if (series[s].history[1])
                                        v += column_value(col[s][1]);
                                h->v[s][h->n] = v;
                        }
                        h->n++;
                }
                for (size_t s = 0; s < CTL_HISTORY_SERIES; s++)
                        for (size_t k = 0; k < 2; k++)
                                if (col[s][k])
                                        col[s][k] = col[s][k]->next;
        }
        return 0;
}

static double sample_time(const cJSON *sample) {
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(sample, "timestamp");
        struct tm tm = { 0 };

        if (!cJSON_IsString(ts) || !strptime(ts->valuestring, "%Y-%m-%dT%H:%M:%S", &tm))
                return NAN;
        return (double) timegm(&tm);
}

int ctl_history_add_sample(struct ctl_history *h, const cJSON *sample) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(sample, "metrics");
        double t = sample_time(sample);

        if (!m || isnan(t))
                return -EBADMSG;
        /* The history holds this one already, or a later one: the stream's
         * first sample comes before the answer to get_history. Sample times
         * are whole seconds, the history's are not. */
        if (h->n > 0 && t < floor(h->t[h->n - 1]) + 1)
                return 0;
        if (grow(h, h->n + 1) < 0)
                return -ENOMEM;
        h->t[h->n] = t;
        for (size_t s = 0; s < CTL_HISTORY_SERIES; s++) {
                double v = 0;

                for (size_t k = 0; k < 2 && series[s].sample[k][0]; k++) {
                        const cJSON *x = m;

                        for (size_t d = 0; d < ELEMENTSOF(series[s].sample[k]) && series[s].sample[k][d]; d++)
                                x = cJSON_GetObjectItemCaseSensitive(x, series[s].sample[k][d]);
                        v += cJSON_IsNumber(x) ? x->valuedouble : NAN;
                }
                h->v[s][h->n] = v;
        }
        h->n++;
        trim(h);
        return 0;
}

void ctl_history_render(struct out *o, const struct ctl_history *h) {
        unsigned width = o->o->width ? o->o->width : 80;

        for (size_t s = 0; s < CTL_HISTORY_SERIES && !out_full(o); s++) {
                /* "CPU   ▁▂▃…  12.5%": the newest on the right, one cell a sample. */
                char spark[4 * 512], value[32];
                unsigned cells = width > 6 + 14 ? width - 6 - 14 : 1;
                size_t from;
                double last = h->v[s][h->n - 1];

                if (cells > 512)
                        cells = 512;
                from = h->n > cells ? h->n - cells : 0;
                /* Percents on their own scale; rates from zero to their peak. */
                ctl_sparkline(spark, sizeof spark, h->v[s] + from, h->n - from, cells,
                              0, series[s].unit[0] == '%' ? 100 : NAN);
                if (isnan(last))
                        snprintf(value, sizeof value, "-");
                else
                        snprintf(value, sizeof value, "%.*f%s", series[s].unit[0] == '%' ? 1 : 2, last,
                                 series[s].unit);
                out_printf(o, "%-6s", series[s].label);
                out_sgr(o, SGR_TITLE);
                out_text(o, spark);
                out_sgr(o, SGR_RESET);
                out_printf(o, "  %s", value);
                out_end(o);
        }
}
