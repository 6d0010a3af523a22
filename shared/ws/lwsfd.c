/* SPDX-License-Identifier: MIT */
#include "log.h"
#include "lwsfd.h"
#include "macro.h"

int lws_watch_fd(struct lws_vhost *vhost, const char *protocol, int fd, void *tag) {
        lws_sock_file_fd_type u = { .filefd = fd };
        struct lws *wsi = lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, u, protocol, NULL);

        if (!wsi) {
                close(fd);
                return -EIO;
        }
        lws_set_opaque_user_data(wsi, tag);
        return 0;
}
