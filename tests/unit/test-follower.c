/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "follower.h"
#include "macro.h"

/* The follower on a real temporary directory, driven by a poll() loop the
 * way the server's loop drives it. */

static char dir[] = "/tmp/resolvix-test-follower-XXXXXX";
static char path[256];

struct got {
        char **lines;
        size_t n, cap;
};

static int sink(const char *line, size_t len, bool continues, const struct line_meta *meta, void *userdata) {
        struct got *g = userdata;

        cr_assert_null(meta);
        if (g->n == g->cap) {
                g->cap = g->cap ? 2 * g->cap : 64;
                g->lines = realloc(g->lines, g->cap * sizeof *g->lines);
        }
        g->lines[g->n] = strndup(line, len);
        g->n++;
        return 0;
}

static void got_free(struct got *g) {
        for (size_t i = 0; i < g->n; i++)
                free(g->lines[i]);
        free(g->lines);
}

static void setup(void) {
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/app.log", dir);
}

static void teardown(void) {
        char cmd[300];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        (void) !system(cmd);
}

TestSuite(follower, .init = setup, .fini = teardown);

static struct follower *start(unsigned backlog, size_t backlog_bytes, struct got *g) {
        struct follower *f = NULL;

        cr_assert_eq(follower_new(path, backlog, backlog_bytes, sink, g, &f), 0);
        cr_assert_eq(follower_start(f), 0);
        return f;
}

/* Run the loop until `want` lines arrived; 10 s is a hang, not a budget. */
static void pump(struct follower *f, struct got *g, size_t want) {
        for (int i = 0; i < 1000 && g->n < want; i++) {
                struct pollfd p = { .fd = follower_fd(f), .events = POLLIN };
                int more;

                (void) poll(&p, 1, 10);
                do
                        more = follower_process(f);
                while (more > 0);
                cr_assert_geq(more, 0);
        }
        cr_assert_eq(g->n, want, "got %zu lines, want %zu", g->n, want);
}

/* Nothing more arrives when the loop runs a while longer. */
static void pump_quiet(struct follower *f, struct got *g) {
        size_t n = g->n;

        for (int i = 0; i < 5; i++) {
                struct pollfd p = { .fd = follower_fd(f), .events = POLLIN };

                (void) poll(&p, 1, 10);
                cr_assert_geq(follower_process(f), 0);
        }
        cr_assert_eq(g->n, n, "%zu unexpected lines, the first: %s", g->n - n, g->n > n ? g->lines[n] : "");
}

static int open_log(int flags) {
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);

        cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
        return fd;
}

static void write_lines(int fd, unsigned from, unsigned to) {
        char buf[64];

        for (unsigned i = from; i <= to; i++) {
                int n = snprintf(buf, sizeof buf, "line %u\n", i);
                cr_assert_eq(write(fd, buf, (size_t) n), n);
        }
}

static void append_lines(unsigned from, unsigned to) {
        int fd = open_log(O_APPEND);

        write_lines(fd, from, to);
        close(fd);
}

/* Lines first..last, each once, in order, starting at g->lines[at]. */
static void expect_sequence(const struct got *g, size_t at, unsigned first, unsigned last) {
        cr_assert_eq(g->n - at, last - first + 1, "%zu lines from %zu, want %u", g->n - at, at, last - first + 1);
        for (unsigned i = first; i <= last; i++) {
                char want[64];

                snprintf(want, sizeof want, "line %u", i);
                cr_assert_str_eq(g->lines[at + i - first], want);
        }
}

Test(follower, backlog_is_exact_and_a_partial_line_waits) {
        struct got g = { 0 };
        struct follower *f;
        int fd = open_log(0);

        write_lines(fd, 1, 10);
        cr_assert_eq(write(fd, "par", 3), 3);
        f = start(3, 1 << 20, &g);
        expect_sequence(&g, 0, 8, 10);

        cr_assert_eq(write(fd, "tial\n", 5), 5);
        pump(f, &g, 4);
        cr_expect_str_eq(g.lines[3], "partial");
        write_lines(fd, 11, 12);
        pump(f, &g, 6);
        expect_sequence(&g, 4, 11, 12);
        close(fd);
        follower_free(f);
        got_free(&g);
}

Test(follower, backlog_zero_and_backlog_beyond_the_file) {
        struct got g0 = { 0 }, gall = { 0 };
        struct follower *f0, *fall;

        append_lines(1, 5);
        f0 = start(0, 1 << 20, &g0);
        fall = start(100, 1 << 20, &gall);
        cr_assert_eq(g0.n, 0);
        expect_sequence(&gall, 0, 1, 5);
        append_lines(6, 6);
        pump(f0, &g0, 1);
        expect_sequence(&g0, 0, 6, 6);
        follower_free(f0);
        follower_free(fall);
        got_free(&g0);
        got_free(&gall);
}

Test(follower, backlog_bounded_in_bytes_starts_on_a_line) {
        struct got g = { 0 };
        struct follower *f;

        append_lines(1, 100); /* "line 10\n" and up are 8 bytes */
        f = start(50, 30, &g);
        /* 30 bytes back reaches into "line 97"; the backlog starts after it */
        expect_sequence(&g, 0, 98, 100);
        follower_free(f);
        got_free(&g);
}

Test(follower, waits_for_a_file_that_does_not_exist) {
        struct got g = { 0 };
        struct follower *f = start(10, 1 << 20, &g);

        pump_quiet(f, &g);
        append_lines(1, 3);
        pump(f, &g, 3);
        expect_sequence(&g, 0, 1, 3);
        follower_free(f);
        got_free(&g);
}

/* logrotate without copytruncate: rename, create, and the writer goes on
 * writing to the old file until it is told to reopen. */
Test(follower, rename_rotation_with_a_late_writer) {
        struct got g = { 0 };
        struct follower *f;
        char old[300];
        int w = open_log(O_APPEND), fresh;

        snprintf(old, sizeof old, "%s.1", path);
        f = start(0, 1 << 20, &g);
        write_lines(w, 1, 50);
        cr_assert_eq(rename(path, old), 0);
        write_lines(w, 51, 60); /* still the old file */
        pump(f, &g, 60);
        fresh = open_log(O_APPEND | O_EXCL);
        write_lines(fresh, 61, 100);
        pump(f, &g, 100);
        write_lines(w, 101, 110); /* the writer had not reopened yet */
        pump(f, &g, 110);
        expect_sequence(&g, 0, 1, 110);
        pump_quiet(f, &g);
        close(w);
        close(fresh);
        follower_free(f);
        got_free(&g);
}

/* Everything happens before the follower looks: the old file, several
 * reads long, is read to its end before the new one. */
Test(follower, rename_rotation_all_at_once) {
        struct got g = { 0 };
        struct follower *f;
        char old[300];
        int w = open_log(O_APPEND);

        snprintf(old, sizeof old, "%s.1", path);
        f = start(0, 1 << 20, &g);
        write_lines(w, 1, 30000);
        cr_assert_eq(rename(path, old), 0);
        write_lines(w, 30001, 30100);
        close(w);
        append_lines(30101, 40000);
        pump(f, &g, 40000);
        expect_sequence(&g, 0, 1, 40000);
        follower_free(f);
        got_free(&g);
}

/* Lines 1..before read, the file truncated under its writer (copytruncate,
 * or "> app.log" by a writer that reopens with O_TRUNC), lines
 * before+1..after written: all of them arrive, once. */
static void truncate_under_the_writer(unsigned before, unsigned after, bool reopen) {
        struct got g = { 0 };
        struct follower *f = start(0, 1 << 20, &g);
        int w = open_log(O_APPEND);

        write_lines(w, 1, before);
        pump(f, &g, before);
        if (reopen) {
                close(w);
                w = open_log(O_TRUNC);
        } else
                cr_assert_eq(ftruncate(w, 0), 0);
        write_lines(w, before + 1, after);
        pump(f, &g, after);
        expect_sequence(&g, 0, 1, after);
        pump_quiet(f, &g);
        close(w);
        follower_free(f);
        got_free(&g);
}

Test(follower, copytruncate) {
        truncate_under_the_writer(50, 60, false);
}

Test(follower, truncation_by_reopening) {
        truncate_under_the_writer(50, 55, true);
}

/* Truncated and written again past the old size before the follower
 * looked: the size never shrank, the content before the offset changed. */
Test(follower, truncation_hidden_by_faster_writing) {
        truncate_under_the_writer(20, 100, false);
}

Test(follower, delete_and_recreate) {
        struct got g = { 0 };
        struct follower *f;

        close(open_log(0));
        f = start(0, 1 << 20, &g);
        append_lines(1, 50);
        cr_assert_eq(unlink(path), 0); /* before the follower read them */
        pump(f, &g, 50);
        pump_quiet(f, &g);
        append_lines(51, 80);
        pump(f, &g, 80);
        expect_sequence(&g, 0, 1, 80);
        follower_free(f);
        got_free(&g);
}

/* The partial last line of a file that is truncated will never be
 * completed: it comes out as it is, before what follows. */
Test(follower, partial_line_before_a_truncation_comes_out) {
        struct got g = { 0 };
        struct follower *f = start(0, 1 << 20, &g);
        int w = open_log(O_APPEND);

        write_lines(w, 1, 2);
        cr_assert_eq(write(w, "unterminated", 12), 12);
        pump(f, &g, 2);
        cr_assert_eq(ftruncate(w, 0), 0);
        write_lines(w, 3, 3);
        pump(f, &g, 4);
        cr_expect_str_eq(g.lines[2], "unterminated");
        cr_expect_str_eq(g.lines[3], "line 3");
        close(w);
        follower_free(f);
        got_free(&g);
}

/* Without inotify events (a network file system), the tick still reads. */
Test(follower, tick_reads_without_events) {
        struct got g = { 0 };
        struct follower *f = start(0, 1 << 20, &g);
        char buf[4096];

        append_lines(1, 10);
        while (read(follower_fd(f), buf, sizeof buf) > 0)
                ; /* lose the events */
        cr_assert_eq(follower_tick(f), 0);
        expect_sequence(&g, 0, 1, 10);
        follower_free(f);
        got_free(&g);
}

Test(follower, a_directory_that_does_not_exist_yet) {
        struct got g = { 0 };
        struct follower *f;

        snprintf(path, sizeof path, "%s/sub/app.log", dir);
        f = start(0, 1 << 20, &g);
        snprintf(path, sizeof path, "%s/sub", dir);
        cr_assert_eq(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/sub/app.log", dir);
        append_lines(1, 2);
        cr_assert_eq(follower_tick(f), 0); /* puts the directory watch in place, finds the file */
        expect_sequence(&g, 0, 1, 2);
        append_lines(3, 4);
        pump(f, &g, 4);
        expect_sequence(&g, 0, 1, 4);
        follower_free(f);
        got_free(&g);
}

Test(follower, a_directory_is_not_a_log) {
        struct follower *f = NULL;
        struct got g = { 0 };

        cr_assert_eq(follower_new(dir, 0, 1 << 20, sink, &g, &f), 0);
        cr_assert_eq(follower_start(f), -EISDIR);
        follower_free(f);
}
