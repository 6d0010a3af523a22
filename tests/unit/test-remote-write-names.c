/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "remote-write-names.h"

#define GIB 1073741824.0

/* The table of docs/fleet.md, "Remote write", case by case. */
static const struct {
        enum sample_root root;
        const char *path, *name, *label, *label_value;
        double scale;
} cases[] = {
        { SAMPLE_ROOT_METRICS, "cpu.load_avg_1min", "node_load1", NULL, NULL, 1 },
        { SAMPLE_ROOT_METRICS, "cpu.load_avg_15min", "node_load15", NULL, NULL, 1 },
        { SAMPLE_ROOT_METRICS, "memory.memory_available_gb", "node_memory_MemAvailable_bytes", NULL, NULL, GIB },
        { SAMPLE_ROOT_METRICS, "memory.memory_used_gb", "resolvix_memory_memory_used_gb", NULL, NULL, 1 },
        { SAMPLE_ROOT_METRICS, "disk.disk_usage./.total_gb", "node_filesystem_size_bytes", "mountpoint", "/", GIB },
        { SAMPLE_ROOT_METRICS, "disk.disk_usage./srv/a\\.b.free_gb", "node_filesystem_avail_bytes", "mountpoint",
          "/srv/a.b", GIB },
        { SAMPLE_ROOT_METRICS, "disk.disk_usage./.usage_percent", "resolvix_disk_usage_usage_percent", "mountpoint",
          "/", 1 },
        { SAMPLE_ROOT_METRICS, "disk.disks.sda.read_bytes", "node_disk_read_bytes_total", "device", "sda", 1 },
        { SAMPLE_ROOT_METRICS, "network.interfaces.eth0.dropout", "node_network_transmit_drop_total", "device",
          "eth0", 1 },
        { SAMPLE_ROOT_METRICS, "network.bytes_recv_mb_per_sec", "resolvix_network_bytes_recv_mb_per_sec", NULL,
          NULL, 1 },
        { SAMPLE_ROOT_METRICS, "cpu.cpu_per_core_percent.3", "resolvix_cpu_per_core_percent", "cpu", "3", 1 },
        { SAMPLE_ROOT_METRICS, "custom.app\\.requests", "resolvix_custom", "name", "app.requests", 1 },
        { SAMPLE_ROOT_METRICS, "custom.app\\.requests.value", "resolvix_custom_value", "name", "app.requests", 1 },
        { SAMPLE_ROOT_METRICS, "weird-key.a b", "resolvix_weird_key_a_b", NULL, NULL, 1 },
        { SAMPLE_ROOT_STATS, "memory.free", "node_memory_MemFree_bytes", NULL, NULL, 1 },
        { SAMPLE_ROOT_STATS, "disks.sda1.total", "node_filesystem_size_bytes", "device", "sda1", 1 },
        { SAMPLE_ROOT_STATS, "disks.sda1.used", "resolvix_disks_used", "device", "sda1", 1 },
        { SAMPLE_ROOT_STATS, "network.eth0.bytes_sent", "node_network_transmit_bytes_total", "device", "eth0", 1 },
        { SAMPLE_ROOT_STATS, "cpu.percent_used", "resolvix_cpu_percent_used", NULL, NULL, 1 },
        /* A stats body's "memory.total" is not a resolvix sample's. */
        { SAMPLE_ROOT_METRICS, "memory.total", "resolvix_memory_total", NULL, NULL, 1 },
        { SAMPLE_ROOT_CLIENT, "mem", "resolvix_mem", NULL, NULL, 1 },
        { SAMPLE_ROOT_CLIENT, "cpu.load_avg_1min", "resolvix_cpu_load_avg_1min", NULL, NULL, 1 },
};

Test(remote_write_names, table) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                struct rw_name n;

                cr_assert_eq(rw_name_of(cases[i].path, cases[i].root, &n), 0, "%s", cases[i].path);
                cr_expect_str_eq(n.name, cases[i].name, "%s", cases[i].path);
                if (cases[i].label) {
                        cr_assert(n.label, "%s", cases[i].path);
                        cr_expect_str_eq(n.label, cases[i].label, "%s", cases[i].path);
                        cr_expect_str_eq(n.label_value, cases[i].label_value, "%s", cases[i].path);
                } else
                        cr_expect_null(n.label, "%s", cases[i].path);
                cr_expect_eq(n.scale, cases[i].scale, "%s", cases[i].path);
        }
}

Test(remote_write_names, malformed) {
        struct rw_name n;
        char longest[STORE_METRIC_MAX + 1];

        cr_expect_eq(rw_name_of("", SAMPLE_ROOT_METRICS, &n), -EINVAL);
        cr_expect_eq(rw_name_of("cpu\\", SAMPLE_ROOT_METRICS, &n), -EINVAL);
        /* The longest path still fits its name. */
        memset(longest, 'a', STORE_METRIC_MAX);
        longest[STORE_METRIC_MAX] = '\0';
        cr_assert_eq(rw_name_of(longest, SAMPLE_ROOT_METRICS, &n), 0);
        cr_expect_eq(strlen(n.name), 9 + STORE_METRIC_MAX);
}

static void expect_case(size_t i, const struct rw_name_view *n) {
        cr_expect_str_eq(n->name, cases[i].name, "%s", cases[i].path);
        if (cases[i].label) {
                cr_assert(n->label, "%s", cases[i].path);
                cr_expect_str_eq(n->label, cases[i].label, "%s", cases[i].path);
                cr_expect_str_eq(n->label_value, cases[i].label_value, "%s", cases[i].path);
        } else
                cr_expect_null(n->label, "%s", cases[i].path);
        cr_expect_eq(n->scale, cases[i].scale, "%s", cases[i].path);
}

/* The cache answers as the rules do, from the first lookup of a path and
 * from those after, each root apart (memory.total is in both tables). */
Test(remote_write_names, cached_as_the_rules_name) {
        struct rw_name_cache *c = NULL;
        struct rw_name_view n;

        cr_assert_eq(rw_name_cache_new(&c), 0);
        for (int round = 0; round < 2; round++)
                for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                        cr_assert_eq(rw_name_cached(c, cases[i].path, cases[i].root, &n), 0, "%s", cases[i].path);
                        expect_case(i, &n);
                }
        cr_expect_eq(rw_name_cache_size(c), sizeof cases / sizeof cases[0]);
        cr_expect_eq(rw_name_cached(c, "", SAMPLE_ROOT_METRICS, &n), -EINVAL);
        cr_expect_eq(rw_name_cached(c, "cpu\\", SAMPLE_ROOT_METRICS, &n), -EINVAL);
        cr_expect_eq(rw_name_cache_size(c), sizeof cases / sizeof cases[0]);
        rw_name_cache_free(c);
}

/* A node that sends ever new paths fills the cache to its bound and no
 * further; it starts over, and every path is still named right. */
Test(remote_write_names, cache_bounded) {
        struct rw_name_cache *c = NULL;
        struct rw_name_view n;
        char path[64], device[32];

        cr_assert_eq(rw_name_cache_new(&c), 0);
        for (unsigned i = 0; i < RW_NAME_CACHE_MAX + 100; i++) {
                snprintf(device, sizeof device, "veth%u", i);
                snprintf(path, sizeof path, "network.interfaces.%s.bytes_recv", device);
                cr_assert_eq(rw_name_cached(c, path, SAMPLE_ROOT_METRICS, &n), 0);
                cr_expect_str_eq(n.name, "node_network_receive_bytes_total");
                cr_expect_str_eq(n.label_value, device);
                cr_assert_leq(rw_name_cache_size(c), RW_NAME_CACHE_MAX);
                if (i == RW_NAME_CACHE_MAX - 1)
                        cr_expect_eq(rw_name_cache_size(c), RW_NAME_CACHE_MAX);
        }
        cr_expect_eq(rw_name_cache_size(c), 100);
        /* The table's paths, named right after the cache started over. */
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                cr_assert_eq(rw_name_cached(c, cases[i].path, cases[i].root, &n), 0, "%s", cases[i].path);
                expect_case(i, &n);
        }
        rw_name_cache_free(c);
}
