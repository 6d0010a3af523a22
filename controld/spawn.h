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
