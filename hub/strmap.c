/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "strmap.h"

/* Open addressing with linear probing; removal shifts the run back, so
 * there are no tombstones and lookups stay short however many nodes come
 * and go. */
struct entry {
        const char *key;
        void *value;
        uint64_t hash;
};

struct strmap {
        struct entry *e;
        size_t cap; /* a power of two */
        size_t n;
};

static uint64_t hash(const char *s) {
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */

        for (; *s; s++) {
                h ^= (unsigned char) *s;
                h *= 1099511628211ULL;
        }
        return h ^ (h >> 29);
}

int strmap_new(struct strmap **ret) {
        struct strmap *m = calloc(1, sizeof *m);

        if (!m)
                return -ENOMEM;
        m->cap = 64;
        m->e = calloc(m->cap, sizeof *m->e);
        if (!m->e) {
                free(m);
                return -ENOMEM;
        }
        *ret = m;
        return 0;
}

void strmap_free(struct strmap *m) {
        if (!m)
                return;
        free(m->e);
        free(m);
}

static size_t find(const struct strmap *m, const char *key, uint64_t h) {
        size_t i = h & (m->cap - 1);

        while (m->e[i].key && !(m->e[i].hash == h && streq(m->e[i].key, key)))
                i = (i + 1) & (m->cap - 1);
        return i;
}

void *strmap_get(const struct strmap *m, const char *key) {
        size_t i = find(m, key, hash(key));

        return m->e[i].key ? m->e[i].value : NULL;
}

static int grow(struct strmap *m) {
        struct entry *old = m->e;
        size_t cap = m->cap;

        m->e = calloc(cap * 2, sizeof *m->e);
        if (!m->e) {
                m->e = old;
                return -ENOMEM;
        }
        m->cap = cap * 2;
        for (size_t i = 0; i < cap; i++)
                if (old[i].key)
                        m->e[find(m, old[i].key, old[i].hash)] = old[i];
        free(old);
        return 0;
}

int strmap_put(struct strmap *m, const char *key, void *value) {
        uint64_t h = hash(key);
        size_t i;

        if ((m->n + 1) * 4 > m->cap * 3 && grow(m) < 0)
                return -ENOMEM;
        i = find(m, key, h);
        if (!m->e[i].key)
                m->n++;
        m->e[i] = (struct entry){ .key = key, .value = value, .hash = h };
        return 0;
}

void *strmap_remove(struct strmap *m, const char *key) {
        size_t i = find(m, key, hash(key)), j = i;
        void *value;

        if (!m->e[i].key)
                return NULL;
        value = m->e[i].value;
        m->e[i].key = NULL;
        m->n--;
        /* Move later members of the run back into the hole when their home
         * slot does not lie between the hole and where they are. */
        for (;;) {
                size_t home;

                j = (j + 1) & (m->cap - 1);
                if (!m->e[j].key)
                        break;
                home = m->e[j].hash & (m->cap - 1);
                if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
                        m->e[i] = m->e[j];
                        m->e[j].key = NULL;
                        i = j;
                }
        }
        return value;
}

size_t strmap_size(const struct strmap *m) {
        return m->n;
}

void *strmap_next(const struct strmap *m, size_t *cursor, const char **ret_key) {
        for (; *cursor < m->cap; (*cursor)++)
                if (m->e[*cursor].key) {
                        if (ret_key)
                                *ret_key = m->e[*cursor].key;
                        return m->e[(*cursor)++].value;
                }
        return NULL;
}
