/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

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
