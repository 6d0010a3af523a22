/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* A ?grep= pattern, compiled for matching in time linear in the line.
 *
 * The pattern (checked by grepcheck.h) becomes a position automaton
 * (Glushkov's construction): one state per character of the pattern with
 * its repetitions written out, at most GREP_POSITIONS_MAX = 64 so that the
 * set of live states is one machine word, and no empty moves. For each
 * byte the live set becomes the states that may follow a live one and
 * accept the byte; the follow sets are tabled by 4-bit slices of the word,
 * so that is at most 16 ORs, whatever the pattern and the line: 64 KiB, the
 * longest line, costs about a million simple operations (about a
 * millisecond). No backtracking, no state cache, and memory fixed when the
 * pattern is compiled: at most about 6 KiB, a few hundred bytes for a
 * usual pattern.
 *
 * glibc's regexec() was used before: a pattern with back-references made
 * it backtrack for minutes on one long line, and nested counted
 * repetitions made regcomp() allocate gigabytes. */

struct grep;

/* Check and compile; on refusal -EINVAL and the reason (grep_check()). */
int grep_new(const char *pattern, size_t len, struct grep **ret, char *reason, size_t reason_size);
void grep_free(struct grep *g);
static inline void grep_freep(struct grep **g) {
        if (*g)
                grep_free(*g);
}

/* Whether the pattern matches anywhere in line (len bytes, NULs allowed). */
bool grep_match(const struct grep *g, const char *line, size_t len);

/* An upper bound on what grep_match() costs for a line of len bytes, in
 * table look-ups: for callers that spread matching over several turns of
 * the event loop. */
size_t grep_cost(const struct grep *g, size_t len);
