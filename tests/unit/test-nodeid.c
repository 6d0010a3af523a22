/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "nodeid.h"

static void load(const char *name, char *buf, size_t size) {
        char path[512];

        snprintf(path, sizeof path, "%s/route/%s", TEST_DATA_DIR, name);
        cr_assert_geq(read_file(path, buf, size), 0, "%s", path);
}

Test(nodeid, lowest_metric_default_route_wins) {
        char buf[4096], ifname[IF_NAMESIZE];

        load("two-defaults", buf, sizeof buf);
        cr_assert_eq(route_default_interface(buf, ifname), 0);
        cr_assert_str_eq(ifname, "eth0");
}

Test(nodeid, no_default_route) {
        char buf[4096], ifname[IF_NAMESIZE];

        load("no-default", buf, sizeof buf);
        cr_assert_eq(route_default_interface(buf, ifname), -ENOENT);
        cr_assert_eq(route_default_interface("", ifname), -ENOENT);
}

Test(nodeid, explicit_setting_is_used_verbatim) {
        char buf[64];

        node_id_resolve("web-01", buf, sizeof buf);
        cr_assert_str_eq(buf, "web-01");
}

Test(nodeid, auto_never_yields_empty) {
        char buf[256];

        node_id_resolve("auto", buf, sizeof buf);
        cr_assert_gt(strlen(buf), 0);
}
