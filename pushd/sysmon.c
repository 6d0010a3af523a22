/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "jsonutil.h"
#include "macro.h"
#include "sysmon.h"

cJSON *sysmon_envelope(const char *action, const char *system_id, const char *url, unsigned interval,
                       uint64_t epoch) {
        cJSON *o = cJSON_CreateObject();

        if (!o || !cJSON_AddStringToObject(o, "action", action) || !cJSON_AddStringToObject(o, "system_id", system_id) ||
            !cJSON_AddStringToObject(o, "url", url) || !cJSON_AddNumberToObject(o, "interval", interval) ||
            !cJSON_AddNumberToObject(o, "epoch", (double) epoch)) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

static bool add_u64(cJSON *o, const char *name, uint64_t v) {
        /* Integers as the protocol has them: a double holds every byte count
         * below 2^53, and cJSON prints integral doubles without a fraction. */
        return cJSON_AddNumberToObject(o, name, (double) v) != NULL;
}

static const struct sysmon_addr *find_addr(const struct sysmon_addr *addrs, size_t n, const char *ifname) {
        for (size_t i = 0; i < n; i++)
                if (streq(addrs[i].ifname, ifname))
                        return &addrs[i];
        return NULL;
}

cJSON *sysmon_send_stats(const struct sample *s, const char *system_id, const char *url, unsigned interval,
                         const struct sysmon_addr *addrs, size_t n) {
        cJSON *o = sysmon_envelope("send_stats", system_id, url, interval, s->realtime_usec / 1000000);
        cJSON *stats, *cpu, *mem, *procs, *disks, *net;
        const struct meminfo *m = &s->memory;
        uint64_t used = m->total > m->available ? m->total - m->available : 0;

        if (!o)
                return NULL;
        if (!(stats = cJSON_AddObjectToObject(o, "stats")) || !(cpu = cJSON_AddObjectToObject(stats, "cpu")) ||
            !cJSON_AddNumberToObject(cpu, "count", (double) s->cpu.n_cpu) ||
            !cJSON_AddNumberToObject(cpu, "frequency", round(s->cpu.frequency_mhz)) ||
            !cJSON_AddNumberToObject(cpu, "percent_used", round2(s->cpu.usage_percent)))
                goto fail;
        if (!(mem = cJSON_AddObjectToObject(stats, "memory")) || !add_u64(mem, "total", m->total) ||
            !add_u64(mem, "available", m->available) ||
            !cJSON_AddNumberToObject(mem, "percent_used", m->total ? round2(100.0 * (double) used / (double) m->total) : 0) ||
            !add_u64(mem, "used", used) || !add_u64(mem, "free", m->free))
                goto fail;
        if (!(procs = cJSON_AddArrayToObject(stats, "processes")))
                goto fail;
        for (size_t i = 0; i < s->processes.n_top; i++) {
                const struct sample_process *p = &s->processes.top[i];
                cJSON *e = cJSON_CreateObject();
                if (!e || !cJSON_AddItemToArray(procs, e) || !cJSON_AddNumberToObject(e, "pid", p->pid) ||
                    !cJSON_AddStringToObject(e, "name", p->name) || !cJSON_AddStringToObject(e, "username", p->username))
                        goto fail;
        }
        if (!(disks = cJSON_AddObjectToObject(stats, "disks")))
                goto fail;
        for (size_t i = 0; i < s->disk.n_mounts; i++) {
                const struct sample_mount *mt = &s->disk.mounts[i];
                cJSON *e;
                /* Keyed by device: a device mounted twice is one disk. */
                if (cJSON_GetObjectItemCaseSensitive(disks, mt->device))
                        continue;
                if (!(e = cJSON_AddObjectToObject(disks, mt->device)) ||
                    !cJSON_AddStringToObject(e, "file_system", mt->fstype) ||
                    !cJSON_AddStringToObject(e, "mount_point", mt->mount_point) || !add_u64(e, "total", mt->total) ||
                    !add_u64(e, "used", mt->used) || !add_u64(e, "free", mt->avail))
                        goto fail;
        }
        if (!(net = cJSON_AddObjectToObject(stats, "network")))
                goto fail;
        for (size_t i = 0; i < s->network.n_ifaces; i++) {
                const struct netdev *d = &s->network.ifaces[i];
                const struct sysmon_addr *a = find_addr(addrs, n, d->name);
                cJSON *e;
                if (cJSON_GetObjectItemCaseSensitive(net, d->name))
                        continue;
                if (!(e = cJSON_AddObjectToObject(net, d->name)) || !cJSON_AddStringToObject(e, "ip", a ? a->ip : "") ||
                    !cJSON_AddStringToObject(e, "netmask", a ? a->netmask : "") ||
                    !add_u64(e, "bytes_sent", d->tx_bytes) || !add_u64(e, "bytes_recv", d->rx_bytes))
                        goto fail;
        }
        return o;
fail:
        cJSON_Delete(o);
        return NULL;
}

size_t sysmon_addresses(struct sysmon_addr *ret, char (*names)[64], size_t max) {
        struct ifaddrs *list, *i;
        size_t n = 0;

        if (getifaddrs(&list) < 0)
                return 0;
        for (i = list; i && n < max; i = i->ifa_next) {
                if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask)
                        continue;
                if (find_addr(ret, n, i->ifa_name))
                        continue; /* the first address of an interface is the one named */
                snprintf(names[n], sizeof names[n], "%s", i->ifa_name);
                ret[n].ifname = names[n];
                inet_ntop(AF_INET, &((struct sockaddr_in *) (void *) i->ifa_addr)->sin_addr, ret[n].ip, sizeof ret[n].ip);
                inet_ntop(AF_INET, &((struct sockaddr_in *) (void *) i->ifa_netmask)->sin_addr, ret[n].netmask,
                          sizeof ret[n].netmask);
                n++;
        }
        freeifaddrs(list);
        return n;
}
