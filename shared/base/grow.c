/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "grow.h"

int grow_array(void **p, size_t *cap, size_t need, size_t elem, size_t first) {
        size_t n = *cap ? *cap : (first ? first : 8);
        void *q;

        if (need <= *cap)
                return 0;
        while (n < need) {
                if (n > SIZE_MAX / 2)
                        return -EOVERFLOW;
                n *= 2;
        }
        if (elem && n > SIZE_MAX / elem)
                return -EOVERFLOW;
        q = realloc(*p, n * elem);
        if (!q)
                return -ENOMEM;
        *p = q;
        *cap = n;
        return 0;
}
