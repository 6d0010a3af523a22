/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "sample-json.h"
#include "timeutil.h"
#include "utf8.h"

#define GIB (1024.0 * 1024.0 * 1024.0)
#define MIB (1024.0 * 1024.0)

/* Names from the system are bytes; JSON text must be UTF-8. The rare
 * invalid one is copied with replacements into *copy. */
static const char *text(const char *s, char **copy) {
        size_t size;

        if (utf8_valid(s, strlen(s)))
                return s;
        size = 3 * strlen(s) + 1;
        *copy = malloc(size);
        return *copy ? utf8_repair_str(s, *copy, size) : NULL;
}

/* A name from the system as a key or a value. */
static void write_text(struct json_writer *w, const char *key, const char *value) {
        _cleanup_free_ char *copy = NULL;
        const char *v = text(value, &copy);

        if (v)
                json_write_string(w, key, v);
        else
                json_write_failed(w);
}

static void open_named(struct json_writer *w, const char *name) {
        _cleanup_free_ char *copy = NULL;
        const char *k = text(name, &copy);

        if (!k) {
                json_write_failed(w);
                k = "";
        }
        json_write_open(w, k, '{');
}

static void write_cpu(struct json_writer *w, const struct sample *s) {
        json_write_open(w, "cpu", '{');
        json_write_round2(w, "cpu_usage_percent", s->cpu.usage_percent);
        json_write_open(w, "cpu_per_core_percent", '[');
        for (size_t i = 0; i < s->cpu.n_cpu; i++)
                json_write_round2(w, NULL, s->cpu.per_cpu[i].usage_percent);
        json_write_close(w, ']');
        json_write_round2(w, "load_avg_1min", s->cpu.load.load1);
        json_write_round2(w, "load_avg_5min", s->cpu.load.load5);
        json_write_round2(w, "load_avg_15min", s->cpu.load.load15);
        json_write_number(w, "count", (double) s->cpu.n_cpu);
        if (s->cpu.frequency_mhz > 0)
                json_write_round2(w, "frequency_mhz", s->cpu.frequency_mhz);
        json_write_close(w, '}');
}

static double percent(uint64_t part, uint64_t whole) {
        return whole ? 100.0 * (double) part / (double) whole : 0.0;
}

static void write_memory(struct json_writer *w, const struct sample *s) {
        const struct meminfo *m = &s->memory;
        uint64_t used = m->total - m->available, swap_used = m->swap_total - m->swap_free;

        json_write_open(w, "memory", '{');
        json_write_round2(w, "memory_total_gb", (double) m->total / GIB);
        json_write_round2(w, "memory_used_gb", (double) used / GIB);
        json_write_round2(w, "memory_available_gb", (double) m->available / GIB);
        json_write_round2(w, "memory_usage_percent", percent(used, m->total));
        json_write_round2(w, "swap_total_gb", (double) m->swap_total / GIB);
        json_write_round2(w, "swap_used_gb", (double) swap_used / GIB);
        json_write_round2(w, "swap_usage_percent", percent(swap_used, m->swap_total));
        json_write_close(w, '}');
}

static void write_disk(struct json_writer *w, const struct sample *s) {
        json_write_open(w, "disk", '{');
        json_write_open(w, "disk_usage", '{');
        for (size_t i = 0; i < s->disk.n_mounts; i++) {
                const struct sample_mount *m = &s->disk.mounts[i];

                open_named(w, m->mount_point);
                json_write_round2(w, "total_gb", (double) m->total / GIB);
                json_write_round2(w, "used_gb", (double) m->used / GIB);
                json_write_round2(w, "free_gb", (double) m->avail / GIB);
                json_write_round2(w, "usage_percent", m->usage_percent);
                write_text(w, "device", m->device);
                write_text(w, "file_system", m->fstype);
                json_write_close(w, '}');
        }
        json_write_close(w, '}');
        json_write_open(w, "disk_io", '{');
        json_write_round2(w, "read_mb_per_sec", s->disk.read_bytes_per_sec / MIB);
        json_write_round2(w, "write_mb_per_sec", s->disk.write_bytes_per_sec / MIB);
        json_write_round2(w, "read_iops", s->disk.reads_per_sec);
        json_write_round2(w, "write_iops", s->disk.writes_per_sec);
        json_write_close(w, '}');
        /* Cumulative, like the interfaces: a client makes rates of its own
         * between two samples, per disk. */
        json_write_open(w, "disks", '{');
        for (size_t i = 0; i < s->disk.n_disks; i++) {
                const struct sample_disk *d = &s->disk.disks[i];

                open_named(w, d->name);
                json_write_number(w, "read_bytes", (double) d->read_bytes);
                json_write_number(w, "write_bytes", (double) d->written_bytes);
                json_write_number(w, "reads", (double) d->reads);
                json_write_number(w, "writes", (double) d->writes);
                json_write_close(w, '}');
        }
        json_write_close(w, '}');
        json_write_close(w, '}');
}

static void write_network(struct json_writer *w, const struct sample *s) {
        json_write_open(w, "network", '{');
        json_write_round2(w, "bytes_sent_mb_per_sec", s->network.tx_bytes_per_sec / MIB);
        json_write_round2(w, "bytes_recv_mb_per_sec", s->network.rx_bytes_per_sec / MIB);
        json_write_number(w, "packets_sent", (double) s->network.tx_packets);
        json_write_number(w, "packets_recv", (double) s->network.rx_packets);
        json_write_number(w, "active_connections", (double) s->network.active_connections);
        json_write_open(w, "interfaces", '{');
        for (size_t i = 0; i < s->network.n_ifaces; i++) {
                const struct netdev *d = &s->network.ifaces[i];

                /* psutil's names, which existing consumers know. */
                open_named(w, d->name);
                json_write_number(w, "bytes_sent", (double) d->tx_bytes);
                json_write_number(w, "bytes_recv", (double) d->rx_bytes);
                json_write_number(w, "packets_sent", (double) d->tx_packets);
                json_write_number(w, "packets_recv", (double) d->rx_packets);
                json_write_number(w, "errin", (double) d->rx_errs);
                json_write_number(w, "errout", (double) d->tx_errs);
                json_write_number(w, "dropin", (double) d->rx_drop);
                json_write_number(w, "dropout", (double) d->tx_drop);
                json_write_close(w, '}');
        }
        json_write_close(w, '}');
        json_write_close(w, '}');
}

static void write_processes(struct json_writer *w, const struct sample *s) {
        json_write_open(w, "processes", '{');
        json_write_number(w, "process_count", s->processes.count);
        json_write_open(w, "top_memory_processes", '[');
        for (size_t i = 0; i < s->processes.n_top; i++) {
                const struct sample_process *p = &s->processes.top[i];

                json_write_open(w, NULL, '{');
                json_write_number(w, "pid", p->pid);
                write_text(w, "name", p->name);
                json_write_round2(w, "memory_percent", p->memory_percent);
                write_text(w, "username", p->username);
                if (isfinite(p->cpu_percent))
                        json_write_round2(w, "cpu_percent", p->cpu_percent);
                json_write_close(w, '}');
        }
        json_write_close(w, ']');
        json_write_close(w, '}');
}

static void write_custom(struct json_writer *w, const struct sample_custom_source *src) {
        json_write_open(w, "custom", '{');
        for (size_t i = 0; src && i < src->n; i++) {
                struct sample_custom c;

                if (!src->at(src->data, i, &c))
                        continue;
                open_named(w, c.name);
                json_write_number(w, "value", c.value);
                json_write_number(w, "timestamp", (double) c.timestamp);
                json_write_close(w, '}');
        }
        json_write_close(w, '}');
}

ssize_t sample_write_json(struct json_writer *w, const struct sample *s, const char *node_id, unsigned interval,
                          const struct sample_custom_source *custom) {
        char ts[ISO8601_MAX];

        format_iso8601(s->realtime_usec, ts);
        json_write_open(w, NULL, '{');
        json_write_string(w, "timestamp", ts);
        write_text(w, "node_id", node_id);
        json_write_number(w, "seq", (double) s->seq);
        if (interval > 0)
                json_write_number(w, "interval", interval);
        json_write_open(w, "metrics", '{');
        write_cpu(w, s);
        write_memory(w, s);
        write_disk(w, s);
        write_network(w, s);
        write_processes(w, s);
        write_custom(w, custom);
        json_write_close(w, '}');
        json_write_close(w, '}');
        return json_writer_end(w);
}

cJSON *sample_to_json(const struct sample *s, const char *node_id, unsigned interval,
                      const struct sample_custom_source *custom) {
        struct json_writer w = { 0 };
        cJSON *j = NULL;
        ssize_t n = sample_write_json(&w, s, node_id, interval, custom);

        if (n >= 0)
                j = cJSON_ParseWithLength(w.p, (size_t) n);
        free(w.p);
        return j;
}
