/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ingestproto.h"
#include "telemetryd.h"
#include "utf8.h"

/* Prometheus text exposition (format 0.0.4). What node_exporter also
 * exposes carries node_exporter's name, labels and unit, so dashboards and
 * alerts written for it work unchanged; the worker's own figures are
 * resolvix_*. */

/* A label value: valid UTF-8 with backslash, quote and newline escaped. */
static void label(FILE *f, const char *value) {
        char buf[3 * PATH_MAX + 1];

        if (strlen(value) > PATH_MAX)
                value = "(too long)";
        for (const char *p = utf8_repair_str(value, buf, sizeof buf); *p; p++) {
                if (*p == '\\' || *p == '"')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", f);
                else
                        fputc(*p, f);
        }
}

static void header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void cpu(FILE *f, const struct sample *s) {
        static const struct {
                const char *mode;
                size_t offset;
        } modes[] = {
                { "user", offsetof(struct cpu_times, user) },       { "nice", offsetof(struct cpu_times, nice) },
                { "system", offsetof(struct cpu_times, system) },   { "idle", offsetof(struct cpu_times, idle) },
                { "iowait", offsetof(struct cpu_times, iowait) },   { "irq", offsetof(struct cpu_times, irq) },
                { "softirq", offsetof(struct cpu_times, softirq) }, { "steal", offsetof(struct cpu_times, steal) },
        };
        double hz = (double) sysconf(_SC_CLK_TCK);

        header(f, "node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.");
        for (size_t i = 0; i < s->cpu.n_cpu; i++)
                for (size_t m = 0; m < ELEMENTSOF(modes); m++) {
                        uint64_t v = *(const uint64_t *) ((const char *) &s->cpu.per_cpu[i].times + modes[m].offset);
                        fprintf(f, "node_cpu_seconds_total{cpu=\"%u\",mode=\"%s\"} %.2f\n", s->cpu.per_cpu[i].id,
                                modes[m].mode, (double) v / hz);
                }
        header(f, "node_load1", "gauge", "1m load average.");
        fprintf(f, "node_load1 %.2f\n", s->cpu.load.load1);
        header(f, "node_load5", "gauge", "5m load average.");
        fprintf(f, "node_load5 %.2f\n", s->cpu.load.load5);
        header(f, "node_load15", "gauge", "15m load average.");
        fprintf(f, "node_load15 %.2f\n", s->cpu.load.load15);
        header(f, "resolvix_cpu_usage_percent", "gauge", "Busy share of all CPUs over the last sample window.");
        fprintf(f, "resolvix_cpu_usage_percent %.2f\n", s->cpu.usage_percent);
}

static void memory(FILE *f, const struct sample *s) {
        for (size_t i = 0; i < meminfo_keys_count; i++) {
                char name[64], help[96];

                snprintf(name, sizeof name, "node_memory_%s_bytes", meminfo_keys[i].key);
                snprintf(help, sizeof help, "Memory information field %s_bytes.", meminfo_keys[i].key);
                header(f, name, "gauge", help);
                fprintf(f, "%s %llu\n", name,
                        (unsigned long long) *(const uint64_t *) ((const char *) &s->memory + meminfo_keys[i].offset));
        }
}

static void filesystems(FILE *f, const struct sample *s) {
        static const struct {
                const char *name, *help;
                size_t offset;
        } fields[] = {
                { "node_filesystem_size_bytes", "Filesystem size in bytes.", offsetof(struct sample_mount, total) },
                { "node_filesystem_free_bytes", "Filesystem free space in bytes.", offsetof(struct sample_mount, free) },
                { "node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.",
                  offsetof(struct sample_mount, avail) },
        };

        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                header(f, fields[i].name, "gauge", fields[i].help);
                for (size_t m = 0; m < s->disk.n_mounts; m++) {
                        const struct sample_mount *mt = &s->disk.mounts[m];

                        fprintf(f, "%s{device=\"", fields[i].name);
                        label(f, mt->device);
                        fputs("\",fstype=\"", f);
                        label(f, mt->fstype);
                        fputs("\",mountpoint=\"", f);
                        label(f, mt->mount_point);
                        fprintf(f, "\"} %llu\n",
                                (unsigned long long) *(const uint64_t *) ((const char *) mt + fields[i].offset));
                }
        }
}

static void disks(FILE *f, const struct sample *s) {
        header(f, "node_disk_read_bytes_total", "counter", "The total number of bytes read successfully.");
        for (size_t i = 0; i < s->disk.n_disks; i++) {
                fputs("node_disk_read_bytes_total{device=\"", f);
                label(f, s->disk.disks[i].name);
                fprintf(f, "\"} %llu\n", (unsigned long long) s->disk.disks[i].read_bytes);
        }
        header(f, "node_disk_written_bytes_total", "counter", "The total number of bytes written successfully.");
        for (size_t i = 0; i < s->disk.n_disks; i++) {
                fputs("node_disk_written_bytes_total{device=\"", f);
                label(f, s->disk.disks[i].name);
                fprintf(f, "\"} %llu\n", (unsigned long long) s->disk.disks[i].written_bytes);
        }
}

static void network(FILE *f, const struct sample *s) {
        static const struct {
                const char *name, *help;
                size_t offset;
        } fields[] = {
                { "receive_bytes", "bytes received", offsetof(struct netdev, rx_bytes) },
                { "transmit_bytes", "bytes transmitted", offsetof(struct netdev, tx_bytes) },
                { "receive_packets", "packets received", offsetof(struct netdev, rx_packets) },
                { "transmit_packets", "packets transmitted", offsetof(struct netdev, tx_packets) },
                { "receive_errs", "receive errors", offsetof(struct netdev, rx_errs) },
                { "transmit_errs", "transmit errors", offsetof(struct netdev, tx_errs) },
                { "receive_drop", "received packets dropped", offsetof(struct netdev, rx_drop) },
                { "transmit_drop", "transmitted packets dropped", offsetof(struct netdev, tx_drop) },
        };

        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                char name[64], help[96];

                snprintf(name, sizeof name, "node_network_%s_total", fields[i].name);
                snprintf(help, sizeof help, "Network device statistic: %s.", fields[i].help);
                header(f, name, "counter", help);
                for (size_t d = 0; d < s->network.n_ifaces; d++) {
                        const struct netdev *nd = &s->network.ifaces[d];

                        fprintf(f, "%s{device=\"", name);
                        label(f, nd->name);
                        fprintf(f, "\"} %llu\n",
                                (unsigned long long) *(const uint64_t *) ((const char *) nd + fields[i].offset));
                }
        }
        header(f, "node_netstat_Tcp_CurrEstab", "gauge", "Statistic TcpCurrEstab.");
        fprintf(f, "node_netstat_Tcp_CurrEstab %lld\n", (long long) s->network.active_connections);
}

static void self(FILE *f, const struct telemetry *t, const struct sample *s) {
        header(f, "resolvix_processes", "gauge", "Processes running on the node.");
        fprintf(f, "resolvix_processes %u\n", s->processes.count);
        header(f, "resolvix_clients", "gauge", "WebSocket clients connected to the telemetry stream.");
        fprintf(f, "resolvix_clients %u\n", ws_server_clients(t->server));
        header(f, "resolvix_frames_sent_total", "counter", "WebSocket frames written to clients.");
        fprintf(f, "resolvix_frames_sent_total %llu\n", (unsigned long long) ws_server_frames_sent(t->server));
        header(f, "resolvix_frames_coalesced_total", "counter",
               "Samples a slow client never got because a newer one replaced them.");
        fprintf(f, "resolvix_frames_coalesced_total %llu\n", (unsigned long long) t->frames_coalesced);
        header(f, "resolvix_samples_total", "counter", "Samples taken.");
        fprintf(f, "resolvix_samples_total %llu\n", (unsigned long long) t->samples);
        header(f, "resolvix_sample_duration_seconds", "gauge", "How long taking the last sample took.");
        fprintf(f, "resolvix_sample_duration_seconds %.6f\n", (double) s->duration_usec / 1e6);
        header(f, "resolvix_sample_interval_seconds", "gauge", "Seconds between scheduled samples.");
        fprintf(f, "resolvix_sample_interval_seconds %u\n", t->interval);
        header(f, "resolvix_frame_bytes", "gauge", "Size of the last serialised sample.");
        fprintf(f, "resolvix_frame_bytes %zu\n", t->frame_len);
}

/* Each custom metric's latest point, at the point's own timestamp (in
 * milliseconds, as the exposition format has them), so that Prometheus
 * records when the application measured it, not when it was scraped. */
static void custom(FILE *f, const struct telemetry *t) {
        const struct metric_store *store = ingest_store(t->ingest);
        struct ingest_stats st;

        header(f, "resolvix_custom_metric", "gauge", "Latest value of each custom metric put on the ingest port.");
        for (size_t i = 0; store && i < metric_store_size(store); i++) {
                const struct metric *m = metric_store_at(store, i);
                struct metric_point p;
                char value[INGEST_VALUE_MAX];

                if (metric_size(m) == 0)
                        continue;
                p = metric_point_at(m, metric_size(m) - 1);
                ingest_format_value(p.value, value);
                fputs("resolvix_custom_metric{metric=\"", f);
                label(f, metric_name(m));
                fprintf(f, "\"} %s %" PRId64 "\n", value, p.timestamp * 1000);
        }
        if (!t->ingest)
                return;
        st = ingest_stats(t->ingest);
        header(f, "resolvix_custom_metrics", "gauge", "Custom metrics held.");
        fprintf(f, "resolvix_custom_metrics %zu\n", metric_store_size(store));
        header(f, "resolvix_custom_points", "gauge", "Points of custom metrics held, all metrics together.");
        fprintf(f, "resolvix_custom_points %zu\n", metric_store_points(store));
        header(f, "resolvix_ingest_clients", "gauge", "Connections open on the ingest port.");
        fprintf(f, "resolvix_ingest_clients %u\n", st.clients);
        header(f, "resolvix_ingest_requests_total", "counter", "Requests received on the ingest port.");
        fprintf(f, "resolvix_ingest_requests_total %" PRIu64 "\n", st.requests);
        header(f, "resolvix_ingest_errors_total", "counter", "Ingest requests answered with an error.");
        fprintf(f, "resolvix_ingest_errors_total %" PRIu64 "\n", st.errors);
        header(f, "resolvix_ingest_refused_total", "counter", "Ingest connections refused at ingest_max_clients.");
        fprintf(f, "resolvix_ingest_refused_total %" PRIu64 "\n", st.refused);
}

int telemetry_metrics(struct telemetry *t, char **ret, size_t *len) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        r = telemetry_fresh_sample(t);
        if (r < 0)
                return r;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        cpu(f, t->sample);
        memory(f, t->sample);
        filesystems(f, t->sample);
        disks(f, t->sample);
        network(f, t->sample);
        self(f, t, t->sample);
        custom(f, t);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *len = size;
        return 0;
}
