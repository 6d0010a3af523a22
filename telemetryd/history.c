/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include "history.h"
#include "macro.h"

#define MIB (1024.0 * 1024.0)

/* Floats: two decimals of a percent or a MiB/s rate are all a chart
 * shows, and they halve what a double would cost. */
struct record {
        int64_t time_ms;
        float cpu, memory, swap, load1, load5, load15;
        float disk_read, disk_write, net_recv, net_sent; /* MiB/s, as the stream sends them */
        uint16_t n_cores;
};

struct history {
        struct record *records;
        uint16_t *cores; /* capacity × HISTORY_CORES_MAX, centi-percent */
        size_t capacity, start, size;
};

int history_new(size_t capacity, struct history **ret) {
        struct history *h;

        if (capacity < 2 || capacity > HISTORY_RECORDS_MAX)
                return -EINVAL;
        h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        h->records = calloc(capacity, sizeof *h->records);
        h->cores = calloc(capacity * HISTORY_CORES_MAX, sizeof *h->cores);
        if (!h->records || !h->cores) {
                history_free(h);
                return -ENOMEM;
        }
        h->capacity = capacity;
        *ret = h;
        return 0;
}

void history_free(struct history *h) {
        if (!h)
                return;
        free(h->records);
        free(h->cores);
        free(h);
}

size_t history_capacity_for(unsigned interval) {
        size_t n = interval ? (HISTORY_SECONDS + interval - 1) / interval : HISTORY_RECORDS_MAX;

        return n < 2 ? 2 : n > HISTORY_RECORDS_MAX ? HISTORY_RECORDS_MAX : n;
}

size_t history_size(const struct history *h) {
        return h->size;
}

size_t history_capacity(const struct history *h) {
        return h->capacity;
}

static double percent(uint64_t part, uint64_t whole) {
        return whole ? 100.0 * (double) part / (double) whole : 0.0;
}

static uint16_t centi(double percent) {
        if (!(percent > 0)) /* NaN too */
                return 0;
        return percent >= 100 ? 10000 : (uint16_t) lround(percent * 100);
}

void history_add(struct history *h, const struct sample *s) {
        size_t i = (h->start + h->size) % h->capacity;
        const struct meminfo *m = &s->memory;
        struct record *r = &h->records[i];
        uint16_t *cores = &h->cores[i * HISTORY_CORES_MAX];

        *r = (struct record){
                .time_ms = (int64_t) (s->realtime_usec / 1000),
                .cpu = (float) s->cpu.usage_percent,
                .memory = (float) percent(m->total - m->available, m->total),
                .swap = (float) percent(m->swap_total - m->swap_free, m->swap_total),
                .load1 = (float) s->cpu.load.load1,
                .load5 = (float) s->cpu.load.load5,
                .load15 = (float) s->cpu.load.load15,
                .disk_read = (float) (s->disk.read_bytes_per_sec / MIB),
                .disk_write = (float) (s->disk.write_bytes_per_sec / MIB),
                .net_recv = (float) (s->network.rx_bytes_per_sec / MIB),
                .net_sent = (float) (s->network.tx_bytes_per_sec / MIB),
                .n_cores = (uint16_t) (s->cpu.n_cpu < HISTORY_CORES_MAX ? s->cpu.n_cpu : HISTORY_CORES_MAX),
        };
        for (size_t c = 0; c < r->n_cores; c++)
                cores[c] = centi(s->cpu.per_cpu[c].usage_percent);
        if (h->size < h->capacity)
                h->size++;
        else
                h->start = (h->start + 1) % h->capacity;
}

/* Columns rather than one object per record: the names are written once,
 * which keeps an hour of records to a few hundred kilobytes. */
struct column {
        const char *name;
        size_t offset;
};

#define COLUMN(name, field) { name, offsetof(struct record, field) }
static const struct column columns[] = {
        COLUMN("cpu_usage_percent", cpu),
        COLUMN("memory_usage_percent", memory),
        COLUMN("swap_usage_percent", swap),
        COLUMN("load_avg_1min", load1),
        COLUMN("load_avg_5min", load5),
        COLUMN("load_avg_15min", load15),
        COLUMN("disk_read_mb_per_sec", disk_read),
        COLUMN("disk_write_mb_per_sec", disk_write),
        COLUMN("bytes_recv_mb_per_sec", net_recv),
        COLUMN("bytes_sent_mb_per_sec", net_sent),
};

static const struct record *at(const struct history *h, size_t i) {
        return &h->records[(h->start + i) % h->capacity];
}

static const uint16_t *cores_at(const struct history *h, size_t i) {
        return &h->cores[((h->start + i) % h->capacity) * HISTORY_CORES_MAX];
}

/* The first record after since_ms: records are in time order unless the
 * clock was set back, and then a linear scan from the end still answers
 * with what came after. */
static size_t first_after(const struct history *h, int64_t since_ms) {
        size_t i = h->size;

        while (i > 0 && at(h, i - 1)->time_ms > since_ms)
                i--;
        return i;
}

static void number(FILE *f, double v) {
        /* Two decimals like the stream; "-0.00" and NaN would not be JSON
         * or not useful. */
        if (!isfinite(v) || fabs(v) < 0.005)
                fputs("0", f);
        else
                fprintf(f, "%.2f", v);
}

int history_write_json(const struct history *h, int64_t since_ms, unsigned interval, FILE *f) {
        size_t first = first_after(h, since_ms), n = h->size - first;

        fprintf(f, "{\"type\":\"history\",\"interval\":%u,\"capacity\":%zu,\"count\":%zu,\"timestamps\":[",
                interval, h->capacity, n);
        for (size_t i = first; i < h->size; i++)
                fprintf(f, "%s%" PRId64, i > first ? "," : "", at(h, i)->time_ms);
        fputc(']', f);
        for (size_t c = 0; c < ELEMENTSOF(columns); c++) {
                fprintf(f, ",\"%s\":[", columns[c].name);
                for (size_t i = first; i < h->size; i++) {
                        if (i > first)
                                fputc(',', f);
                        number(f, *(const float *) ((const char *) at(h, i) + columns[c].offset));
                }
                fputc(']', f);
        }
        fputs(",\"cpu_per_core_percent\":[", f);
        for (size_t i = first; i < h->size; i++) {
                const uint16_t *cores = cores_at(h, i);

                fputs(i > first ? ",[" : "[", f);
                for (size_t c = 0; c < at(h, i)->n_cores; c++) {
                        if (c > 0)
                                fputc(',', f);
                        number(f, cores[c] / 100.0);
                }
                fputc(']', f);
        }
        fputs("]}\n", f);
        return ferror(f) ? -EIO : (int) n;
}
