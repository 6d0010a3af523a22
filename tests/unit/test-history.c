/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "history.h"

static struct sample_cpu cores[HISTORY_CORES_MAX + 8];

/* A sample taken at second t whose figures all derive from v. */
static struct sample sample_at(int64_t t, double v, size_t n_cpu) {
        struct sample s = {
                .realtime_usec = (uint64_t) t * 1000000,
                .memory = { .total = 1000, .available = 1000 - (uint64_t) (v * 10), .swap_total = 0 },
                .disk = { .read_bytes_per_sec = v * 1024 * 1024, .write_bytes_per_sec = 2 * v * 1024 * 1024 },
                .network = { .rx_bytes_per_sec = 3 * v * 1024 * 1024, .tx_bytes_per_sec = 4 * v * 1024 * 1024 },
        };

        s.cpu.usage_percent = v;
        s.cpu.load = (struct loadavg){ .load1 = v / 10, .load5 = 0.5, .load15 = 0.25 };
        for (size_t i = 0; i < n_cpu; i++)
                cores[i].usage_percent = v + (double) i;
        s.cpu.per_cpu = cores;
        s.cpu.n_cpu = n_cpu;
        return s;
}

static cJSON *answer(const struct history *h, int64_t since_ms, int *count) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        cJSON *j;

        cr_assert_not_null(f);
        *count = history_write_json(h, since_ms, 1, f);
        cr_assert_eq(fclose(f), 0);
        j = cJSON_Parse(buf);
        cr_assert_not_null(j, "not JSON: %s", buf);
        free(buf);
        return j;
}

static double item(const cJSON *j, const char *name, int i) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, name);

        cr_assert(cJSON_IsArray(a), "no array %s", name);
        return cJSON_GetArrayItem(a, i)->valuedouble;
}

Test(history, capacity_bounds) {
        struct history *h = NULL;

        cr_assert_eq(history_new(1, &h), -EINVAL);
        cr_assert_eq(history_new(HISTORY_RECORDS_MAX + 1, &h), -EINVAL);
        cr_assert_null(h);
        cr_assert_eq(history_capacity_for(1), 3600);
        cr_assert_eq(history_capacity_for(60), 60);
        cr_assert_eq(history_capacity_for(7), 515);
        cr_assert_eq(history_capacity_for(86400), 2);
}

Test(history, empty_is_valid_json) {
        _cleanup_history_ struct history *h = NULL;
        int n;

        cr_assert_eq(history_new(4, &h), 0);
        cJSON *j = answer(h, 0, &n);
        cr_assert_eq(n, 0);
        cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "timestamps")), 0);
        cr_assert_eq(cJSON_GetObjectItem(j, "count")->valueint, 0);
        cJSON_Delete(j);
}

Test(history, keeps_the_newest_capacity_records_in_order) {
        _cleanup_history_ struct history *h = NULL;
        int n;

        cr_assert_eq(history_new(3, &h), 0);
        for (int i = 1; i <= 5; i++) {
                struct sample s = sample_at(1000 + i, 10.0 * i, 2);
                history_add(h, &s);
        }
        cr_assert_eq(history_size(h), 3);
        cJSON *j = answer(h, 0, &n);
        cr_assert_eq(n, 3);
        cr_assert_eq(item(j, "timestamps", 0), 1003000.0);
        cr_assert_eq(item(j, "timestamps", 2), 1005000.0);
        cr_assert_float_eq(item(j, "cpu_usage_percent", 0), 30.0, 1e-9);
        cr_assert_float_eq(item(j, "memory_usage_percent", 1), 40.0, 1e-9);
        cr_assert_float_eq(item(j, "swap_usage_percent", 1), 0.0, 1e-9);
        cr_assert_float_eq(item(j, "load_avg_1min", 2), 5.0, 1e-9);
        cr_assert_float_eq(item(j, "disk_read_mb_per_sec", 2), 50.0, 1e-9);
        cr_assert_float_eq(item(j, "disk_write_mb_per_sec", 2), 100.0, 1e-9);
        cr_assert_float_eq(item(j, "bytes_recv_mb_per_sec", 2), 150.0, 1e-9);
        cr_assert_float_eq(item(j, "bytes_sent_mb_per_sec", 2), 200.0, 1e-9);
        const cJSON *pc = cJSON_GetObjectItem(j, "cpu_per_core_percent");
        cr_assert_eq(cJSON_GetArraySize(pc), 3);
        cr_assert_float_eq(cJSON_GetArrayItem(cJSON_GetArrayItem(pc, 2), 1)->valuedouble, 51.0, 1e-9);
        cJSON_Delete(j);
}

Test(history, since_answers_only_what_came_after) {
        _cleanup_history_ struct history *h = NULL;
        int n;

        cr_assert_eq(history_new(10, &h), 0);
        for (int i = 1; i <= 5; i++) {
                struct sample s = sample_at(1000 + i, i, 1);
                history_add(h, &s);
        }
        cJSON *j = answer(h, 1003000, &n);
        cr_assert_eq(n, 2);
        cr_assert_eq(item(j, "timestamps", 0), 1004000.0);
        cJSON_Delete(j);
        j = answer(h, 2000000, &n);
        cr_assert_eq(n, 0);
        cJSON_Delete(j);
}

Test(history, per_core_is_bounded_and_clamped) {
        _cleanup_history_ struct history *h = NULL;
        struct sample s = sample_at(1, 99.5, HISTORY_CORES_MAX + 8);
        int n;

        cr_assert_eq(history_new(2, &h), 0);
        history_add(h, &s);
        cJSON *j = answer(h, 0, &n);
        const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "cpu_per_core_percent"), 0);
        cr_assert_eq(cJSON_GetArraySize(row), HISTORY_CORES_MAX);
        cr_assert_float_eq(cJSON_GetArrayItem(row, 0)->valuedouble, 99.5, 1e-9);
        cr_assert_float_eq(cJSON_GetArrayItem(row, 1)->valuedouble, 100.0, 1e-9);
        cJSON_Delete(j);
}
