/* SPDX-License-Identifier: MIT */
#pragma once

#include <libwebsockets.h>

/* Plain descriptors (a signalfd, inotify, the journal, the ingest port's
 * epoll set) in a libwebsockets loop: adopted as raw files on vhost under
 * protocol, whose callback gets LWS_CALLBACK_RAW_RX_FILE when fd is
 * readable; the wsi carries tag as its opaque user data. lws owns fd from
 * then on; on failure fd is closed. */
int lws_watch_fd(struct lws_vhost *vhost, const char *protocol, int fd, void *tag);
