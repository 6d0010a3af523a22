/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "buildtree.h"
#include "macro.h"
#include "webasset.h"

const struct web_asset *web_asset_find(const struct web_asset *table, size_t n, const char *url) {
        for (size_t i = 0; i < n; i++)
                if (streq(url, table[i].url))
                        return &table[i];
        return NULL;
}

void web_asset_dir(const char *key, const char *installed, char *buf, size_t size) {
        if (build_tree_lookup(key, buf, size) < 0)
                snprintf(buf, size, "%s", installed);
}

/* Both servers find the common files the way they find their own page:
 * from the build tree's build-tree.conf when run from there, else where the
 * package installs them once for both. */
static const char *common_dir(void) {
        static char dir[PATH_MAX];

        if (!dir[0])
                web_asset_dir("dashboard_common_dir", RESOLVIX_DASHBOARD_COMMON_DIR, dir, sizeof dir);
        return dir;
}

int web_asset_open(const struct web_asset *a, const char *dir, int *ret_fd, struct stat *st, char *missing,
                   size_t size) {
        char path[PATH_MAX];
        bool chartjs = a->file[0] == '/';
        int fd;

        if (chartjs)
                snprintf(path, sizeof path, "%s", a->file);
        else
                snprintf(path, sizeof path, "%s/%s", a->common ? common_dir() : dir, a->file);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0 && fstat(fd, st) == 0 && S_ISREG(st->st_mode)) {
                *ret_fd = fd;
                return 0;
        }
        if (fd >= 0)
                close(fd);
        snprintf(missing, size, "%s is missing on this node%s", path,
                 chartjs ? ": install libjs-chart.js" : " (is the dashboard installed?)");
        return -ENOENT;
}

/* A validator that changes whenever the file does (mtime and size). */
static void etag_of(const struct stat *st, char *buf, size_t size) {
        snprintf(buf, size, "\"%llx-%llx\"",
                 (unsigned long long) st->st_mtim.tv_sec * 1000000000ULL + (unsigned long long) st->st_mtim.tv_nsec,
                 (unsigned long long) st->st_size);
}

/* If-None-Match names this version: "*", or etag in its list, weak or not
 * (a GET compares weakly: RFC 9110, 13.1.2). */
static bool etag_listed(const char *header, const char *etag) {
        size_t len = strlen(etag);

        for (const char *p = header; *p;) {
                p += strspn(p, " \t,");
                if (*p == '*')
                        return true;
                if (strncmp(p, "W/", 2) == 0)
                        p += 2;
                if (strncmp(p, etag, len) == 0 && strchr(" \t,", p[len]))
                        return true;
                p += strcspn(p, ",");
        }
        return false;
}

static void add(struct web_asset_reply *r, const char *name, const char *value) {
        if (r->n_headers < ELEMENTSOF(r->headers)) {
                r->headers[r->n_headers].name = name;
                r->headers[r->n_headers].value = value;
                r->n_headers++;
        }
}

void web_asset_reply(const struct web_asset *a, const struct stat *st, const char *if_none_match,
                     struct web_asset_reply *ret) {
        *ret = (struct web_asset_reply){ .status = 200 };
        etag_of(st, ret->etag, sizeof ret->etag);
        if (if_none_match && etag_listed(if_none_match, ret->etag))
                ret->status = 304;
        add(ret, "Cache-Control", "no-cache");
        add(ret, "ETag", ret->etag);
        add(ret, "X-Content-Type-Options", "nosniff");
        if (streq(a->file, "index.html")) {
                add(ret, "Content-Security-Policy", WEB_ASSET_CSP);
                add(ret, "Referrer-Policy", "no-referrer");
        }
}
