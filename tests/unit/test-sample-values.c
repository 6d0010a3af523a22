/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "jsonutil.h"
#include "macro.h"
#include "sample-values.h"

static struct sample_values *vals;

static void setup(void) {
        vals = malloc(sizeof(*vals));
        cr_assert_not_null(vals);
}

static void teardown(void) {
        free(vals);
}

static cJSON *fixture(const char *name) {
        static char buf[65536];
        char path[512];
        ssize_t n;
        cJSON *j;

        snprintf(path, sizeof(path), "%s/hub/%s", TEST_DATA_DIR, name);
        n = read_file(path, buf, sizeof(buf));
        cr_assert_gt(n, 0, "cannot read %s", path);
        j = cJSON_ParseWithLength(buf, (size_t) n);
        cr_assert_not_null(j, "%s is not JSON", path);
        return j;
}

static cJSON *parse(const char *text) {
        cJSON *j = cJSON_Parse(text);
        cr_assert_not_null(j, "bad test JSON: %s", text);
        return j;
}

/* The value named path, asserted present once. */
static double value(const char *path) {
        int found = -1;

        for (size_t i = 0; i < vals->n; i++)
                if (streq(vals->v[i].path, path)) {
                        cr_assert_eq(found, -1, "%s named twice", path);
                        found = (int) i;
                }
        cr_assert_neq(found, -1, "no value named %s", path);
        return vals->v[found].value;
}

static bool has(const char *path) {
        for (size_t i = 0; i < vals->n; i++)
                if (streq(vals->v[i].path, path))
                        return true;
        return false;
}

TestSuite(sample_values, .init = setup, .fini = teardown);

Test(sample_values, resolvix_sample_names_every_number) {
        _cleanup_json_ cJSON *j = fixture("resolvix-sample.json");
        int n = sample_values_flatten(j, vals);

        cr_assert_eq(n, (int) vals->n);
        cr_assert_eq(vals->skipped, 0);
        cr_assert_float_eq(value("cpu.cpu_usage_percent"), 99, 1e-9);
        cr_assert_float_eq(value("cpu.load_avg_1min"), 3.19, 1e-9);
        cr_assert_float_eq(value("cpu.cpu_per_core_percent.0"), 97.03, 1e-9);
        cr_assert_float_eq(value("cpu.cpu_per_core_percent.1"), 100, 1e-9);
        cr_assert_float_eq(value("memory.memory_usage_percent"), 2.31, 1e-9);
        cr_assert_float_eq(value("disk.disk_io.read_mb_per_sec"), 0.45, 1e-9);
        cr_assert_float_eq(value("network.bytes_recv_mb_per_sec"), 0, 1e-9);
        cr_assert_float_eq(value("network.packets_recv"), 4720, 1e-9);
        cr_assert_float_eq(value("network.interfaces.eth0.bytes_recv"), 191949903, 1e-9);
        cr_assert_float_eq(value("disk.disk_usage./.usage_percent"), 17.38, 1e-9);
        /* A '.' inside a mount point is escaped, so the path stays one name. */
        cr_assert_float_eq(value("disk.disk_usage./srv/data\\.d.usage_percent"), 11.9, 1e-9);
        cr_assert_float_eq(value("custom.queue_depth"), 17, 1e-9);
        cr_assert_float_eq(value("custom.temp\\\\c"), -3.5, 1e-9);
        cr_assert_float_eq(value("processes.process_count"), 94, 1e-9);
        /* Strings, the ranking of processes and the envelope carry no value. */
        cr_assert(!has("disk.disk_usage./.device"));
        cr_assert(!has("processes.top_memory_processes.0.pid"));
        cr_assert(!has("seq"));
        cr_assert(!has("interval"));
        for (size_t i = 0; i < vals->n; i++)
                cr_assert(strncmp(vals->v[i].path, "metrics.", 8) != 0);
}

Test(sample_values, system_monitor_stats) {
        _cleanup_json_ cJSON *j = fixture("system-monitor-stats.json");

        cr_assert_eq(sample_values_flatten(j, vals), 13);
        cr_assert_float_eq(value("cpu.percent_used"), 12.5, 1e-9);
        cr_assert_float_eq(value("cpu.frequency"), 2400, 1e-9);
        cr_assert_float_eq(value("memory.total"), 16777216000.0, 1e-3);
        cr_assert_float_eq(value("disks./dev/sda1.used"), 53687091200.0, 1e-3);
        cr_assert_float_eq(value("network.eth0.bytes_recv"), 987654321, 1e-9);
        cr_assert(!has("interval"));
        cr_assert(!has("epoch"));
}

Test(sample_values, client_record) {
        _cleanup_json_ cJSON *j = fixture("client-record.json");

        cr_assert_eq(sample_values_flatten(j, vals), 3);
        cr_assert_float_eq(value("cpu"), 25.9, 1e-9);
        cr_assert_float_eq(value("mem"), 6172, 1e-9);
        cr_assert_float_eq(value("storage"), 95888, 1e-9);

        /* As the seed's report spells it, "cpu" wins over "cpu_load". */
        _cleanup_json_ cJSON *k = parse("{\"cpu\": 18, \"cpu_load\": 99, \"mem\": 8513, \"unix_time\": 1651155333}");
        cr_assert_eq(sample_values_flatten(k, vals), 2);
        cr_assert_float_eq(value("cpu"), 18, 1e-9);
        cr_assert(!has("unix_time"));
}

Test(sample_values, not_an_object) {
        _cleanup_json_ cJSON *a = parse("[1, 2]");
        _cleanup_json_ cJSON *n = parse("3");

        cr_assert_eq(sample_values_flatten(a, vals), -EINVAL);
        cr_assert_eq(sample_values_flatten(n, vals), -EINVAL);
        cr_assert_eq(sample_values_flatten(NULL, vals), -EINVAL);
}

Test(sample_values, arrays_of_mixed_items_and_empty_names) {
        _cleanup_json_ cJSON *j = parse("{\"metrics\": {\"a\": [1, \"x\", 2], \"b\": [], \"\": 5, \"c\": {\"\": 6, \"d\": true,"
                                        " \"e\": null, \"f\": [[1]]}, \"g\": [3.5]}}");

        cr_assert_eq(sample_values_flatten(j, vals), 1);
        cr_assert_float_eq(value("g.0"), 3.5, 1e-9);
        cr_assert_eq(vals->skipped, 2); /* the numbers under empty names */
}

Test(sample_values, duplicate_keys_count_once) {
        _cleanup_json_ cJSON *j = parse("{\"metrics\": {\"cpu\": {\"x\": 1, \"x\": 2}}}");

        cr_assert_eq(sample_values_flatten(j, vals), 1);
        cr_assert_float_eq(value("cpu.x"), 1, 1e-9);
}

Test(sample_values, at_most_values_max) {
        _cleanup_json_ cJSON *j = cJSON_CreateObject();
        cJSON *m = cJSON_AddObjectToObject(j, "metrics");

        for (int i = 0; i < STORE_VALUES_MAX + 88; i++) {
                char name[32];
                snprintf(name, sizeof(name), "m%d", i);
                cJSON_AddNumberToObject(m, name, i);
        }
        cr_assert_eq(sample_values_flatten(j, vals), STORE_VALUES_MAX);
        cr_assert_eq(vals->skipped, 88);
        cr_assert_float_eq(value("m0"), 0, 1e-9);
        cr_assert_float_eq(value("m511"), 511, 1e-9);
        cr_assert(!has("m512"));
}

Test(sample_values, long_paths_and_deep_nesting_are_skipped) {
        _cleanup_json_ cJSON *j = cJSON_CreateObject();
        cJSON *m = cJSON_AddObjectToObject(j, "metrics"), *o = m;
        char longname[STORE_METRIC_MAX + 2];

        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = 0;
        cJSON_AddNumberToObject(m, longname, 1);
        /* Exactly at the bound: kept. */
        longname[STORE_METRIC_MAX] = 0;
        cJSON_AddNumberToObject(m, longname, 2);
        for (int d = 0; d < SAMPLE_VALUES_DEPTH_MAX + 2; d++) {
                cJSON_AddNumberToObject(o, "v", d);
                o = cJSON_AddObjectToObject(o, "n");
        }
        cr_assert_eq(sample_values_flatten(j, vals), 1 + SAMPLE_VALUES_DEPTH_MAX);
        cr_assert_float_eq(value(longname), 2, 1e-9);
        cr_assert_float_eq(value("v"), 0, 1e-9);
        cr_assert_float_eq(value("n.n.n.n.n.n.n.v"), SAMPLE_VALUES_DEPTH_MAX - 1, 1e-9);
        cr_assert_eq(vals->skipped, 1 + 2);
}

Test(sample_values, reuse_resets) {
        _cleanup_json_ cJSON *a = fixture("resolvix-sample.json");
        _cleanup_json_ cJSON *b = fixture("client-record.json");

        cr_assert_gt(sample_values_flatten(a, vals), 40);
        cr_assert_eq(sample_values_flatten(b, vals), 3);
        cr_assert_eq(vals->skipped, 0);
}
