/* SPDX-License-Identifier: MIT */
#pragma once

/* The machine words of error answers (docs/control-api.md): the "detail" of
 * controld's JSON errors, and what a worker reports as RESOLVIX_ERROR= when
 * it cannot start. One list, so the daemon, the workers and the docs agree. */

/* A worker could not start. */
#define ERROR_PORT_IN_USE "port_in_use"
#define ERROR_LOG_FILE_UNREADABLE "log_file_unreadable"
#define ERROR_SPAWN_FAILED "spawn_failed"
#define ERROR_WORKER_EXITED "worker_exited"
#define ERROR_BIND_FAILED "bind_failed"
