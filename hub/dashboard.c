/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "hub.h"
#include "log.h"
#include "macro.h"
#include "webasset.h"

/* GET / : the fleet dashboard (docs/fleet.md, "The fleet dashboard"),
 * static files with no build step. The page itself is served to anyone who
 * reaches the port, like controld's: it holds no data, and asks for the
 * hub token when the API it calls answers 401. */

static const struct web_asset assets[] = {
        { "/", "index.html", "text/html; charset=utf-8", false },
        { "/dashboard/", "index.html", "text/html; charset=utf-8", false },
        { "/dashboard/fleet.js", "fleet.js", "text/javascript; charset=utf-8", false },
        { "/dashboard/fleet.css", "fleet.css", "text/css; charset=utf-8", false },
        WEB_ASSETS_COMMON,
};

/* Run from the build tree, the hub serves the page from the source tree;
 * installed, from datadir. */
static const char *dashboard_dir(void) {
        static char dir[PATH_MAX];

        if (!dir[0])
                web_asset_dir("dashboard_dir", RESOLVIX_HUB_DASHBOARD_DIR, dir, sizeof dir);
        return dir;
}

static int read_whole(int fd, size_t size, char **ret) {
        _cleanup_free_ char *buf = malloc(size + 1);
        size_t got = 0;

        if (!buf)
                return -ENOMEM;
        while (got < size) {
                ssize_t n = read(fd, buf + got, size - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        buf[got] = '\0';
        *ret = TAKE_PTR(buf);
        return (int) got;
}

/* The reply's headers for wsserver: cache-control in its own field, the
 * others as lines. */
static int reply_headers(const struct web_asset_reply *reply, struct ws_http_response *resp) {
        _cleanup_free_ char *lines = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&lines, &len);

        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < reply->n_headers; i++) {
                if (streq(reply->headers[i].name, "Cache-Control"))
                        resp->cache_control = reply->headers[i].value;
                else
                        fprintf(f, "%s: %s\r\n", reply->headers[i].name, reply->headers[i].value);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        resp->headers = TAKE_PTR(lines);
        return 0;
}

int dashboard_request(struct request *rq) {
        const struct web_asset *a = web_asset_find(assets, ELEMENTSOF(assets), rq->path);
        static bool warned[ELEMENTSOF(assets)];
        _cleanup_close_ int fd = -1;
        char missing[PATH_MAX + 64], match[128];
        struct web_asset_reply reply;
        struct stat st;
        char *body = NULL;
        int n, r;

        if (!a)
                return -ENOENT;
        if (!streq(rq->req->method, "GET") && !streq(rq->req->method, "HEAD"))
                return respond_method_not_allowed(rq->resp, "GET");
        if (web_asset_open(a, dashboard_dir(), &fd, &st, missing, sizeof missing) < 0) {
                /* Once per file: a page reloaded in a loop must not flood the journal. */
                if (!warned[a - assets]) {
                        warned[a - assets] = true;
                        log_warning("Dashboard: %s", missing);
                }
                return respond_error(rq->resp, HTTP_STATUS_NOT_FOUND, ERROR_NOT_INSTALLED, "%s", missing);
        }
        /* A header too long for match is no ETag of ours: the whole file. */
        web_asset_reply(a, &st,
                        lws_hdr_copy(rq->wsi, match, sizeof match, WSI_TOKEN_HTTP_IF_NONE_MATCH) > 0 ? match : NULL,
                        &reply);
        if (reply.status == 304)
                r = respond_raw(rq->resp, HTTP_STATUS_NOT_MODIFIED, a->type, NULL, 0);
        else {
                n = read_whole(fd, (size_t) st.st_size, &body);
                if (n < 0)
                        return n;
                r = respond_raw(rq->resp, HTTP_STATUS_OK, a->type, body, (size_t) n);
        }
        if (r < 0)
                return r;
        return reply_headers(&reply, rq->resp);
}
