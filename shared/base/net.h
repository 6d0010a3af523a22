/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A TCP socket bound to addr:port (an IPv4 or IPv6 literal), with
 * SO_REUSEADDR, listening when listen_now. Returns the fd or a negative
 * errno (-EADDRINUSE for a taken port). */
int tcp_bind(const char *addr, uint16_t port, bool listen_now);

/* "127.0.0.1:8754" or "[::1]:8754". */
void format_host_port(const char *addr, uint16_t port, char *buf, size_t size);
