/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "macro.h"

static const struct {
        const char *word;
        unsigned status;
} error_table[] = {
        { ERROR_MISDIRECTED_HOST, 421 },
        { ERROR_NOT_FOUND, 404 },
        { ERROR_UNAUTHORIZED, 401 },
        { ERROR_ORIGIN_NOT_ALLOWED, 403 },
        { ERROR_METHOD_NOT_ALLOWED, 405 },
        { ERROR_BODY_TOO_LARGE, 413 },
        { ERROR_UNSUPPORTED_MEDIA_TYPE, 415 },
        { ERROR_MALFORMED_JSON, 400 },
        { ERROR_DUPLICATE_FIELD, 400 },
        { ERROR_MISSING_COMMAND, 400 },
        { ERROR_BAD_FIELD, 400 },
        { ERROR_UNKNOWN_COMMAND, 400 },
        { ERROR_UNKNOWN_FIELD, 400 },
        { ERROR_NOT_INSTALLED, 404 },
        { ERROR_SHUTTING_DOWN, 503 },
        { ERROR_STATE_NOT_SAVED, 500 },
        { ERROR_OUT_OF_MEMORY, 500 },
        { ERROR_PORT_IN_USE, 409 },
        { ERROR_LOG_FILE_UNREADABLE, 409 },
        { ERROR_START_CANCELLED, 409 },
        { ERROR_START_TIMEOUT, 503 },
        { ERROR_SPAWN_FAILED, 500 },
        { ERROR_WORKER_EXITED, 500 },
};

int fail_with(char *err, size_t errsz, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err, errsz, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

unsigned error_status(const char *word) {
        for (size_t i = 0; i < ELEMENTSOF(error_table); i++)
                if (streq(word, error_table[i].word))
                        return error_table[i].status;
        return 500;
}
