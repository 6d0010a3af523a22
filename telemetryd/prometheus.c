/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-config.h"
#include "exposition.h"
#include "fileio.h"
#include "ingestproto.h"
#include "log.h"
#include "nodemetrics.h"
#include "telemetryd.h"
#include "textfile.h"

#ifdef __clang__
#define COMPILER "clang " __clang_version__
#else
#define COMPILER "gcc " __VERSION__
#endif

/* GET /metrics (docs/telemetry-stream.md#metrics): the node_* and process_*
 * families node_exporter would show, read now (nodemetrics.c), then the
 * worker's own figures, resolvix_*, and the custom metrics. A scrape takes
 * no sample: the stream's seq and resolvix_samples_total count ticks. */

static void build_info(FILE *f) {
        expo_family(f, "resolvix_build_info", "gauge",
                    "A metric with a constant '1' value labeled by the version of resolvix, the compiler and the "
                    "libwebsockets it was built with.");
        fputs("resolvix_build_info{compiler=\"", f);
        expo_label(f, COMPILER);
        fprintf(f, "\",libwebsockets=\"%d.%d.%d\",version=\"", LWS_LIBRARY_VERSION_MAJOR, LWS_LIBRARY_VERSION_MINOR,
                LWS_LIBRARY_VERSION_PATCH);
        expo_label(f, RESOLVIX_VERSION);
        fputs("\"} 1\n", f);
}

/* What the newest sample says; before the first there is none. */
static void sample_figures(FILE *f, const struct sample *s) {
        if (!s)
                return;
        expo_family(f, "resolvix_cpu_usage_percent", "gauge", "Busy share of all CPUs over the last sample window.");
        fprintf(f, "resolvix_cpu_usage_percent %.2f\n", s->cpu.usage_percent);
        expo_family(f, "resolvix_processes", "gauge", "Processes running on the node, at the last sample.");
        fprintf(f, "resolvix_processes %u\n", s->processes.count);
        expo_family(f, "resolvix_sample_duration_seconds", "gauge", "How long taking the last sample took.");
        fprintf(f, "resolvix_sample_duration_seconds %.6f\n", (double) s->duration_usec / 1e6);
}

static void self(FILE *f, const struct telemetry *t) {
        expo_family(f, "resolvix_clients", "gauge", "WebSocket clients connected to the telemetry stream.");
        fprintf(f, "resolvix_clients %u\n", ws_server_clients(t->server));
        expo_family(f, "resolvix_frames_sent_total", "counter", "WebSocket frames written to clients.");
        fprintf(f, "resolvix_frames_sent_total %llu\n", (unsigned long long) ws_server_frames_sent(t->server));
        expo_family(f, "resolvix_frames_coalesced_total", "counter",
                    "Samples a slow client never got because a newer one replaced them.");
        fprintf(f, "resolvix_frames_coalesced_total %llu\n", (unsigned long long) t->frames_coalesced);
        expo_family(f, "resolvix_samples_total", "counter", "Scheduled samples taken: the seq of the last one.");
        fprintf(f, "resolvix_samples_total %llu\n", (unsigned long long) t->samples);
        expo_family(f, "resolvix_sample_interval_seconds", "gauge", "Seconds between scheduled samples.");
        fprintf(f, "resolvix_sample_interval_seconds %u\n", t->interval);
        expo_family(f, "resolvix_frame_bytes", "gauge", "Size of the last serialised sample.");
        fprintf(f, "resolvix_frame_bytes %zu\n", t->frame_len);
}

/* The latest value of each custom metric, without a timestamp: Prometheus
 * refuses a sample stamped older than its head block (an hour or so), and
 * one stamped with a point put every ten minutes would drop out of queries
 * between puts (a series is stale 5 minutes after its last sample). Scraped
 * at scrape time it stays queryable; when the application measured it is a
 * series of its own. */
static void custom_latest(FILE *f, const struct metric_store *store, bool timestamps) {
        for (size_t i = 0; store && i < metric_store_size(store); i++) {
                const struct metric *m = metric_store_at(store, i);
                struct metric_point p;
                char value[INGEST_VALUE_MAX];

                if (metric_size(m) == 0)
                        continue;
                p = metric_point_at(m, metric_size(m) - 1);
                fputs(timestamps ? "resolvix_custom_metric_timestamp_seconds" : "resolvix_custom_metric", f);
                fputs("{metric=\"", f);
                expo_label(f, metric_name(m));
                if (timestamps)
                        fprintf(f, "\"} %" PRId64 "\n", p.timestamp);
                else {
                        ingest_format_value(p.value, value);
                        fprintf(f, "\"} %s\n", value);
                }
        }
}

static void custom(FILE *f, const struct telemetry *t) {
        const struct metric_store *store = ingest_store(t->ingest);
        struct ingest_stats st;

        expo_family(f, "resolvix_custom_metric", "gauge", "Latest value of each custom metric put on the ingest port.");
        custom_latest(f, store, false);
        expo_family(f, "resolvix_custom_metric_timestamp_seconds", "gauge",
                    "When the latest value of each custom metric was measured, as its put gave it, in seconds since "
                    "the epoch.");
        custom_latest(f, store, true);
        if (!t->ingest)
                return;
        st = ingest_stats(t->ingest);
        expo_family(f, "resolvix_custom_metrics", "gauge", "Custom metrics held.");
        fprintf(f, "resolvix_custom_metrics %zu\n", metric_store_size(store));
        expo_family(f, "resolvix_custom_points", "gauge", "Points of custom metrics held, all metrics together.");
        fprintf(f, "resolvix_custom_points %zu\n", metric_store_points(store));
        expo_family(f, "resolvix_ingest_clients", "gauge", "Connections open on the ingest port.");
        fprintf(f, "resolvix_ingest_clients %u\n", st.clients);
        expo_family(f, "resolvix_ingest_requests_total", "counter", "Requests received on the ingest port.");
        fprintf(f, "resolvix_ingest_requests_total %" PRIu64 "\n", st.requests);
        expo_family(f, "resolvix_ingest_errors_total", "counter", "Ingest requests answered with an error.");
        fprintf(f, "resolvix_ingest_errors_total %" PRIu64 "\n", st.errors);
        expo_family(f, "resolvix_ingest_refused_total", "counter", "Ingest connections refused at ingest_max_clients.");
        fprintf(f, "resolvix_ingest_refused_total %" PRIu64 "\n", st.refused);
        expo_family(f, "resolvix_ingest_timeouts_total", "counter",
                    "Ingest connections closed for completing no request within ingest_idle_timeout.");
        fprintf(f, "resolvix_ingest_timeouts_total %" PRIu64 "\n", st.timeouts);
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool is_prom(const char *name) {
        size_t n = strlen(name);

        return name[0] != '.' && n > 5 && streq(name + n - 5, ".prom");
}

/* The *.prom files of textfile_dir (docs/telemetry-stream.md#textfile-
 * directory), as node_exporter's textfile collector merges them: a file
 * is checked whole first and either goes in whole or not at all, so one
 * script's half-written or broken output never makes the scrape invalid.
 * At most TEXTFILE_FILES_MAX files (by name) of TEXTFILE_FILE_MAX bytes. */
static void textfiles(FILE *f, const char *dir) {
        _cleanup_free_ char *buf = NULL;
        char *names[TEXTFILE_FILES_MAX], why[160];
        struct timespec mtimes[TEXTFILE_FILES_MAX];
        bool good[TEXTFILE_FILES_MAX];
        size_t n = 0, skipped = 0;
        bool error = false;
        struct dirent *de;
        DIR *d;

        d = opendir(dir);
        if (!d) {
                log_warning_errno(errno, "Cannot read the textfile directory %s: %m", dir);
                error = true;
                goto out;
        }
        while ((de = readdir(d))) {
                if (!is_prom(de->d_name))
                        continue;
                if (n == TEXTFILE_FILES_MAX) {
                        if (!error)
                                log_warning("More than %d *.prom files in %s: only the first %d by name are read",
                                            TEXTFILE_FILES_MAX, dir, TEXTFILE_FILES_MAX);
                        error = true;
                        /* Keep the first by name, whatever order readdir gives. */
                        qsort(names, n, sizeof *names, name_cmp);
                        skipped++;
                        if (strcmp(de->d_name, names[n - 1]) >= 0)
                                continue;
                        free(names[--n]);
                }
                names[n] = strdup(de->d_name);
                if (names[n])
                        n++;
        }
        closedir(d);
        qsort(names, n, sizeof *names, name_cmp);

        buf = malloc(TEXTFILE_FILE_MAX + 1);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                struct stat st;
                ssize_t len = -ENOMEM;
                int r;

                good[i] = false;
                if (buf && asprintf(&path, "%s/%s", dir, names[i]) >= 0)
                        len = read_file(path, buf, TEXTFILE_FILE_MAX + 1);
                if (len >= 0 && stat(path, &st) < 0)
                        len = -errno;
                if (len < 0) {
                        log_warning_errno((int) len, "Skipping %s/%s: %m", dir, names[i]);
                        error = true;
                        skipped++;
                        continue;
                }
                r = textfile_validate(buf, (size_t) len, why, sizeof why);
                if (r < 0) {
                        log_warning("Skipping %s/%s, not valid Prometheus text format: %s", dir, names[i],
                                    r == -EINVAL ? why : "out of memory");
                        error = true;
                        skipped++;
                        continue;
                }
                fwrite(buf, 1, (size_t) len, f);
                if (len > 0 && buf[len - 1] != '\n')
                        fputc('\n', f);
                good[i] = true;
                mtimes[i] = st.st_mtim;
        }
out:
        expo_family(f, "node_textfile_mtime_seconds", "gauge", "Unixtime mtime of textfiles successfully read.");
        for (size_t i = 0; i < n; i++) {
                if (good[i]) {
                        expo_sample1(f, "node_textfile_mtime_seconds", "file", names[i]);
                        fprintf(f, " %lld.%03ld\n", (long long) mtimes[i].tv_sec, mtimes[i].tv_nsec / 1000000);
                }
                free(names[i]);
        }
        expo_family(f, "node_textfile_scrape_error", "gauge",
                    "1 if there was an error opening or reading a file, 0 otherwise");
        fprintf(f, "node_textfile_scrape_error %d\n", error ? 1 : 0);
        expo_family(f, "resolvix_textfile_skipped_files", "gauge",
                    "Files of the textfile directory left out of this scrape: unreadable, too large, too many or "
                    "not valid.");
        fprintf(f, "resolvix_textfile_skipped_files %zu\n", skipped);
}

int telemetry_metrics(struct telemetry *t, char **ret, size_t *len) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        r = node_metrics_write(t->node, f);
        build_info(f);
        sample_figures(f, t->sample);
        self(f, t);
        custom(f, t);
        if (t->conf.telemetry.textfile_dir[0])
                textfiles(f, t->conf.telemetry.textfile_dir);
        if (fclose(f) != 0 || r < 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *len = size;
        return 0;
}
