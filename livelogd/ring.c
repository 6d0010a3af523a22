/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "macro.h"
#include "ring.h"

struct slot {
        uint32_t off;
        uint32_t len;
};

struct ring {
        char *arena;
        size_t size;
        struct slot *slots;
        size_t mask; /* slots - 1 */
        uint64_t first, next;
        size_t head; /* where the next entry goes */
        /* The reservation in progress. */
        size_t reserved_off;
};

static size_t align_up(size_t n) {
        return (n + RING_ALIGN - 1) & ~(size_t) (RING_ALIGN - 1);
}

int ring_new(size_t arena_bytes, size_t slots, struct ring **ret) {
        _cleanup_(ring_freep) struct ring *r = NULL;
        size_t n = 1;

        if (arena_bytes == 0 || arena_bytes > UINT32_MAX || slots == 0)
                return -EINVAL;
        while (n < slots)
                n <<= 1;
        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->size = align_up(arena_bytes);
        r->arena = malloc(r->size);
        r->slots = calloc(n, sizeof *r->slots);
        if (!r->arena || !r->slots)
                return -ENOMEM;
        r->mask = n - 1;
        /* Sequence numbers start at 1 so that 0 can mean "none" to a client. */
        r->first = r->next = 1;
        *ret = TAKE_PTR(r);
        return 0;
}

void ring_free(struct ring *r) {
        if (!r)
                return;
        free(r->arena);
        free(r->slots);
        free(r);
}

static struct slot *slot_of(const struct ring *r, uint64_t seq) {
        return &r->slots[seq & r->mask];
}

void *ring_reserve(struct ring *r, size_t max) {
        /* Every entry takes room, so that two never share an offset. */
        max = align_up(max ? max : 1);
        if (max > r->size)
                return NULL;
        if (r->next - r->first > r->mask)
                r->first++;

        /* Entries sit in [tail, head) or, once wrapped, in [tail, end) and
         * [0, head): make max contiguous bytes free at head, or at 0. */
        for (;;) {
                size_t tail;

                if (r->first == r->next) {
                        r->head = 0;
                        break;
                }
                tail = slot_of(r, r->first)->off;
                /* head == tail with entries held means the arena is full. */
                if (r->head > tail) {
                        if (r->size - r->head >= max)
                                break;
                        if (tail >= max) {
                                r->head = 0;
                                break;
                        }
                } else if (tail - r->head >= max)
                        break;
                r->first++;
        }
        r->reserved_off = r->head;
        return r->arena + r->head;
}

uint64_t ring_commit(struct ring *r, size_t len) {
        struct slot *s = slot_of(r, r->next);

        s->off = (uint32_t) r->reserved_off;
        s->len = (uint32_t) len;
        r->head = r->reserved_off + align_up(len ? len : 1);
        return r->next++;
}

const void *ring_get(const struct ring *r, uint64_t seq, size_t *len) {
        const struct slot *s;

        if (seq < r->first || seq >= r->next)
                return NULL;
        s = slot_of(r, seq);
        *len = s->len;
        return r->arena + s->off;
}

uint64_t ring_first(const struct ring *r) {
        return r->first;
}

uint64_t ring_next(const struct ring *r) {
        return r->next;
}

size_t ring_arena_size(const struct ring *r) {
        return r->size;
}
