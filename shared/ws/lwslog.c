/* SPDX-License-Identifier: MIT */
#include <string.h>

#include <libwebsockets.h>

#include "log.h"
#include "wsserver.h"

static void lws_emit(int lws_level, const char *line) {
        int level;
        size_t len = strlen(line);
        char buf[1024];

        switch (lws_level) {
        case LLL_ERR:
                level = LOG_ERR;
                break;
        case LLL_WARN:
                level = LOG_WARNING;
                break;
        case LLL_NOTICE:
                level = LOG_NOTICE;
                break;
        default:
                level = LOG_DEBUG;
                break;
        }
        /* lws terminates its lines with '\n'; our sinks add their own. */
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
        if (len >= sizeof buf)
                len = sizeof buf - 1;
        memcpy(buf, line, len);
        buf[len] = '\0';
        log_full(level, "lws: %s", buf);
}

void log_route_lws(void) {
        int mask = LLL_ERR | LLL_WARN;

        if (log_get_max_level() >= LOG_DEBUG)
                mask |= LLL_NOTICE | LLL_INFO;
        lws_set_log_level(mask, lws_emit);
}
