/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Making bytes from the system (log lines, process and mount names, metric
 * names) into text that JSON and Prometheus can carry. Ill-formed sequences
 * become U+FFFD, one per maximal subpart (the Unicode/WHATWG practice, the
 * same result as Python's decode("utf-8", "replace")), so every stream and
 * every client library sees the same text. */

bool utf8_valid(const char *s, size_t len);

/* Writes at most 3 * len bytes to out (every byte an invalid one, each
 * becoming the three bytes of U+FFFD) and returns how many it wrote. */
size_t utf8_repair(const char *in, size_t len, char *out);

/* For a NUL-terminated string: s itself when it is valid, else its repair in
 * buf (cut on a character boundary to fit size, NUL-terminated). */
const char *utf8_repair_str(const char *s, char *buf, size_t size);
