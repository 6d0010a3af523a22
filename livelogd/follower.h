/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "source.h"

/* Follows one log file by path, the way an operator expects `tail -F` to:
 * through rotation by rename (the old file is read to its end before the
 * new one, and kept open for a while in case its writer has not reopened
 * yet), copytruncate and truncation (the size shrinks), deletion and
 * re-creation, and a file that does not exist yet.
 *
 * It owns an inotify descriptor watching the file and its directory but no
 * loop: the caller calls follower_process() when follower_fd() is readable,
 * and follower_tick() every FOLLOWER_TICK_USEC as a safety net for events
 * inotify cannot see (network file systems, a directory that appears
 * later). Lines go to the sink as they are read, each read batch together;
 * meta is always NULL. */

#define FOLLOWER_TICK_USEC (1000 * 1000ULL)

struct follower;

/* backlog: how many complete lines before the current end of the file are
 * handed out first; backlog_bytes bounds how far back that may reach. */
int follower_new(const char *path, unsigned backlog, size_t backlog_bytes, line_sink_t sink, void *userdata,
                 struct follower **ret);
void follower_free(struct follower *f);
static inline void follower_freep(struct follower **f) {
        if (*f)
                follower_free(*f);
}

/* Open the file (or start waiting for it when it does not exist), hand out
 * the backlog, start watching. A file that exists but cannot be read is
 * -EACCES (or whatever open() said), left to the caller to report. */
int follower_start(struct follower *f);

int follower_fd(const struct follower *f);

/* Returns > 0 when it stopped early to let the loop breathe and wants to be
 * called again soon even without a new event, 0 when done, < 0 on a fatal
 * error of the inotify descriptor itself. */
int follower_process(struct follower *f);
int follower_tick(struct follower *f);
