/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include <cjson/cJSON.h>

/* A request body that may be JSON or an HTML form, as the Flask clients
 * send either (docs/fleet.md, "Flask system-monitor API"). Pure. */

/* Decode application/x-www-form-urlencoded text into an object of strings
 * (a name given twice keeps the first). NULL when it is not a form: no
 * name=value pair, a bad %-escape, or a NUL. */
cJSON *form_parse(const char *body, size_t len);

/* The body as an object: JSON when content_type says so or it starts with
 * '{', else a form. Numbers keep their spelling (pyjson). NULL when it is
 * empty or neither. */
cJSON *body_parse_object(const char *body, size_t len, const char *content_type);

/* A field that is a number, or a string holding one as Python's float()
 * reads it ("25.9", " 7 ", "1e3"). *is_float says whether it was written as
 * a float. -EINVAL otherwise. */
int body_number(const cJSON *v, double *ret, int *is_float);

/* A whole number as Python's int() reads it: optional blanks and sign,
 * decimal digits. -EINVAL otherwise, -ERANGE past int64. */
int parse_python_int(const char *s, long long *ret);
