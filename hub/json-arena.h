/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Arenas for the cJSON trees of pushed samples (docs/performance.md, "The
 * hub with a fleet, and its ingest").
 *
 * The loop parses every sample of a push into a tree of small allocations,
 * and the writer thread frees them once the sample is added: a third of the
 * hub's ingest went to malloc and to free across threads. A push's trees
 * are allocated instead from an arena of large blocks, carved from one
 * region of address space reserved at start, and freeing one of their
 * nodes costs nothing: the blocks go back together when the push is done.
 *
 * json_arena_setup() installs cJSON hooks for the whole process, so that
 * every cJSON allocation goes through them: outside an arena they are plain
 * malloc() and free(), and what cJSON prints there is freed with free() as
 * before. Inside one, only parse.
 * An allocation larger than a block comes from malloc() even inside an
 * arena: cJSON_Delete() frees it, so trees are deleted before their arena. */

struct json_arena;

/* Reserve region_bytes of address space (0: the default) and install the
 * hooks; once, before any thread. Without the reservation the hooks are not
 * installed and arenas allocate nothing: json_arena_enter() is a no-op. */
int json_arena_setup(size_t region_bytes);

struct json_arena *json_arena_new(void);
/* Its blocks back to the pool; from any thread. */
void json_arena_free(struct json_arena *a);

/* Until json_arena_leave(), this thread's cJSON allocations come from a. */
void json_arena_enter(struct json_arena *a);
void json_arena_leave(void);

/* For tests: whether p lies in the arenas' region, and the pool's blocks. */
bool json_arena_owns(const void *p);
size_t json_arena_blocks_cached(void);
