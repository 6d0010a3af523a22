/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "ctl.h"
#include "fileio.h"
#include "jsonutil.h"
#include "net.h"

/* resolvixctl's pure parts: addresses as users type them, and the views
 * rendered from a sample's JSON, at every size a terminal may have. */

/* ---- addresses -------------------------------------------------------------- */

struct address_case {
        const char *in;
        const char *scheme, *host;
        unsigned port;
        const char *path;
};

static const struct address_case good[] = {
        { "localhost", "", "localhost", 0, "" },
        { "10.0.0.5:8754", "", "10.0.0.5", 8754, "" },
        { "http://node-7:1", "http", "node-7", 1, "" },
        { "HTTPS://node:65535", "https", "node", 65535, "" },
        { "ws://127.0.0.1:8756/", "ws", "127.0.0.1", 8756, "/" },
        { "wss://h/stream?grep=x", "wss", "h", 0, "/stream?grep=x" },
        { "ws://h:9?token=t", "ws", "h", 9, "/?token=t" },
        { "[::1]:8754", "", "::1", 8754, "" },
        { "http://[fe80::1%25eth0]", "http", "fe80::1%25eth0", 0, "" },
        { "::1", "", "::1", 0, "" },
        { "2001:db8::7", "", "2001:db8::7", 0, "" },
};

Test(ctl, addresses_that_parse) {
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                struct ctl_address a;
                char err[256] = "";

                cr_assert_eq(ctl_parse_address(good[i].in, &a, err, sizeof err), 0, "%s: %s", good[i].in, err);
                cr_expect_str_eq(a.scheme, good[i].scheme, "%s", good[i].in);
                cr_expect_str_eq(a.host, good[i].host, "%s", good[i].in);
                cr_expect_eq(a.port, good[i].port, "%s", good[i].in);
                cr_expect_str_eq(a.path, good[i].path, "%s", good[i].in);
        }
}

static const struct {
        const char *in, *says;
} bad[] = {
        { "", "no host name" },
        { "http://", "no host name" },
        { ":8754", "no host name" },
        { "ftp://host", "unknown scheme" },
        { "host:", "port must be a number" },
        { "host:0", "port must be a number" },
        { "host:65536", "port must be a number" },
        { "host:80x", "port must be a number" },
        { "host:-1", "port must be a number" },
        { "[::1", "unterminated [" },
        { "[::1]8754", "expected :PORT after ]" },
};

Test(ctl, addresses_that_do_not) {
        char long_host[400];

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct ctl_address a;
                char err[256] = "";

                cr_expect_eq(ctl_parse_address(bad[i].in, &a, err, sizeof err), -EINVAL, "%s", bad[i].in);
                cr_expect(strstr(err, bad[i].says), "%s: %s", bad[i].in, err);
        }
        memset(long_host, 'h', sizeof long_host - 1);
        long_host[sizeof long_host - 1] = '\0';
        {
                struct ctl_address a;
                char err[256];
                cr_expect_eq(ctl_parse_address(long_host, &a, err, sizeof err), -EINVAL);
                cr_expect(strstr(err, "too long a host name"));
        }
}

Test(ctl, host_port_and_numbers) {
        char buf[64];
        unsigned long v;

        format_host_port("127.0.0.1", 8754, buf, sizeof buf);
        cr_expect_str_eq(buf, "127.0.0.1:8754");
        format_host_port("::1", 8754, buf, sizeof buf);
        cr_expect_str_eq(buf, "[::1]:8754");

        cr_expect_eq(ctl_parse_uint("86400", 1, 86400, &v), 0);
        cr_expect_eq(v, 86400);
        cr_expect_eq(ctl_parse_uint("86401", 1, 86400, &v), -ERANGE);
        cr_expect_eq(ctl_parse_uint("0", 1, 86400, &v), -ERANGE);
        cr_expect_eq(ctl_parse_uint("-1", 0, 10, &v), -EINVAL);
        cr_expect_eq(ctl_parse_uint(" 1", 0, 10, &v), -EINVAL);
        cr_expect_eq(ctl_parse_uint("1 ", 0, 10, &v), -EINVAL);
        cr_expect_eq(ctl_parse_uint("", 0, 10, &v), -EINVAL);
        cr_expect_eq(ctl_parse_uint("99999999999999999999999", 0, 10, &v), -ERANGE);
}

Test(ctl, url_encoding) {
        char buf[64];

        ctl_url_encode("error|fail(ed)? x&y=z", buf, sizeof buf);
        cr_expect_str_eq(buf, "error%7Cfail%28ed%29%3F%20x%26y%3Dz");
        ctl_url_encode("a-b_c.d~e", buf, sizeof buf);
        cr_expect_str_eq(buf, "a-b_c.d~e");
        /* Never a partial %XX at the end of a short buffer. */
        ctl_url_encode("ab|", buf, 5);
        cr_expect_str_eq(buf, "ab");
}

Test(ctl, exit_statuses) {
        cr_expect_eq(ctl_exit_status(0), CTL_EXIT_OK);
        cr_expect_eq(ctl_exit_status(-EINVAL), CTL_EXIT_USAGE);
        cr_expect_eq(ctl_exit_status(-ECONNREFUSED), CTL_EXIT_UNREACHABLE);
        cr_expect_eq(ctl_exit_status(-ENOTCONN), CTL_EXIT_UNREACHABLE);
        cr_expect_eq(ctl_exit_status(-EACCES), CTL_EXIT_REFUSED);
        cr_expect_eq(ctl_exit_status(-EIO), CTL_EXIT_FAILED);
        cr_expect_eq(ctl_exit_status(-EMSGSIZE), CTL_EXIT_FAILED);
}

/* ---- rendering --------------------------------------------------------------- */

static cJSON *fixture(const char *name) {
        static char text[65536];
        char path[512];
        ssize_t len;
        cJSON *j;

        snprintf(path, sizeof path, "%s/ctl/%s", TEST_DATA_DIR, name);
        len = read_file(path, text, sizeof text);
        cr_assert_gt(len, 0, "%s", path);
        j = cJSON_ParseWithLength(text, (size_t) len);
        cr_assert_not_null(j, "%s", path);
        return j;
}

typedef void (*render_fn)(FILE *f, void *data);

static char *render(render_fn fn, void *data) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        cr_assert_not_null(f);
        fn(f, data);
        cr_assert_eq(fclose(f), 0);
        return buf;
}

/* Plain text (no colour) lines, checked for width; returns how many. */
static unsigned check_lines(const char *text, unsigned width) {
        _cleanup_free_ char *copy = strdup(text);
        unsigned n = 0;
        char *save = NULL;

        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                cr_expect_leq(ctl_text_width(line), width, "line %u is %zu wide: \"%s\"", n, ctl_text_width(line), line);
                for (const char *p = line; *p; p++)
                        cr_expect((unsigned char) *p >= 0x20, "a control character in \"%s\"", line);
                n++;
        }
        return n;
}

struct watch_case {
        const cJSON *sample;
        struct ctl_render o;
};

static void do_watch(FILE *f, void *data) {
        struct watch_case *c = data;

        ctl_render_watch(f, c->sample, "q: quit   ws://127.0.0.1:8756   live", &c->o);
}

Test(ctl, watch_fits_every_terminal_size) {
        _cleanup_json_ cJSON *sample = fixture("sample.json");
        static const unsigned sizes[][2] = { { 200, 60 }, { 120, 40 }, { 80, 24 }, { 60, 16 }, { 40, 10 }, { 20, 5 } };

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                struct watch_case c = { sample, { .width = sizes[i][0], .height = sizes[i][1] } };
                _cleanup_free_ char *text = render(do_watch, &c);

                cr_expect_leq(check_lines(text, sizes[i][0]), sizes[i][1], "%ux%u", sizes[i][0], sizes[i][1]);
                cr_expect(strstr(text, "q: quit"), "%ux%u: the status line is always there", sizes[i][0],
                          sizes[i][1]);
        }
}

Test(ctl, watch_shows_the_sample) {
        _cleanup_json_ cJSON *sample = fixture("sample.json");
        struct watch_case c = { sample, { .width = 120, .height = 40 } };
        _cleanup_free_ char *text = render(do_watch, &c);

        cr_expect(strstr(text, " resolvix  192.168.1.100   2024-01-15 10:30:45 UTC   every 60 s   sample 42"), "%s", text);
        cr_expect(strstr(text, "load 2.50 2.10 1.80   4 cores 2800 MHz"), "%s", text);
        /* Every core, with its figure. */
        cr_expect(strstr(text, "50.1%]") && strstr(text, "40.3%]") && strstr(text, "97.5%]") && strstr(text, "0.0%]"));
        cr_expect(strstr(text, "8.5G / 16G used, 7.5G available"), "%s", text);
        cr_expect(strstr(text, "read 5.20 MiB/s   write 2.10 MiB/s"));
        cr_expect(strstr(text, "recv 3.20 MiB/s   sent 1.50 MiB/s   packets 2345678 in / 1234567 out   45 TCP"));
        cr_expect(strstr(text, "/dev/vda1  ext4  100G   60G    40G  60.0%"), "%s", text);
        cr_expect(strstr(text, "234 running"));
        cr_expect(strstr(text, "1234  alice   3.5  15.2  chrome"), "%s", text);
        /* A name made of escape sequences is shown, not obeyed. */
        cr_expect(strstr(text, "evil?[2Jname"), "%s", text);
        cr_expect(strstr(text, "naïve-дом"));
}

Test(ctl, watch_screen_mode_clears_and_places_the_status_line) {
        _cleanup_json_ cJSON *sample = fixture("sample.json");
        struct watch_case c = { sample, { .width = 80, .height = 24, .screen = true, .color = true } };
        _cleanup_free_ char *text = render(do_watch, &c);

        cr_expect(strstr(text, "\x1b[K\n"), "each line clears the rest of the previous frame's");
        cr_expect(strstr(text, "\x1b[J\x1b[24;1H"), "below cleared, the status line on the last row");
        cr_expect(text[strlen(text) - 1] != '\n', "no newline after the last row: it would scroll");
        cr_expect(strstr(text, "\x1b[31m"), "97.5%% is drawn in red");
}

Test(ctl, many_cores_in_few_lines) {
        _cleanup_json_ cJSON *sample = fixture("sample.json");
        cJSON *cores = cJSON_CreateArray();

        for (int i = 0; i < 128; i++)
                cJSON_AddItemToArray(cores, cJSON_CreateNumber(i % 100));
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(sample, "metrics")->child, "cpu_per_core_percent", cores);

        struct watch_case c = { sample, { .width = 100, .height = 24 } };
        _cleanup_free_ char *text = render(do_watch, &c);

        cr_expect_leq(check_lines(text, 100), 24);
        /* Not all 128 fit in 24 lines: the last cell says how many are not shown. */
        cr_expect(strstr(text, " more"), "%s", text);
        cr_expect(strstr(text, "chrome"), "the processes still have their lines: %s", text);
}

Test(ctl, a_sample_with_fields_missing_prints_dashes) {
        _cleanup_json_ cJSON *sample = cJSON_Parse("{\"metrics\":{\"cpu\":{},\"memory\":{}}}");
        struct watch_case c = { sample, { .width = 80, .height = 24 } };
        _cleanup_free_ char *text = render(do_watch, &c);

        cr_expect(strstr(text, "load - - -"), "%s", text);
        cr_expect(strstr(text, "- / - used"), "%s", text);
}

Test(ctl, watch_before_the_first_sample) {
        struct watch_case c = { NULL, { .width = 80, .height = 24 } };
        _cleanup_free_ char *text = render(do_watch, &c);

        cr_expect(strstr(text, "waiting for the first sample"));
}

static void do_line(FILE *f, void *data) {
        ctl_render_line(f, data);
}

Test(ctl, one_line_per_sample) {
        _cleanup_json_ cJSON *sample = fixture("sample.json");
        _cleanup_free_ char *text = render(do_line, sample);

        cr_expect_str_eq(text, "2024-01-15T10:30:45Z 192.168.1.100 cpu 45.2% load 2.50 mem 53.1% swap 12.5% "
                               "disk_read 5.20 disk_write 2.10 MiB/s net_recv 3.20 net_sent 1.50 MiB/s conns 45 "
                               "procs 234\n");
}

struct section_case {
        const cJSON *metrics;
        enum ctl_section s;
};

static void do_section(FILE *f, void *data) {
        struct section_case *c = data;

        ctl_render_section(f, c->metrics, c->s, &(struct ctl_render){ 0 });
}

Test(ctl, sections) {
        _cleanup_json_ cJSON *sample = fixture("sample.json");
        const cJSON *metrics = cJSON_GetObjectItem(sample, "metrics");
        static const struct {
                enum ctl_section s;
                const char *expect;
        } cases[] = {
                { CTL_SECTION_CPU, "usage      45.20 %\ncores      4 at 2800 MHz\nload       2.50 2.10 1.80  (1, 5, 15 min)\n\n"
                                   "CORE  USAGE\n   0  50.1%  [|||||||||||||||               ]\n" },
                { CTL_SECTION_MEMORY, "        TOTAL  USED  AVAILABLE   USE%\nmemory    16G  8.5G       7.5G  53.1%" },
                { CTL_SECTION_PROCESSES, "processes  234\n\n PID  USER   CPU%  MEM%  NAME\n1234  alice   3.5  15.2  chrome\n"
                                         "5678  root      -   8.5" },
                { CTL_SECTION_DISKS, "disk I/O   read 5.20 MiB/s   write 2.10 MiB/s\n" },
                { CTL_SECTION_NETWORK, "eth0           5.0G  1.0G     2345678      1234567            1/2           3/4\n" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct section_case c = { metrics, cases[i].s };
                _cleanup_free_ char *text = render(do_section, &c);

                cr_expect(strstr(text, cases[i].expect), "section %s:\n%s\nwanted:\n%s", ctl_section_key(cases[i].s),
                          text, cases[i].expect);
                check_lines(text, 1000);
                /* A pipe gets no trailing blanks. */
                cr_expect_null(strstr(text, " \n"), "%s", text);
        }
}

static void do_status(FILE *f, void *data) {
        ctl_render_status(f, data, &(struct ctl_render){ 0 });
}

Test(ctl, status_table) {
        _cleanup_json_ cJSON *status = fixture("status.json");
        _cleanup_free_ char *text = render(do_status, status);

        cr_expect_str_eq(text,
                         "resolvix on 192.168.1.100   version 0.1.0   up 1d 2h\n"
                         "\n"
                         "WORKER     STATE      PID  PORT  SERVES           SINCE                    RESTARTS  LAST EXIT\n"
                         "telemetry  running  12345  8756  every 60 s       2024-01-15 10:30:45 UTC         0  code 0\n"
                         "livelogs   failed       -  8755  /var/log/syslog  -                               6  SIGSEGV\n");
}

/* ---- durations and sparklines ---------------------------------------------- */

#include <math.h>

#include "term.h"

Test(ctl, durations) {
        static const struct {
                const char *in;
                int r;
                unsigned long long want;
        } cases[] = {
                { "90", 0, 90 },       { "90s", 0, 90 },      { "5m", 0, 300 },        { "24h", 0, 86400 },
                { "7d", 0, 604800 },   { "2w", 0, 1209600 },  { "0", -ERANGE, 0 },     { "", -EINVAL, 0 },
                { "1x", -EINVAL, 0 },  { "-5m", -EINVAL, 0 }, { "m", -EINVAL, 0 },     { "1.5h", -EINVAL, 0 },
                { "5000w", -ERANGE, 0 }, { "99999999999999999999", -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                unsigned long long v = 12345;
                int r = ctl_parse_duration(cases[i].in, &v);

                cr_assert_eq(r, cases[i].r, "\"%s\": %d", cases[i].in, r);
                cr_assert_eq(v, r == 0 ? cases[i].want : 12345, "\"%s\": %llu", cases[i].in, v);
        }
}

Test(ctl, sparklines) {
        const double rising[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
        const double gaps[] = { 1, NAN, 3 };
        const double flat[] = { 5, 5, 5 };
        const double many[] = { 0, 0, 10, 10, 0, 0, 10, 10 };
        char buf[256];

        cr_assert_eq(ctl_sparkline(buf, sizeof buf, rising, 8, 80, NAN, NAN), 8);
        cr_assert_str_eq(buf, "▁▂▃▄▅▆▇█");
        /* Fixed bounds: a value at the top's half. */
        cr_assert_eq(ctl_sparkline(buf, sizeof buf, rising + 4, 1, 80, 0, 8), 1);
        cr_assert_str_eq(buf, "▅");
        cr_assert_eq(ctl_sparkline(buf, sizeof buf, gaps, 3, 80, NAN, NAN), 3);
        cr_assert_str_eq(buf, "▁ █");
        cr_assert_eq(ctl_sparkline(buf, sizeof buf, flat, 3, 80, NAN, NAN), 3);
        cr_assert_str_eq(buf, "▅▅▅");
        /* More points than cells: each cell the mean of its share. */
        cr_assert_eq(ctl_sparkline(buf, sizeof buf, many, 8, 4, NAN, NAN), 4);
        cr_assert_str_eq(buf, "▁█▁█");
        cr_assert_eq(ctl_sparkline(buf, sizeof buf, many, 8, 2, NAN, NAN), 2);
        cr_assert_str_eq(buf, "▅▅");
        /* The buffer bounds it: whole characters only. */
        cr_assert_eq(ctl_sparkline(buf, 7, rising, 8, 80, NAN, NAN), 2);
        cr_assert_str_eq(buf, "▁▂");
        cr_assert_eq(ctl_sparkline(buf, sizeof buf, rising, 0, 80, NAN, NAN), 0);
        cr_assert_str_eq(buf, "");
}

/* ---- watch's history ---------------------------------------------------------- */

Test(ctl, history_from_telemetryd_then_samples) {
        struct ctl_history h = { 0 };
        _cleanup_json_ cJSON *hist = cJSON_Parse(
                "{\"type\":\"history\",\"interval\":1,\"capacity\":3600,\"count\":3,"
                "\"timestamps\":[1733400000000,1733400001000,1733400002000],"
                "\"cpu_usage_percent\":[0,50,100],\"memory_usage_percent\":[40,41,42],"
                "\"swap_usage_percent\":[0,0,0],\"load_avg_1min\":[0.5,0.6,0.7],"
                "\"load_avg_5min\":[0,0,0],\"load_avg_15min\":[0,0,0],"
                "\"disk_read_mb_per_sec\":[1,2,3],\"disk_write_mb_per_sec\":[1,1,1],"
                "\"bytes_recv_mb_per_sec\":[0,0,0],\"bytes_sent_mb_per_sec\":[0,0,0]}");
        _cleanup_json_ cJSON *old = cJSON_Parse("{\"timestamp\":\"2024-12-05T12:00:02Z\",\"metrics\":{}}");
        _cleanup_json_ cJSON *next = cJSON_Parse(
                "{\"timestamp\":\"2024-12-05T12:00:03Z\",\"metrics\":{\"cpu\":{\"cpu_usage_percent\":25,"
                "\"load_avg_1min\":0.8},\"memory\":{\"memory_usage_percent\":43},\"disk\":{\"disk_io\":"
                "{\"read_mb_per_sec\":4,\"write_mb_per_sec\":0.5}},\"network\":{\"bytes_recv_mb_per_sec\":1,"
                "\"bytes_sent_mb_per_sec\":2}}}");
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        FILE *f;

        cr_assert_eq(ctl_history_from_json(&h, hist), 0);
        cr_assert_eq(h.n, 3);
        cr_assert_float_eq(h.v[3][2], 4.0, 1e-9); /* disk: read + write */
        /* 1733400002 is 2024-12-05T12:00:02Z: already held, not added again. */
        cr_assert_eq(ctl_history_add_sample(&h, old), 0);
        cr_assert_eq(h.n, 3);
        cr_assert_eq(ctl_history_add_sample(&h, next), 0);
        cr_assert_eq(h.n, 4);
        cr_assert_float_eq(h.v[0][3], 25.0, 1e-9);
        cr_assert_float_eq(h.v[3][3], 4.5, 1e-9);
        cr_assert_float_eq(h.v[4][3], 3.0, 1e-9);

        f = open_memstream(&text, &len);
        {
                struct ctl_render o = { .width = 40 };
                struct out out = { .f = f, .o = &o };

                ctl_history_render(&out, &h);
        }
        fclose(f);
        cr_assert_str_eq(text, "CPU   ▁▅█▃  25.0%\n"
                               "Mem   ▄▄▄▄  43.0%\n"
                               "load  ▅▆▇█  0.80\n"
                               "disk  ▄▆▇█  4.50 MB/s\n" /* rates from zero */
                               "net   ▁▁▁█  3.00 MB/s\n");
        ctl_history_free(&h);
}

/* Past CTL_HISTORY_MAX, the newest are kept, each with its own column
 * values; a column shorter than the timestamps leaves NAN. */
Test(ctl, history_longer_than_kept) {
        struct ctl_history h = { 0 };
        _cleanup_json_ cJSON *hist = cJSON_CreateObject();
        cJSON *ts = cJSON_AddArrayToObject(hist, "timestamps");
        cJSON *cpu = cJSON_AddArrayToObject(hist, "cpu_usage_percent");
        cJSON *rd = cJSON_AddArrayToObject(hist, "disk_read_mb_per_sec");
        cJSON *wr = cJSON_AddArrayToObject(hist, "disk_write_mb_per_sec");
        int n = CTL_HISTORY_MAX + 1400;

        for (int i = 0; i < n; i++) {
                cJSON_AddItemToArray(ts, cJSON_CreateNumber(1000.0 * i));
                cJSON_AddItemToArray(cpu, cJSON_CreateNumber(i % 100));
                cJSON_AddItemToArray(rd, cJSON_CreateNumber(i));
                if (i < n - 1)
                        cJSON_AddItemToArray(wr, cJSON_CreateNumber(1));
        }
        cr_assert_eq(ctl_history_from_json(&h, hist), 0);
        cr_assert_eq(h.n, CTL_HISTORY_MAX);
        cr_assert_float_eq(h.t[0], 1400.0, 1e-9);
        cr_assert_float_eq(h.v[0][0], 0.0, 1e-9);          /* 1400 % 100 */
        cr_assert_float_eq(h.v[0][h.n - 1], 99.0, 1e-9);   /* (n - 1) % 100 */
        cr_assert_float_eq(h.v[3][0], 1401.0, 1e-9);       /* read + write */
        cr_assert(isnan(h.v[3][h.n - 1]));                 /* no write for the last */
        cr_assert(isnan(h.v[1][0]));                       /* no memory column at all */
        ctl_history_free(&h);
}
