/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/types.h>

/* Start argv[0] with exactly the environment envp, as the leader of its own
 * process group, killed if controld dies (PR_SET_PDEATHSIG, checked against a
 * race with our own death), with a reset signal mask and no inherited fds but
 * 0-2. Returns 0 with *ret_pid and a pidfd in *ret_pidfd, or a negative errno
 * — including the child's execve() failure, so that a missing executable is
 * an error here and not a mysterious exit later. */
int spawn_worker(char *const argv[], char *const envp[], pid_t *ret_pid, int *ret_pidfd);

/* An entry of envp that is exactly this is completed with the child's own
 * pid, which nobody knows before fork(): what systemd sets for a service's
 * watchdog, so that sd_watchdog_enabled() answers for the worker alone. */
#define SPAWN_WATCHDOG_PID "WATCHDOG_PID="
