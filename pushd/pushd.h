/* SPDX-License-Identifier: MIT */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "http-client.h"
#include "sample.h"
#include "spool.h"

/* pushd: sample at [push] interval, spool every sample, push the spool to
 * a hub (docs/fleet.md, "pushd on every node"). One thread: the loop in
 * main.c waits in poll() on the request's socket (or its name lookup), the
 * signalfd and the next deadline. */

#define PUSHD_URLS_MAX 8
#define PUSHD_BATCH_MAX 500
/* Bodies above this are gzipped: below it, gzip's framing costs more than
 * it saves. */
#define PUSHD_GZIP_MIN 4096
#define PUSHD_BACKOFF_MIN_USEC (1ULL * 1000000ULL)
#define PUSHD_BACKOFF_MAX_USEC (60ULL * 1000000ULL)
#define PUSHD_RESPONSE_MAX 4096

enum pushd_request {
        REQ_NONE,
        REQ_ENROLL,
        REQ_CHECK_URL,
        REQ_CHECK_ID,
        REQ_PUSH,
};

/* What an answer of the hub means for the batch it answers (pure:
 * pushd_classify()). */
enum pushd_verdict {
        VERDICT_DONE,        /* 2xx as expected: acknowledged */
        VERDICT_FINAL,       /* refused for good: drop and count */
        VERDICT_REENROLL,    /* our node token is no longer known */
        VERDICT_RETRY_AFTER, /* 429/503: wait as told */
        VERDICT_BACKOFF,     /* anything else: jittered backoff, next hub */
};

struct pushd {
        struct conf conf;
        char node_id[256];
        char system_id[256];
        char hostname[256];
        char machine_id[64];
        bool sysmon;

        char urls[PUSHD_URLS_MAX][CONF_ORIGINS_MAX]; /* as configured: logs, send_stats' "url" */
        struct http_url hubs[PUSHD_URLS_MAX];         /* the same, parsed once at start */
        size_t n_urls, url_i;
        char token[CONF_TOKEN_MAX];
        char token_path[PATH_MAX];

        struct sampler *sampler;
        struct spool *spool;
        int sigfd;

        struct http_client http;
        char *head; /* the request's */
        size_t head_len, head_cap;
        enum pushd_request req;
        uint64_t *batch; /* the seqs of the push in flight */
        size_t n_batch, cap_batch;
        char *body;
        size_t body_len, body_cap;
        unsigned char *gz;
        size_t gz_cap;
        char response[PUSHD_RESPONSE_MAX + 1]; /* the answer's body (http.response) */

        unsigned checked;  /* system-monitor: 0, 1 or 2 of check_url and check_system_id passed */
        bool connected;
        char last_error[256];
        bool figures_changed;

        uint64_t next_sample, next_attempt, next_sync, next_ping; /* CLOCK_MONOTONIC usec */
        uint64_t watchdog_usec;
        uint64_t backoff;  /* the next delay's ceiling */
        double tokens;     /* backfill budget, samples */
        uint64_t tokens_at;
        uint64_t samples;
        bool quit;
};

/* client.c: the requests. */
int pushd_client_init(struct pushd *p);
void pushd_client_done(struct pushd *p);
/* Start the next request when one is due; *wake_usec gets when to look
 * again if nothing could start yet. */
void pushd_client_kick(struct pushd *p, uint64_t now, uint64_t *wake_usec);
/* What the loop polls for the request (http_client_poll()), and the step
 * to take when it is ready or its deadline passed. */
int pushd_client_poll(const struct pushd *p, short *events, uint64_t *deadline);
void pushd_client_step(struct pushd *p, uint64_t now);

enum pushd_verdict pushd_classify(enum pushd_request req, long status);
uint64_t pushd_backoff_delay(uint64_t ceiling, uint32_t rnd);

/* line.c: what is spooled and sent for one sample (a string to free). */
char *pushd_format_sample(const struct pushd *p, const struct sample *s, uint64_t seq, const char *stream);
