/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grep.h"
#include "grepcheck.h"

/* All states fit one machine word. */
_Static_assert(GREP_POSITIONS_MAX <= 64, "the live states are one uint64_t");

/* ^ and $ are assertions, not characters: they take no state and hold at
 * some boundaries between bytes only. A boundary between two bytes of a
 * line is neither the start nor the end, so the follow sets (which join
 * one byte to the next) treat ^ and $ as failing; the sets that begin a
 * match come in two kinds, at the start of the line (where ^ holds) and
 * elsewhere, and so do the sets that end one, at the end of the line (where
 * $ holds) and elsewhere. Whether the pattern matches an empty string
 * depends on the same two facts: empty[at start][at end]. */
struct grep {
        unsigned positions, nibbles;
        bool empty[2][2];
        uint64_t first_at_start, first, last_at_end, last;
        /* Bytes that no state tells apart share a class (RE2's byte map):
         * a usual pattern has a handful, so the accept table stays small. */
        uint8_t class_of[256];
        unsigned classes;
        uint64_t *accept; /* [classes]: states that accept a byte of the class */
        /* [nibble][value]: the states that may follow any of the live ones
         * that the 4-bit value at that nibble of the state word names, so
         * that a step ORs one entry per nibble in use (positions / 4 of
         * them) rather than one per live state. */
        uint64_t (*follow)[16];
        uint64_t tables[];
};

/* ---- Glushkov's construction -------------------------------------------- */

struct frag {
        uint64_t first_at_start, first, last_at_end, last;
        bool empty[2][2];
};

struct builder {
        const struct grep_tree *t;
        unsigned next;
        uint64_t accepts[GREP_POSITIONS_MAX][256 / 64]; /* [position]: bytes it accepts */
        uint64_t follow[GREP_POSITIONS_MAX];
};

static void each_bit_follow(struct builder *b, uint64_t from, uint64_t to) {
        for (uint64_t m = from; m; m &= m - 1)
                b->follow[__builtin_ctzll(m)] |= to;
}

static struct frag zero_width(bool at_start_only, bool at_end_only) {
        struct frag f = { .empty = { { false, false }, { false, false } } };

        for (int s = 0; s < 2; s++)
                for (int e = 0; e < 2; e++)
                        f.empty[s][e] = (!at_start_only || s) && (!at_end_only || e);
        return f;
}

static struct frag cat(struct builder *b, const struct frag *x, const struct frag *y) {
        struct frag f;

        /* Between x's last byte and y's first is a boundary inside the line. */
        each_bit_follow(b, x->last, y->first);
        f.first_at_start = x->first_at_start | (x->empty[1][0] ? y->first_at_start : 0);
        f.first = x->first | (x->empty[0][0] ? y->first : 0);
        f.last_at_end = y->last_at_end | (y->empty[0][1] ? x->last_at_end : 0);
        f.last = y->last | (y->empty[0][0] ? x->last : 0);
        for (int s = 0; s < 2; s++)
                for (int e = 0; e < 2; e++)
                        f.empty[s][e] = x->empty[s][e] && y->empty[s][e];
        return f;
}

static struct frag alt(struct builder *b, const struct frag *x, const struct frag *y) {
        struct frag f = *x;

        f.first_at_start |= y->first_at_start;
        f.first |= y->first;
        f.last_at_end |= y->last_at_end;
        f.last |= y->last;
        for (int s = 0; s < 2; s++)
                for (int e = 0; e < 2; e++)
                        f.empty[s][e] = x->empty[s][e] || y->empty[s][e];
        return f;
}

/* x+: every way out of x may start x again. */
static struct frag loop(struct builder *b, struct frag x) {
        each_bit_follow(b, x.last, x.first);
        return x;
}

static struct frag optional(struct frag x) {
        x.empty[0][0] = x.empty[0][1] = x.empty[1][0] = x.empty[1][1] = true;
        return x;
}

static struct frag leaf(struct builder *b, const struct grep_node *n) {
        const uint8_t *set = b->t->sets[n->set];
        unsigned p = b->next++;
        struct frag f = zero_width(false, false);

        for (unsigned c = 0; c < 256; c++)
                if (grep_set_has(set, (unsigned char) c))
                        b->accepts[p][c / 64] |= UINT64_C(1) << (c % 64);
        f.empty[0][0] = f.empty[0][1] = f.empty[1][0] = f.empty[1][1] = false;
        f.first_at_start = f.first = f.last_at_end = f.last = UINT64_C(1) << p;
        return f;
}

/* Recursion is as deep as the tree, which the pattern length bounds. */
static struct frag build(struct builder *b, unsigned index) {
        const struct grep_node *n = &b->t->nodes[index];
        struct frag x, y, f;

        switch (n->op) {
        case GREP_BYTES:
                return leaf(b, n);
        case GREP_BEGIN:
                return zero_width(true, false);
        case GREP_END:
                return zero_width(false, true);
        case GREP_CAT:
                x = build(b, n->left);
                y = build(b, n->right);
                return cat(b, &x, &y);
        case GREP_ALT:
                x = build(b, n->left);
                y = build(b, n->right);
                return alt(b, &x, &y);
        case GREP_REPEAT:
                /* x{m,n} is m copies of x, then n - m optional ones nested
                 * (x(x(x)?)?)?, so that a later copy is only taken after an
                 * earlier one; x{m,} is m - 1 copies and x+. Each copy gets
                 * states of its own. */
                f = zero_width(false, false);
                for (unsigned i = 1; i < n->min || (i == n->min && n->max != GREP_UNBOUNDED); i++) {
                        x = build(b, n->left);
                        f = cat(b, &f, &x);
                }
                if (n->max == GREP_UNBOUNDED) {
                        x = loop(b, build(b, n->left));
                        if (n->min == 0)
                                x = optional(x);
                        return cat(b, &f, &x);
                }
                y = zero_width(false, false);
                for (unsigned i = n->min; i < n->max; i++) {
                        x = build(b, n->left);
                        y = cat(b, &x, &y);
                        y = optional(y);
                }
                return cat(b, &f, &y);
        default:
                return zero_width(false, false);
        }
}

/* ---- the tables --------------------------------------------------------- */

/* The states that accept byte c. */
static uint64_t column(const struct builder *b, unsigned positions, unsigned c) {
        uint64_t col = 0;

        for (unsigned p = 0; p < positions; p++)
                if (b->accepts[p][c / 64] & (UINT64_C(1) << (c % 64)))
                        col |= UINT64_C(1) << p;
        return col;
}

int grep_new(const char *pattern, size_t len, struct grep **ret, char *reason, size_t reason_size) {
        _cleanup_free_ struct grep_tree *tree = malloc(sizeof *tree);
        _cleanup_free_ struct builder *b = calloc(1, sizeof *b);
        uint64_t columns[256];
        unsigned classes = 0, nibbles;
        uint8_t class_of[256];
        struct grep *g;
        struct frag f;
        int r;

        if (!tree || !b)
                return -ENOMEM;
        r = grep_check(pattern, len, tree, reason, reason_size);
        if (r < 0)
                return r;
        b->t = tree;
        f = build(b, tree->root);

        /* One class per distinct column of the byte x state matrix. */
        for (unsigned c = 0; c < 256; c++) {
                uint64_t col = column(b, tree->positions, c);
                unsigned k;

                for (k = 0; k < classes && columns[k] != col; k++)
                        ;
                class_of[c] = (uint8_t) k;
                if (k == classes)
                        columns[classes++] = col;
        }

        nibbles = (tree->positions + 3) / 4;
        g = calloc(1, sizeof *g + (classes + (size_t) nibbles * 16) * sizeof(uint64_t));
        if (!g)
                return -ENOMEM;
        g->positions = tree->positions;
        g->nibbles = nibbles;
        memcpy(g->empty, f.empty, sizeof g->empty);
        g->first_at_start = f.first_at_start;
        g->first = f.first;
        g->last_at_end = f.last_at_end;
        g->last = f.last;
        memcpy(g->class_of, class_of, sizeof class_of);
        g->classes = classes;
        g->accept = g->tables;
        memcpy(g->accept, columns, classes * sizeof *columns);
        g->follow = (uint64_t(*)[16]) (g->tables + classes);
        for (unsigned n = 0; n < nibbles; n++)
                for (unsigned v = 1; v < 16; v++)
                        for (unsigned bit = 0; bit < 4; bit++)
                                if (v & (1u << bit) && 4 * n + bit < tree->positions)
                                        g->follow[n][v] |= b->follow[4 * n + bit];
        *ret = g;
        return 0;
}

void grep_free(struct grep *g) {
        free(g);
}

/* ---- matching ----------------------------------------------------------- */

/* The states that may come after the live ones: one table entry per
 * nibble of the state word, so at most GREP_POSITIONS_MAX / 4 ORs a byte,
 * independent of one another. */
static uint64_t follow(const struct grep *g, uint64_t live) {
        uint64_t next = 0;

        for (unsigned n = 0; n < g->nibbles; n++)
                next |= g->follow[n][(live >> (4 * n)) & 15];
        return next;
}

bool grep_match(const struct grep *g, const char *line, size_t len) {
        const unsigned char *s = (const unsigned char *) line;
        uint64_t live;

        /* An empty match: on an empty line, where the line both starts and
         * ends; else at its start or its end (a pattern that matches the
         * empty string in between does so at the start too). */
        if (len == 0)
                return g->empty[1][1];
        if (g->empty[1][0] || g->empty[0][1])
                return true;
        /* Byte i: the states that may follow a live one, or start a match
         * there (the search is unanchored), and accept the byte; a match
         * ends once one of them may end it at the boundary after byte i. */
        live = g->first_at_start & g->accept[g->class_of[s[0]]];
        if (live & (len == 1 ? g->last_at_end : g->last))
                return true;
        for (size_t i = 1; i < len; i++) {
                /* Most bytes of most lines leave nothing live. */
                live = (g->first | (live ? follow(g, live) : 0)) & g->accept[g->class_of[s[i]]];
                if (live & (i + 1 == len ? g->last_at_end : g->last))
                        return true;
        }
        return false;
}

size_t grep_cost(const struct grep *g, size_t len) {
        return len * ((size_t) g->nibbles + 1);
}
