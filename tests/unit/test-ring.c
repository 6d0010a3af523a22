/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "ring.h"

static struct ring *ring(size_t bytes, size_t slots) {
        struct ring *r = NULL;

        cr_assert_eq(ring_new(bytes, slots, &r), 0);
        return r;
}

/* An entry's bytes are a function of its sequence number, so any held
 * entry can be checked for damage. */
static uint64_t add(struct ring *r, size_t len) {
        unsigned char *p = ring_reserve(r, len + 16);
        uint64_t seq = ring_next(r);

        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t) p % RING_ALIGN, 0);
        for (size_t i = 0; i < len; i++)
                p[i] = (unsigned char) (seq * 31 + i);
        cr_assert_eq(ring_commit(r, len), seq);
        return seq;
}

static void check(const struct ring *r, uint64_t seq, size_t want_len) {
        size_t len;
        const unsigned char *p = ring_get(r, seq, &len);

        cr_assert_not_null(p, "seq %llu missing", (unsigned long long) seq);
        cr_assert_eq(len, want_len);
        for (size_t i = 0; i < len; i++)
                cr_assert_eq(p[i], (unsigned char) (seq * 31 + i), "seq %llu byte %zu damaged",
                             (unsigned long long) seq, i);
}

Test(ring, starts_empty_at_one) {
        struct ring *r = ring(4096, 16);
        size_t len;

        cr_expect_eq(ring_first(r), 1);
        cr_expect_eq(ring_next(r), 1);
        cr_expect_null(ring_get(r, 0, &len));
        cr_expect_null(ring_get(r, 1, &len));
        cr_expect_eq(add(r, 10), 1);
        check(r, 1, 10);
        cr_expect_null(ring_get(r, 2, &len));
        ring_free(r);
}

Test(ring, slot_count_bounds_the_entries) {
        struct ring *r = ring(1 << 20, 5); /* rounded up to 8 */

        for (unsigned i = 0; i < 20; i++)
                add(r, 8);
        cr_expect_eq(ring_next(r), 21);
        cr_expect_eq(ring_first(r), 13);
        for (uint64_t s = 13; s <= 20; s++)
                check(r, s, 8);
        ring_free(r);
}

Test(ring, bytes_bound_the_entries) {
        struct ring *r = ring(1000, 1024);

        /* 100-byte entries (+16 reserved, committed at 104): at most nine fit,
         * and never fewer than what one wrap can waste */
        for (unsigned i = 0; i < 50; i++) {
                add(r, 100);
                if (i >= 9) {
                        cr_expect_leq(ring_next(r) - ring_first(r), 9);
                        cr_expect_geq(ring_next(r) - ring_first(r), 8);
                }
        }
        for (uint64_t s = ring_first(r); s < ring_next(r); s++)
                check(r, s, 100);
        ring_free(r);
}

Test(ring, too_big_for_the_arena) {
        struct ring *r = ring(1024, 16);

        cr_expect_null(ring_reserve(r, 1025));
        cr_expect_not_null(ring_reserve(r, 1024));
        ring_free(r);
}

/* Random sizes through many wraps: every held entry intact, the held set
 * contiguous, and nothing evicted that did not have to be: what is held
 * fills the arena but for what one wrap can waste. */
Test(ring, random_sizes_against_a_model) {
        const size_t arena = 64 * 1024, biggest = 3000;
        struct ring *r = ring(arena, 4096);
        size_t *lens = calloc(200001, sizeof *lens);

        srand(42);
        for (unsigned i = 0; i < 200000; i++) {
                size_t len = (size_t) rand() % biggest, held = 0;
                uint64_t seq = add(r, len);

                lens[seq] = len;
                cr_assert_eq(ring_next(r), seq + 1);
                if (i % 97 != 0)
                        continue;
                for (uint64_t s = ring_first(r); s < ring_next(r); s++) {
                        check(r, s, lens[s]);
                        held += (lens[s] + 7) & ~(size_t) 7;
                }
                cr_assert_leq(held, arena);
                if (ring_first(r) > 1)
                        cr_assert_geq(held + 2 * (biggest + 16 + 8), arena, "only %zu of %zu bytes held", held, arena);
        }
        free(lens);
        ring_free(r);
}
