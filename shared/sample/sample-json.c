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

static cJSON *add_text(cJSON *obj, const char *key, const char *value) {
        _cleanup_free_ char *copy = NULL;
        const char *v = text(value, &copy);

        return v ? cJSON_AddStringToObject(obj, key, v) : NULL;
}

static cJSON *add_object(cJSON *obj, const char *key) {
        _cleanup_free_ char *copy = NULL;
        const char *k = text(key, &copy);
        cJSON *o;

        if (!k || !(o = cJSON_CreateObject()))
                return NULL;
        if (!cJSON_AddItemToObject(obj, k, o)) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

static bool add_cpu(cJSON *metrics, const struct sample *s) {
        cJSON *cpu = cJSON_AddObjectToObject(metrics, "cpu"), *cores;

        if (!cpu || !json_add_round2(cpu, "cpu_usage_percent", s->cpu.usage_percent))
                return false;
        cores = cJSON_AddArrayToObject(cpu, "cpu_per_core_percent");
        if (!cores)
                return false;
        for (size_t i = 0; i < s->cpu.n_cpu; i++) {
                cJSON *v = cJSON_CreateNumber(round2(s->cpu.per_cpu[i].usage_percent));
                if (!v || !cJSON_AddItemToArray(cores, v)) {
                        cJSON_Delete(v);
                        return false;
                }
        }
        if (!json_add_round2(cpu, "load_avg_1min", s->cpu.load.load1) ||
            !json_add_round2(cpu, "load_avg_5min", s->cpu.load.load5) ||
            !json_add_round2(cpu, "load_avg_15min", s->cpu.load.load15) ||
            !cJSON_AddNumberToObject(cpu, "count", (double) s->cpu.n_cpu))
                return false;
        if (s->cpu.frequency_mhz > 0 && !json_add_round2(cpu, "frequency_mhz", s->cpu.frequency_mhz))
                return false;
        return true;
}

static double percent(uint64_t part, uint64_t whole) {
        return whole ? 100.0 * (double) part / (double) whole : 0.0;
}

static bool add_memory(cJSON *metrics, const struct sample *s) {
        const struct meminfo *m = &s->memory;
        uint64_t used = m->total - m->available, swap_used = m->swap_total - m->swap_free;
        cJSON *mem = cJSON_AddObjectToObject(metrics, "memory");

        return mem && json_add_round2(mem, "memory_total_gb", (double) m->total / GIB) &&
               json_add_round2(mem, "memory_used_gb", (double) used / GIB) &&
               json_add_round2(mem, "memory_available_gb", (double) m->available / GIB) &&
               json_add_round2(mem, "memory_usage_percent", percent(used, m->total)) &&
               json_add_round2(mem, "swap_total_gb", (double) m->swap_total / GIB) &&
               json_add_round2(mem, "swap_used_gb", (double) swap_used / GIB) &&
               json_add_round2(mem, "swap_usage_percent", percent(swap_used, m->swap_total));
}

static bool add_disk(cJSON *metrics, const struct sample *s) {
        cJSON *disk = cJSON_AddObjectToObject(metrics, "disk"), *usage, *io, *disks;

        if (!disk || !(usage = cJSON_AddObjectToObject(disk, "disk_usage")))
                return false;
        for (size_t i = 0; i < s->disk.n_mounts; i++) {
                const struct sample_mount *m = &s->disk.mounts[i];
                cJSON *o = add_object(usage, m->mount_point);

                if (!o || !json_add_round2(o, "total_gb", (double) m->total / GIB) ||
                    !json_add_round2(o, "used_gb", (double) m->used / GIB) ||
                    !json_add_round2(o, "free_gb", (double) m->avail / GIB) ||
                    !json_add_round2(o, "usage_percent", m->usage_percent) || !add_text(o, "device", m->device) ||
                    !add_text(o, "file_system", m->fstype))
                        return false;
        }
        io = cJSON_AddObjectToObject(disk, "disk_io");
        if (!io || !json_add_round2(io, "read_mb_per_sec", s->disk.read_bytes_per_sec / MIB) ||
            !json_add_round2(io, "write_mb_per_sec", s->disk.write_bytes_per_sec / MIB) ||
            !json_add_round2(io, "read_iops", s->disk.reads_per_sec) ||
            !json_add_round2(io, "write_iops", s->disk.writes_per_sec))
                return false;
        /* Cumulative, like the interfaces: a client makes rates of its own
         * between two samples, per disk. */
        disks = cJSON_AddObjectToObject(disk, "disks");
        if (!disks)
                return false;
        for (size_t i = 0; i < s->disk.n_disks; i++) {
                const struct sample_disk *d = &s->disk.disks[i];
                cJSON *o = add_object(disks, d->name);

                if (!o || !cJSON_AddNumberToObject(o, "read_bytes", (double) d->read_bytes) ||
                    !cJSON_AddNumberToObject(o, "write_bytes", (double) d->written_bytes) ||
                    !cJSON_AddNumberToObject(o, "reads", (double) d->reads) ||
                    !cJSON_AddNumberToObject(o, "writes", (double) d->writes))
                        return false;
        }
        return true;
}

static bool add_network(cJSON *metrics, const struct sample *s) {
        cJSON *net = cJSON_AddObjectToObject(metrics, "network"), *ifaces;

        if (!net || !json_add_round2(net, "bytes_sent_mb_per_sec", s->network.tx_bytes_per_sec / MIB) ||
            !json_add_round2(net, "bytes_recv_mb_per_sec", s->network.rx_bytes_per_sec / MIB) ||
            !cJSON_AddNumberToObject(net, "packets_sent", (double) s->network.tx_packets) ||
            !cJSON_AddNumberToObject(net, "packets_recv", (double) s->network.rx_packets) ||
            !cJSON_AddNumberToObject(net, "active_connections", (double) s->network.active_connections))
                return false;
        ifaces = cJSON_AddObjectToObject(net, "interfaces");
        if (!ifaces)
                return false;
        for (size_t i = 0; i < s->network.n_ifaces; i++) {
                const struct netdev *d = &s->network.ifaces[i];
                cJSON *o = add_object(ifaces, d->name);

                /* psutil's names, which existing consumers know. */
                if (!o || !cJSON_AddNumberToObject(o, "bytes_sent", (double) d->tx_bytes) ||
                    !cJSON_AddNumberToObject(o, "bytes_recv", (double) d->rx_bytes) ||
                    !cJSON_AddNumberToObject(o, "packets_sent", (double) d->tx_packets) ||
                    !cJSON_AddNumberToObject(o, "packets_recv", (double) d->rx_packets) ||
                    !cJSON_AddNumberToObject(o, "errin", (double) d->rx_errs) ||
                    !cJSON_AddNumberToObject(o, "errout", (double) d->tx_errs) ||
                    !cJSON_AddNumberToObject(o, "dropin", (double) d->rx_drop) ||
                    !cJSON_AddNumberToObject(o, "dropout", (double) d->tx_drop))
                        return false;
        }
        return true;
}

static bool add_processes(cJSON *metrics, const struct sample *s) {
        cJSON *procs = cJSON_AddObjectToObject(metrics, "processes"), *top;

        if (!procs || !cJSON_AddNumberToObject(procs, "process_count", s->processes.count))
                return false;
        top = cJSON_AddArrayToObject(procs, "top_memory_processes");
        if (!top)
                return false;
        for (size_t i = 0; i < s->processes.n_top; i++) {
                const struct sample_process *p = &s->processes.top[i];
                cJSON *o = cJSON_CreateObject();

                if (!o || !cJSON_AddItemToArray(top, o)) {
                        cJSON_Delete(o);
                        return false;
                }
                if (!cJSON_AddNumberToObject(o, "pid", p->pid) || !add_text(o, "name", p->name) ||
                    !json_add_round2(o, "memory_percent", p->memory_percent) || !add_text(o, "username", p->username))
                        return false;
                if (isfinite(p->cpu_percent) && !json_add_round2(o, "cpu_percent", p->cpu_percent))
                        return false;
        }
        return true;
}

static bool add_custom(cJSON *metrics, const struct sample_custom_source *src) {
        cJSON *custom = cJSON_AddObjectToObject(metrics, "custom");

        if (!custom)
                return false;
        for (size_t i = 0; src && i < src->n; i++) {
                struct sample_custom c;
                cJSON *o;

                if (!src->at(src->data, i, &c))
                        continue;
                o = add_object(custom, c.name);
                if (!o || !cJSON_AddNumberToObject(o, "value", c.value) ||
                    !cJSON_AddNumberToObject(o, "timestamp", (double) c.timestamp))
                        return false;
        }
        return true;
}

cJSON *sample_to_json(const struct sample *s, const char *node_id, unsigned interval,
                      const struct sample_custom_source *custom) {
        _cleanup_json_ cJSON *root = cJSON_CreateObject();
        char ts[ISO8601_MAX];
        cJSON *metrics;

        if (!root)
                return NULL;
        format_iso8601(s->realtime_usec, ts);
        if (!cJSON_AddStringToObject(root, "timestamp", ts) || !add_text(root, "node_id", node_id) ||
            !cJSON_AddNumberToObject(root, "seq", (double) s->seq))
                return NULL;
        if (interval > 0 && !cJSON_AddNumberToObject(root, "interval", interval))
                return NULL;
        metrics = cJSON_AddObjectToObject(root, "metrics");
        if (!metrics || !add_cpu(metrics, s) || !add_memory(metrics, s) || !add_disk(metrics, s) ||
            !add_network(metrics, s) || !add_processes(metrics, s) || !add_custom(metrics, custom))
                return NULL;
        return TAKE_PTR(root);
}
