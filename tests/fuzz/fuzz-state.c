/* SPDX-License-Identifier: MIT */
/* controld's state.json, as anyone who can write the state directory (or a
 * disk that tore it) may leave it. What parses must format back to what
 * parses the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *json = strndup((const char *) data, size); /* read_file() hands it NUL-terminated */
        struct desired_state s, again;

        if (!json)
                return 0;
        if (state_parse(json, &s) == 0) {
                char *text = state_format(&s);

                if (s.interval < 1 || s.interval > 86400 || !text || state_parse(text, &again) < 0 ||
                    again.telemetry != s.telemetry || again.livelogs != s.livelogs || again.push != s.push ||
                    again.interval != s.interval)
                        abort();
                free(text);
        }
        free(json);
        return 0;
}
