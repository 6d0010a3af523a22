/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "json-arena.h"

/* Each test runs in its own process (criterion's default), so each sets
 * the hooks up afresh. */

static const char sample[] = "{\"timestamp\":\"2024-01-15T10:30:40Z\",\"node_id\":\"n1\","
                             "\"metrics\":{\"cpu\":{\"cpu_usage_percent\":4.5,\"per_core\":[1,2,3,4]}},"
                             "\"stream\":\"boot-a\",\"seq\":1}";

Test(json_arena, trees_of_an_arena_live_in_its_region) {
        struct json_arena *a;
        cJSON *in, *out;
        char *printed;

        cr_assert_eq(json_arena_setup(64 << 20), 0);
        a = json_arena_new();
        cr_assert_not_null(a);
        json_arena_enter(a);
        in = cJSON_Parse(sample);
        json_arena_leave();
        out = cJSON_Parse(sample);
        cr_assert_not_null(in);
        cr_assert_not_null(out);
        cr_assert(json_arena_owns(in));
        cr_assert(json_arena_owns(cJSON_GetObjectItem(in, "stream")->valuestring));
        cr_assert(!json_arena_owns(out));
        cr_assert(cJSON_Compare(in, out, true));

        /* Outside an arena what cJSON prints is the heap's, freed with free(). */
        printed = cJSON_PrintUnformatted(in);
        cr_assert_not_null(printed);
        cr_assert_str_eq(printed, sample);
        cJSON_Delete(in);
        cJSON_Delete(out);
        json_arena_free(a);
        cr_assert_eq(json_arena_blocks_cached(), 1);
        free(printed);
}

Test(json_arena, blocks_are_reused_and_large_values_come_from_the_heap) {
        size_t big = 1 << 20;
        char *text = malloc(big + 3);
        struct json_arena *a, *b;
        cJSON *t;

        cr_assert_eq(json_arena_setup(64 << 20), 0);
        cr_assert_not_null(text);
        text[0] = '"';
        memset(text + 1, 'x', big);
        text[big + 1] = '"';
        text[big + 2] = '\0';

        a = json_arena_new();
        json_arena_enter(a);
        for (int i = 0; i < 2000; i++) /* several blocks' worth */
                cJSON_Delete(cJSON_Parse(sample));
        t = cJSON_Parse(text);
        json_arena_leave();
        cr_assert_not_null(t);
        cr_assert(json_arena_owns(t));
        /* A string larger than a block: the heap's, freed by cJSON_Delete(). */
        cr_assert(!json_arena_owns(t->valuestring));
        cr_assert_eq(strlen(t->valuestring), big);
        cJSON_Delete(t);
        json_arena_free(a);
        cr_assert_gt(json_arena_blocks_cached(), 1);

        /* The next arena takes the cached blocks first. */
        b = json_arena_new();
        json_arena_enter(b);
        t = cJSON_Parse(sample);
        json_arena_leave();
        cr_assert(json_arena_owns(t));
        cJSON_Delete(t);
        json_arena_free(b);
        free(text);
}

Test(json_arena, a_used_up_region_falls_back_to_the_heap) {
        struct json_arena *a;
        size_t owned = 0, heap = 0;
        cJSON *trees[4000];

        /* Room for two blocks only. */
        cr_assert_eq(json_arena_setup(512 * 1024), 0);
        a = json_arena_new();
        json_arena_enter(a);
        for (size_t i = 0; i < 4000; i++) {
                trees[i] = cJSON_Parse(sample);
                cr_assert_not_null(trees[i]);
                if (json_arena_owns(trees[i]))
                        owned++;
                else
                        heap++;
        }
        json_arena_leave();
        cr_assert_gt(owned, 0);
        cr_assert_gt(heap, 0);
        for (size_t i = 0; i < 4000; i++)
                cJSON_Delete(trees[i]);
        json_arena_free(a);
}
