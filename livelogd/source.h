/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a log source (a followed file, the journal) hands to the stream: one
 * line or piece of a line, already valid UTF-8 (see linesplit.h), and for
 * journal entries the fields that come with it. */

struct line_meta {
        const char *unit;       /* systemd unit, or NULL */
        int priority;           /* syslog priority 0..7, or -1 */
        uint64_t realtime_usec; /* when the source recorded it, 0 if unknown */
};

typedef int (*line_sink_t)(const char *line, size_t len, bool continues, const struct line_meta *meta,
                           void *userdata);
