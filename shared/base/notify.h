/* SPDX-License-Identifier: MIT */
#pragma once

#include <signal.h>
#include <stdint.h>

#include "macro.h"

/* A worker talks to controld exactly as it would talk to systemd: the
 * sd_notify protocol on $NOTIFY_SOCKET (docs/architecture.md). Without
 * NOTIFY_SOCKET these do nothing but log, which is what running a worker by
 * hand wants. */

/* Send one notify datagram ("KEY=VALUE" lines). 0 when sent or when there is
 * no NOTIFY_SOCKET, else a negative errno. */
int notify_send(const char *message);

/* The watchdog period the supervisor asks for, as systemd tells it:
 * WATCHDOG_USEC, for this process when WATCHDOG_PID names it (or is unset).
 * 1 with *ret set when a watchdog is wanted, 0 when not. The process then
 * sends "WATCHDOG=1" at least every *ret / 2. */
int notify_watchdog_usec(uint64_t *ret);

/* READY=1 with a one-line STATUS=, plus `fields` ("KEY=VALUE" lines, or NULL)
 * for what the supervisor should learn at the same moment. */
void notify_ready(const char *fields, const char *fmt, ...) _printf_(2, 3);

/* A start-up failure: logged at error level and reported to the supervisor
 * as STATUS=<message>, ERRNO=<err> and RESOLVIX_ERROR=<detail>, where detail
 * is one of the control API's machine words (errors.h). Returns -abs(err). */
int notify_failure(int err, const char *detail, const char *fmt, ...) _printf_(3, 4);

/* The other way, supervisor to worker: the real-time signal controld uses to
 * hand a running worker a new interval (sigqueue() with the interval in
 * sival_int). */
#define RESOLVIX_SIGNAL_INTERVAL (SIGRTMIN + 1)
