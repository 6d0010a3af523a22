/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "metriclog.h"
#include "metricstore.h"

static char tmpdir[] = "/tmp/resolvix-test-metriclog-XXXXXX";
static char dir[512], path[600];

static void setup(void) {
        cr_assert_not_null(mkdtemp(tmpdir));
        /* Below the temporary directory: opening creates what is missing. */
        snprintf(dir, sizeof dir, "%s/state/resolvix", tmpdir);
        snprintf(path, sizeof path, "%s/" METRIC_LOG_NAME, dir);
}

static void teardown(void) {
        char cmd[700];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        (void) !system(cmd);
}

TestSuite(metriclog, .init = setup, .fini = teardown);

static struct metric_store *store(size_t max_metrics, size_t max_points) {
        struct metric_store *s = NULL;

        cr_assert_eq(metric_store_new(max_metrics, max_points, &s), 0);
        return s;
}

static struct metric_log *open_log(struct metric_store *s, struct metric_log_replay *rp) {
        struct metric_log_replay ignored;
        struct metric_log *l = NULL;
        int r = metric_log_open(dir, s, &l, rp ? rp : &ignored);

        cr_assert_eq(r, 0, "metric_log_open: %s", strerror(-r));
        return l;
}

/* A put as the server handles one: into the store, and its request line,
 * as the client spelled it, into the log. */
static void put_as(struct metric_store *s, struct metric_log *l, const char *name, int64_t ts, const char *value) {
        char line[512];
        int n = snprintf(line, sizeof line, "put %s %s %lld", name, value, (long long) ts);

        cr_assert_geq(metric_store_put(s, name, ts, strtod(value, NULL)), 0);
        cr_assert_eq(metric_log_append(l, line, (size_t) n), 0);
}

static void put(struct metric_store *s, struct metric_log *l, const char *name, int64_t ts, double v) {
        char value[64];

        snprintf(value, sizeof value, "%.17g", v);
        put_as(s, l, name, ts, value);
}

static char *file(void) {
        static char buf[1 << 16];
        FILE *f = fopen(path, "re");
        size_t n;

        cr_assert_not_null(f, "%s", path);
        n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

static void append_raw(const char *text) {
        FILE *f = fopen(path, "ae");

        cr_assert_not_null(f);
        fputs(text, f);
        fclose(f);
}

/* Every point of s, in the log's own spelling. */
static const char *dump(const struct metric_store *s) {
        static char buf[1 << 16];
        size_t len = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < metric_store_size(s); i++) {
                const struct metric *m = metric_store_at(s, i);
                for (size_t j = 0; j < metric_size(m); j++) {
                        struct metric_point p = metric_point_at(m, j);
                        len += (size_t) snprintf(buf + len, sizeof buf - len, "%s %lld %.17g\n", metric_name(m),
                                                 (long long) p.timestamp, p.value);
                }
        }
        return buf;
}

Test(metriclog, a_new_directory_starts_empty) {
        struct metric_store *s = store(10, 10);
        struct metric_log_replay rp;
        struct metric_log *l = open_log(s, &rp);
        struct stat st;

        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_size, 0);
        cr_assert_eq(rp.lines + rp.bad + rp.refused, 0);
        cr_assert_eq(metric_store_size(s), 0);
        metric_log_free(l);
        metric_store_free(s);
}

Test(metriclog, points_survive_a_reopen) {
        struct metric_store *s = store(10, 10), *again = store(10, 10);
        struct metric_log_replay rp;
        struct metric_log *l = open_log(s, NULL);
        char want[1 << 12];

        put_as(s, l, "palm.cpu", 1150864247, "0.5");
        put_as(s, l, "palm.cpu", 1150864248, "2");
        put(s, l, "eardrum.cpu", 1150864250, 1.0 / 3);
        put_as(s, l, "palm.cpu", 1150864247, ".7"); /* replaced: the later value wins on replay */
        cr_assert_eq(metric_log_flush(l), 0);
        cr_assert(metric_log_unsynced(l));
        cr_assert_eq(metric_log_sync(l), 0);
        cr_assert_not(metric_log_unsynced(l));
        /* Appended as sent; spelled anew only by a compaction. */
        cr_assert_str_eq(file(), "put palm.cpu 0.5 1150864247\n"
                                 "put palm.cpu 2 1150864248\n"
                                 "put eardrum.cpu 0.33333333333333331 1150864250\n"
                                 "put palm.cpu .7 1150864247\n");
        snprintf(want, sizeof want, "%s", dump(s));
        metric_log_free(l);

        l = open_log(again, &rp);
        cr_assert_eq(rp.lines, 4);
        cr_assert_eq(rp.bad, 0);
        cr_assert_str_eq(dump(again), want);
        /* Opening compacts: the file now holds the store, nothing more. */
        cr_assert_str_eq(file(), "put eardrum.cpu 0.33333333333333331 1150864250\n"
                                 "put palm.cpu 0.69999999999999996 1150864247\n"
                                 "put palm.cpu 2 1150864248\n");
        cr_assert_eq(metric_log_size(l), strlen(file()));
        metric_log_free(l);
        metric_store_free(s);
        metric_store_free(again);
}

Test(metriclog, a_torn_last_line_is_dropped_not_misread) {
        struct metric_store *s = store(10, 10), *again = store(10, 10);
        struct metric_log_replay rp;
        struct metric_log *l = open_log(s, NULL);

        put(s, l, "m", 1, 1.0);
        metric_log_free(l);
        /* A crash mid-write leaves "put m 1.5 17" of "put m 1.5 1700000000":
         * a valid request with the wrong timestamp, if it were read. */
        append_raw("garbage in the middle\nput m 2 2\nput m 1.5 17");
        l = open_log(again, &rp);
        cr_assert_eq(rp.lines, 2);
        cr_assert_eq(rp.bad, 2);
        cr_assert_str_eq(dump(again), "m 1 1\nm 2 2\n");
        /* The next append starts on a line of its own. */
        put(again, l, "m", 3, 3.0);
        cr_assert_eq(metric_log_flush(l), 0);
        cr_assert_str_eq(file(), "put m 1 1\nput m 2 2\nput m 3 3\n");
        metric_log_free(l);
        metric_store_free(s);
        metric_store_free(again);
}

Test(metriclog, replay_applies_todays_bounds) {
        struct metric_store *s = store(10, 10), *small = store(1, 2);
        struct metric_log_replay rp;
        struct metric_log *l = open_log(s, NULL);

        for (int t = 1; t <= 5; t++)
                put(s, l, "a", t, t);
        put(s, l, "b", 1, 1);
        metric_log_free(l);

        l = open_log(small, &rp);
        cr_assert_eq(rp.lines, 5);
        cr_assert_eq(rp.refused, 1);
        cr_assert_str_eq(dump(small), "a 4 4\na 5 5\n");
        cr_assert_str_eq(file(), "put a 4 4\nput a 5 5\n");
        metric_log_free(l);
        metric_store_free(s);
        metric_store_free(small);
}

Test(metriclog, compacted_once_grown_past_twice_what_it_holds) {
        struct metric_store *s = store(10, 10), *again = store(10, 10);
        struct metric_log *l = open_log(s, NULL);
        uint64_t peak = 0;
        int compactions = 0;

        /* Replacing one point again and again: the store stays one point,
         * the log would grow without end. */
        for (int i = 0; i < 100000; i++) {
                int r;

                put(s, l, "m", 1, i);
                if (i % 100 != 99)
                        continue;
                cr_assert_eq(metric_log_flush(l), 0);
                if (metric_log_size(l) > peak)
                        peak = metric_log_size(l);
                r = metric_log_compact_if_due(l, s);
                cr_assert_geq(r, 0);
                compactions += r;
        }
        cr_assert_gt(compactions, 0);
        cr_assert_leq(peak, 2 * metric_log_compacted_size(l) + METRIC_LOG_COMPACT_MIN + 100 * 32);
        cr_assert_eq(metric_log_compact(l, s), 0);
        cr_assert_str_eq(file(), "put m 99999 1\n");
        metric_log_free(l);
        l = open_log(again, NULL);
        cr_assert_str_eq(dump(again), "m 1 99999\n");
        metric_log_free(l);
        metric_store_free(s);
        metric_store_free(again);
}

Test(metriclog, one_process_per_directory) {
        struct metric_store *s = store(10, 10), *other = store(10, 10);
        struct metric_log_replay rp;
        struct metric_log *l = open_log(s, NULL), *second = NULL;

        cr_assert_eq(metric_log_open(dir, other, &second, &rp), -EBUSY);
        cr_assert_null(second);
        metric_log_free(l);
        l = open_log(other, NULL);
        metric_log_free(l);
        metric_store_free(s);
        metric_store_free(other);
}

/* A write that fails part-way (disk full) may leave half a line: nothing is
 * appended after it, and the next compaction rewrites the file from the
 * store, which kept every point. */
Test(metriclog, a_failed_write_is_repaired_by_a_rewrite) {
        struct metric_store *s = store(10, 100), *again = store(10, 100);
        struct metric_log *l = open_log(s, NULL);
        struct rlimit rl, saved;
        char want[1 << 12];

        put(s, l, "m", 0, 0);
        cr_assert_eq(metric_log_flush(l), 0);
        signal(SIGXFSZ, SIG_IGN);
        cr_assert_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
        rl = saved;
        rl.rlim_cur = metric_log_size(l) + 20;
        cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);

        for (int t = 1; t <= 10; t++)
                put(s, l, "m", t, t);
        cr_assert_eq(metric_log_flush(l), -EFBIG);
        put(s, l, "m", 11, 11);
        cr_assert_eq(metric_log_flush(l), -EIO, "nothing is appended after a failed write");
        /* A point the queue never saw: the rewrite takes it from the store. */
        cr_assert_eq(metric_store_put(s, "m", 12, 12), METRIC_ADDED);
        cr_assert_lt(metric_log_compact_if_due(l, s), 0, "still over the limit");

        cr_assert_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
        cr_assert_eq(metric_log_compact_if_due(l, s), 1);
        cr_assert_eq(metric_log_compact_if_due(l, s), 0);
        snprintf(want, sizeof want, "%s", dump(s));
        metric_log_free(l);
        l = open_log(again, NULL);
        cr_assert_str_eq(dump(again), want);
        cr_assert_eq(metric_store_points(again), 13);
        metric_log_free(l);
        metric_store_free(s);
        metric_store_free(again);
}

/* A symlink planted in the state directory must not redirect a write to a
 * file elsewhere: not at the log, not at its temporary, not at the lock. */
static char victim[700];

static void plant(const char *name) {
        char link[700];
        FILE *f;

        snprintf(victim, sizeof victim, "%s/victim", tmpdir);
        f = fopen(victim, "we");
        cr_assert_not_null(f);
        fputs("precious\n", f);
        fclose(f);
        cr_assert_eq(mkdir_parents(dir, 0755), 0);
        snprintf(link, sizeof link, "%s/%s", dir, name);
        cr_assert_eq(symlink(victim, link), 0);
}

static void victim_untouched(void) {
        char buf[64] = "";
        FILE *f = fopen(victim, "re");

        cr_assert_not_null(f);
        cr_assert_not_null(fgets(buf, sizeof buf, f));
        fclose(f);
        cr_assert_str_eq(buf, "precious\n", "written through the symlink");
}

Test(metriclog, a_link_at_the_log_is_refused) {
        struct metric_store *s = store(10, 10);
        struct metric_log_replay rp;
        struct metric_log *l = NULL;

        plant(METRIC_LOG_NAME);
        cr_assert_eq(metric_log_open(dir, s, &l, &rp), -ELOOP);
        cr_assert_null(l);
        cr_assert_eq(metric_store_size(s), 0, "the linked file was replayed");
        victim_untouched();
        metric_store_free(s);
}

Test(metriclog, a_link_at_the_temporary_is_not_followed) {
        struct metric_store *s = store(10, 10);
        struct metric_log *l;
        struct stat st;

        plant(METRIC_LOG_NAME ".tmp");
        l = open_log(s, NULL); /* which compacts through the temporary */
        put(s, l, "m", 1, 1);
        cr_assert_eq(metric_log_flush(l), 0);
        cr_assert_eq(metric_log_compact(l, s), 0);
        victim_untouched();
        cr_assert_eq(lstat(path, &st), 0);
        cr_assert(S_ISREG(st.st_mode));
        cr_assert_str_eq(file(), "put m 1 1\n");
        metric_log_free(l);
        metric_store_free(s);
}

Test(metriclog, a_link_at_the_lock_is_refused) {
        struct metric_store *s = store(10, 10);
        struct metric_log_replay rp;
        struct metric_log *l = NULL;

        plant("custom-metrics.lock");
        cr_assert_eq(metric_log_open(dir, s, &l, &rp), -ELOOP);
        victim_untouched();
        metric_store_free(s);
}
