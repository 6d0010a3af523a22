/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"

void notify_ready(const char *fmt, ...) {
        char status[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(status, sizeof status, fmt, ap);
        va_end(ap);
        (void) sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

int notify_failure(int err, const char *detail, const char *fmt, ...) {
        char message[512];
        va_list ap;

        if (err < 0)
                err = -err;
        va_start(ap, fmt);
        vsnprintf(message, sizeof message, fmt, ap);
        va_end(ap);
        /* Newlines would split the notify message into bogus fields. */
        for (char *p = message; *p; p++)
                if (*p == '\n')
                        *p = ' ';
        log_error_errno(err, "%s", message);
        (void) sd_notifyf(0, "STATUS=%s\nERRNO=%d\nRESOLVIX_ERROR=%s", message, err, detail);
        return -err;
}
