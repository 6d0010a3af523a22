/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "source.h"
#include "wsserver.h"

/* The WebSocket side of livelogd: every line a source reads is serialised
 * once into the shared ring (ring.h), and each client reads the ring from
 * its own position, so a client that cannot keep up loses its oldest lines
 * (and is told how many) while nobody else is slowed down. Also serves
 * GET /tail?n=N on the same port. */

struct stream;

/* Clients have nothing to say beyond {"command":"ping"}: a larger message
 * is closed with 1009. */
#define STREAM_INBOUND_MAX 4096

extern const struct ws_server_ops stream_ops;

int stream_new(const char *node_id, unsigned backlog, struct stream **ret);
void stream_free(struct stream *st);
static inline void stream_freep(struct stream **st) {
        if (*st)
                stream_free(*st);
}

/* How far back in a file the backlog may usefully reach: no more than the
 * ring can hold. */
size_t stream_backlog_bytes(const struct stream *st);

/* The sink sources write to (userdata is the stream). */
int stream_line(const char *line, size_t len, bool continues, const struct line_meta *meta, void *userdata);

/* After a batch of lines: wake the clients that have something to read. */
void stream_flush(struct stream *st);

/* Pacing a source that has more to read: a file can wait on disk, so
 * reading on is held back until the fastest client has sent everything
 * (the caller bounds the wait, so that a lone slow client loses lines
 * rather than making the stream lag). stream_drained() says whether some
 * client (or no client at all) is caught up; stream_when_drained() calls
 * cb once, when that becomes true. */
bool stream_drained(const struct stream *st);
void stream_when_drained(struct stream *st, void (*cb)(void *userdata), void *userdata);
