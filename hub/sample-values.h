/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include <cjson/cJSON.h>

#include "store.h"

/* The numeric values of one pushed sample, as the hub stores and queries them
 * (docs/fleet.md, "Storage"). Pure: JSON in, names and numbers out.
 *
 * Which object is flattened:
 *   - a resolvix sample (it has an object "metrics"): that object, so
 *     metrics.cpu.load_avg_1min is "cpu.load_avg_1min";
 *   - a send_stats body of the system-monitor agent protocol (docs/fleet.md,
 *     "System Monitor protocol"; an object "stats"): that object, so
 *     "cpu.percent_used", "disks.sda1.used", "network.eth0.bytes_recv";
 *   - otherwise a record of the collection server's client API
 *     (docs/fleet.md, "Flask system-monitor API"): its numbers "cpu" (or
 *     "cpu_load"), "mem" and "storage".
 * Naming: object keys joined by '.'; a '.' or '\' inside a key is escaped
 * with '\' ("disk.disk_usage./srv/a\.b.usage_percent"), so per-mount and
 * per-interface objects keep their own names; an array of numbers is named
 * by index ("cpu.cpu_per_core_percent.0"); arrays of anything else (such as
 * top_memory_processes, a ranking rather than a series), strings, booleans
 * and null carry no value. A key seen twice in one object counts once (the
 * first). Bounds: STORE_VALUES_MAX values (the first in document order), a
 * path of at most STORE_METRIC_MAX bytes, nesting at most
 * SAMPLE_VALUES_DEPTH_MAX objects/arrays below the root; what exceeds them
 * is counted in `skipped`. Non-finite numbers cannot occur in JSON. */

#define SAMPLE_VALUES_DEPTH_MAX 8
#define SAMPLE_VALUES_NAMES_MAX (STORE_VALUES_MAX * 48)

/* Which object a sample's values come from (see above). */
enum sample_root {
        SAMPLE_ROOT_METRICS, /* a resolvix sample: its "metrics" object */
        SAMPLE_ROOT_STATS,   /* a System Monitor send_stats body: its "stats" */
        SAMPLE_ROOT_CLIENT,  /* a Flask client's record */
};

struct sample_values {
        enum sample_root root;
        size_t n;
        size_t skipped;
        struct store_value v[STORE_VALUES_MAX]; /* paths point into names */
        size_t names_used;
        char names[SAMPLE_VALUES_NAMES_MAX];
};

/* Fill out (reused between calls) from sample. Returns the number of values,
 * or -EINVAL when sample is not a JSON object (or NULL): then none, and
 * root SAMPLE_ROOT_CLIENT. When the name space runs out
 * the remaining values are skipped (and counted). */
int sample_values_flatten(const cJSON *sample, struct sample_values *out);

/* ---- the same in one pass, without a tree -------------------------------- */

/* A member of the sample's object the hub reads itself: the first one of
 * that name, as cJSON_GetObjectItemCaseSensitive() finds it. */
enum json_kind { JSON_ABSENT, JSON_STRING, JSON_NUMBER, JSON_OTHER };

#define SAMPLE_SCAN_STRING_MAX 160

struct json_member {
        enum json_kind kind;
        const char *string; /* JSON_STRING, decoded */
        double number;      /* JSON_NUMBER */
};

/* The first member of object named name, as one. */
void json_member_of(const cJSON *object, const char *name, struct json_member *ret);

struct sample_scan {
        struct json_member stream, seq, timestamp;
        /* Where the members' strings are kept. */
        char strings[3][SAMPLE_SCAN_STRING_MAX + 1];
};

/* What the hub reads of one pushed sample, in one pass over its JSON and
 * without a parse tree (docs/performance.md): its values, named as
 * sample_values_flatten() names them from cJSON's tree, and the members
 * "stream", "seq" and "timestamp". A fast path for JSON as programs write
 * it: anything else is handed back (-EAGAIN) for cJSON to parse, and to say
 * what is wrong with it: a \u escape, a control character in a string,
 * whitespace other than space, tab, CR and LF, a number cJSON would read
 * another way ("01", a 64th character), containers nested more than
 * SAMPLE_VALUES_DEPTH_MAX deep below the sample's values, a key of more
 * than STORE_METRIC_MAX bytes or more keys than the scan keeps, a member
 * string of more than SAMPLE_SCAN_STRING_MAX bytes, anything but one
 * object and blanks. What it takes, cJSON takes too and names the same
 * (tests/fuzz/fuzz-sample-scan.c compares the two). Returns the number of
 * values; out->root says which object they came from. */
int sample_scan(const char *json, size_t len, struct sample_values *out, struct sample_scan *ret);
