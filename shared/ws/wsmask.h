/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

/* Client frames without a mask end the connection with 1002 (RFC 6455
 * §5.1: a server MUST close it; docs/livelogs-stream.md and
 * docs/telemetry-stream.md, "Access and bounds" and "Access").
 *
 * libwebsockets 4.1.6, the version Debian 12 ships, reads an unmasked
 * frame as if it were masked and tells its user nothing about frame
 * headers. So the bytes it reads from a client are looked at on their way
 * in: this file defines recv(), which lws calls for every plain socket
 * (and SSL_read(), for every TLS one), and which the executable's
 * definition takes over from libc's (OpenSSL's) for it (the
 * ordinary symbol interposition; only the programs built on wsserver.c,
 * resolvix-hub among them, link this file). For a socket the server has not accepted it is libc's recv() and
 * nothing more. For an accepted one, a scanner follows the byte stream
 * (HTTP requests to their blank line, then frame headers and payload
 * lengths) and, once the connection is a WebSocket, cuts the data short of
 * the first unmasked frame, so that lws never acts on it. */

/* The pure part: where the frame headers are in what a client sends. */
struct ws_mask_scan {
        uint8_t state;
        uint8_t have, need; /* header bytes read, and the header's length */
        uint8_t hdr[14];
        uint8_t blank; /* how much of "\r\n\r\n" was just seen */
        bool websocket; /* the upgrade is done: an unmasked frame is fatal */
        bool suspect;   /* an unmasked header after the last request */
        uint64_t payload;
};

/* A connection's first bytes are an HTTP request. */
void ws_mask_scan_init(struct ws_mask_scan *m);

/* Feed len more bytes: returns how many come before the first byte of an
 * unmasked frame, len if there is none. Before the upgrade is confirmed,
 * an unmasked header only makes the scan look for the end of another
 * request (HTTP keep-alive looks like that) and is remembered. */
size_t ws_mask_scan(struct ws_mask_scan *m, const uint8_t *buf, size_t len);

/* The request just read was an upgrade: frames follow. Returns false if a
 * frame that came with the request (pipelined) was unmasked. */
bool ws_mask_scan_upgraded(struct ws_mask_scan *m);

/* ---- the server's side ------------------------------------------------- */

/* Room for every descriptor below max_fds. */
int ws_mask_init(unsigned max_fds);
void ws_mask_done(void);

/* A connection was accepted on fd. */
void ws_mask_accepted(int fd);
/* It became the WebSocket wsi. Returns false if it must be closed with
 * 1002 at once. */
bool ws_mask_upgraded(int fd, struct lws *wsi);
/* Whether an unmasked frame arrived on fd (the server then closes it with
 * 1002 from its writeable callback, which this asks for). */
bool ws_mask_violated(int fd);
void ws_mask_closed(int fd);
