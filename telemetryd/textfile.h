/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* The files of [telemetry] textfile_dir, as node_exporter's textfile
 * collector reads them (docs/telemetry-stream.md#textfile-directory). */

/* Bounds on what one scrape reads: files looked at, and bytes per file. */
#define TEXTFILE_FILES_MAX 64
#define TEXTFILE_FILE_MAX (1u << 20)
#define TEXTFILE_LINE_MAX 4096

/* Check that buf (len bytes, any content) is Prometheus text exposition
 * format 0.0.4 that can be merged into /metrics as it is: sample lines
 * `name{label="value",...} value` without a timestamp (node_exporter refuses
 * those too: a scrape would mix times), `# HELP` and `# TYPE` lines with a
 * known type, each family typed at most once, comments and blank lines. Returns 0, or -EINVAL with the first fault as
 * "line N: why" in err. */
int textfile_validate(const char *buf, size_t len, char *err, size_t errsz);
