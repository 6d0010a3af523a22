/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

Test(fileio, atomic_write_replaces_and_leaves_no_temporary) {
        char dir[] = "/tmp/resolvix-test-fileio-XXXXXX", path[512], sub[256], buf[64];
        DIR *d;
        struct dirent *e;
        int files = 0;

        cr_assert_not_null(mkdtemp(dir));
        snprintf(sub, sizeof sub, "%s/a/b", dir);
        cr_assert_eq(mkdir_parents(sub, 0755), 0);
        cr_assert_eq(mkdir_parents(sub, 0755), 0); /* idempotent */
        snprintf(path, sizeof path, "%s/state.json", sub);
        cr_assert_eq(write_file_atomic(path, "first", 5), 0);
        cr_assert_eq(write_file_atomic(path, "second", 6), 0);
        cr_assert_eq(read_file(path, buf, sizeof buf), 6);
        cr_assert_str_eq(buf, "second");
        d = opendir(sub);
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        files++;
        closedir(d);
        cr_assert_eq(files, 1);
        snprintf(buf, sizeof buf, "rm -rf %s", dir);
        (void) !system(buf);
}

Test(fileio, read_file_too_big_and_missing) {
        char small[4];

        cr_assert_eq(read_file("/proc/self/status", small, sizeof small), -EFBIG);
        cr_assert_eq(read_file("/nonexistent", small, sizeof small), -ENOENT);
}

/* State-dir files never follow a symlink: whoever can plant one in the
 * directory must not be able to redirect our writes to a file elsewhere. */

static char planted[] = "/tmp/resolvix-test-fileio-XXXXXX";
static char victim[600], target[600];

static void plant_setup(void) {
        FILE *f;

        cr_assert_not_null(mkdtemp(planted));
        snprintf(victim, sizeof victim, "%s/victim", planted);
        snprintf(target, sizeof target, "%s/state.json", planted);
        f = fopen(victim, "we");
        cr_assert_not_null(f);
        fputs("precious", f);
        fclose(f);
}

static void plant_teardown(void) {
        char cmd[700];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", planted);
        (void) !system(cmd);
}

static void victim_untouched(void) {
        char buf[64];

        cr_assert_eq(read_file(victim, buf, sizeof buf), 8);
        cr_assert_str_eq(buf, "precious", "the write went through the symlink");
}

TestSuite(planted, .init = plant_setup, .fini = plant_teardown);

Test(planted, a_link_at_the_target_is_replaced_not_followed) {
        struct stat st;
        char buf[64];

        cr_assert_eq(symlink(victim, target), 0);
        cr_assert_eq(write_file_atomic(target, "new", 3), 0);
        victim_untouched();
        cr_assert_eq(lstat(target, &st), 0);
        cr_assert(S_ISREG(st.st_mode), "the link is still there");
        cr_assert_eq(read_file(target, buf, sizeof buf), 3);
        cr_assert_str_eq(buf, "new");
}

Test(planted, a_link_at_the_temporary_name_is_not_followed) {
        char tmp[700], buf[64];
        struct stat st;

        /* The name write_file_atomic() writes before its rename. */
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", target, (int) getpid());
        cr_assert_eq(symlink(victim, tmp), 0);
        cr_assert_eq(write_file_atomic(target, "new", 3), 0);
        victim_untouched();
        cr_assert_eq(read_file(target, buf, sizeof buf), 3);
        cr_assert_str_eq(buf, "new");
        cr_assert_eq(lstat(tmp, &st), -1, "the temporary is left behind");
}

Test(planted, reading_through_a_link_is_refused) {
        char buf[64];

        cr_assert_eq(symlink(victim, target), 0);
        cr_assert_eq(read_file(target, buf, sizeof buf), -ELOOP);
}
