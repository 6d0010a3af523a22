/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "macro.h"

/* The machine words of error answers (docs/control-api.md): the "detail" of
 * controld's JSON errors, and what a worker reports as RESOLVIX_ERROR= when
 * it cannot start. One list, with the HTTP status each is answered with in
 * errors.c, so the daemon, the workers and the docs agree. */

/* The request. */
#define ERROR_MISDIRECTED_HOST "misdirected_host"
#define ERROR_NOT_FOUND "not_found"
#define ERROR_UNAUTHORIZED "unauthorized"
#define ERROR_ORIGIN_NOT_ALLOWED "origin_not_allowed"
#define ERROR_METHOD_NOT_ALLOWED "method_not_allowed"
#define ERROR_BODY_TOO_LARGE "body_too_large"
#define ERROR_UNSUPPORTED_MEDIA_TYPE "unsupported_media_type"
#define ERROR_MALFORMED_JSON "malformed_json"
#define ERROR_DUPLICATE_FIELD "duplicate_field"
#define ERROR_MISSING_COMMAND "missing_command"
#define ERROR_BAD_FIELD "bad_field"
#define ERROR_UNKNOWN_COMMAND "unknown_command"
#define ERROR_UNKNOWN_FIELD "unknown_field"
#define ERROR_NOT_INSTALLED "not_installed"

/* controld itself. */
#define ERROR_SHUTTING_DOWN "shutting_down"
#define ERROR_STATE_NOT_SAVED "state_not_saved"
#define ERROR_OUT_OF_MEMORY "out_of_memory"

/* A worker that does not come up. */
#define ERROR_PORT_IN_USE "port_in_use"
#define ERROR_LOG_FILE_UNREADABLE "log_file_unreadable"
#define ERROR_BAD_CONFIG "bad_config"
#define ERROR_START_CANCELLED "start_cancelled"
#define ERROR_START_TIMEOUT "start_timeout"
#define ERROR_SPAWN_FAILED "spawn_failed"
#define ERROR_WORKER_EXITED "worker_exited"
/* Reported by a worker, answered as worker_exited with its message. */
#define ERROR_BIND_FAILED "bind_failed"
/* Its TLS certificate or key cannot be read, or they do not match. */
#define ERROR_TLS_UNUSABLE "tls_unusable"

/* The pure parsers' way of failing with a reason: the message into err
 * (errsz bytes), and -EINVAL returned. */
int fail_with(char *err, size_t errsz, const char *fmt, ...) _printf_(3, 4);

/* The HTTP status controld answers word with; 500 for one not listed. */
unsigned error_status(const char *word);
