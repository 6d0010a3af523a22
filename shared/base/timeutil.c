/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "timeutil.h"

uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

struct timespec timespec_after(clockid_t clock, uint64_t usec) {
        uint64_t t = now_usec(clock) + usec;

        return (struct timespec){ .tv_sec = (time_t) (t / USEC_PER_SEC),
                                  .tv_nsec = (long) (t % USEC_PER_SEC * NSEC_PER_USEC) };
}

void cond_init_clock(pthread_cond_t *cond, clockid_t clock) {
        pthread_condattr_t attr;

        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, clock);
        pthread_cond_init(cond, &attr);
        pthread_condattr_destroy(&attr);
}

static void format_seconds(uint64_t usec, char *buf, size_t size) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
}

void format_iso8601(uint64_t realtime_usec, char buf[static ISO8601_MAX]) {
        char s[32];

        format_seconds(realtime_usec, s, sizeof s);
        snprintf(buf, ISO8601_MAX, "%.19sZ", s);
}

void format_iso8601_usec(uint64_t realtime_usec, char buf[static ISO8601_MAX]) {
        char s[32];

        format_seconds(realtime_usec, s, sizeof s);
        snprintf(buf, ISO8601_MAX, "%.19s.%06uZ", s, (unsigned) (realtime_usec % USEC_PER_SEC));
}
