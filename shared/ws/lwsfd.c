/* SPDX-License-Identifier: MIT */
#include <sys/signalfd.h>

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

int signalfd_blocking(const sigset_t *mask, sigset_t *old) {
        int fd;

        if (sigprocmask(SIG_BLOCK, mask, old) < 0)
                return negative_errno();
        fd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}
