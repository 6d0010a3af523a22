/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

/* JSON spelled the way Python's json.dumps() spells it with its defaults:
 * ", " between items, ": " after keys, every character outside printable
 * ASCII escaped as \uXXXX (lower-case hex, surrogate pairs above U+FFFF),
 * integers as integers and floats as Python's repr() writes them (25.0,
 * 1e-05, 1e+16). Flask clients compare the /echo frames as strings
 * (docs/fleet.md, "Flask system-monitor API"), so the spelling is part of the protocol.
 *
 * Python keeps the difference between 25 and 25.0 that cJSON loses: a tree
 * from pyjson_parse() remembers how each number was written, and a number
 * added with pyjson_add_float() prints as a float even when integral. */

/* Parse text as json.loads() would (surrounding whitespace allowed; a key
 * given twice keeps its first place and its last value when printed).
 * NULL when it is not JSON. */
cJSON *pyjson_parse(const char *text, size_t len);

/* A number that prints as a float: 7.0, not 7. */
cJSON *pyjson_add_float(cJSON *object, const char *name, double v);
cJSON *pyjson_create_float(double v);

/* Write j to f. Returns 0 or -ENOMEM (f failed). */
int pyjson_print(FILE *f, const cJSON *j);

/* The same into a malloc'd NUL-terminated string; NULL on failure. */
char *pyjson_print_alloc(const cJSON *j, size_t *ret_len);

/* repr() of a float: the shortest text that reads back as v. buf holds
 * at least 32 bytes. */
void pyjson_float_repr(double v, char *buf, size_t size);
