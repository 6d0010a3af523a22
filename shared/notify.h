/* SPDX-License-Identifier: MIT */
#pragma once

#include "macro.h"

/* A worker talks to controld exactly as it would talk to systemd: through
 * sd_notify() on $NOTIFY_SOCKET. Without NOTIFY_SOCKET these do nothing but
 * log, which is what running a worker by hand wants. */

/* READY=1 with a one-line STATUS=. */
void notify_ready(const char *fmt, ...) _printf_(1, 2);

/* A start-up failure: logged at error level and reported to the supervisor
 * as STATUS=<message>, ERRNO=<err> and RESOLVIX_ERROR=<detail>, where detail
 * is one of the control API's machine words (port_in_use,
 * log_file_unreadable, ...). Returns -abs(err). */
int notify_failure(int err, const char *detail, const char *fmt, ...) _printf_(3, 4);

/* Machine words shared by workers and controld. */
#define ERROR_PORT_IN_USE "port_in_use"
#define ERROR_LOG_FILE_UNREADABLE "log_file_unreadable"
#define ERROR_SPAWN_FAILED "spawn_failed"
#define ERROR_WORKER_EXITED "worker_exited"
#define ERROR_BIND_FAILED "bind_failed"
