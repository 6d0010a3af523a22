/* SPDX-License-Identifier: MIT */
#include <sys/signalfd.h>

#include "macro.h"
#include "signals.h"

int signalfd_blocking(const sigset_t *mask, sigset_t *old) {
        int fd;

        if (sigprocmask(SIG_BLOCK, mask, old) < 0)
                return negative_errno();
        fd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}
