/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "grepcheck.h"
#include "macro.h"

/* A recursive-descent parser of extended regular expressions into the
 * tree that grep.c compiles. Bounds are checked as nodes are made, so no
 * work is done past the point where a pattern is known to be too big. */

struct parser {
        const unsigned char *p, *end;
        struct grep_tree *t;
        unsigned depth;
        char *reason;
        size_t reason_size;
};

_printf_(2, 3) static int fail(struct parser *ps, const char *fmt, ...) {
        va_list ap;

        if (ps->reason_size > 0) {
                va_start(ap, fmt);
                vsnprintf(ps->reason, ps->reason_size, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static bool at_end(const struct parser *ps) {
        return ps->p >= ps->end;
}

/* The printable form of a byte, for a reason. */
static const char *shown(unsigned char c, char buf[static 8]) {
        if (c >= 0x21 && c < 0x7f)
                snprintf(buf, 8, "%c", c);
        else
                snprintf(buf, 8, "\\x%02x", c);
        return buf;
}

/* ---- nodes -------------------------------------------------------------- */

static int too_complex(struct parser *ps) {
        return fail(ps, "pattern too complex: written out, its repetitions hold more than %d characters",
                    GREP_POSITIONS_MAX);
}

/* positions saturates just past the limit: whether a pattern is too big is
 * decided once it is all read, so that what is wrong with it in kind (a
 * nesting, a back-reference) is what the client is told. */
static int node_new(struct parser *ps, enum grep_op op, unsigned long positions, unsigned *ret) {
        struct grep_tree *t = ps->t;

        /* Cannot happen given GREP_NODES_MAX, but a parser that a fuzzer
         * drives checks rather than trusts its own arithmetic. */
        if (t->n_nodes >= GREP_NODES_MAX)
                return too_complex(ps);
        if (positions > GREP_POSITIONS_MAX)
                positions = GREP_POSITIONS_MAX + 1;
        t->nodes[t->n_nodes] = (struct grep_node){ .op = (uint8_t) op, .positions = (uint16_t) positions };
        *ret = t->n_nodes++;
        return 0;
}

static int set_new(struct parser *ps, unsigned *node, uint8_t **set) {
        struct grep_tree *t = ps->t;
        int r;

        if (t->n_sets >= GREP_PATTERN_MAX)
                return too_complex(ps);
        r = node_new(ps, GREP_BYTES, 1, node);
        if (r < 0)
                return r;
        t->nodes[*node].set = (uint16_t) t->n_sets;
        *set = t->sets[t->n_sets++];
        memset(*set, 0, 32);
        return 0;
}

static void set_add(uint8_t *set, unsigned char c) {
        set[c >> 3] |= (uint8_t) (1u << (c & 7));
}

static void set_add_range(uint8_t *set, unsigned lo, unsigned hi) {
        for (unsigned c = lo; c <= hi; c++)
                set_add(set, (unsigned char) c);
}

static int byte_node(struct parser *ps, unsigned char c, unsigned *ret) {
        uint8_t *set;
        int r = set_new(ps, ret, &set);

        if (r < 0)
                return r;
        set_add(set, c);
        return 0;
}

static int pair_node(struct parser *ps, enum grep_op op, unsigned a, unsigned b, unsigned *ret) {
        struct grep_node *na = &ps->t->nodes[a], *nb = &ps->t->nodes[b];
        bool counted = na->counted || nb->counted;
        int r;

        r = node_new(ps, op, (unsigned long) na->positions + nb->positions, ret);
        if (r < 0)
                return r;
        ps->t->nodes[*ret].left = (uint16_t) a;
        ps->t->nodes[*ret].right = (uint16_t) b;
        ps->t->nodes[*ret].counted = counted;
        return 0;
}

/* x{min,max} written out holds this many copies of x: x{2,} is x x+. */
static unsigned copies(unsigned min, unsigned max) {
        if (max == GREP_UNBOUNDED)
                return min > 1 ? min : 1;
        return max;
}

static int repeat_node(struct parser *ps, unsigned operand, unsigned min, unsigned max, bool counted,
                       unsigned *ret) {
        const struct grep_node *x = &ps->t->nodes[operand];
        unsigned long positions = (unsigned long) x->positions * copies(min, max);
        int r;

        if (counted && x->counted)
                return fail(ps, "counted repetition inside a counted repetition: the counts would multiply");
        r = node_new(ps, GREP_REPEAT, positions, ret);
        if (r < 0)
                return r;
        ps->t->nodes[*ret].left = (uint16_t) operand;
        ps->t->nodes[*ret].min = (uint16_t) min;
        ps->t->nodes[*ret].max = (uint16_t) max;
        ps->t->nodes[*ret].counted = counted || x->counted;
        return 0;
}

/* ---- atoms -------------------------------------------------------------- */

static bool class_add(uint8_t *set, const char *name, size_t len) {
        static const struct {
                const char *name;
                int (*is)(int);
        } classes[] = {
                { "alpha", isalpha }, { "digit", isdigit }, { "alnum", isalnum }, { "upper", isupper },
                { "lower", islower }, { "space", isspace }, { "blank", isblank }, { "punct", ispunct },
                { "print", isprint }, { "graph", isgraph }, { "cntrl", iscntrl }, { "xdigit", isxdigit },
        };

        for (size_t i = 0; i < ELEMENTSOF(classes); i++) {
                if (strlen(classes[i].name) != len || memcmp(classes[i].name, name, len) != 0)
                        continue;
                /* ASCII only: livelogd never calls setlocale(), and a line
                 * is bytes, so the C locale's classes are the ones meant. */
                for (int c = 0; c < 128; c++)
                        if (classes[i].is(c))
                                set_add(set, (unsigned char) c);
                return true;
        }
        return false;
}

/* [...]: the opening [ is consumed. */
static int parse_bracket(struct parser *ps, unsigned *ret) {
        bool negate = false, first = true;
        uint8_t *set;
        char b1[8], b2[8];
        int r;

        r = set_new(ps, ret, &set);
        if (r < 0)
                return r;
        if (!at_end(ps) && *ps->p == '^') {
                negate = true;
                ps->p++;
        }
        for (;;) {
                unsigned char lo, hi;

                if (at_end(ps))
                        return fail(ps, "unmatched [");
                lo = *ps->p;
                if (lo == ']' && !first) {
                        ps->p++;
                        break;
                }
                first = false;
                if (lo == '[' && ps->end - ps->p >= 2 && (ps->p[1] == ':' || ps->p[1] == '=' || ps->p[1] == '.')) {
                        const unsigned char *name = ps->p + 2, *close;
                        char kind = (char) ps->p[1];

                        if (kind != ':')
                                return fail(ps, "collating elements and equivalence classes ([%c %c]) are not supported",
                                            kind, kind);
                        close = name;
                        while (close + 1 < ps->end && !(close[0] == ':' && close[1] == ']'))
                                close++;
                        if (close + 1 >= ps->end)
                                return fail(ps, "unterminated [: in a bracket expression");
                        if (!class_add(set, (const char *) name, (size_t) (close - name)))
                                return fail(ps, "unknown character class [:%.*s:]", (int) (close - name),
                                            (const char *) name);
                        ps->p = close + 2;
                        if (ps->end - ps->p >= 2 && ps->p[0] == '-' && ps->p[1] != ']')
                                return fail(ps, "a range cannot start with a character class");
                        continue;
                }
                if (lo >= 0x80)
                        return fail(ps, "non-ASCII bytes in a bracket expression are not supported "
                                        "(write such characters outside brackets)");
                ps->p++;
                hi = lo;
                if (ps->end - ps->p >= 2 && ps->p[0] == '-' && ps->p[1] != ']') {
                        hi = ps->p[1];
                        ps->p += 2;
                        if (hi >= 0x80)
                                return fail(ps, "non-ASCII bytes in a bracket expression are not supported "
                                                "(write such characters outside brackets)");
                        if (hi == '[' && !at_end(ps) && (*ps->p == ':' || *ps->p == '=' || *ps->p == '.'))
                                return fail(ps, "a range cannot end with a character class");
                        if (hi < lo)
                                return fail(ps, "range %s-%s is out of order", shown(lo, b1), shown(hi, b2));
                }
                set_add_range(set, lo, hi);
        }
        if (negate)
                for (unsigned i = 0; i < 32; i++)
                        set[i] = (uint8_t) ~set[i];
        return 0;
}

static int parse_escape(struct parser *ps, unsigned *ret) {
        unsigned char c;
        uint8_t *set;
        int r;

        if (at_end(ps))
                return fail(ps, "trailing backslash");
        c = *ps->p++;
        if (c >= '1' && c <= '9')
                return fail(ps, "back-references (\\%c) are not supported", c);
        switch (c) {
        case 'w':
        case 'W':
        case 's':
        case 'S':
                r = set_new(ps, ret, &set);
                if (r < 0)
                        return r;
                if (c == 'w' || c == 'W') {
                        (void) class_add(set, "alnum", 5);
                        set_add(set, '_');
                } else
                        (void) class_add(set, "space", 5);
                if (c == 'W' || c == 'S')
                        for (unsigned i = 0; i < 32; i++)
                                set[i] = (uint8_t) ~set[i];
                return 0;
        case 'b':
        case 'B':
        case '<':
        case '>':
        case '`':
        case '\'':
                return fail(ps, "\\%c (word boundaries and buffer anchors) is not supported", c);
        default:
                break;
        }
        /* A letter or digit after a backslash means something in some
         * dialect (\d, \n, \0); glibc would quietly take it as the letter. */
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                return fail(ps, "\\%c is not an extended regular expression escape "
                                "(for digits write [0-9], for a tab write it as it is)",
                            c);
        return byte_node(ps, c, ret);
}

/* How many bytes a valid UTF-8 sequence at p takes, 0 if it is not one. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
        size_t len;

        if (*p >= 0xc2 && *p <= 0xdf)
                len = 2;
        else if (*p >= 0xe0 && *p <= 0xef)
                len = 3;
        else if (*p >= 0xf0 && *p <= 0xf4)
                len = 4;
        else
                return 0;
        if ((size_t) (end - p) < len)
                return 0;
        for (size_t i = 1; i < len; i++)
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
        return len;
}

static int parse_alternation(struct parser *ps, unsigned *ret);

static int parse_atom(struct parser *ps, unsigned *ret) {
        unsigned char c = *ps->p;
        char b[8];
        uint8_t *set;
        size_t n;
        int r;

        switch (c) {
        case '(':
                if (++ps->depth > GREP_DEPTH_MAX)
                        return fail(ps, "groups nested deeper than %d", GREP_DEPTH_MAX);
                ps->p++;
                r = parse_alternation(ps, ret);
                if (r < 0)
                        return r;
                if (at_end(ps) || *ps->p != ')')
                        return fail(ps, "unmatched (");
                ps->p++;
                ps->depth--;
                return 0;
        case ')':
                return fail(ps, "unmatched )");
        case '[':
                ps->p++;
                return parse_bracket(ps, ret);
        case '.':
                ps->p++;
                r = set_new(ps, ret, &set);
                if (r < 0)
                        return r;
                memset(set, 0xff, 32);
                return 0;
        case '^':
        case '$':
                ps->p++;
                return node_new(ps, c == '^' ? GREP_BEGIN : GREP_END, 0, ret);
        case '\\':
                ps->p++;
                return parse_escape(ps, ret);
        case '*':
        case '+':
        case '?':
        case '{':
                return fail(ps, "nothing to repeat before '%s'", shown(c, b));
        default:
                break;
        }
        /* A character written as it is; a multi-byte one is one atom, so
         * that a repetition after it repeats all of it. */
        n = c >= 0x80 ? utf8_len(ps->p, ps->end) : 0;
        r = byte_node(ps, c, ret);
        if (r < 0)
                return r;
        ps->p++;
        for (size_t i = 1; i < n; i++) {
                unsigned next;

                r = byte_node(ps, *ps->p++, &next);
                if (r < 0)
                        return r;
                r = pair_node(ps, GREP_CAT, *ret, next, ret);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* {m}, {m,}, {m,n} or {,n}; the { is at ps->p. */
static int parse_count(struct parser *ps, unsigned *min, unsigned *max) {
        const unsigned char *p = ps->p + 1;
        unsigned long lo = 0, hi = 0;
        bool have_lo = false, have_hi = false, unbounded = false;

        /* Digits past what any count may be are read, not added up. */
        for (; p < ps->end && *p >= '0' && *p <= '9'; p++, have_lo = true)
                if (lo < 100000)
                        lo = lo * 10 + (unsigned long) (*p - '0');
        if (p < ps->end && *p == ',') {
                p++;
                for (; p < ps->end && *p >= '0' && *p <= '9'; p++, have_hi = true)
                        if (hi < 100000)
                                hi = hi * 10 + (unsigned long) (*p - '0');
                unbounded = !have_hi;
        } else {
                hi = lo;
                have_hi = have_lo;
        }
        if (p >= ps->end || *p != '}' || (!have_lo && !have_hi))
                return fail(ps, "'{' must start a count such as {2}, {2,} or {1,3} (write \\{ for a brace)");
        if (lo > GREP_REPEAT_MAX || (!unbounded && hi > GREP_REPEAT_MAX))
                return fail(ps, "repetition count %lu is too large: at most %d", lo > GREP_REPEAT_MAX ? lo : hi,
                            GREP_REPEAT_MAX);
        if (!unbounded && hi < lo)
                return fail(ps, "repetition {%lu,%lu} has its bounds the wrong way round", lo, hi);
        ps->p = p + 1;
        *min = (unsigned) lo;
        *max = unbounded ? GREP_UNBOUNDED : (unsigned) hi;
        return 0;
}

static int parse_piece(struct parser *ps, unsigned *ret) {
        /* ^* is refused, as glibc refuses it; (^)* is harmless. */
        bool anchor = *ps->p == '^' || *ps->p == '$';
        int r;

        r = parse_atom(ps, ret);
        if (r < 0)
                return r;
        while (!at_end(ps)) {
                unsigned char c = *ps->p;
                unsigned min = 0, max = 0;
                char b[8];

                if (c == '*')
                        min = 0, max = GREP_UNBOUNDED;
                else if (c == '+')
                        min = 1, max = GREP_UNBOUNDED;
                else if (c == '?')
                        min = 0, max = 1;
                else if (c == '{') {
                        r = parse_count(ps, &min, &max);
                        if (r < 0)
                                return r;
                        ps->p--; /* past the } below, as for one-byte operators */
                } else
                        break;
                if (anchor)
                        return fail(ps, "nothing to repeat before '%s'", shown(c, b));
                ps->p++;
                r = repeat_node(ps, *ret, min, max, c == '{', ret);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_branch(struct parser *ps, unsigned *ret) {
        bool any = false;
        int r;

        while (!at_end(ps) && *ps->p != '|' && !(*ps->p == ')' && ps->depth > 0)) {
                unsigned piece;

                r = parse_piece(ps, &piece);
                if (r < 0)
                        return r;
                if (!any)
                        *ret = piece;
                else {
                        r = pair_node(ps, GREP_CAT, *ret, piece, ret);
                        if (r < 0)
                                return r;
                }
                any = true;
        }
        return any ? 0 : node_new(ps, GREP_EMPTY, 0, ret);
}

static int parse_alternation(struct parser *ps, unsigned *ret) {
        int r;

        r = parse_branch(ps, ret);
        if (r < 0)
                return r;
        while (!at_end(ps) && *ps->p == '|') {
                unsigned branch;

                ps->p++;
                r = parse_branch(ps, &branch);
                if (r < 0)
                        return r;
                r = pair_node(ps, GREP_ALT, *ret, branch, ret);
                if (r < 0)
                        return r;
        }
        return 0;
}

int grep_check(const char *pattern, size_t len, struct grep_tree *tree, char *reason, size_t reason_size) {
        _cleanup_free_ struct grep_tree *own = NULL;
        struct parser ps = {
                .p = (const unsigned char *) pattern,
                .end = (const unsigned char *) pattern + len,
                .reason = reason,
                .reason_size = reason_size,
        };
        int r;

        if (len > GREP_PATTERN_MAX)
                return fail(&ps, "longer than %d bytes", GREP_PATTERN_MAX);
        if (!tree) {
                tree = own = malloc(sizeof *own);
                if (!tree)
                        return -ENOMEM;
        }
        tree->n_nodes = tree->n_sets = 0;
        ps.t = tree;
        r = parse_alternation(&ps, &tree->root);
        if (r < 0)
                return r;
        if (!at_end(&ps)) /* only a ) with no ( before it stops the parse early */
                return fail(&ps, "unmatched )");
        tree->positions = tree->nodes[tree->root].positions;
        if (tree->positions > GREP_POSITIONS_MAX)
                return too_complex(&ps);
        return 0;
}
