/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a ?grep= pattern may be (docs/livelogs-stream.md, "Query parameters").
 *
 * A client chooses the pattern and the server pays for it, on the one loop
 * every client shares: so the pattern is checked here, before anything is
 * compiled, against bounds that make matching cost at most a fixed amount
 * per byte of a line (grep.h). The syntax is POSIX extended regular
 * expressions, matched on bytes, less what cannot be matched in linear time
 * or is too big:
 *
 *   - back-references (\1 ... \9): refused, no linear-time matcher has them;
 *   - a counted repetition inside another ((a{1,100}){1,100}): refused, the
 *     counts multiply;
 *   - counts over GREP_REPEAT_MAX, and patterns that, counted repetitions
 *     written out, hold more than GREP_POSITIONS_MAX characters: refused;
 *   - patterns longer than GREP_PATTERN_MAX bytes, groups nested deeper than
 *     GREP_DEPTH_MAX: refused;
 *   - word boundaries (\b \< \>), collating elements ([. .] [= =]) and
 *     escapes ERE does not define (\d): refused, with the reason, rather
 *     than matched as something else.
 *
 * \w \W \s \S are accepted, as glibc accepts them. A non-ASCII character
 * written outside brackets is one atom (é+ repeats the whole character).
 *
 * Pure: a buffer in, a tree or a reason out; no I/O. */

#define GREP_PATTERN_MAX 512
#define GREP_REPEAT_MAX 255
/* One machine word of states (grep.h); counts are bounded on their own so
 * that a{99999} is refused for what it is. */
#define GREP_POSITIONS_MAX 64
#define GREP_DEPTH_MAX 32
/* No upper bound: x*, x+, x{2,}. */
#define GREP_UNBOUNDED UINT16_MAX

enum grep_op {
        GREP_EMPTY,  /* matches the empty string: (), a branch of a||b */
        GREP_BYTES,  /* one byte out of a set: a literal, ., [...], \w */
        GREP_BEGIN,  /* ^ */
        GREP_END,    /* $ */
        GREP_CAT,
        GREP_ALT,
        GREP_REPEAT, /* left{min,max} */
};

struct grep_node {
        uint8_t op;        /* enum grep_op */
        bool counted;      /* a {m,n} at or below this node */
        uint16_t left;     /* CAT, ALT, REPEAT */
        uint16_t right;    /* CAT, ALT */
        uint16_t min, max; /* REPEAT */
        uint16_t set;      /* BYTES: index into sets */
        uint16_t positions; /* characters once repetitions are written out, saturated past the limit */
};

/* Every byte of a pattern makes at most one leaf and one inner node, and
 * an empty branch or group one node more. */
#define GREP_NODES_MAX (3 * GREP_PATTERN_MAX + 2)

struct grep_tree {
        unsigned root;
        unsigned n_nodes, n_sets;
        unsigned positions; /* of the whole pattern (^ and $ take none) */
        struct grep_node nodes[GREP_NODES_MAX];
        uint8_t sets[GREP_PATTERN_MAX][32]; /* 256-bit byte sets */
};

/* Check pattern (len bytes, NULs allowed) and, if it is accepted, fill
 * *tree (which may be NULL for the verdict alone). Returns 0, or -EINVAL
 * with a reason fit to show the client ("back-references (\2) are not
 * supported"). */
int grep_check(const char *pattern, size_t len, struct grep_tree *tree, char *reason, size_t reason_size);

static inline bool grep_set_has(const uint8_t *set, unsigned char c) {
        return set[c >> 3] & (1u << (c & 7));
}
