/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "log.h"
#include "notify.h"

/* The protocol is one datagram of text on a Unix socket; speaking it here
 * spares the workers libsystemd and what it maps (docs/architecture.md). */
int notify_send(const char *message) {
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        size_t len;

        if (!path || !*path)
                return 0;
        len = strlen(path);
        if ((path[0] != '/' && path[0] != '@') || len >= sizeof sa.sun_path)
                return -EAFNOSUPPORT;
        memcpy(sa.sun_path, path, len);
        if (sa.sun_path[0] == '@')
                sa.sun_path[0] = '\0'; /* abstract namespace */

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (sendto(fd, message, strlen(message), MSG_NOSIGNAL, (struct sockaddr *) &sa,
                   (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len)) < 0)
                return negative_errno();
        return 0;
}

int notify_watchdog_usec(uint64_t *ret) {
        const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
        unsigned long long v;
        char *end;

        if (!usec)
                return 0;
        if (pid && strtol(pid, &end, 10) != (long) getpid())
                return 0;
        errno = 0;
        v = strtoull(usec, &end, 10);
        if (errno != 0 || end == usec || *end != '\0' || v == 0)
                return 0;
        *ret = v;
        return 1;
}

void notify_ready(const char *fields, const char *fmt, ...) {
        char status[512], message[1536];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(status, sizeof status, fmt, ap);
        va_end(ap);
        snprintf(message, sizeof message, "READY=1\nSTATUS=%s%s%s", status, fields ? "\n" : "",
                 fields ? fields : "");
        (void) notify_send(message);
}

int notify_failure(int err, const char *detail, const char *fmt, ...) {
        char text[512], message[768];
        va_list ap;

        if (err < 0)
                err = -err;
        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        /* Newlines would split the notify message into bogus fields. */
        for (char *p = text; *p; p++)
                if (*p == '\n')
                        *p = ' ';
        log_error_errno(err, "%s", text);
        snprintf(message, sizeof message, "STATUS=%s\nERRNO=%d\nRESOLVIX_ERROR=%s", text, err, detail);
        (void) notify_send(message);
        return -err;
}
