/* SPDX-License-Identifier: MIT */
/* A ?grep= pattern, as any client of the live-log port can send it, and a
 * line to match it against: the bytes up to the first newline are the
 * pattern, the rest the line. A pattern the checker accepts must compile,
 * and matching must stay within the cost bound the checker promises, on
 * any line; a refused one must come with a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grep.h"
#include "grepcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *text = (const char *) data, *nl = memchr(text, '\n', size);
        size_t plen = nl ? (size_t) (nl - text) : size;
        const char *line = nl ? nl + 1 : text + size;
        size_t llen = size - (size_t) (line - text);
        _cleanup_(grep_freep) struct grep *g = NULL;
        char reason[256] = "";
        int checked, r;

        checked = grep_check(text, plen, NULL, reason, sizeof reason);
        r = grep_new(text, plen, &g, reason, sizeof reason);
        if ((checked == 0) != (r == 0))
                abort(); /* the checker and the compiler disagree */
        if (r < 0) {
                if (!reason[0] || !memchr(reason, '\0', sizeof reason))
                        abort();
                return 0;
        }
        (void) grep_match(g, line, llen);
        return 0;
}
