/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <snappy-c.h>

#include "grow.h"
#include "log.h"
#include "macro.h"
#include "remote-write-names.h"
#include "remote-write-queue.h"
#include "remote-write.h"
#include "remote.pb-c.h"
#include "timeutil.h"

/* Samples per record on disk: a record is the unit that is dropped for room,
 * so it stays well below the smallest segment. */
#define RECORD_SAMPLES 16
/* Payload of one request, before compression (receivers take far more:
 * Prometheus' own senders stay near this). */
#define REQUEST_BYTES (1024 * 1024)
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 60000
#define FAILURE_LOG_EVERY_USEC (60 * USEC_PER_SEC)
#define CONNECT_TIMEOUT_SEC 10
#define REQUEST_TIMEOUT_SEC 60
#define NO_LABEL UINT32_MAX

struct staged_series {
        uint32_t name, label_value; /* offsets into strings */
        const char *label;
        double value;
};

struct staged_sample {
        uint32_t node;
        int64_t ts;
        size_t first, n; /* its series */
        bool keep;
};

struct remote_write {
        char url[PATH_MAX];
        struct rwq *queue;

        /* The writer thread's. */
        struct rw_name_cache *names;
        struct staged_sample *samples;
        size_t n_samples, cap_samples;
        struct staged_series *series;
        size_t n_series, cap_series;
        char *strings;
        size_t n_strings, cap_strings;
        Prometheus__TimeSeries *ts, **ts_ptrs;
        Prometheus__Label *labels, **label_ptrs;
        Prometheus__Sample *points, **point_ptrs;
        size_t cap_ts, cap_ts_ptrs, cap_labels, cap_label_ptrs, cap_points, cap_point_ptrs;
        uint8_t *packed;
        size_t cap_packed;

        /* The sender. */
        pthread_t thread;
        bool started;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        bool stop;
        struct remote_write_stats stats;
};

bool remote_write_url_valid(const char *url) {
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL;
        bool ok;

        if (!u)
                return false;
        ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] &&
             (streq(scheme, "http") || streq(scheme, "https"));
        curl_free(scheme);
        curl_free(host);
        curl_url_cleanup(u);
        if (!ok)
                log_error("Invalid configuration: [hub] remote_write_url: expected an http:// or https:// URL "
                          "with a host, got '%s'", url);
        return ok;
}

/* ---- staging and encoding (the writer thread) --------------------------- */

static int add_string(struct remote_write *rw, const char *s, uint32_t *ret) {
        size_t len = strlen(s) + 1;

        if (rw->n_strings + len > UINT32_MAX)
                return -E2BIG;
        if (GROW(rw->strings, rw->cap_strings, rw->n_strings + len, 64 * 1024) < 0)
                return -ENOMEM;
        memcpy(rw->strings + rw->n_strings, s, len);
        *ret = (uint32_t) rw->n_strings;
        rw->n_strings += len;
        return 0;
}

size_t remote_write_staged(const struct remote_write *rw) {
        return rw->n_samples;
}

int remote_write_stage(struct remote_write *rw, const char *node_id, int64_t ts_ms, enum sample_root root,
                       const struct store_value *values, size_t n_values) {
        struct staged_sample *ss;
        size_t mark_series = rw->n_series, mark_strings = rw->n_strings;
        int r;

        if (GROW(rw->samples, rw->cap_samples, rw->n_samples + 1, 1024) < 0 ||
            GROW(rw->series, rw->cap_series, rw->n_series + n_values, 16 * 1024) < 0)
                return -ENOMEM;
        ss = &rw->samples[rw->n_samples];
        *ss = (struct staged_sample){ .ts = ts_ms, .first = rw->n_series };
        r = add_string(rw, node_id, &ss->node);
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < n_values; i++) {
                struct staged_series *s = &rw->series[rw->n_series];
                struct rw_name_view name;

                if (rw_name_cached(rw->names, values[i].path, root, &name) < 0)
                        continue;
                s->value = values[i].value * name.scale;
                s->label = name.label;
                s->label_value = NO_LABEL;
                r = add_string(rw, name.name, &s->name);
                if (r >= 0 && name.label)
                        r = add_string(rw, name.label_value, &s->label_value);
                if (r < 0)
                        goto fail;
                rw->n_series++;
        }
        ss->n = rw->n_series - ss->first;
        rw->n_samples++;
        return 0;
fail:
        rw->n_series = mark_series;
        rw->n_strings = mark_strings;
        return r;
}

void remote_write_truncate(struct remote_write *rw, size_t n) {
        if (n >= rw->n_samples)
                return;
        rw->n_series = rw->samples[n].first;
        rw->n_strings = rw->samples[n].node;
        rw->n_samples = n;
}

void remote_write_keep(struct remote_write *rw, size_t i, bool keep) {
        if (i < rw->n_samples)
                rw->samples[i].keep = keep;
}

/* Encode the kept samples among samples[from, to) as one WriteRequest. */
static int encode(struct remote_write *rw, size_t from, size_t to, size_t *ret_len, uint32_t *ret_samples) {
        Prometheus__WriteRequest req = PROMETHEUS__WRITE_REQUEST__INIT;
        size_t n = 0, kept = 0;

        for (size_t i = from; i < to; i++)
                if (rw->samples[i].keep)
                        n += rw->samples[i].n;
        if (GROW(rw->ts, rw->cap_ts, n, 1024) < 0 || GROW(rw->ts_ptrs, rw->cap_ts_ptrs, n, 1024) < 0 ||
            GROW(rw->labels, rw->cap_labels, 3 * n, 3072) < 0 ||
            GROW(rw->label_ptrs, rw->cap_label_ptrs, 3 * n, 3072) < 0 ||
            GROW(rw->points, rw->cap_points, n, 1024) < 0 || GROW(rw->point_ptrs, rw->cap_point_ptrs, n, 1024) < 0)
                return -ENOMEM;
        n = 0;
        for (size_t i = from; i < to; i++) {
                const struct staged_sample *ss = &rw->samples[i];

                if (!ss->keep)
                        continue;
                kept++;
                for (size_t k = 0; k < ss->n; k++, n++) {
                        const struct staged_series *s = &rw->series[ss->first + k];
                        Prometheus__Label *l = &rw->labels[3 * n], **lp = &rw->label_ptrs[3 * n];
                        size_t nl = 0;

                        /* Labels sorted by name, as receivers expect:
                         * "__name__", then cpu, device, mountpoint or name,
                         * then "node". */
                        l[nl] = (Prometheus__Label) PROMETHEUS__LABEL__INIT;
                        l[nl].name = (char *) "__name__";
                        l[nl++].value = rw->strings + s->name;
                        if (s->label_value != NO_LABEL) {
                                l[nl] = (Prometheus__Label) PROMETHEUS__LABEL__INIT;
                                l[nl].name = (char *) s->label;
                                l[nl++].value = rw->strings + s->label_value;
                        }
                        l[nl] = (Prometheus__Label) PROMETHEUS__LABEL__INIT;
                        l[nl].name = (char *) "node";
                        l[nl++].value = rw->strings + ss->node;
                        for (size_t x = 0; x < nl; x++)
                                lp[x] = &l[x];
                        rw->points[n] = (Prometheus__Sample) PROMETHEUS__SAMPLE__INIT;
                        rw->points[n].value = s->value;
                        rw->points[n].timestamp = ss->ts;
                        rw->point_ptrs[n] = &rw->points[n];
                        rw->ts[n] = (Prometheus__TimeSeries) PROMETHEUS__TIME_SERIES__INIT;
                        rw->ts[n].n_labels = nl;
                        rw->ts[n].labels = lp;
                        rw->ts[n].n_samples = 1;
                        rw->ts[n].samples = &rw->point_ptrs[n];
                        rw->ts_ptrs[n] = &rw->ts[n];
                }
        }
        req.n_timeseries = n;
        req.timeseries = rw->ts_ptrs;
        n = prometheus__write_request__get_packed_size(&req);
        if (GROW(rw->packed, rw->cap_packed, n ? n : 1, 64 * 1024) < 0)
                return -ENOMEM;
        *ret_len = prometheus__write_request__pack(&req, rw->packed);
        *ret_samples = (uint32_t) kept;
        return 0;
}

void remote_write_flush(struct remote_write *rw) {
        for (size_t from = 0; from < rw->n_samples; from += RECORD_SAMPLES) {
                size_t to = from + RECORD_SAMPLES < rw->n_samples ? from + RECORD_SAMPLES : rw->n_samples;
                uint32_t kept = 0;
                size_t len = 0;
                int r;

                r = encode(rw, from, to, &len, &kept);
                if (r >= 0 && kept > 0)
                        r = rwq_append(rw->queue, rw->packed, len, kept);
                if (r < 0) {
                        /* Stored in the hub, not forwarded: counted as what
                         * the queue could not take. */
                        pthread_mutex_lock(&rw->lock);
                        rw->stats.dropped_samples += kept;
                        pthread_mutex_unlock(&rw->lock);
                        log_warning_errno(r, "Cannot queue %" PRIu32 " samples for remote write: %m", kept);
                }
        }
        rw->n_samples = rw->n_series = rw->n_strings = 0;
}

/* ---- the sender ---------------------------------------------------------- */

static bool stopping(struct remote_write *rw) {
        bool stop;

        pthread_mutex_lock(&rw->lock);
        stop = rw->stop;
        pthread_mutex_unlock(&rw->lock);
        return stop;
}

static int on_progress(void *userdata, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
        (void) a, (void) b, (void) c, (void) d;
        /* A request in flight is abandoned at shutdown: it stays queued. */
        return stopping(userdata) ? 1 : 0;
}

static size_t discard(char *p, size_t size, size_t n, void *userdata) {
        (void) p, (void) userdata;
        return size * n;
}

/* Wait ms, or until the stop. */
static void pause_ms(struct remote_write *rw, unsigned ms) {
        struct timespec ts = timespec_after(CLOCK_REALTIME, (uint64_t) ms * USEC_PER_MSEC);

        pthread_mutex_lock(&rw->lock);
        while (!rw->stop && pthread_cond_timedwait(&rw->wake, &rw->lock, &ts) == 0)
                ;
        pthread_mutex_unlock(&rw->lock);
}

/* One log line a minute at most while the receiver fails, with how many
 * failures it stands for. */
struct failure_log {
        uint64_t last_usec;
        unsigned unlogged, since_ok;
};

static void log_failure(struct failure_log *fl, const char *url, const char *what, const char *then) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        fl->since_ok++;
        if (fl->last_usec && now - fl->last_usec < FAILURE_LOG_EVERY_USEC) {
                fl->unlogged++;
                return;
        }
        if (fl->unlogged)
                log_warning("Remote write to %s failed: %s; %s (%u failures not logged)", url, what, then,
                            fl->unlogged);
        else
                log_warning("Remote write to %s failed: %s; %s", url, what, then);
        fl->last_usec = now;
        fl->unlogged = 0;
}

static void *sender_main(void *userdata) {
        struct remote_write *rw = userdata;
        struct curl_slist *headers = NULL;
        struct failure_log fl = { 0 };
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_free_ char *compressed = NULL;
        size_t cap = 0, ccap = 0;
        unsigned backoff = BACKOFF_MIN_MS;
        unsigned seed = (unsigned) now_usec(CLOCK_MONOTONIC);
        CURL *curl = curl_easy_init();

        if (!curl) {
                log_error("Remote write is off: cannot set up libcurl");
                return NULL;
        }
        headers = curl_slist_append(headers, "Content-Encoding: snappy");
        headers = curl_slist_append(headers, "Content-Type: application/x-protobuf");
        headers = curl_slist_append(headers, "X-Prometheus-Remote-Write-Version: 0.1.0");
        headers = curl_slist_append(headers, "User-Agent: resolvix-hub");
        (void) curl_easy_setopt(curl, CURLOPT_URL, rw->url);
        (void) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        (void) curl_easy_setopt(curl, CURLOPT_POST, 1L);
        (void) curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long) CONNECT_TIMEOUT_SEC);
        (void) curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long) REQUEST_TIMEOUT_SEC);
        (void) curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        (void) curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        (void) curl_easy_setopt(curl, CURLOPT_XFERINFODATA, rw);
        (void) curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);

        while (!stopping(rw)) {
                struct rwq_cursor cur;
                size_t len = 0, clen;
                long status = 0;
                CURLcode cc;
                int n;

                n = rwq_read(rw->queue, REQUEST_BYTES, &buf, &cap, &len, &cur);
                if (n == -EBADMSG) {
                        log_error("The remote-write queue has a damaged record: the rest of its segment is dropped");
                        continue;
                }
                if (n < 0) {
                        log_error_errno(n, "Cannot read the remote-write queue: %m");
                        pause_ms(rw, BACKOFF_MAX_MS);
                        continue;
                }
                if (n == 0) {
                        (void) rwq_wait(rw->queue, 1000);
                        continue;
                }
                clen = snappy_max_compressed_length(len);
                if (GROW(compressed, ccap, clen, 64 * 1024) < 0 ||
                    snappy_compress((const char *) buf, len, compressed, &clen) != SNAPPY_OK) {
                        log_error("Cannot compress a remote-write request");
                        pause_ms(rw, BACKOFF_MAX_MS);
                        continue;
                }
                (void) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, compressed);
                (void) curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) clen);
                cc = curl_easy_perform(curl);
                if (cc == CURLE_OK)
                        (void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
                if (cc == CURLE_ABORTED_BY_CALLBACK)
                        break;

                if (cc == CURLE_OK && status >= 200 && status < 300) {
                        bool counted = rwq_consume(rw->queue, &cur);

                        pthread_mutex_lock(&rw->lock);
                        if (counted)
                                rw->stats.sent_samples += cur.samples;
                        rw->stats.sent_requests++;
                        pthread_mutex_unlock(&rw->lock);
                        if (fl.since_ok)
                                log_info("Remote write to %s works again, after %u failed attempts", rw->url,
                                         fl.since_ok);
                        fl = (struct failure_log){ 0 };
                        backoff = BACKOFF_MIN_MS;
                } else if (cc == CURLE_OK && status >= 400 && status < 500 && status != 429) {
                        /* The receiver will never take these: sending them
                         * again would block everything behind them. */
                        bool counted = rwq_consume(rw->queue, &cur);
                        char what[64];

                        pthread_mutex_lock(&rw->lock);
                        if (counted)
                                rw->stats.rejected_samples += cur.samples;
                        pthread_mutex_unlock(&rw->lock);
                        snprintf(what, sizeof what, "HTTP %ld", status);
                        log_failure(&fl, rw->url, what, "the samples are dropped");
                        log_debug("Remote write: %" PRIu64 " samples refused with HTTP %ld, dropped", cur.samples,
                                  status);
                } else {
                        char what[128], then[64];
                        /* Jitter: between half and all of the backoff, so
                         * that hubs restarted together do not retry together. */
                        unsigned wait = backoff / 2 + (unsigned) (rand_r(&seed) % (backoff / 2 + 1));

                        if (cc != CURLE_OK)
                                snprintf(what, sizeof what, "%s", curl_easy_strerror(cc));
                        else
                                snprintf(what, sizeof what, "HTTP %ld", status);
                        pthread_mutex_lock(&rw->lock);
                        rw->stats.failed_requests++;
                        pthread_mutex_unlock(&rw->lock);
                        snprintf(then, sizeof then, "retrying in %.1f s", wait / 1000.0);
                        log_failure(&fl, rw->url, what, then);
                        pause_ms(rw, wait);
                        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                }
        }
        curl_slist_free_all(headers);
        curl_easy_cleanup(curl);
        return NULL;
}

int remote_write_start(const struct conf *c, struct remote_write **ret) {
        struct remote_write *rw = calloc(1, sizeof *rw);
        char dir[PATH_MAX];
        int r;

        if (!rw)
                return -ENOMEM;
        snprintf(rw->url, sizeof rw->url, "%s", c->hub.remote_write_url);
        pthread_mutex_init(&rw->lock, NULL);
        pthread_cond_init(&rw->wake, NULL);
        if ((size_t) snprintf(dir, sizeof dir, "%s/remote-write", c->control.state_dir) >= sizeof dir) {
                remote_write_stop(rw);
                return -ENAMETOOLONG;
        }
        r = rw_name_cache_new(&rw->names);
        if (r >= 0)
                r = rwq_open(dir, (uint64_t) c->hub.remote_write_queue_mb * 1024 * 1024, &rw->queue);
        if (r < 0) {
                remote_write_stop(rw);
                return r;
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                remote_write_stop(rw);
                return log_error_errno(-ENOMEM, "Cannot initialise libcurl");
        }
        r = -pthread_create(&rw->thread, NULL, sender_main, rw);
        if (r < 0) {
                remote_write_stop(rw);
                return log_error_errno(r, "Cannot start the remote-write thread: %m");
        }
        rw->started = true;
        {
                struct rwq_stats qs;

                rwq_get_stats(rw->queue, &qs);
                log_info("Forwarding stored samples to %s (remote write; queue %s, %" PRIu64
                         " samples waiting, bound %u MiB)",
                         rw->url, dir, qs.queued_samples, c->hub.remote_write_queue_mb);
        }
        *ret = rw;
        return 0;
}

void remote_write_stop(struct remote_write *rw) {
        if (!rw)
                return;
        pthread_mutex_lock(&rw->lock);
        rw->stop = true;
        pthread_cond_broadcast(&rw->wake);
        pthread_mutex_unlock(&rw->lock);
        if (rw->queue)
                rwq_wake(rw->queue);
        if (rw->started)
                pthread_join(rw->thread, NULL);
        rwq_free(rw->queue);
        pthread_cond_destroy(&rw->wake);
        pthread_mutex_destroy(&rw->lock);
        rw_name_cache_free(rw->names);
        free(rw->samples);
        free(rw->series);
        free(rw->strings);
        free(rw->ts);
        free(rw->ts_ptrs);
        free(rw->labels);
        free(rw->label_ptrs);
        free(rw->points);
        free(rw->point_ptrs);
        free(rw->packed);
        free(rw);
}

void remote_write_get_stats(struct remote_write *rw, struct remote_write_stats *ret) {
        struct rwq_stats qs;

        rwq_get_stats(rw->queue, &qs);
        pthread_mutex_lock(&rw->lock);
        *ret = rw->stats;
        pthread_mutex_unlock(&rw->lock);
        ret->dropped_samples += qs.dropped_samples;
        ret->queued_samples = qs.queued_samples;
        ret->queued_bytes = qs.queued_bytes;
}
