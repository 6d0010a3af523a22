/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* Make the array *p, with room for *cap elements of elem bytes, hold at
 * least need elements: its capacity doubles (from first, or from what it
 * has) until it does, so appending n elements one by one costs O(n). On
 * failure (-ENOMEM, or -EOVERFLOW when the size would not fit a size_t)
 * *p and *cap are untouched. */
int grow_array(void **p, size_t *cap, size_t need, size_t elem, size_t first);

#define GROW(array, cap, need, first) \
        grow_array((void **) &(array), &(cap), (need), sizeof *(array), (first))
