/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* The static files of a dashboard (controld's at /, the hub's fleet view):
 * a fixed table per server, so that no URL can name anything else on the
 * disk. Serving stays with each server's HTTP library; what is shared is
 * which file a URL means, where it lives, and what to tell the operator when
 * it is missing. */

struct web_asset {
        const char *url;
        const char *file; /* in the dashboard directory, or an absolute path (Chart.js) */
        const char *type;
        bool common; /* from the directory of the files both dashboards load (WEB_ASSETS_COMMON) */
};

/* Debian's libjs-chart.js, which every dashboard loads as /dashboard/chart.min.js. */
#define WEB_ASSET_CHARTJS "/usr/share/javascript/chart.js/chart.min.js"

/* The files both dashboards load, from one directory (shared/dashboard/ in
 * the source tree, installed once under datadir): the palette and the base
 * rules, the theme toggle and the token prompt; and Chart.js. Each server's
 * table ends with these. */
#define WEB_ASSETS_COMMON                                                                                   \
        { "/dashboard/common.js", "common.js", "text/javascript; charset=utf-8", true },                  \
        { "/dashboard/common.css", "common.css", "text/css; charset=utf-8", true },                       \
        { "/dashboard/chart.min.js", WEB_ASSET_CHARTJS, "text/javascript; charset=utf-8", false }

/* The page may only load its own files and talk to its own server's streams. */
#define WEB_ASSET_CSP                                                                                       \
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "                  \
        "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const struct web_asset *web_asset_find(const struct web_asset *table, size_t n, const char *url);

/* The directory of a dashboard: from the build tree's build-tree.conf key
 * when run from there (so that edits show at once), else installed. */
void web_asset_dir(const char *key, const char *installed, char *buf, size_t size);

/* Open a's file read-only, from dir (a page's own) or from the common
 * files' directory. 0 with *ret_fd and *st; otherwise a negative
 * errno, with a sentence for the operator in missing (which package or
 * file is absent). The caller logs it, once. */
int web_asset_open(const struct web_asset *a, const char *dir, int *ret_fd, struct stat *st, char *missing,
                   size_t size);

/* How a dashboard file is answered, whichever server serves it: revalidated
 * on every load (an upgraded page shows at once, an unchanged one costs a
 * 304 with no body), never sniffed, and the page locked to its own files
 * (WEB_ASSET_CSP). Besides these headers, each server sets a's type. */
#define WEB_ASSET_HEADERS_MAX 5

struct web_asset_reply {
        unsigned status; /* 200, or 304 when If-None-Match names this version */
        char etag[64];
        size_t n_headers;
        struct {
                const char *name, *value; /* value may point into etag */
        } headers[WEB_ASSET_HEADERS_MAX];
};

/* if_none_match: the request's header, or NULL. */
void web_asset_reply(const struct web_asset *a, const struct stat *st, const char *if_none_match,
                     struct web_asset_reply *ret);
