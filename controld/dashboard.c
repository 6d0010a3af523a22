/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "buildtree.h"
#include "dashboard.h"
#include "log.h"
#include "macro.h"

/* The dashboard's files: a fixed table, so that no URL can name anything
 * else on the disk. Chart.js is Debian's libjs-chart.js. */
struct asset {
        const char *url;
        const char *file; /* in the dashboard directory, or an absolute path */
        const char *type;
};

static const struct asset assets[] = {
        { "/", "index.html", "text/html; charset=utf-8" },
        { "/dashboard/", "index.html", "text/html; charset=utf-8" },
        { "/dashboard/app.js", "app.js", "text/javascript; charset=utf-8" },
        { "/dashboard/style.css", "style.css", "text/css; charset=utf-8" },
        { "/dashboard/chart.min.js", RESOLVIX_CHARTJS, "text/javascript; charset=utf-8" },
};

/* The page may only load its own files and talk to this node's streams. */
#define DASHBOARD_CSP                                                                                       \
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "                  \
        "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const struct asset *asset_of(const char *url) {
        for (size_t i = 0; i < ELEMENTSOF(assets); i++)
                if (streq(url, assets[i].url))
                        return &assets[i];
        return NULL;
}

bool dashboard_serves(const char *url) {
        return asset_of(url) != NULL;
}

/* Run from the build tree, controld serves the page from the source tree,
 * so that it is seen as edited; installed, from datadir. */
static const char *dashboard_dir(void) {
        static char dir[PATH_MAX];

        if (!dir[0] && build_tree_lookup("dashboard_dir", dir, sizeof dir) < 0)
                snprintf(dir, sizeof dir, "%s", RESOLVIX_DASHBOARD_DIR);
        return dir;
}

int dashboard_send(struct MHD_Connection *connection, const char *url, char *missing, size_t size) {
        const struct asset *a = asset_of(url);
        static bool warned[ELEMENTSOF(assets)];
        _cleanup_close_ int fd = -1;
        struct MHD_Response *resp;
        enum MHD_Result queued;
        const char *match;
        char path[PATH_MAX], etag[64];
        unsigned status = MHD_HTTP_OK;
        struct stat st;

        if (!a)
                return -EINVAL;
        if (a->file[0] == '/')
                snprintf(path, sizeof path, "%s", a->file);
        else
                snprintf(path, sizeof path, "%s/%s", dashboard_dir(), a->file);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                bool chartjs = a->file[0] == '/';

                /* Once per file: a page reloaded in a loop must not flood the journal. */
                if (!warned[a - assets]) {
                        warned[a - assets] = true;
                        log_warning("Dashboard: cannot serve %s%s", path,
                                    chartjs ? " (install libjs-chart.js)" : " (is the dashboard installed?)");
                }
                snprintf(missing, size, "%s is missing on this node%s", path,
                         chartjs ? ": install libjs-chart.js" : "");
                return -ENOENT;
        }

        /* Revalidated on every load: an upgraded page shows at once, an
         * unchanged one costs a 304. */
        snprintf(etag, sizeof etag, "\"%llx-%llx\"",
                 (unsigned long long) st.st_mtim.tv_sec * 1000000000ULL + (unsigned long long) st.st_mtim.tv_nsec,
                 (unsigned long long) st.st_size);
        match = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
        if (match && streq(match, etag)) {
                status = MHD_HTTP_NOT_MODIFIED;
                resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        } else {
                resp = MHD_create_response_from_fd((uint64_t) st.st_size, fd);
                if (resp)
                        fd = -1; /* libmicrohttpd closes it */
        }
        if (!resp)
                return -ENOMEM;
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
        (void) MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        if (streq(a->file, "index.html")) {
                (void) MHD_add_response_header(resp, "Content-Security-Policy", DASHBOARD_CSP);
                (void) MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
        }
        queued = MHD_queue_response(connection, status, resp);
        MHD_destroy_response(resp);
        return queued == MHD_YES ? 0 : -EIO;
}

