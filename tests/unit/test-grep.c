/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "grep.h"
#include "grepcheck.h"
#include "macro.h"

/* ---- the checker: what is refused, and the reason given ---------------- */

static const struct {
        const char *pattern;
        const char *reason;
} refused[] = {
        { "((a{1,100}){1,100}){1,100}", "counted repetition inside a counted repetition" },
        { "(a{1,255}){1,255}", "counted repetition inside a counted repetition" },
        { "(a{1,5}){1,5}", "counted repetition inside a counted repetition" },
        { "(a{2}){3}", "counted repetition inside a counted repetition" },
        { "a{2}{3}", "counted repetition inside a counted repetition" },
        { "(x|y{2})+{3}", "counted repetition inside a counted repetition" },
        { "([0-9]{1,3}\\.){3}", "counted repetition inside a counted repetition" },
        { "(.*)(.*)\\2\\1x", "back-references (\\2) are not supported" },
        { "(a)\\1", "back-references (\\1) are not supported" },
        { "a{256}", "repetition count 256 is too large: at most 255" },
        { "a{1,1000}", "repetition count 1000 is too large" },
        { "a{1,32767}", "too large" },
        { "a{99999999999999999999999}", "too large" },
        { "a{3,2}", "bounds the wrong way round" },
        { "a{", "'{' must start a count" },
        { "a{x}", "'{' must start a count" },
        { "a{,}", "'{' must start a count" },
        { "a{1", "'{' must start a count" },
        { "a{1,2", "'{' must start a count" },
        { "[a-z]{200}[0-9]{100}", "too complex" },
        { ".{0,64}x", "more than 64 characters" },
        { "x{255}", "too complex" },
        { "(abcdefghijklmnop){16}x", "too complex" },
        { "*a", "nothing to repeat before '*'" },
        { "a|+b", "nothing to repeat before '+'" },
        { "(?i)a", "nothing to repeat before '?'" },
        { "{1}", "nothing to repeat before '{'" },
        { "^*", "nothing to repeat before '*'" },
        { "^{2}", "nothing to repeat before '{'" },
        { "a$+", "nothing to repeat before '+'" },
        { "(unclosed", "unmatched (" },
        { "((a)", "unmatched (" },
        { "a)", "unmatched )" },
        { "[abc", "unmatched [" },
        { "[", "unmatched [" },
        { "[]", "unmatched [" },
        { "[z-a]", "range z-a is out of order" },
        { "[[:alpah:]]", "unknown character class [:alpah:]" },
        { "[[:alpha:", "unterminated [:" },
        { "[[:alpha:]-z]", "range cannot start with a character class" },
        { "[a-[:alpha:]]", "range cannot end with a character class" },
        { "[[.a.]]", "collating elements and equivalence classes" },
        { "[[=a=]]", "collating elements and equivalence classes" },
        { "[\xc3\xa9]", "non-ASCII" },
        { "[a-\xc3\xa9]", "non-ASCII" },
        { "\\bword", "\\b (word boundaries" },
        { "\\<a\\>", "\\< (word boundaries" },
        { "\\`a", "buffer anchors" },
        { "\\d+", "\\d is not an extended regular expression escape" },
        { "\\n", "\\n is not" },
        { "\\0", "\\0 is not" },
        { "abc\\", "trailing backslash" },
        { "(((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))", "nested deeper than 32" },
};

Test(grepcheck, refused) {
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                char reason[256] = "";
                int r = grep_check(refused[i].pattern, strlen(refused[i].pattern), NULL, reason, sizeof reason);

                cr_expect_eq(r, -EINVAL, "%s was accepted", refused[i].pattern);
                cr_expect(strstr(reason, refused[i].reason), "%s: got \"%s\", expected \"%s\"", refused[i].pattern,
                          reason, refused[i].reason);
        }
}

Test(grepcheck, length_is_bounded) {
        char pattern[GREP_PATTERN_MAX + 2], reason[128];

        memset(pattern, 'a', sizeof pattern);
        cr_assert_eq(grep_check(pattern, GREP_PATTERN_MAX, NULL, reason, sizeof reason), -EINVAL,
                     "512 a's are 512 positions, over the limit");
        cr_expect(strstr(reason, "too complex"));
        cr_assert_eq(grep_check(pattern, GREP_PATTERN_MAX + 1, NULL, reason, sizeof reason), -EINVAL);
        cr_expect_str_eq(reason, "longer than 512 bytes");
        /* 512 bytes that stay within the positions */
        memset(pattern, '(', 8);
        memset(pattern + 8, 'a', 8);
        memset(pattern + 16, ')', 8);
        for (size_t i = 24; i + 2 <= GREP_PATTERN_MAX; i += 2)
                memcpy(pattern + i, "()", 2);
        cr_assert_eq(grep_check(pattern, GREP_PATTERN_MAX, NULL, reason, sizeof reason), 0, "%s", reason);
}

Test(grepcheck, reason_fits_any_buffer) {
        char reason[8];

        cr_assert_eq(grep_check("(a)\\1", 5, NULL, reason, sizeof reason), -EINVAL);
        cr_expect_eq(strlen(reason), 7);
        cr_assert_eq(grep_check("(a)\\1", 5, NULL, NULL, 0), -EINVAL);
}

static const char *const accepted[] = {
        "",
        "a",
        "a||b",
        "()",
        "(|a)",
        "x|",
        "a**",
        "a+?",
        "[]a]",
        "[^]a]",
        "[a-]",
        "[-a]",
        "[a\\]",
        "a{,3}",
        "a{2,}",
        "a{0}",
        "a{0,0}",
        "x{64}",
        ".{0,64}",
        "(){255}",
        "\\{",
        "}",
        "]",
        "\\.\\*\\[\\^\\$\\(\\)\\|\\+\\?\\\\",
        "[[:alpha:][:digit:]_-]",
        "[[:upper:][:lower:][:space:][:blank:][:punct:][:print:][:graph:][:cntrl:][:xdigit:][:alnum:]]",
        "\\w\\W\\s\\S",
        "(a{3})*",
        "(a*){3}",
        "(a*)*",
        "(^)*",
        "\xc3\xa9+",
        "a^b",
        "a$b",
        "((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))",
        "\x01\x7f",
};

Test(grepcheck, accepted) {
        for (size_t i = 0; i < ELEMENTSOF(accepted); i++) {
                char reason[256] = "";

                cr_expect_eq(grep_check(accepted[i], strlen(accepted[i]), NULL, reason, sizeof reason), 0,
                             "%s refused: %s", accepted[i], reason);
        }
}

Test(grepcheck, positions_count_repetitions_written_out) {
        static const struct {
                const char *pattern;
                unsigned positions;
        } cases[] = {
                { "abc", 3 },          { "a|b", 2 },          { "^a$", 1 },     { "a*", 1 },
                { "a{3}", 3 },         { "a{2,5}", 5 },       { "a{4,}", 4 },   { "a{0,}", 1 },
                { "(ab){3}", 6 },      { "(ab)*{3}", 6 },     { "[a-z]{9}", 9 }, { "a{0}", 0 },
                { "\xc3\xa9{2}", 4 },  { ".{0,63}x", 64 },
        };
        struct grep_tree *t = malloc(sizeof *t);
        char reason[128];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                cr_assert_eq(grep_check(cases[i].pattern, strlen(cases[i].pattern), t, reason, sizeof reason), 0,
                             "%s: %s", cases[i].pattern, reason);
                cr_expect_eq(t->positions, cases[i].positions, "%s: %u positions", cases[i].pattern, t->positions);
        }
        free(t);
}

/* ---- the matcher ---------------------------------------------------------- */

static struct grep *compile(const char *pattern) {
        char reason[256] = "";
        struct grep *g = NULL;

        cr_assert_eq(grep_new(pattern, strlen(pattern), &g, reason, sizeof reason), 0, "%s: %s", pattern, reason);
        return g;
}

static const struct {
        const char *pattern, *line;
        bool match;
} matches[] = {
        { "", "anything", true },
        { "", "", true },
        { "abc", "xxabcxx", true },
        { "abc", "ab", false },
        { "^abc", "abcd", true },
        { "^abc", "xabc", false },
        { "abc$", "xabc", true },
        { "abc$", "abcx", false },
        { "^$", "", true },
        { "^$", "a", false },
        { "$", "", true },
        { "a|b", "xbx", true },
        { "(a|b)c", "bc", true },
        { "(a|b)c", "cc", false },
        { "a*b", "b", true },
        { "a+b", "b", false },
        { "a+b", "xaab", true },
        { "colou?r", "color", true },
        { "colou?r", "colour", true },
        { "colou?r", "colouur", false },
        { "^a{3}$", "aaa", true },
        { "^a{3}$", "aa", false },
        { "^a{3}$", "aaaa", false },
        { "^a{2,3}$", "aa", true },
        { "^a{2,3}$", "aaa", true },
        { "^a{2,3}$", "a", false },
        { "^a{2,3}$", "aaaa", false },
        { "^a{2,}$", "aa", true },
        { "^a{2,}$", "aaaaaaaaaa", true },
        { "^a{2,}$", "a", false },
        { "^a{,2}$", "", true },
        { "^a{,2}$", "aa", true },
        { "^a{,2}$", "aaa", false },
        { "^a{0}b$", "b", true },
        { "^a{0}b$", "ab", false },
        { "^(ab){2}$", "abab", true },
        { "^(ab){2}$", "ab", false },
        { "^(a|bc){2,3}$", "abc", true },
        { "^(a|bc){2,3}$", "bcbcbc", true },
        { "^(a|bc){2,3}$", "abcabc", false },
        { "[[:digit:]]+", "x42", true },
        { "[^0-9]", "123", false },
        { "[^0-9]", "12a", true },
        { "[]]", "a]b", true },
        { "[a-c]", "d", false },
        { "[a-]", "-", true },
        { "\\.", "a.b", true },
        { "\\.", "ab", false },
        { ".", "", false },
        { "\\w+@\\w+", "me@host", true },
        { "\\s", "a b", true },
        { "\\S", "   ", false },
        { "\\W", "abc_9", false },
        { "\xc3\xa9+$", "caf\xc3\xa9\xc3\xa9", true },
        { "^caf\xc3\xa9{2}$", "caf\xc3\xa9\xa9", false },
        { "x$|^y", "yes", true },
        { "a^b", "a^b", false },
        { "a\\^b", "a^b", true },
        { "a$b", "a$b", false },
        { "(^|,)x", "a,x", true },
        { "(^|,)x", "x", true },
        { "(^|,)x", "ax", false },
        { "(x|$)", "", true },
        { "(a*)*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", false },
        { "(a|aa)*c$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", true },
        { "\\{\"level\":\"error\"", "{\"level\":\"error\",\"x\":1}", true },
        { "(^)*a", "ba", true },
        { "^^a$$", "a", true },
        { "($){2,4}", "ab", true },
        { "^(^$)", "", true },
        { "(b(^|)){2}b", "bbb", true },
        { "(b(a$)*){2}b", "bbab", false },
        { "(b(a$)*){2}", "xbba", true },
        { "(a|^)b", "b", true },
        { "(a|^)b", "cb", false },
        { "b($|c)", "ab", true },
        { "b($|c)", "abd", false },
};

Test(grep, matches) {
        for (size_t i = 0; i < ELEMENTSOF(matches); i++) {
                struct grep *g = compile(matches[i].pattern);

                cr_expect_eq(grep_match(g, matches[i].line, strlen(matches[i].line)), matches[i].match,
                             "%s on \"%s\": expected %s", matches[i].pattern, matches[i].line,
                             matches[i].match ? "a match" : "none");
                grep_free(g);
        }
}

Test(grep, nul_bytes_are_bytes) {
        struct grep *g = compile("a.b");

        cr_expect(grep_match(g, "a\0b", 3));
        cr_expect(!grep_match(g, "a\0\0b", 4));
        grep_free(g);
        g = compile("b$");
        cr_expect(grep_match(g, "a\0b", 3), "the length, not the NUL, ends the line");
        grep_free(g);
}

/* The heaviest pattern there is, on the longest line there is: 64 states
 * live at each of 64 KiB of bytes. It answers, and rightly. */
Test(grep, heaviest_pattern_on_longest_line) {
        size_t len = 64 * 1024;
        char *line = malloc(len);
        struct grep *g = compile(".{0,63}x");

        memset(line, 'a', len);
        cr_expect(!grep_match(g, line, len));
        line[len - 1] = 'x';
        cr_expect(grep_match(g, line, len));
        cr_expect_eq(grep_cost(g, len), len * (64 / 4 + 1));
        grep_free(g);
        free(line);
}

/* ---- against glibc ---------------------------------------------------------- */

/* Patterns made at random from the syntax both take, over a two-letter
 * alphabet so that matches are frequent, run against glibc's regexec()
 * on random lines: the two must agree on every one. Anchors stay outside
 * groups: inside a repeated group glibc gets them wrong ((b(a$)*){2}b
 * matches "bbab" there, which Python's re and this matcher rightly do
 * not), and the table above covers them. */

struct rng {
        uint64_t s;
};

static unsigned rnd(struct rng *r, unsigned n) {
        r->s ^= r->s << 13;
        r->s ^= r->s >> 7;
        r->s ^= r->s << 17;
        return (unsigned) (r->s % n);
}

static void gen(struct rng *r, char *out, size_t *len, size_t cap, unsigned depth, bool in_count) {
        unsigned pieces = 1 + rnd(r, 3);

        for (unsigned i = 0; i < pieces && *len + 16 < cap; i++) {
                unsigned k = rnd(r, depth >= 3 ? 7 : 10);
                bool quantifiable = true, counted = false;

                if (k < 3)
                        out[(*len)++] = "ab."[rnd(r, 3)];
                else if (k == 3)
                        *len += (size_t) sprintf(out + *len, "%s", (const char *[]){ "[ab]", "[^a]", "[a-b]" }[rnd(r, 3)]);
                else if (k == 4 && depth == 0)
                        out[(*len)++] = "^$"[rnd(r, 2)], quantifiable = false;
                else if (k == 4)
                        out[(*len)++] = 'b';
                else if (k == 5)
                        out[(*len)++] = '|', quantifiable = false;
                else {
                        out[(*len)++] = '(';
                        gen(r, out, len, cap, depth + 1, in_count);
                        if (rnd(r, 4) == 0 && *len + 8 < cap) {
                                out[(*len)++] = '|';
                                gen(r, out, len, cap, depth + 1, in_count);
                        }
                        out[(*len)++] = ')';
                }
                if (!quantifiable || *len + 8 >= cap)
                        continue;
                switch (rnd(r, 7)) {
                case 0:
                        out[(*len)++] = '*';
                        break;
                case 1:
                        out[(*len)++] = '+';
                        break;
                case 2:
                        out[(*len)++] = '?';
                        break;
                case 3:
                        counted = true;
                        break;
                default:
                        break;
                }
                if (counted && !in_count) {
                        unsigned lo = rnd(r, 3), hi = lo + rnd(r, 3);
                        *len += (size_t) sprintf(out + *len, rnd(r, 4) ? "{%u,%u}" : "{%u,}", lo, hi);
                }
        }
        out[*len] = '\0';
}

Test(grep, agrees_with_glibc) {
        struct rng r = { 0x9e3779b97f4a7c15ULL };
        unsigned compared = 0, agreed = 0;

        for (unsigned n = 0; n < 3000; n++) {
                char pattern[256], reason[256];
                size_t len = 0;
                struct grep *g = NULL;
                regex_t re;

                gen(&r, pattern, &len, 48, 0, false);
                if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
                        continue;
                if (grep_new(pattern, len, &g, reason, sizeof reason) < 0) {
                        /* only for a reason glibc does not have */
                        cr_expect(strstr(reason, "counted repetition inside") || strstr(reason, "too complex"),
                                  "%s: refused: %s", pattern, reason);
                        regfree(&re);
                        continue;
                }
                for (unsigned l = 0; l < 40; l++) {
                        char line[16];
                        size_t ll = rnd(&r, sizeof line);
                        bool theirs, ours;

                        for (size_t i = 0; i < ll; i++)
                                line[i] = "abc"[rnd(&r, 3)];
                        line[ll] = '\0';
                        theirs = regexec(&re, line, 0, NULL, 0) == 0;
                        ours = grep_match(g, line, ll);
                        cr_expect_eq(ours, theirs, "/%s/ on \"%s\": glibc %d, grep %d", pattern, line, theirs, ours);
                        compared++;
                        agreed += ours == theirs;
                }
                grep_free(g);
                regfree(&re);
        }
        cr_assert_gt(compared, 50000);
        cr_assert_eq(agreed, compared);
}
