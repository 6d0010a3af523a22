/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <stdio.h>

/* Writing Prometheus text exposition format 0.0.4: a family's HELP and TYPE
 * lines, then its samples, all together. */

/* type: "counter", "gauge" or "untyped". help must hold no backslash or
 * newline (ours are all constant text). */
void expo_family(FILE *f, const char *name, const char *type, const char *help);

/* A label value: valid UTF-8 with backslash, quote and newline escaped. */
void expo_label(FILE *f, const char *value);

/* The start of a sample with one label, `name{label="value"}`; the caller
 * writes the value and the newline. */
void expo_sample1(FILE *f, const char *name, const char *label, const char *value);

/* n / 10^decimals, exactly: counters kept in milliseconds or microseconds
 * become seconds without a binary fraction's noise. */
void expo_fixed(FILE *f, uint64_t n, unsigned decimals);

/* n / per, for a divisor that need not be a power of ten (clock ticks). */
void expo_ratio(FILE *f, uint64_t n, uint64_t per);
