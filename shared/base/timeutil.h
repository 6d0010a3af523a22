/* SPDX-License-Identifier: MIT */
#pragma once

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define USEC_PER_SEC 1000000ULL
#define USEC_PER_MSEC 1000ULL
#define NSEC_PER_USEC 1000ULL

#define ISO8601_MAX sizeof("2024-01-15T10:30:45.123456Z")

uint64_t now_usec(clockid_t clock);
/* The moment usec from now on clock: a deadline for pthread_cond_timedwait()
 * on a condition made by cond_init_clock() with the same clock. */
struct timespec timespec_after(clockid_t clock, uint64_t usec);
void cond_init_clock(pthread_cond_t *cond, clockid_t clock);

/* "2024-01-15T10:30:45Z": the streams' timestamp format, second precision. */
void format_iso8601(uint64_t realtime_usec, char buf[static ISO8601_MAX]);

/* "2024-01-15T10:30:45.123456Z": where ordering within a second matters. */
void format_iso8601_usec(uint64_t realtime_usec, char buf[static ISO8601_MAX]);
