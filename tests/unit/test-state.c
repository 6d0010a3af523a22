/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "state.h"

Test(state, round_trip_through_a_directory) {
        char dir[] = "/tmp/resolvix-test-state-XXXXXX", sub[128], cmd[160];
        struct desired_state in = { .telemetry = true, .livelogs = false, .interval = 5 }, out;

        cr_assert_not_null(mkdtemp(dir));
        snprintf(sub, sizeof sub, "%s/not/yet", dir);
        cr_expect_eq(state_load(sub, &out), -ENOENT);
        cr_assert_eq(state_save(sub, &in), 0);
        cr_assert_eq(state_load(sub, &out), 0);
        cr_expect(out.telemetry);
        cr_expect_not(out.livelogs);
        cr_expect_eq(out.interval, 5);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        (void) !system(cmd);
}

Test(state, rejects_anything_but_the_exact_shape) {
        static const char *const bad[] = {
                "",
                "{}",
                "{\"telemetry\":{\"enabled\":true,\"interval\":5}}",
                "{\"telemetry\":{\"enabled\":1,\"interval\":5},\"livelogs\":{\"enabled\":false}}",
                "{\"telemetry\":{\"enabled\":true,\"interval\":0},\"livelogs\":{\"enabled\":false}}",
                "{\"telemetry\":{\"enabled\":true,\"interval\":1.5},\"livelogs\":{\"enabled\":false}}",
                "{\"telemetry\":{\"enabled\":true},\"livelogs\":{\"enabled\":false}}",
                "{\"telemetry\":{\"enabled\":true,\"interval\":5},\"livelogs\":{\"enabled\":false}",
        };
        struct desired_state s = { .interval = 99 };

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                cr_expect_eq(state_parse(bad[i], &s), -EINVAL, "case %zu", i);
                cr_expect_eq(s.interval, 99, "case %zu touched the output", i);
        }
}

Test(state, format_is_what_parse_reads) {
        struct desired_state in = { .telemetry = false, .livelogs = true, .interval = 86400 }, out;
        char *text = state_format(&in);

        cr_assert_not_null(text);
        cr_assert_eq(state_parse(text, &out), 0);
        cr_expect_not(out.telemetry);
        cr_expect(out.livelogs);
        cr_expect_eq(out.interval, 86400);
        free(text);
}

/* state.json never through a symlink: one planted in the state directory
 * neither feeds controld another file nor takes its writes elsewhere. */
Test(state, a_link_at_state_json_is_neither_read_nor_written_through) {
        char dir[] = "/tmp/resolvix-test-state-XXXXXX", victim[128], link[128], cmd[160], buf[256];
        const char *saved = "{\"telemetry\":{\"enabled\":true,\"interval\":7},\"livelogs\":{\"enabled\":true}}";
        struct desired_state in = { .telemetry = false, .livelogs = true, .interval = 5 }, out;
        FILE *f;

        cr_assert_not_null(mkdtemp(dir));
        snprintf(victim, sizeof victim, "%s/victim", dir);
        snprintf(link, sizeof link, "%s/" STATE_FILE, dir);
        f = fopen(victim, "we");
        cr_assert_not_null(f);
        fputs(saved, f);
        fclose(f);
        cr_assert_eq(symlink(victim, link), 0);

        cr_assert_eq(state_load(dir, &out), -ELOOP);
        cr_assert_eq(state_save(dir, &in), 0);
        cr_assert_eq(read_file(victim, buf, sizeof buf), (ssize_t) strlen(saved));
        cr_assert_str_eq(buf, saved, "written through the link");
        cr_assert_eq(state_load(dir, &out), 0);
        cr_expect_eq(out.interval, 5);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        (void) !system(cmd);
}
