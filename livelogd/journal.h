/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "source.h"

/* Follows the local systemd journal (all of it that this process may read)
 * from its tail: the last `backlog` entries first, then every new one. Each
 * entry's MESSAGE goes to the sink, sanitised and split like a file's lines
 * (linesplit.h), with its unit and priority in meta.
 *
 * Like the follower it owns no loop: call journal_process() when
 * journal_fd() is readable and on every tick. */

struct journal;

int journal_new(unsigned backlog, line_sink_t sink, void *userdata, struct journal **ret);
void journal_free(struct journal *j);
static inline void journal_freep(struct journal **j) {
        if (*j)
                journal_free(*j);
}

int journal_fd(struct journal *j);

/* Returns > 0 when it stopped early to let the loop breathe and wants to be
 * called again soon, 0 when it is caught up, < 0 on error. */
int journal_process(struct journal *j);

/* Is there a journal to follow on this machine: journald's runtime
 * directory exists, or a journal can be opened and holds entries. */
bool journal_available(void);
