/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* A hash table from strings to pointers. Keys are not copied: each must
 * stay valid, unchanged, while its entry is in the table (they are fields
 * of the values themselves). */
struct strmap;

int strmap_new(struct strmap **ret);
void strmap_free(struct strmap *m);
void *strmap_get(const struct strmap *m, const char *key);
/* Insert or replace. */
int strmap_put(struct strmap *m, const char *key, void *value);
/* The value removed, or NULL. */
void *strmap_remove(struct strmap *m, const char *key);
size_t strmap_size(const struct strmap *m);
/* Walk every value: start with *cursor = 0; NULL at the end. The table must
 * not change during a walk. */
void *strmap_next(const struct strmap *m, size_t *cursor, const char **ret_key);
