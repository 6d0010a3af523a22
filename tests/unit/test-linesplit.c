/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linesplit.h"
#include "macro.h"
#include "utf8.h"

/* What a splitter handed out: every piece, in order. */
struct collected {
        size_t n;
        char *text[64];
        size_t len[64];
        bool continues[64];
        /* For big inputs: everything joined, and piece statistics. */
        char *joined;
        size_t joined_len, joined_cap;
        size_t pieces, max_piece;
        int fail_after; /* return -EIO after this many pieces, if > 0 */
};

static int collect(const char *line, size_t len, bool continues, void *userdata) {
        struct collected *c = userdata;

        cr_assert(utf8_valid(line, len), "piece %zu is not valid UTF-8", c->pieces);
        if (c->n < ELEMENTSOF(c->text)) {
                c->text[c->n] = malloc(len + 1);
                memcpy(c->text[c->n], line, len);
                c->text[c->n][len] = '\0';
                c->len[c->n] = len;
                c->continues[c->n] = continues;
                c->n++;
        }
        if (c->joined_len + len > c->joined_cap) {
                c->joined_cap = (c->joined_len + len) * 2;
                c->joined = realloc(c->joined, c->joined_cap);
        }
        memcpy(c->joined + c->joined_len, line, len);
        c->joined_len += len;
        c->pieces++;
        if (len > c->max_piece)
                c->max_piece = len;
        if (c->fail_after > 0 && c->pieces == (size_t) c->fail_after)
                return -EIO;
        return 0;
}

static void collected_free(struct collected *c) {
        for (size_t i = 0; i < c->n; i++)
                free(c->text[i]);
        free(c->joined);
        memset(c, 0, sizeof *c);
}

static struct line_splitter *splitter(void) {
        struct line_splitter *s = NULL;

        cr_assert_eq(line_splitter_new(&s), 0);
        return s;
}

/* ---- UTF-8 ---------------------------------------------------------------- */

#define R "\xEF\xBF\xBD" /* U+FFFD */

static const struct {
        const char *in;
        size_t len;
        const char *out;
} utf8_cases[] = {
#define C(in, out) { in, sizeof(in) - 1, out }
        C("plain", "plain"),
        C("", ""),
        C("caf\xC3\xA9 \xE6\x97\xA5 \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE6\x97\xA5 \xF0\x9F\x98\x80"),
        C("nul\0inside", "nul\0inside"),
        C("\x80", R),                            /* stray continuation */
        C("\xC0\x80", R R),                      /* overlong NUL: C0 is never a lead */
        C("\xC1\xBF", R R),
        C("\xE0\x80\x80", R R R),                /* overlong 3-byte: E0 needs A0..BF */
        C("\xE0\xA0\x80", "\xE0\xA0\x80"),       /* U+0800, the first 3-byte one */
        C("\xED\xA0\x80", R R R),                /* surrogate D800 */
        C("\xED\x9F\xBF", "\xED\x9F\xBF"),       /* U+D7FF, just below */
        C("\xF0\x80\x80\x80", R R R R),          /* overlong 4-byte */
        C("\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"), /* U+10FFFF */
        C("\xF4\x90\x80\x80", R R R R),          /* beyond U+10FFFF */
        C("\xF5\x80", R R),
        C("\xFF", R),
        C("a\xE2\x82", "a" R),                   /* truncated at the end: one for the subpart */
        C("\xE2\x82" "b", R "b"),                /* truncated before ASCII */
        C("\xF0\x9F\x98" "A", R "A"),
        C("\xF0\x9F\xE2\x82\xAC", R "\xE2\x82\xAC"), /* truncated, then a good one */
        C("\xC2\xC2\xA9", R "\xC2\xA9"),
        C("12345678\x80" "12345678", "12345678" R "12345678"), /* after the 8-byte fast path */
#undef C
};

Test(utf8, table) {
        for (size_t i = 0; i < ELEMENTSOF(utf8_cases); i++) {
                char out[64];
                size_t n = utf8_repair(utf8_cases[i].in, utf8_cases[i].len, out);
                size_t want = strlen(utf8_cases[i].out);

                /* "nul\0inside" has its NUL in both: compare by the input length then */
                if (memchr(utf8_cases[i].in, '\0', utf8_cases[i].len))
                        want = utf8_cases[i].len;
                cr_expect_eq(n, want, "case %zu: length %zu, want %zu", i, n, want);
                cr_expect_eq(memcmp(out, utf8_cases[i].out, want), 0, "case %zu differs", i);
                cr_expect_eq(utf8_valid(utf8_cases[i].in, utf8_cases[i].len),
                             n == utf8_cases[i].len && memcmp(out, utf8_cases[i].in, n) == 0, "case %zu validity", i);
                cr_expect(utf8_valid(out, n), "case %zu output invalid", i);
        }
}

Test(utf8, repair_str_cases) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "plain (name) x", "plain (name) x" },
                { "caf\xc3\xa9 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xf0\x9f\x98\x80" },
                { "\xff\xfe" "bad", "\xef\xbf\xbd\xef\xbf\xbd" "bad" },
                { "over\xc0\x80long", "over\xef\xbf\xbd\xef\xbf\xbdlong" },
                { "sur\xed\xa0\x80", "sur\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
                { "big\xf4\x90\x80\x80", "big\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
                { "cut\xe2\x82", "cut\xef\xbf\xbd" }, /* one maximal subpart */
        };
        char buf[64];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                cr_assert_str_eq(utf8_repair_str(cases[i].in, buf, sizeof buf), cases[i].out, "case %zu", i);
        cr_assert_eq(utf8_repair_str(cases[0].in, buf, sizeof buf), cases[0].in, "valid text is not copied");
        /* a buffer too small truncates on a character boundary */
        cr_assert_str_eq(utf8_repair_str("\xff\xff\xff", buf, 7), "\xef\xbf\xbd\xef\xbf\xbd");
}


Test(utf8, worst_case_growth_is_three_times) {
        char in[256], out[3 * sizeof in];

        memset(in, 0xFF, sizeof in);
        cr_assert_eq(utf8_repair(in, sizeof in, out), sizeof out);
}

/* ---- splitting ------------------------------------------------------------ */

Test(linesplit, lines_and_partial_line) {
        struct line_splitter *s = splitter();
        struct collected c = { 0 };

        cr_assert_eq(line_splitter_feed(s, "one\ntwo\n\nthr", 12, collect, &c), 0);
        cr_assert_eq(c.n, 3);
        cr_expect_str_eq(c.text[0], "one");
        cr_expect_str_eq(c.text[1], "two");
        cr_expect_str_eq(c.text[2], "");
        cr_expect_eq(line_splitter_pending(s), 3);

        /* The partial line waits for its newline, across any number of reads. */
        cr_assert_eq(line_splitter_feed(s, "e", 1, collect, &c), 0);
        cr_assert_eq(c.n, 3);
        cr_assert_eq(line_splitter_feed(s, "e\r\nfour", 8, collect, &c), 0);
        cr_assert_eq(c.n, 4);
        cr_expect_str_eq(c.text[3], "three");
        cr_expect_not(c.continues[3]);

        /* The stream ended: the held line comes out as it is. */
        cr_assert_eq(line_splitter_flush(s, collect, &c), 0);
        cr_assert_eq(c.n, 5);
        cr_expect_str_eq(c.text[4], "four");
        cr_expect_eq(line_splitter_pending(s), 0);
        cr_assert_eq(line_splitter_flush(s, collect, &c), 0);
        cr_assert_eq(c.n, 5);

        collected_free(&c);
        line_splitter_free(s);
}

Test(linesplit, a_character_cut_by_a_read_survives) {
        struct line_splitter *s = splitter();
        struct collected c = { 0 };

        cr_assert_eq(line_splitter_feed(s, "x\xE2\x82", 3, collect, &c), 0);
        cr_assert_eq(line_splitter_feed(s, "\xAC\n", 2, collect, &c), 0);
        cr_assert_eq(c.n, 1);
        cr_expect_str_eq(c.text[0], "x\xE2\x82\xAC");
        collected_free(&c);
        line_splitter_free(s);
}

static void feed_in_chunks(struct line_splitter *s, const char *data, size_t len, size_t chunk,
                           struct collected *c) {
        for (size_t off = 0; off < len; off += chunk) {
                size_t n = len - off < chunk ? len - off : chunk;
                cr_assert_eq(line_splitter_feed(s, data + off, n, collect, c), 0);
        }
}

/* The fixture holds NUL bytes: read it by size, not as a string. */
static char *slurp(const char *path, size_t *len) {
        FILE *f = fopen(path, "re");
        char *p;
        long n;

        cr_assert_not_null(f, "%s", path);
        cr_assert_eq(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        cr_assert_gt(n, 0);
        rewind(f);
        p = malloc((size_t) n);
        cr_assert_eq(fread(p, 1, (size_t) n, f), (size_t) n);
        fclose(f);
        *len = (size_t) n;
        return p;
}

/* Every line sanitised exactly as an independent decoder does it, whatever
 * the size of the reads. */
Test(linesplit, fixture_matches_python_decoder) {
        static const size_t chunks[] = { 1, 2, 3, 7, 64, 4096, 1 << 20 };
        size_t data_len, expected_len;
        char *data, *expected;

        data = slurp(TEST_DATA_DIR "/linesplit/mixed.log", &data_len);
        expected = slurp(TEST_DATA_DIR "/linesplit/mixed.expected", &expected_len);

        for (size_t k = 0; k < ELEMENTSOF(chunks); k++) {
                struct line_splitter *s = splitter();
                struct collected c = { 0 };
                char *want = expected;
                size_t lines = 0;

                feed_in_chunks(s, data, data_len, chunks[k], &c);
                cr_assert_eq(line_splitter_pending(s), 0);
                cr_assert_eq(c.pieces, 400, "chunk %zu: %zu lines", chunks[k], c.pieces);
                /* joined has no separators: compare against expected without its newlines */
                for (size_t off = 0; lines < 400; lines++) {
                        char *nl = memchr(want, '\n', expected_len - (size_t) (want - expected));
                        size_t l = (size_t) (nl - want);

                        cr_assert_eq(memcmp(c.joined + off, want, l), 0, "chunk %zu: line %zu differs", chunks[k],
                                     lines);
                        off += l;
                        want = nl + 1;
                }
                collected_free(&c);
                line_splitter_free(s);
        }
        free(data);
        free(expected);
}

/* ---- the 64 KiB bound ----------------------------------------------------- */

static char *line_of(size_t len, const char *unit, size_t unit_len) {
        char *p = malloc(len + 1);

        for (size_t i = 0; i < len; i += unit_len)
                memcpy(p + i, unit, len - i < unit_len ? len - i : unit_len);
        p[len] = '\n';
        return p;
}

Test(linesplit, exactly_the_bound_is_one_piece) {
        struct line_splitter *s = splitter();
        struct collected c = { 0 };
        char *p = line_of(LINE_PIECE_MAX, "a", 1);

        cr_assert_eq(line_splitter_feed(s, p, LINE_PIECE_MAX + 1, collect, &c), 0);
        cr_assert_eq(c.pieces, 1);
        cr_expect_eq(c.len[0], LINE_PIECE_MAX);
        cr_expect_not(c.continues[0]);
        free(p);
        collected_free(&c);
        line_splitter_free(s);
}

Test(linesplit, one_past_the_bound_is_two_pieces) {
        struct line_splitter *s = splitter();
        struct collected c = { 0 };
        char *p = line_of(LINE_PIECE_MAX + 1, "b", 1);

        cr_assert_eq(line_splitter_feed(s, p, LINE_PIECE_MAX + 2, collect, &c), 0);
        cr_assert_eq(c.pieces, 2);
        cr_expect_eq(c.len[0], LINE_PIECE_MAX);
        cr_expect(c.continues[0]);
        cr_expect_eq(c.len[1], 1);
        cr_expect_not(c.continues[1]);
        free(p);
        collected_free(&c);
        line_splitter_free(s);
}

/* A 1 MiB line of three-byte characters whose boundaries never fall on a
 * piece boundary: it comes out in marked pieces of at most 64 KiB that join
 * back to the original, with no U+FFFD from a character cut in two — read
 * whole, and read in odd-sized chunks so the held-line path is taken. */
Test(linesplit, one_mebibyte_line) {
        static const size_t chunks[] = { 1 << 21, 65537, 4093 };
        const size_t len = 1 << 20;
        char *p = line_of(len - 1, "\xE2\x82\xAC", 3); /* 1 MiB - 1 is a multiple of 3 */

        for (size_t k = 0; k < ELEMENTSOF(chunks); k++) {
                struct line_splitter *s = splitter();
                struct collected c = { 0 };

                feed_in_chunks(s, p, len, chunks[k], &c);
                cr_assert_eq(c.joined_len, len - 1, "chunk %zu", chunks[k]);
                cr_assert_eq(memcmp(c.joined, p, len - 1), 0, "chunk %zu", chunks[k]);
                cr_expect_leq(c.max_piece, LINE_PIECE_MAX);
                cr_expect_eq(c.pieces, (len - 1) / (LINE_PIECE_MAX - 1) + 1, "chunk %zu: %zu pieces", chunks[k],
                             c.pieces);
                for (size_t i = 0; i < c.n; i++) {
                        cr_expect_eq(c.continues[i], i + 1 < c.pieces, "piece %zu", i);
                        cr_expect_eq(c.len[i] % 3, 0, "piece %zu cuts a character", i);
                }
                collected_free(&c);
                line_splitter_free(s);
        }
        free(p);
}

Test(linesplit, journal_record_is_split_too) {
        struct line_splitter *s = splitter();
        struct collected c = { 0 };
        char *p = line_of(3 * LINE_PIECE_MAX, "\xFF", 1);

        cr_assert_eq(line_splitter_feed(s, "held", 4, collect, &c), 0);
        cr_assert_eq(line_splitter_record(s, p, 3 * LINE_PIECE_MAX, collect, &c), 0);
        cr_assert_eq(c.pieces, 3);
        cr_expect_eq(c.len[0], 3 * LINE_PIECE_MAX); /* every byte became U+FFFD */
        cr_expect(c.continues[0] && c.continues[1] && !c.continues[2]);
        cr_expect_eq(line_splitter_pending(s), 4); /* the file's partial line is untouched */
        free(p);
        collected_free(&c);
        line_splitter_free(s);
}

Test(linesplit, handler_error_stops_feeding) {
        struct line_splitter *s = splitter();
        struct collected c = { .fail_after = 2 };

        cr_assert_eq(line_splitter_feed(s, "a\nb\nc\n", 6, collect, &c), -EIO);
        cr_expect_eq(c.pieces, 2);
        collected_free(&c);
        line_splitter_free(s);
}
