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

/* ---- sample_scan(): the same, in one pass ------------------------------- */

static char *fixture_text(const char *name, size_t *len) {
        static char buf[65536];
        char path[512];
        ssize_t n;

        snprintf(path, sizeof(path), "%s/hub/%s", TEST_DATA_DIR, name);
        n = read_file(path, buf, sizeof(buf));
        cr_assert_gt(n, 0, "cannot read %s", path);
        *len = (size_t) n;
        return buf;
}

/* m is what cJSON's tree holds under name: the same kind, string and bits. */
static void same_member(const cJSON *tree, const char *name, const struct json_member *m) {
        struct json_member want;

        json_member_of(tree, name, &want);
        cr_assert_eq(m->kind, want.kind, "%s", name);
        if (want.kind == JSON_STRING)
                cr_assert_str_eq(m->string, want.string);
        if (want.kind == JSON_NUMBER)
                cr_assert_eq(memcmp(&m->number, &want.number, sizeof(double)), 0, "%s", name);
}

/* text through sample_scan() and through cJSON's tree: the same values,
 * as many skipped, the same members and root. vals is left as the scan
 * filled it. Returns the scan's result. */
static int scan_both(const char *text, size_t len, struct sample_scan *sc) {
        _cleanup_free_ struct sample_values *tree_vals = malloc(sizeof(*tree_vals));
        _cleanup_json_ cJSON *j = NULL;
        int n;

        cr_assert_not_null(tree_vals);
        n = sample_scan(text, len, vals, sc);
        if (n == -EAGAIN)
                return n;
        cr_assert_geq(n, 0);
        j = cJSON_ParseWithLength(text, len);
        cr_assert(cJSON_IsObject(j), "the scan took what cJSON refuses: %.*s", (int) len, text);
        cr_assert_eq(sample_values_flatten(j, tree_vals), n, "%.*s", (int) len, text);
        cr_assert_eq(tree_vals->skipped, vals->skipped, "%.*s", (int) len, text);
        cr_assert_eq(tree_vals->root, vals->root, "%.*s", (int) len, text);
        for (int i = 0; i < n; i++) {
                cr_assert_str_eq(vals->v[i].path, tree_vals->v[i].path);
                cr_assert_eq(memcmp(&vals->v[i].value, &tree_vals->v[i].value, sizeof(double)), 0, "%s",
                             vals->v[i].path);
        }
        same_member(j, "stream", &sc->stream);
        same_member(j, "seq", &sc->seq);
        same_member(j, "timestamp", &sc->timestamp);
        return n;
}

static int scan_text(const char *text, struct sample_scan *sc) {
        return scan_both(text, strlen(text), sc);
}

Test(sample_values, scan_names_as_the_tree_does) {
        static const char *const fixtures[] = { "resolvix-sample.json", "system-monitor-stats.json",
                                                "client-record.json" };
        static const char *const texts[] = {
                "{\"metrics\": {\"a\": [1, \"x\", 2], \"b\": [], \"\": 5, \"c\": {\"\": 6, \"d\": true,"
                " \"e\": null, \"f\": [[1]]}, \"g\": [3.5]}}",
                "{\"metrics\": {\"cpu\": {\"x\": 1, \"x\": 2}, \"m\": {\"a\": {\"p\": 1}, \"a\": {\"q\": 2}}}}",
                "{\"cpu\": 18, \"cpu_load\": 99, \"mem\": 8513, \"unix_time\": 1651155333}",
                "{\"cpu\": \"x\", \"cpu_load\": 99, \"storage\": [1], \"storage\": 5}",
                "{\"metrics\": 1, \"stats\": {\"a\": 1}, \"metrics\": {\"b\": 2}}",
                "{\"stats\": [1], \"stats\": {\"a\": 1}, \"cpu\": 3}",
                "{\"metrics\": {\"k.e\\\\y\\\"\\t\\/\": 1.5, \"a\": {\"\": [1, 2]}, \"b\": [1, [2], 3]}}",
                "{\"metrics\": {\"a\": {\"b\": {\"c\": {\"d\": {\"e\": {\"f\": {\"g\": 1}}}}}}}}",
                "  {\"metrics\" :{ }, \"stream\" : \"s\" , \"seq\":0}\t\r\n ",
                "{}",
        };
        struct sample_scan sc;
        size_t len;

        for (size_t i = 0; i < ELEMENTSOF(fixtures); i++) {
                const char *text = fixture_text(fixtures[i], &len);

                cr_assert_geq(scan_both(text, len, &sc), 0, "%s went to cJSON", fixtures[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(texts); i++)
                cr_assert_geq(scan_text(texts[i], &sc), 0, "went to cJSON: %s", texts[i]);

        /* What a bound cuts is counted as the tree's walk counts it. */
        _cleanup_json_ cJSON *j = cJSON_CreateObject();
        cJSON *m = cJSON_AddObjectToObject(j, "metrics");
        char longname[STORE_METRIC_MAX + 1];

        for (int i = 0; i < STORE_VALUES_MAX + 88; i++) {
                char name[32];
                snprintf(name, sizeof(name), "m%d", i);
                cJSON_AddNumberToObject(m, name, i * 0.25);
        }
        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = 0;
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(m, "long"), longname, 1);
        _cleanup_free_ char *printed = cJSON_PrintUnformatted(j);
        cr_assert_eq(scan_text(printed, &sc), STORE_VALUES_MAX);
        cr_assert_eq(vals->skipped, 88 + 1);
}

Test(sample_values, scan_reads_numbers_as_cjson_does) {
        static const char *const numbers[] = {
                "0", "-0", "-0.0", "7", "1.5", "0.1", "123456789012345", "0.123456789012345", "1234567890123456",
                "9007199254740993", "3.14159265358979323846", "1e3", "-2.5E-3", "1E+2", "1e-320", "1e309",
                "-1e309", "0.000000000000001",
        };
        struct sample_scan sc;
        char text[128];

        for (size_t i = 0; i < ELEMENTSOF(numbers); i++) {
                snprintf(text, sizeof text, "{\"metrics\": {\"v\": %s, \"a\": [%s]}, \"seq\": %s}", numbers[i],
                         numbers[i], numbers[i]);
                cr_assert_geq(scan_text(text, &sc), 0, "went to cJSON: %s", text);
        }
}

Test(sample_values, scan_reads_the_members) {
        struct sample_scan sc;

        cr_assert_eq(scan_text("{\"stream\": \"a\\tb\", \"seq\": 12, \"timestamp\": \"2024-01-15T10:30:45Z\","
                               " \"stream\": \"second\", \"seq\": 13, \"metrics\": {\"x\": 1}}",
                               &sc),
                     1);
        cr_assert_eq(sc.stream.kind, JSON_STRING);
        cr_assert_str_eq(sc.stream.string, "a\tb");
        cr_assert_eq(sc.seq.kind, JSON_NUMBER);
        cr_assert_float_eq(sc.seq.number, 12, 0);
        cr_assert_eq(sc.timestamp.kind, JSON_STRING);
        cr_assert_str_eq(sc.timestamp.string, "2024-01-15T10:30:45Z");
        cr_assert_eq(vals->root, SAMPLE_ROOT_METRICS);

        cr_assert_eq(scan_text("{\"seq\": \"5\", \"timestamp\": 1700000000.5, \"stream\": null}", &sc), 0);
        cr_assert_eq(sc.seq.kind, JSON_STRING);
        cr_assert_str_eq(sc.seq.string, "5");
        cr_assert_eq(sc.timestamp.kind, JSON_NUMBER);
        cr_assert_eq(sc.stream.kind, JSON_OTHER);
        cr_assert_eq(vals->root, SAMPLE_ROOT_CLIENT);
        cr_assert_eq(scan_text("{\"stats\": {\"a\": 1}}", &sc), 1);
        cr_assert_eq(sc.stream.kind, JSON_ABSENT);
        cr_assert_eq(vals->root, SAMPLE_ROOT_STATS);
}

/* The longest key a path holds, kept with its length in a byte: named once,
 * its repeat found; one byte to escape makes it too long. */
Test(sample_values, scan_longest_key) {
        char key[STORE_METRIC_MAX + 1], text[2 * STORE_METRIC_MAX + 64];
        struct sample_scan sc;

        memset(key, 'k', STORE_METRIC_MAX);
        key[STORE_METRIC_MAX] = 0;
        snprintf(text, sizeof text, "{\"metrics\": {\"%s\": 1, \"%s\": 2}}", key, key);
        cr_assert_eq(scan_text(text, &sc), 1);
        cr_assert_str_eq(vals->v[0].path, key);
        cr_assert_eq(vals->v[0].value, 1);
        cr_assert_eq(vals->skipped, 0);

        key[STORE_METRIC_MAX - 1] = '.';
        snprintf(text, sizeof text, "{\"metrics\": {\"%s\": 1, \"a.b\": 2}}", key);
        cr_assert_eq(scan_text(text, &sc), 1);
        cr_assert_str_eq(vals->v[0].path, "a\\.b");
        cr_assert_eq(vals->skipped, 1);
}

/* What the scan does not take goes to cJSON, which takes some of it and
 * says what is wrong with the rest. */
Test(sample_values, scan_hands_back_what_it_does_not_take) {
        static const char *const texts[] = {
                "",
                "[1]",
                "{\"metrics\": {\"caf\\u00e9\": 1}}",
                "{\"stream\": \"\\u0041\"}",
                "{\"metrics\": {\"a\": \"tab\there\"}}",
                "{\"metrics\": {\"a\": 01}}",
                "{\"metrics\": {\"a\": 1.}}",
                "{\"metrics\": {\"a\": .5}}",
                "{\"metrics\": {\"a\": +1}}",
                "{\"metrics\": {\"a\": 1e}}",
                "{\"metrics\": {\"a\": 1}",
                "{\"metrics\": {\"a\": 1},}",
                "{\"metrics\": {\"a\": 1}} x",
                "{\"metrics\": {\"a\": 1}}\f",
                "\xef\xbb\xbf{\"metrics\": {\"a\": 1}}",
                "{\"metrics\": {\"a\": tru}}",
                "{\"metrics\": {\"a\": \"\\x\"}}",
                "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":[]}}}}}}}}}",
        };
        char key[STORE_METRIC_MAX + 32], text[STORE_METRIC_MAX + 64];
        struct sample_scan sc;

        for (size_t i = 0; i < ELEMENTSOF(texts); i++)
                cr_assert_eq(sample_scan(texts[i], strlen(texts[i]), vals, &sc), -EAGAIN, "taken: %s", texts[i]);
        /* A number of 64 characters, which cJSON would read in part. */
        snprintf(text, sizeof text, "{\"metrics\": {\"a\": 1.%062d}}", 0);
        cr_assert_eq(sample_scan(text, strlen(text), vals, &sc), -EAGAIN);
        /* A key longer than any path, a member string longer than kept. */
        memset(key, 'k', sizeof key - 1);
        key[STORE_METRIC_MAX + 1] = 0;
        snprintf(text, sizeof text, "{\"metrics\": {\"%s\": 1}}", key);
        cr_assert_eq(sample_scan(text, strlen(text), vals, &sc), -EAGAIN);
        key[SAMPLE_SCAN_STRING_MAX + 1] = 0;
        snprintf(text, sizeof text, "{\"stream\": \"%s\"}", key);
        cr_assert_eq(sample_scan(text, strlen(text), vals, &sc), -EAGAIN);
        key[SAMPLE_SCAN_STRING_MAX] = 0;
        snprintf(text, sizeof text, "{\"stream\": \"%s\"}", key);
        cr_assert_eq(scan_text(text, &sc), 0);

        /* As many keys in the objects being named as the scan keeps (8
         * bytes each: a length, 6 letters, a NUL), then one more, empty. */
        _cleanup_free_ char *many = malloc(32 * 1024);
        size_t used = 0;

        cr_assert_not_null(many);
        used += (size_t) sprintf(many, "{\"metrics\": {");
        for (int i = 0; i < 1024; i++)
                used += (size_t) sprintf(many + used, "\"k%05d\": %d, ", i, i);
        sprintf(many + used - 2, "}}");
        cr_assert_eq(scan_text(many, &sc), STORE_VALUES_MAX);
        sprintf(many + used, "\"\": 1}}");
        cr_assert_eq(sample_scan(many, strlen(many), vals, &sc), -EAGAIN);
}
