/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "source.h"
#include "timeutil.h"

/* The live_log frame of docs/livelogs-stream.md, written by hand straight
 * into the ring:
 *
 *   {"type":"live_log","node_id":"...","timestamp":"...","log":"...","seq":N}
 *
 * followed, where they apply, by the additive fields "continues":true (a
 * line over 64 KiB goes on in the next frame), "unit", "priority" and
 * "journal_timestamp" (journal entries). The constant head is escaped once
 * and the timestamp formatted once a second, so a line costs one escaping
 * pass and no allocation. */

struct frame_writer {
        char head[640]; /* {"type":"live_log","node_id":"<escaped>","timestamp":" */
        size_t head_len;
        uint64_t second;
        char timestamp[ISO8601_MAX];
};

void frame_writer_init(struct frame_writer *w, const char *node_id);

/* Most bytes frame_json() can write for this line: exact but for the
 * width of the sequence number, so that the ring reserves no more than it
 * needs (a line of control characters grows sixfold, most grow not at all). */
size_t frame_bound(const struct frame_writer *w, const char *line, size_t len, const struct line_meta *meta);

/* Write the frame for one line read at now_usec (CLOCK_REALTIME); returns
 * its length. out holds frame_bound() bytes. */
size_t frame_json(struct frame_writer *w, char *out, const char *line, size_t len, bool continues,
                  const struct line_meta *meta, uint64_t seq, uint64_t now_usec);

/* The same frame with "dropped":N added, for a client that lost N lines
 * before it; out holds len + FRAME_DROPPED_EXTRA bytes. */
#define FRAME_DROPPED_EXTRA 40
size_t frame_with_dropped(char *out, const char *json, size_t len, uint64_t dropped);

/* JSON string escaping of valid UTF-8 (control characters, quote and
 * backslash); writes json_escaped_len() bytes, at most 6 * len. */
size_t json_escape(char *out, const char *in, size_t len);
size_t json_escaped_len(const char *in, size_t len);
