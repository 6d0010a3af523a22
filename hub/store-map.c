/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "store-map.h"

struct entry {
        uint64_t hash;
        char *key; /* NULL: empty; TOMBSTONE: removed */
        size_t len;
        int64_t value;
};

static char tombstone_key;
#define TOMBSTONE (&tombstone_key)

struct store_map {
        struct entry *e;
        size_t cap, used, live; /* used counts tombstones too */
};

/* Eight bytes a step (keys run to kilobytes: a sample's metric paths),
 * multiply-xorshift mixing, a final avalanche so the low bits that index
 * the table are spread. */
static uint64_t mix(uint64_t h) {
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53ULL;
        h ^= h >> 33;
        return h;
}

uint64_t store_hash(const void *key, size_t len) {
        const unsigned char *p = key;
        uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
        size_t i = 0;

        for (; i + 8 <= len; i += 8) {
                uint64_t w;

                memcpy(&w, p + i, 8);
                h = (h ^ mix(w)) * 0x100000001b3ULL;
        }
        if (i < len) {
                uint64_t w = 0;

                memcpy(&w, p + i, len - i);
                h = (h ^ mix(w)) * 0x100000001b3ULL;
        }
        return mix(h);
}

struct store_map *store_map_new(void) {
        return calloc(1, sizeof(struct store_map));
}

void store_map_clear(struct store_map *m) {
        if (!m)
                return;
        for (size_t i = 0; i < m->cap; i++)
                if (m->e[i].key && m->e[i].key != TOMBSTONE)
                        free(m->e[i].key);
        free(m->e);
        *m = (struct store_map){ 0 };
}

void store_map_free(struct store_map *m) {
        store_map_clear(m);
        free(m);
}

size_t store_map_size(const struct store_map *m) {
        return m->live;
}

static struct entry *find(const struct store_map *m, uint64_t h, const void *key, size_t len) {
        if (m->cap == 0)
                return NULL;
        for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
                struct entry *e = &m->e[i];

                if (!e->key)
                        return NULL;
                if (e->key != TOMBSTONE && e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
                        return e;
        }
}

int store_map_get(const struct store_map *m, const void *key, size_t len, int64_t *ret) {
        struct entry *e = find(m, store_hash(key, len), key, len);

        if (!e)
                return 0;
        *ret = e->value;
        return 1;
}

static int grow(struct store_map *m) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct entry *e;

        /* Only tombstones made it full: rehash at the same size. */
        if (m->live * 4 < m->cap)
                cap = m->cap;
        e = calloc(cap, sizeof(*e));
        if (!e)
                return -ENOMEM;
        for (size_t i = 0; i < m->cap; i++) {
                struct entry *o = &m->e[i];
                size_t j;

                if (!o->key || o->key == TOMBSTONE)
                        continue;
                for (j = o->hash & (cap - 1); e[j].key; j = (j + 1) & (cap - 1))
                        ;
                e[j] = *o;
        }
        free(m->e);
        m->e = e;
        m->cap = cap;
        m->used = m->live;
        return 0;
}

int store_map_put(struct store_map *m, const void *key, size_t len, int64_t value) {
        uint64_t h = store_hash(key, len);
        struct entry *e = find(m, h, key, len);
        size_t i;
        int r;

        if (e) {
                e->value = value;
                return 0;
        }
        if ((m->used + 1) * 4 > m->cap * 3 && (r = grow(m)) < 0)
                return r;
        for (i = h & (m->cap - 1); m->e[i].key && m->e[i].key != TOMBSTONE; i = (i + 1) & (m->cap - 1))
                ;
        e = &m->e[i];
        char *k = malloc(len ? len : 1);
        if (!k)
                return -ENOMEM;
        memcpy(k, key, len);
        if (!e->key)
                m->used++;
        *e = (struct entry){ .hash = h, .key = k, .len = len, .value = value };
        m->live++;
        return 0;
}

void store_map_remove(struct store_map *m, const void *key, size_t len) {
        struct entry *e = find(m, store_hash(key, len), key, len);

        if (!e)
                return;
        free(e->key);
        e->key = TOMBSTONE;
        m->live--;
}
