/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "macro.h"
#include "remote-write-names.h"
#include "store-map.h"

#define GIB 1073741824.0 /* docs/telemetry-stream.md: GB is 2^30 bytes */
#define COMPONENTS_MAX 16

/* A pattern is dotted components: a literal, "*" (any key, which becomes
 * the label's value) or "#" (any key, appended to the name, which then is a
 * prefix). The first rule that matches names the value. */
struct rule {
        enum sample_root root;
        const char *pattern;
        const char *name;
        const char *label;
        double scale;
};

static const struct rule rules[] = {
        { SAMPLE_ROOT_METRICS, "cpu.load_avg_1min", "node_load1", NULL, 1 },
        { SAMPLE_ROOT_METRICS, "cpu.load_avg_5min", "node_load5", NULL, 1 },
        { SAMPLE_ROOT_METRICS, "cpu.load_avg_15min", "node_load15", NULL, 1 },
        { SAMPLE_ROOT_METRICS, "memory.memory_total_gb", "node_memory_MemTotal_bytes", NULL, GIB },
        { SAMPLE_ROOT_METRICS, "memory.memory_available_gb", "node_memory_MemAvailable_bytes", NULL, GIB },
        { SAMPLE_ROOT_METRICS, "memory.swap_total_gb", "node_memory_SwapTotal_bytes", NULL, GIB },
        { SAMPLE_ROOT_METRICS, "disk.disk_usage.*.total_gb", "node_filesystem_size_bytes", "mountpoint", GIB },
        { SAMPLE_ROOT_METRICS, "disk.disk_usage.*.free_gb", "node_filesystem_avail_bytes", "mountpoint", GIB },
        { SAMPLE_ROOT_METRICS, "disk.disks.*.read_bytes", "node_disk_read_bytes_total", "device", 1 },
        { SAMPLE_ROOT_METRICS, "disk.disks.*.write_bytes", "node_disk_written_bytes_total", "device", 1 },
        { SAMPLE_ROOT_METRICS, "disk.disks.*.reads", "node_disk_reads_completed_total", "device", 1 },
        { SAMPLE_ROOT_METRICS, "disk.disks.*.writes", "node_disk_writes_completed_total", "device", 1 },
        { SAMPLE_ROOT_METRICS, "network.interfaces.*.bytes_recv", "node_network_receive_bytes_total", "device", 1 },
        { SAMPLE_ROOT_METRICS, "network.interfaces.*.bytes_sent", "node_network_transmit_bytes_total", "device", 1 },
        { SAMPLE_ROOT_METRICS, "network.interfaces.*.packets_recv", "node_network_receive_packets_total", "device", 1 },
        { SAMPLE_ROOT_METRICS, "network.interfaces.*.packets_sent", "node_network_transmit_packets_total", "device", 1 },
        { SAMPLE_ROOT_METRICS, "network.interfaces.*.errin", "node_network_receive_errs_total", "device", 1 },
        { SAMPLE_ROOT_METRICS, "network.interfaces.*.errout", "node_network_transmit_errs_total", "device", 1 },
        { SAMPLE_ROOT_METRICS, "network.interfaces.*.dropin", "node_network_receive_drop_total", "device", 1 },
        { SAMPLE_ROOT_METRICS, "network.interfaces.*.dropout", "node_network_transmit_drop_total", "device", 1 },
        { SAMPLE_ROOT_METRICS, "cpu.cpu_per_core_percent.*", "resolvix_cpu_per_core_percent", "cpu", 1 },
        { SAMPLE_ROOT_METRICS, "disk.disk_usage.*.#", "resolvix_disk_usage_", "mountpoint", 1 },
        { SAMPLE_ROOT_METRICS, "disk.disks.*.#", "resolvix_disk_", "device", 1 },
        { SAMPLE_ROOT_METRICS, "network.interfaces.*.#", "resolvix_network_", "device", 1 },
        { SAMPLE_ROOT_METRICS, "custom.*", "resolvix_custom", "name", 1 },
        { SAMPLE_ROOT_METRICS, "custom.*.#", "resolvix_custom_", "name", 1 },

        { SAMPLE_ROOT_STATS, "memory.total", "node_memory_MemTotal_bytes", NULL, 1 },
        { SAMPLE_ROOT_STATS, "memory.available", "node_memory_MemAvailable_bytes", NULL, 1 },
        { SAMPLE_ROOT_STATS, "memory.free", "node_memory_MemFree_bytes", NULL, 1 },
        { SAMPLE_ROOT_STATS, "disks.*.total", "node_filesystem_size_bytes", "device", 1 },
        { SAMPLE_ROOT_STATS, "disks.*.free", "node_filesystem_avail_bytes", "device", 1 },
        { SAMPLE_ROOT_STATS, "network.*.bytes_recv", "node_network_receive_bytes_total", "device", 1 },
        { SAMPLE_ROOT_STATS, "network.*.bytes_sent", "node_network_transmit_bytes_total", "device", 1 },
        { SAMPLE_ROOT_STATS, "disks.*.#", "resolvix_disks_", "device", 1 },
        { SAMPLE_ROOT_STATS, "network.*.#", "resolvix_network_", "device", 1 },
};

/* Split path into unescaped components, in place in buf. */
static int split(const char *path, char *buf, size_t size, char **comp, size_t *ret_n) {
        size_t n = 0, len = 0;

        if (!*path)
                return -EINVAL;
        comp[n++] = buf;
        for (const char *c = path; *c; c++) {
                if (len + 2 > size)
                        return -EINVAL;
                if (*c == '\\') {
                        if (!c[1])
                                return -EINVAL;
                        buf[len++] = *++c;
                } else if (*c == '.') {
                        buf[len++] = '\0';
                        if (n == COMPONENTS_MAX)
                                return -EINVAL;
                        comp[n++] = buf + len;
                } else
                        buf[len++] = *c;
        }
        buf[len] = '\0';
        *ret_n = n;
        return 0;
}

/* Append s to the name, every byte outside [A-Za-z0-9_:] as '_'. */
static void append_sanitized(char *name, size_t *len, const char *s) {
        for (; *s && *len < RW_NAME_MAX; s++) {
                bool ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                          *s == '_' || *s == ':';

                name[(*len)++] = ok ? *s : '_';
        }
        name[*len] = '\0';
}

static bool match(const struct rule *r, char **comp, size_t n, struct rw_name *out) {
        const char *p = r->pattern, *star = NULL, *hash = NULL;
        size_t i = 0, len;

        while (*p) {
                const char *end = strchrnul(p, '.');
                size_t plen = (size_t) (end - p);

                if (i == n)
                        return false;
                if (plen == 1 && *p == '*')
                        star = comp[i];
                else if (plen == 1 && *p == '#')
                        hash = comp[i];
                else if (strlen(comp[i]) != plen || !strneq(comp[i], p, plen))
                        return false;
                i++;
                p = *end ? end + 1 : end;
        }
        if (i != n)
                return false;
        len = strlen(r->name);
        memcpy(out->name, r->name, len + 1);
        if (hash)
                append_sanitized(out->name, &len, hash);
        out->label = r->label;
        if (r->label)
                snprintf(out->label_value, sizeof out->label_value, "%s", star);
        out->scale = r->scale;
        return true;
}

int rw_name_of(const char *path, enum sample_root root, struct rw_name *ret) {
        char buf[STORE_METRIC_MAX + 2], *comp[COMPONENTS_MAX];
        size_t n, len = 0;
        int r;

        r = split(path, buf, sizeof buf, comp, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(rules); i++)
                if (rules[i].root == root && match(&rules[i], comp, n, ret))
                        return 0;
        memcpy(ret->name, "resolvix", 9);
        len = 8;
        for (size_t i = 0; i < n; i++) {
                if (len < RW_NAME_MAX)
                        ret->name[len++] = '_';
                append_sanitized(ret->name, &len, comp[i]);
        }
        ret->name[len] = '\0';
        ret->label = NULL;
        ret->scale = 1;
        return 0;
}

/* ---- the cache ----------------------------------------------------------- */

struct cached_name {
        uint32_t name, label_value; /* offsets into strings */
        const char *label;
        double scale;
};

struct rw_name_cache {
        struct store_map *index; /* the root's byte and the path → names[] */
        struct cached_name *names;
        size_t n_names, cap_names;
        char *strings;
        size_t n_strings, cap_strings;
        struct rw_name scratch; /* the answer just made */
};

int rw_name_cache_new(struct rw_name_cache **ret) {
        struct rw_name_cache *c = calloc(1, sizeof *c);

        if (!c)
                return -ENOMEM;
        c->index = store_map_new();
        if (!c->index) {
                free(c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

void rw_name_cache_free(struct rw_name_cache *c) {
        if (!c)
                return;
        store_map_free(c->index);
        free(c->names);
        free(c->strings);
        free(c);
}

size_t rw_name_cache_size(const struct rw_name_cache *c) {
        return c->n_names;
}

static int keep_string(struct rw_name_cache *c, const char *s, uint32_t *ret) {
        size_t len = strlen(s) + 1;

        if (GROW(c->strings, c->cap_strings, c->n_strings + len, 16 * 1024) < 0)
                return -ENOMEM;
        memcpy(c->strings + c->n_strings, s, len);
        *ret = (uint32_t) c->n_strings;
        c->n_strings += len;
        return 0;
}

/* Keep the scratch answer under key; on failure it is simply not kept. */
static void keep(struct rw_name_cache *c, const char *key, size_t len) {
        struct cached_name *n;
        size_t mark = c->n_strings;

        /* Full: start over rather than refuse, so that the paths in use
         * now are kept, not the first ones ever seen (interfaces and
         * mounts come and go). */
        if (c->n_names == RW_NAME_CACHE_MAX) {
                store_map_clear(c->index);
                c->n_names = 0;
                c->n_strings = mark = 0;
        }
        if (GROW(c->names, c->cap_names, c->n_names + 1, 256) < 0)
                return;
        n = &c->names[c->n_names];
        *n = (struct cached_name){ .label = c->scratch.label, .scale = c->scratch.scale };
        if (keep_string(c, c->scratch.name, &n->name) < 0 ||
            (c->scratch.label && keep_string(c, c->scratch.label_value, &n->label_value) < 0) ||
            store_map_put(c->index, key, len, (int64_t) c->n_names) < 0) {
                c->n_strings = mark;
                return;
        }
        c->n_names++;
}

int rw_name_cached(struct rw_name_cache *c, const char *path, enum sample_root root, struct rw_name_view *ret) {
        char key[1 + STORE_METRIC_MAX + 1];
        size_t len = strlen(path);
        int64_t i;
        int r;

        /* The root's byte first: one path names differently under each. */
        if (len < sizeof key - 1) {
                key[0] = (char) ('0' + root);
                memcpy(key + 1, path, len);
                if (store_map_get(c->index, key, len + 1, &i) == 1) {
                        const struct cached_name *n = &c->names[i];

                        *ret = (struct rw_name_view){ .name = c->strings + n->name, .label = n->label,
                                                      .label_value = n->label ? c->strings + n->label_value : NULL,
                                                      .scale = n->scale };
                        return 0;
                }
        }
        r = rw_name_of(path, root, &c->scratch);
        if (r < 0)
                return r;
        if (len < sizeof key - 1)
                keep(c, key, len + 1);
        *ret = (struct rw_name_view){ .name = c->scratch.name, .label = c->scratch.label,
                                      .label_value = c->scratch.label ? c->scratch.label_value : NULL,
                                      .scale = c->scratch.scale };
        return 0;
}
