/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64

void sha256(const void *data, size_t len, uint8_t out[static SHA256_LEN]);

/* Lower-case hex, NUL-terminated. */
void sha256_hex(const void *data, size_t len, char out[static SHA256_HEX_LEN + 1]);

/* n random bytes as lower-case hex into out (2n + 1 bytes), from
 * getrandom(). */
int random_hex(size_t n, char *out);
