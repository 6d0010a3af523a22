/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "macro.h"

/* The wire format rounds every measured quantity to two decimals. */
double round2(double v);

/* cJSON_AddNumberToObject with the value rounded to two decimals. */
cJSON *json_add_round2(cJSON *obj, const char *name, double v);

/* o's member key if it is a string (a number), else NULL (NAN). */
const char *json_string(const cJSON *o, const char *key);
double json_number(const cJSON *o, const char *key);

static inline void cjson_deletep(cJSON **j) {
        cJSON_Delete(*j);
}
#define _cleanup_json_ _cleanup_(cjson_deletep)

/* j as cJSON_PrintUnformatted() prints it, byte for byte, for a fraction
 * of its cost (docs/performance.md, "One telemetry sample"): cJSON writes
 * every number with "%1.15g" and reads it back with sscanf() to see
 * whether it needs 17 digits, and most of ours are integers or hundredths,
 * which are written here digit by digit. A malloc'd string, or NULL (out
 * of memory, or a node cJSON cannot print either). */
char *json_print(const cJSON *j);

/* The same into buf (NUL-terminated): its length, -ENOBUFS when it does
 * not fit in size, -EINVAL for a node cJSON cannot print. */
ssize_t json_print_into(const cJSON *j, char *buf, size_t size);

/* A JSON text written as it goes, with no tree in between: the bytes
 * json_print() gives for the tree the same calls would build, at a
 * fraction of the cost (docs/performance.md, "The idle floor, and two
 * cuts measured inside the tick"). Into the caller's buffer
 * (json_writer_into()), or, zeroed, into one it grows with malloc() (p is
 * then the caller's to free). */
struct json_writer {
        char *p;
        size_t len, size;
        bool fixed;  /* p is the caller's: never grown */
        bool full;   /* did not fit, or out of memory */
        bool failed; /* the caller gave up (json_write_failed()) */
        bool comma;  /* something came before at this level */
};

void json_writer_into(struct json_writer *w, char *buf, size_t size);
/* key NULL: an element of an array, or the top level. bracket '{' or '['
 * to open, '}' or ']' to close. */
void json_write_open(struct json_writer *w, const char *key, char bracket);
void json_write_close(struct json_writer *w, char bracket);
void json_write_number(struct json_writer *w, const char *key, double v);
/* Rounded to two decimals (round2()). */
void json_write_round2(struct json_writer *w, const char *key, double v);
void json_write_string(struct json_writer *w, const char *key, const char *s);
/* Make json_writer_end() fail with -ENOMEM (a value could not be made). */
void json_write_failed(struct json_writer *w);
/* The text's length, NUL-terminated in p; -ENOBUFS when it did not fit in
 * the caller's buffer, -ENOMEM when out of memory. */
ssize_t json_writer_end(struct json_writer *w);
