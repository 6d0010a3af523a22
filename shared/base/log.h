/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

/* Where messages go. Chosen once by log_open() from the environment:
 *  - LOG_TARGET_JOURNAL: stderr is the journal stream (JOURNAL_STREAM matches
 *    fd 2), so entries are sent natively with structured fields; an entry the
 *    native socket refuses is written to stderr instead, never dropped.
 *  - LOG_TARGET_PREFIX: under a service manager but not the journal:
 *    "<N>" priority prefixes that journald and syslog understand.
 *  - LOG_TARGET_CONSOLE: plain "ident: message" lines for a terminal. */
enum log_target {
        LOG_TARGET_CONSOLE,
        LOG_TARGET_PREFIX,
        LOG_TARGET_JOURNAL,
};

/* ident is the SYSLOG_IDENTIFIER; worker, when not NULL, is recorded as
 * RESOLVIX_WORKER= on every entry so one unit's log can be split by worker. */
void log_open(const char *ident, const char *worker);
void log_set_max_level(int level);
int log_get_max_level(void);
enum log_target log_get_target(void);

/* Returns -abs(error) so that callers can `return log_error_errno(r, ...)`.
 * When error is non-zero, "%m" in the format expands to its strerror. */
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(6, 7);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)
