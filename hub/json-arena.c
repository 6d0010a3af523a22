/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <cjson/cJSON.h>

#include "json-arena.h"
#include "macro.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void) (p), (void) (n))
#define UNPOISON(p, n) ((void) (p), (void) (n))
#endif

#define BLOCK_SIZE ((size_t) 256 * 1024)
/* Address space, not memory: only the blocks in use are resident. */
#define REGION_DEFAULT ((size_t) 4 << 30)
/* Blocks kept resident for the next pushes (16 MiB); the pages of the
 * others go back to the system as they are freed. */
#define HOT_MAX 64
#define ALIGN ((size_t) 16)

/* At the start of each block; the rest is handed out. */
struct block {
        struct block *next;
};

struct json_arena {
        struct block *blocks;
        char *pos, *end;
};

static struct {
        pthread_mutex_t lock;
        char *base, *limit, *fresh;
        struct block *hot, *cold;
        size_t n_hot;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

static _Thread_local struct json_arena *current;

bool json_arena_owns(const void *p) {
        return (const char *) p >= pool.base && (const char *) p < pool.limit;
}

size_t json_arena_blocks_cached(void) {
        size_t n;

        pthread_mutex_lock(&pool.lock);
        n = pool.n_hot;
        pthread_mutex_unlock(&pool.lock);
        return n;
}

static struct block *block_get(void) {
        struct block *b = NULL;

        pthread_mutex_lock(&pool.lock);
        if (pool.hot) {
                b = pool.hot;
                pool.hot = b->next;
                pool.n_hot--;
        } else if (pool.cold) {
                b = pool.cold;
                pool.cold = b->next;
        } else if ((size_t) (pool.limit - pool.fresh) >= BLOCK_SIZE) {
                b = (struct block *) pool.fresh;
                pool.fresh += BLOCK_SIZE;
        }
        pthread_mutex_unlock(&pool.lock);
        return b;
}

static void block_put(struct block *b) {
        POISON((char *) b + ALIGN, BLOCK_SIZE - ALIGN);
        pthread_mutex_lock(&pool.lock);
        if (pool.n_hot < HOT_MAX) {
                b->next = pool.hot;
                pool.hot = b;
                pool.n_hot++;
                pthread_mutex_unlock(&pool.lock);
                return;
        }
        pthread_mutex_unlock(&pool.lock);
        (void) madvise(b, BLOCK_SIZE, MADV_DONTNEED);
        pthread_mutex_lock(&pool.lock);
        b->next = pool.cold;
        pool.cold = b;
        pthread_mutex_unlock(&pool.lock);
}

static void *hook_malloc(size_t size) {
        struct json_arena *a = current;
        size_t n = (size + ALIGN - 1) & ~(ALIGN - 1);
        char *p;

        if (!a || n > BLOCK_SIZE - ALIGN)
                return malloc(size);
        if ((size_t) (a->end - a->pos) < n) {
                struct block *b = block_get();

                if (!b)
                        return malloc(size); /* the region is used up */
                b->next = a->blocks;
                a->blocks = b;
                a->pos = (char *) b + ALIGN;
                a->end = (char *) b + BLOCK_SIZE;
        }
        p = a->pos;
        a->pos += n;
        UNPOISON(p, size);
        return p;
}

/* A node of an arena's tree goes with its arena. */
static void hook_free(void *p) {
        if (!json_arena_owns(p))
                free(p);
}

int json_arena_setup(size_t region_bytes) {
        cJSON_Hooks hooks = { .malloc_fn = hook_malloc, .free_fn = hook_free };
        void *p;

        if (region_bytes == 0)
                region_bytes = REGION_DEFAULT;
        region_bytes -= region_bytes % BLOCK_SIZE;
        p = mmap(NULL, region_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
                return -errno;
        pool.base = pool.fresh = p;
        pool.limit = pool.base + region_bytes;
        cJSON_InitHooks(&hooks);
        return 0;
}

struct json_arena *json_arena_new(void) {
        return calloc(1, sizeof(struct json_arena));
}

void json_arena_free(struct json_arena *a) {
        if (!a)
                return;
        if (current == a)
                current = NULL;
        while (a->blocks) {
                struct block *b = a->blocks;

                a->blocks = b->next;
                block_put(b);
        }
        free(a);
}

void json_arena_enter(struct json_arena *a) {
        current = a;
}

void json_arena_leave(void) {
        current = NULL;
}
