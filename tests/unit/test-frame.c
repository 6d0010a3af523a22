/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "linesplit.h"
#include "macro.h"
#include "utf8.h"

/* Frames are checked by parsing them with cJSON: an independent reader. */

static cJSON *frame(struct frame_writer *w, const char *line, size_t len, bool continues,
                    const struct line_meta *meta, uint64_t seq, char **text) {
        size_t bound = frame_bound(w, line, len, meta), n;
        char *out = malloc(bound + 1);
        cJSON *j;

        n = frame_json(w, out, line, len, continues, meta, seq, 1705314645123456ULL);
        cr_assert_leq(n, bound);
        /* the bound is tight but for the digits of seq */
        cr_assert_geq(n + 20, bound - sizeof ",\"continues\":true" - ISO8601_MAX - (meta ? 64 : 0), "bound %zu for %zu", bound, n);
        cr_assert(utf8_valid(out, n));
        out[n] = '\0';
        j = cJSON_ParseWithLength(out, n);
        cr_assert_not_null(j, "not JSON: %s", out);
        if (text)
                *text = out;
        else
                free(out);
        return j;
}

static const char *str(cJSON *j, const char *key) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

        cr_assert(cJSON_IsString(v), "%s is not a string", key);
        return v->valuestring;
}

static double num(cJSON *j, const char *key) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

        cr_assert(cJSON_IsNumber(v), "%s is not a number", key);
        return v->valuedouble;
}

Test(frame, exactly_the_spec_fields) {
        struct frame_writer w;
        char *text;
        cJSON *j;

        frame_writer_init(&w, "192.168.1.100");
        j = frame(&w, "hello world", 11, false, NULL, 42, &text);
        cr_expect_str_eq(text, "{\"type\":\"live_log\",\"node_id\":\"192.168.1.100\","
                               "\"timestamp\":\"2024-01-15T10:30:45Z\",\"log\":\"hello world\",\"seq\":42}");
        cr_expect_eq(cJSON_GetArraySize(j), 5);
        free(text);
        cJSON_Delete(j);
}

Test(frame, escaping_round_trips) {
        struct frame_writer w;
        char line[64];
        size_t n = 0;
        cJSON *j;

        for (int c = 1; c < 0x20; c++)
                line[n++] = (char) c;
        memcpy(line + n, "\"\\/\x7f\xEF\xBF\xBD\xF0\x9F\x98\x80", 12);
        n += 12;
        line[n++] = '\0'; /* a NUL read from the file is data too */
        frame_writer_init(&w, "node\"with\\odd");
        {
                char esc[6 * sizeof line];

                cr_expect_eq(json_escape(esc, line, n), json_escaped_len(line, n));
        }
        j = frame(&w, line, n, false, NULL, 1, NULL);
        cr_expect_str_eq(str(j, "node_id"), "node\"with\\odd");
        /* cJSON stops at the NUL: compare what it holds, then the length via the escape */
        cr_expect_eq(memcmp(str(j, "log"), line, n - 1), 0);
        cJSON_Delete(j);
}

Test(frame, worst_case_line_fits_the_bound) {
        struct frame_writer w;
        char *line = malloc(LINE_SANITISED_MAX);
        cJSON *j;

        memset(line, 0x01, LINE_SANITISED_MAX);
        frame_writer_init(&w, "n");
        j = frame(&w, line, LINE_SANITISED_MAX, true, NULL, UINT64_MAX, NULL);
        cr_expect_eq(strlen(str(j, "log")), LINE_SANITISED_MAX);
        cr_expect(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "continues")));
        free(line);
        cJSON_Delete(j);
}

Test(frame, journal_fields) {
        struct frame_writer w;
        struct line_meta meta = { .unit = "ssh.service", .priority = 3, .realtime_usec = 1705314645000001ULL };
        struct line_meta bare = { .unit = NULL, .priority = -1 };
        cJSON *j;

        frame_writer_init(&w, "n");
        j = frame(&w, "Accepted publickey", 18, false, &meta, 7, NULL);
        cr_expect_str_eq(str(j, "unit"), "ssh.service");
        cr_expect_eq(num(j, "priority"), 3);
        cr_expect_str_eq(str(j, "journal_timestamp"), "2024-01-15T10:30:45.000001Z");
        cr_expect_str_eq(str(j, "timestamp"), "2024-01-15T10:30:45Z");
        cJSON_Delete(j);

        j = frame(&w, "kernel: x", 9, false, &bare, 8, NULL);
        cr_expect_null(cJSON_GetObjectItemCaseSensitive(j, "unit"));
        cr_expect_null(cJSON_GetObjectItemCaseSensitive(j, "priority"));
        cr_expect_null(cJSON_GetObjectItemCaseSensitive(j, "journal_timestamp"));
        cJSON_Delete(j);
}

Test(frame, dropped_is_added_to_a_copy) {
        struct frame_writer w;
        char out[512], copy[512 + FRAME_DROPPED_EXTRA];
        size_t n, m;
        cJSON *j;

        frame_writer_init(&w, "n");
        n = frame_json(&w, out, "x", 1, false, NULL, 9, 1705314645000000ULL);
        m = frame_with_dropped(copy, out, n, UINT64_MAX);
        cr_assert_leq(m, n + FRAME_DROPPED_EXTRA);
        j = cJSON_ParseWithLength(copy, m);
        cr_assert_not_null(j);
        cr_expect_eq(num(j, "dropped"), (double) UINT64_MAX);
        cr_expect_eq(num(j, "seq"), 9);
        cJSON_Delete(j);
        /* the shared frame is untouched */
        cr_expect_eq(out[n - 1], '}');
        cr_expect_null(memmem(out, n, "dropped", 7));
}

Test(frame, timestamp_follows_the_clock) {
        struct frame_writer w;
        char out[512];
        size_t n;

        frame_writer_init(&w, "n");
        n = frame_json(&w, out, "a", 1, false, NULL, 1, 1705314645999999ULL);
        cr_expect_not_null(memmem(out, n, "10:30:45Z", 9));
        n = frame_json(&w, out, "a", 1, false, NULL, 2, 1705314646000000ULL);
        cr_expect_not_null(memmem(out, n, "10:30:46Z", 9));
}
