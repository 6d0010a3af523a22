/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "dashboard.h"
#include "log.h"
#include "macro.h"
#include "webasset.h"

/* The dashboard's files (shared/base/webasset.h). Chart.js is Debian's
 * libjs-chart.js. */
static const struct web_asset assets[] = {
        { "/", "index.html", "text/html; charset=utf-8", false },
        { "/dashboard/", "index.html", "text/html; charset=utf-8", false },
        { "/dashboard/app.js", "app.js", "text/javascript; charset=utf-8", false },
        { "/dashboard/style.css", "style.css", "text/css; charset=utf-8", false },
        WEB_ASSETS_COMMON,
};

static const struct web_asset *asset_of(const char *url) {
        return web_asset_find(assets, ELEMENTSOF(assets), url);
}

bool dashboard_serves(const char *url) {
        return asset_of(url) != NULL;
}

/* Run from the build tree, controld serves the page from the source tree,
 * so that it is seen as edited; installed, from datadir. */
static const char *dashboard_dir(void) {
        static char dir[PATH_MAX];

        if (!dir[0])
                web_asset_dir("dashboard_dir", RESOLVIX_DASHBOARD_DIR, dir, sizeof dir);
        return dir;
}

int dashboard_send(struct MHD_Connection *connection, const char *url, char *missing, size_t size) {
        const struct web_asset *a = asset_of(url);
        static bool warned[ELEMENTSOF(assets)];
        _cleanup_close_ int fd = -1;
        struct MHD_Response *resp;
        enum MHD_Result queued;
        struct web_asset_reply reply;
        struct stat st;

        if (!a)
                return -EINVAL;
        if (web_asset_open(a, dashboard_dir(), &fd, &st, missing, size) < 0) {
                /* Once per file: a page reloaded in a loop must not flood the journal. */
                if (!warned[a - assets]) {
                        warned[a - assets] = true;
                        log_warning("Dashboard: %s", missing);
                }
                return -ENOENT;
        }

        web_asset_reply(a, &st,
                        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH),
                        &reply);
        if (reply.status == 304)
                resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        else {
                resp = MHD_create_response_from_fd((uint64_t) st.st_size, fd);
                if (resp)
                        fd = -1; /* libmicrohttpd closes it */
        }
        if (!resp)
                return -ENOMEM;
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
        for (size_t i = 0; i < reply.n_headers; i++)
                (void) MHD_add_response_header(resp, reply.headers[i].name, reply.headers[i].value);
        queued = MHD_queue_response(connection, reply.status, resp);
        MHD_destroy_response(resp);
        return queued == MHD_YES ? 0 : -EIO;
}

