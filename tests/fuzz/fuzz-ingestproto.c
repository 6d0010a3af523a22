/* SPDX-License-Identifier: MIT */
/* One request line of the custom-metrics port, as any local process can
 * send it. What parses must also survive the trip a put makes: its value
 * spelled as a reply spells it must read back as the same double, and the
 * point line must fit the buffer it is formatted into. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingestproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* Exactly the line, no NUL after it, as the server passes it. */
        char *line = malloc(size ? size : 1);
        struct ingest_request req, again;

        if (!line)
                return 0;
        memcpy(line, data, size);
        if (ingest_parse(line, size, &req) == 0) {
                char value[INGEST_VALUE_MAX], point[INGEST_POINT_MAX], put[INGEST_POINT_MAX + 8];
                size_t vlen, plen;
                int n;

                if (!req.all && !ingest_metric_valid(req.metric, strlen(req.metric)))
                        abort();
                if (req.command == INGEST_PUT) {
                        if (!isfinite(req.value) || req.timestamp > INGEST_TIMESTAMP_MAX ||
                            req.timestamp < -INGEST_TIMESTAMP_MAX)
                                abort();
                        vlen = ingest_format_value(req.value, value);
                        if (vlen == 0 || vlen >= INGEST_VALUE_MAX || strtod(value, NULL) != req.value)
                                abort();
                        plen = ingest_format_point(point, sizeof point, req.metric, req.timestamp, req.value);
                        if (plen == 0 || plen >= sizeof point)
                                abort();
                        /* The spelling is one a put accepts, with the same point. */
                        n = snprintf(put, sizeof put, "put %.*s", (int) (plen - 1), point);
                        if (n < 0 || (size_t) n >= sizeof put || ingest_parse(put, (size_t) n, &again) < 0 ||
                            again.value != req.value || signbit(again.value) != signbit(req.value) ||
                            again.timestamp != req.timestamp || strcmp(again.metric, req.metric) != 0)
                                abort();
                }
        }
        free(line);
        return 0;
}
