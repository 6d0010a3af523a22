/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* Compare a presented secret with the expected one in time that depends
 * only on the expected one's length, so timing tells nothing about how much
 * of a guess was right. */
bool secret_equal(const char *given, const char *expected);

/* An "Authorization: Bearer <token>" header value that carries token. */
bool bearer_matches(const char *header, const char *token);
