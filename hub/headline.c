/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "headline.h"
#include "macro.h"

const struct headline_info headline_info[_HEADLINE_MAX] = {
        [HEADLINE_CPU] = { "cpu_usage_percent", "cpu_usage_percent", "Busy share of the node's CPUs, in percent." },
        [HEADLINE_MEMORY] = { "memory_usage_percent", "memory_usage_percent", "Memory in use on the node, in percent." },
        [HEADLINE_LOAD1] = { "load_avg_1min", "load1", "The node's 1-minute load average." },
        [HEADLINE_DISK] = { "disk_usage_percent", "disk_usage_percent", "Space used on the node's root filesystem, in percent." },
        [HEADLINE_DISK_READ] = { "disk_read_mb_per_sec", "disk_read_mb_per_second", "Read from the node's disks, in MB/s." },
        [HEADLINE_DISK_WRITE] = { "disk_write_mb_per_sec", "disk_write_mb_per_second", "Written to the node's disks, in MB/s." },
        [HEADLINE_NET_RECV] = { "network_recv_mb_per_sec", "network_receive_mb_per_second", "Received by the node, in MB/s." },
        [HEADLINE_NET_SENT] = { "network_sent_mb_per_sec", "network_transmit_mb_per_second", "Sent by the node, in MB/s." },
        [HEADLINE_CLIENT_MEM] = { "mem", "client_mem", "The \"mem\" figure a Flask client last sent." },
        [HEADLINE_CLIENT_STORAGE] = { "storage", "client_storage", "The \"storage\" figure a Flask client last sent." },
};

static const cJSON *path(const cJSON *j, const char *const *keys) {
        for (; *keys && j; keys++)
                j = cJSON_GetObjectItemCaseSensitive(j, *keys);
        return j;
}

static void take(struct headline *h, enum headline_field f, const cJSON *v) {
        if (cJSON_IsNumber(v)) {
                h->v[f] = v->valuedouble;
                h->has[f] = true;
        }
}

#define P(...) ((const char *const[]){ __VA_ARGS__, NULL })

void headline_from_sample(const cJSON *sample, enum store_node_kind kind, struct headline *ret) {
        struct headline h = { 0 };
        const cJSON *m;

        switch (kind) {
        case STORE_NODE_CLIENT:
                take(&h, HEADLINE_CPU, cJSON_GetObjectItemCaseSensitive(sample, "cpu"));
                if (!h.has[HEADLINE_CPU])
                        take(&h, HEADLINE_CPU, cJSON_GetObjectItemCaseSensitive(sample, "cpu_load"));
                take(&h, HEADLINE_CLIENT_MEM, cJSON_GetObjectItemCaseSensitive(sample, "mem"));
                take(&h, HEADLINE_CLIENT_STORAGE, cJSON_GetObjectItemCaseSensitive(sample, "storage"));
                break;
        default:
                m = cJSON_GetObjectItemCaseSensitive(sample, "metrics");
                if (m) {
                        take(&h, HEADLINE_CPU, path(m, P("cpu", "cpu_usage_percent")));
                        take(&h, HEADLINE_MEMORY, path(m, P("memory", "memory_usage_percent")));
                        take(&h, HEADLINE_LOAD1, path(m, P("cpu", "load_avg_1min")));
                        take(&h, HEADLINE_DISK, path(m, P("disk", "disk_usage", "/", "usage_percent")));
                        take(&h, HEADLINE_DISK_READ, path(m, P("disk", "disk_io", "read_mb_per_sec")));
                        take(&h, HEADLINE_DISK_WRITE, path(m, P("disk", "disk_io", "write_mb_per_sec")));
                        take(&h, HEADLINE_NET_RECV, path(m, P("network", "bytes_recv_mb_per_sec")));
                        take(&h, HEADLINE_NET_SENT, path(m, P("network", "bytes_sent_mb_per_sec")));
                        break;
                }
                /* A System Monitor send_stats body. */
                m = cJSON_GetObjectItemCaseSensitive(sample, "stats");
                take(&h, HEADLINE_CPU, path(m, P("cpu", "percent_used")));
                take(&h, HEADLINE_MEMORY, path(m, P("memory", "percent_used")));
                {
                        const cJSON *disks = cJSON_GetObjectItemCaseSensitive(m, "disks"), *d;

                        cJSON_ArrayForEach(d, disks) {
                                const cJSON *mp = cJSON_GetObjectItemCaseSensitive(d, "mount_point");
                                const cJSON *used = cJSON_GetObjectItemCaseSensitive(d, "used");
                                const cJSON *total = cJSON_GetObjectItemCaseSensitive(d, "total");

                                if (cJSON_IsString(mp) && streq(mp->valuestring, "/") && cJSON_IsNumber(used) &&
                                    cJSON_IsNumber(total) && total->valuedouble > 0) {
                                        h.v[HEADLINE_DISK] = used->valuedouble * 100.0 / total->valuedouble;
                                        h.has[HEADLINE_DISK] = true;
                                }
                        }
                }
                break;
        }
        *ret = h;
}
