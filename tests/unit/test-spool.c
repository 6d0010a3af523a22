/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pushd.h"
#include "spool-record.h"
#include "spool.h"

static size_t make_record(unsigned char *buf, uint64_t seq, const char *payload) {
        size_t len = strlen(payload);

        spool_record_header(seq, payload, len, buf);
        memcpy(buf + SPOOL_RECORD_HEADER, payload, len);
        return SPOOL_RECORD_HEADER + len;
}

Test(spool_record, round_trip) {
        unsigned char buf[256];
        struct spool_record rec;
        size_t n = make_record(buf, 42, "{\"seq\":42}");

        cr_assert_eq(memcmp(buf, "RXP1", 4), 0);
        cr_assert_eq(spool_record_parse(buf, n, &rec), (ssize_t) n);
        cr_assert_eq(rec.seq, 42);
        cr_assert_eq(rec.len, 10);
        cr_assert_eq(memcmp(rec.payload, "{\"seq\":42}", 10), 0);
        /* What follows a record is not its business. */
        cr_assert_eq(spool_record_parse(buf, sizeof buf, &rec), (ssize_t) n);
}

Test(spool_record, every_torn_prefix_is_incomplete_never_a_record) {
        unsigned char buf[256];
        struct spool_record rec = { .seq = 7 };
        size_t n = make_record(buf, 9, "{\"a\":1,\"b\":2}");

        for (size_t cut = 0; cut < n; cut++) {
                cr_assert_eq(spool_record_parse(buf, cut, &rec), 0, "prefix of %zu bytes", cut);
                cr_assert_eq(rec.seq, 7, "nothing written on a torn record");
        }
}

Test(spool_record, corrupt_bytes_are_refused) {
        unsigned char buf[256], bad[256];
        struct spool_record rec;
        size_t n = make_record(buf, 3, "{\"cpu\":1.5}");

        /* Any one flipped byte: magic, length, seq, CRC or payload. */
        for (size_t i = 0; i < n; i++) {
                ssize_t r;
                memcpy(bad, buf, n);
                bad[i] ^= 0x5a;
                r = spool_record_parse(bad, n, &rec);
                cr_assert(r == -EBADMSG || r == 0, "byte %zu flipped: %zd", i, r);
                cr_assert_neq(r, (ssize_t) n);
        }
}

Test(spool_record, bounds) {
        unsigned char buf[64] = "RXP1";
        struct spool_record rec;

        /* Length 0 and over SPOOL_RECORD_MAX are not records. */
        memset(buf + 4, 0, 4);
        cr_assert_eq(spool_record_parse(buf, sizeof buf, &rec), -EBADMSG);
        buf[4] = 0xff, buf[5] = 0xff, buf[6] = 0xff, buf[7] = 0x7f;
        cr_assert_eq(spool_record_parse(buf, sizeof buf, &rec), -EBADMSG);
        /* seq 0 is never written. */
        make_record(buf, 0, "x");
        cr_assert_eq(spool_record_parse(buf, SPOOL_RECORD_HEADER + 1, &rec), -EBADMSG);
        cr_assert_eq(spool_record_parse("XXP1", 4, &rec), -EBADMSG);
        cr_assert_eq(spool_record_parse("RX", 2, &rec), 0);
        cr_assert_eq(spool_record_parse("RY", 2, &rec), -EBADMSG);
}

Test(spool_record, resync_finds_the_next_valid_record) {
        unsigned char buf[512];
        size_t a = make_record(buf, 1, "{\"one\":1}"), b;

        buf[SPOOL_RECORD_HEADER + 2] ^= 1; /* the first one rots */
        memcpy(buf + a, "RXP1garbage", 11);  /* a false start */
        b = make_record(buf + a + 11, 2, "{\"two\":2}");
        cr_assert_eq(spool_record_resync(buf, a + 11 + b), a + 11);
        cr_assert_eq(spool_record_resync(buf, a + 11), a + 11, "none: the end");
}

Test(spool_position, parse_and_format) {
        struct spool_position p = { .done = 12, .dropped = 3 }, q;
        char buf[256];

        snprintf(p.stream, sizeof p.stream, "spool-1700000000-0badcafe");
        cr_assert_gt(spool_position_format(&p, buf, sizeof buf), 0);
        cr_assert_eq(spool_position_parse(buf, &q), 0);
        cr_assert_str_eq(q.stream, p.stream);
        cr_assert_eq(q.done, 12);
        cr_assert_eq(q.dropped, 3);
        cr_assert_eq(spool_position_format(&p, buf, 10), -ENOBUFS);
}

Test(spool_position, refuses_anything_else) {
        static const char *const bad[] = {
                "",
                "stream=a\ndone=1\n",
                "stream=a\ndone=1\ndropped=0\ndone=2\n",
                "stream=a\ndone=x\ndropped=0\n",
                "stream=a\ndone=18446744073709551616\ndropped=0\n",
                "stream=a b\ndone=1\ndropped=0\n",
                "stream=\ndone=1\ndropped=0\n",
                "stream=a\ndone=1\ndropped=0\nextra=1\n",
                "stream=a\ndone=-1\ndropped=0\n",
                "stream a\ndone=1\ndropped=0\n",
        };
        struct spool_position p;

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                cr_assert_eq(spool_position_parse(bad[i], &p), -EINVAL, "%s", bad[i]);
        cr_assert_eq(spool_position_parse("dropped=0\ndone=18446744073709551615\nstream=s-1", &p), 0);
        cr_assert_eq(p.done, UINT64_MAX);
}

/* ---- the spool on disk ---------------------------------------------------- */

static char dir[64];

static void make_dir(void) {
        snprintf(dir, sizeof dir, "/tmp/test-spool-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        cr_assert_eq(system(cmd), 0);
}

struct collected {
        uint64_t seqs[64];
        size_t n;
};

static bool collect(const struct spool_record *rec, void *userdata) {
        struct collected *c = userdata;
        c->seqs[c->n++] = rec->seq;
        return true;
}

static void append_n(struct spool *s, unsigned n) {
        char line[64];
        for (unsigned i = 0; i < n; i++) {
                snprintf(line, sizeof line, "{\"seq\":%llu}", (unsigned long long) spool_next_seq(s));
                cr_assert_eq(spool_append(s, line, strlen(line)), 0);
        }
}

TestSuite(spool, .init = make_dir, .fini = remove_dir);

Test(spool, acks_out_of_order_and_reopens_where_it_was) {
        struct spool *s;
        struct spool_figures f;
        struct collected c = { 0 };

        cr_assert_eq(spool_open(dir, 1024 * 1024, &s), 0);
        append_n(s, 5);
        /* The newest first, as after an outage. */
        cr_assert_eq(spool_ack(s, 5), 1);
        spool_get_figures(s, &f);
        cr_assert_eq(f.done, 0);
        cr_assert_eq(f.pending, 4);
        cr_assert_eq(f.last_ack, 5);
        cr_assert_eq(spool_read(s, 1, 10, collect, &c), 4);
        cr_assert_eq(c.seqs[0], 1);
        cr_assert_eq(c.seqs[3], 4);
        for (uint64_t q = 1; q <= 3; q++)
                cr_assert_eq(spool_ack(s, q), 1);
        cr_assert_eq(spool_ack(s, 3), 0, "twice is once");
        cr_assert_eq(spool_drop(s, 4), 1);
        spool_get_figures(s, &f);
        cr_assert_eq(f.done, 5);
        cr_assert_eq(f.pending, 0);
        cr_assert_eq(f.dropped, 1);
        cr_assert_eq(spool_save(s), 0);
        spool_free(s);

        cr_assert_eq(spool_open(dir, 1024 * 1024, &s), 0);
        spool_get_figures(s, &f);
        cr_assert_eq(f.next_seq, 6, "seqs go on across restarts");
        cr_assert_eq(f.done, 5);
        cr_assert_eq(f.dropped, 1);
        cr_assert_eq(f.pending, 0);
        spool_free(s);
}

Test(spool, unsaved_acks_are_sent_again_after_a_crash) {
        struct spool *s;
        struct spool_figures f;

        cr_assert_eq(spool_open(dir, 1024 * 1024, &s), 0);
        append_n(s, 3);
        cr_assert_eq(spool_ack(s, 1), 1);
        cr_assert_eq(spool_save(s), 0);
        cr_assert_eq(spool_ack(s, 2), 1); /* not saved: a kill -9 now */
        spool_free(s);
        cr_assert_eq(spool_open(dir, 1024 * 1024, &s), 0);
        spool_get_figures(s, &f);
        cr_assert_eq(f.done, 1);
        cr_assert_eq(f.pending, 2);
        spool_free(s);
}

static char *only_segment(void) {
        static char path[256];
        char cmd[128];
        FILE *p;

        snprintf(cmd, sizeof cmd, "ls %s/*.seg | tail -1", dir);
        p = popen(cmd, "r");
        cr_assert_not_null(fgets(path, sizeof path, p));
        pclose(p);
        path[strcspn(path, "\n")] = '\0';
        return path;
}

Test(spool, torn_tail_is_cut_and_its_seq_reused) {
        struct spool *s;
        struct spool_figures f;
        struct collected c = { 0 };
        unsigned char rec[64];
        size_t n = make_record(rec, 4, "{\"seq\":4,\"torn\":true}");
        int fd;

        cr_assert_eq(spool_open(dir, 1024 * 1024, &s), 0);
        append_n(s, 3);
        spool_free(s);
        fd = open(only_segment(), O_WRONLY | O_APPEND);
        cr_assert_eq(write(fd, rec, n - 5), (ssize_t) (n - 5));
        close(fd);

        cr_assert_eq(spool_open(dir, 1024 * 1024, &s), 0);
        spool_get_figures(s, &f);
        cr_assert_eq(f.torn, n - 5);
        cr_assert_eq(f.next_seq, 4);
        append_n(s, 1);
        cr_assert_eq(spool_read(s, 1, 10, collect, &c), 4, "the torn bytes never reach the reader");
        cr_assert_eq(c.seqs[3], 4);
        spool_free(s);
}

Test(spool, a_corrupt_record_is_skipped_and_counted_as_dropped) {
        struct spool *s;
        struct spool_figures f;
        struct collected c = { 0 };
        int fd;

        cr_assert_eq(spool_open(dir, 1024 * 1024, &s), 0);
        append_n(s, 3);
        spool_free(s);
        fd = open(only_segment(), O_WRONLY);
        /* Inside the second record's payload. */
        cr_assert_eq(pwrite(fd, "#", 1, 20 + 7 + 20 + 3), 1);
        close(fd);
        cr_assert_eq(spool_open(dir, 1024 * 1024, &s), 0);
        spool_get_figures(s, &f);
        cr_assert_eq(f.dropped, 1);
        cr_assert_eq(f.pending, 2);
        cr_assert_eq(spool_read(s, 1, 10, collect, &c), 2);
        cr_assert_eq(c.seqs[0], 1);
        cr_assert_eq(c.seqs[1], 3);
        spool_free(s);
}

Test(spool, the_bound_drops_the_oldest_segment_and_counts_it) {
        struct spool *s;
        struct spool_figures f;
        char line[2048];

        memset(line, 'x', sizeof line - 1);
        line[sizeof line - 1] = '\0';
        /* 1 MiB: 64 KiB segments of 31 records each. */
        cr_assert_eq(spool_open(dir, 1024 * 1024, &s), 0);
        cr_assert_eq(spool_ack(s, 1), 0, "nothing to ack yet");
        for (int i = 0; i < 600; i++)
                cr_assert_eq(spool_append(s, line, strlen(line)), 0);
        spool_get_figures(s, &f);
        cr_assert_leq(f.bytes, 1024 * 1024);
        cr_assert_gt(f.dropped, 0);
        cr_assert_eq(f.dropped % 31, 0, "whole segments: %llu", (unsigned long long) f.dropped);
        cr_assert_eq(f.done, f.dropped);
        cr_assert_eq(f.pending + f.dropped, 600);
        spool_free(s);
}

Test(client, verdicts) {
        cr_assert_eq(pushd_classify(REQ_PUSH, 200), VERDICT_DONE);
        cr_assert_eq(pushd_classify(REQ_PUSH, 400), VERDICT_FINAL);
        cr_assert_eq(pushd_classify(REQ_PUSH, 413), VERDICT_FINAL);
        cr_assert_eq(pushd_classify(REQ_PUSH, 401), VERDICT_REENROLL);
        cr_assert_eq(pushd_classify(REQ_PUSH, 408), VERDICT_BACKOFF);
        cr_assert_eq(pushd_classify(REQ_PUSH, 429), VERDICT_RETRY_AFTER);
        cr_assert_eq(pushd_classify(REQ_PUSH, 503), VERDICT_RETRY_AFTER);
        cr_assert_eq(pushd_classify(REQ_PUSH, 500), VERDICT_BACKOFF);
        cr_assert_eq(pushd_classify(REQ_ENROLL, 201), VERDICT_DONE);
        cr_assert_eq(pushd_classify(REQ_ENROLL, 401), VERDICT_BACKOFF);
        cr_assert_eq(pushd_classify(REQ_CHECK_URL, 202), VERDICT_DONE);
        cr_assert_eq(pushd_classify(REQ_CHECK_URL, 200), VERDICT_BACKOFF);
        cr_assert_eq(pushd_classify(REQ_CHECK_ID, 200), VERDICT_DONE);
        cr_assert_eq(pushd_classify(REQ_CHECK_ID, 204), VERDICT_DONE);
}

Test(client, backoff_is_jittered_within_half_to_all) {
        cr_assert_eq(pushd_backoff_delay(PUSHD_BACKOFF_MIN_USEC, 0), PUSHD_BACKOFF_MIN_USEC / 2);
        cr_assert_leq(pushd_backoff_delay(PUSHD_BACKOFF_MAX_USEC, UINT32_MAX), PUSHD_BACKOFF_MAX_USEC);
        cr_assert_geq(pushd_backoff_delay(PUSHD_BACKOFF_MAX_USEC, UINT32_MAX), PUSHD_BACKOFF_MAX_USEC * 99 / 100);
}
