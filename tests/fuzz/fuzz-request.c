/* SPDX-License-Identifier: MIT */
/* The body of POST /control, as a client could send it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* Exactly the bytes, without a NUL after them: the parser is told
         * the length and must not read past it. */
        char *body = malloc(size ? size : 1), *header;
        struct command_error err = { 0 };
        struct command c;

        if (!body)
                return 0;
        memcpy(body, data, size);
        if (command_parse(body, size, &c, &err) == 0) {
                if (!c.name || (c.has_interval && (c.interval < 1 || c.interval > 86400)))
                        abort();
        } else if (!err.detail || !memchr(err.message, '\0', sizeof err.message))
                abort();
        free(body);

        /* The Content-Type header's value, which arrives NUL-terminated. */
        header = strndup((const char *) data, size);
        if (header) {
                (void) content_type_is_json(header);
                free(header);
        }
        return 0;
}
