/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

static char tmpdir[] = "/tmp/resolvix-test-conf-XXXXXX";

static void setup(void) {
        cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        (void) !system(cmd);
}

static const char *write_conf(const char *name, const char *text) {
        static char path[256];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", tmpdir, name);
        f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs(text, f);
        fclose(f);
        return path;
}

TestSuite(conf, .init = setup, .fini = teardown);

Test(conf, defaults_match_the_spec) {
        struct conf c;

        conf_defaults(&c);
        cr_assert_str_eq(c.node.id, "auto");
        cr_assert_str_eq(c.control.listen, "127.0.0.1");
        cr_assert_eq(c.control.port, 8754);
        cr_assert_str_eq(c.control.token, "");
        cr_assert_eq(c.telemetry.stream.port, 8756);
        cr_assert_str_eq(c.telemetry.stream.listen, "0.0.0.0");
        cr_assert_eq(c.telemetry.interval, 60);
        cr_assert_eq(c.telemetry.stream.max_clients, 1024);
        cr_assert_eq(c.telemetry.ingest_port, 8888);
        cr_assert_str_eq(c.telemetry.ingest_listen, "127.0.0.1");
        cr_assert_eq(c.telemetry.ingest_max_line, 1024);
        cr_assert_eq(c.telemetry.ingest_max_metrics, 10000);
        cr_assert_eq(c.telemetry.ingest_max_points, 1000);
        cr_assert_eq(c.telemetry.ingest_max_clients, 256);
        cr_assert_eq(c.telemetry.ingest_idle_timeout, 60);
        cr_assert_not(c.telemetry.stream.autostart);
        cr_assert_eq(c.livelogs.stream.port, 8755);
        cr_assert_str_eq(c.livelogs.log_file, "/var/log/syslog");
        cr_assert_eq(c.livelogs.backlog, 100);
        cr_assert(c.control.state_dir[0] == '/');
        cr_assert(c.control.worker_dir[0] == '/');
}

Test(conf, file_with_inline_comments) {
        struct conf c;
        char err[512] = "";
        const char *p = write_conf("ok.conf",
                                   "; a comment\n"
                                   "[node]\n"
                                   "id = node-7   ; fixed id\n"
                                   "[telemetry]\n"
                                   "interval = 5\n"
                                   "autostart = yes\n"
                                   "allowed_origins = https://a.example http://b.example:8080\n"
                                   "[livelogs]\n"
                                   "log_file = journal\n");

        conf_defaults(&c);
        cr_assert_eq(conf_load_file(&c, p, err, sizeof err), 0, "%s", err);
        cr_assert_str_eq(c.node.id, "node-7");
        cr_assert_eq(c.telemetry.interval, 5);
        cr_assert(c.telemetry.stream.autostart);
        cr_assert_str_eq(c.telemetry.stream.allowed_origins, "https://a.example http://b.example:8080");
        cr_assert_str_eq(c.livelogs.log_file, "journal");
        cr_assert_str_eq(c.path, p);
}

struct bad_case {
        const char *text;
        unsigned line;
        const char *needle;
};

static const struct bad_case bad_cases[] = {
        { "[telemetry]\ninterval = 0\n", 2, "expected a whole number 1..86400, got '0'" },
        { "[telemetry]\ninterval = 86401\n", 2, "interval" },
        { "[telemetry]\ninterval = 5s\n", 2, "got '5s'" },
        { "[control]\nport = 70000\n", 2, "expected a port number 1..65535" },
        { "[control]\n\nbogus = 1\n", 3, "unknown key 'bogus' in section [control]" },
        { "[nope]\nx = 1\n", 2, "unknown section [nope]" },
        { "[telemetry]\nautostart = maybe\n", 2, "expected a boolean" },
        { "[control]\nlisten = localhost.example\n", 2, "expected an IPv4 or IPv6 address" },
        { "[control]\nstate_dir = relative/dir\n", 2, "expected an absolute path" },
        { "[livelogs]\nlog_file = syslog\n", 2, "expected an absolute path or \"journal\"" },
        { "[telemetry]\nallowed_origins = example.com\n", 2, "expected space-separated origins" },
        { "[control]\ntoken = two words\n", 2, "expected printable characters without spaces" },
        { "[control]\nallowed_hosts = http://node7\n", 2, "expected space-separated host names" },
        { "[control]\nallowed_hosts = node7:8754\n", 2, "without port" },
        { "[control]\nallowed_hosts = a/b\n", 2, "expected space-separated host names" },
        { "[control]\nallowed_origins = node7\n", 2, "expected space-separated origins" },
        { "[control]\nrequest_deadline = 0\n", 2, "expected a whole number 1..3600" },
        { "[control]\nworker_watchdog = 3601\n", 2, "expected a whole number 0..3600" },
        { "[control]\nmax_connections_per_ip = 0\n", 2, "expected a whole number 1..16384" },
        { "interval = 5\n", 1, "outside of any section" },
        { "[telemetry\n", 1, "section header without its closing ']'" },
        /* The bad line is named, not the last one read. */
        { "[control]\nport = 1\n[telemetry\nport = 5\n", 3, "section header without its closing ']'" },
        { "[control]\n  [telemetry ; comment\n\n\n", 2, "section header without its closing ']'" },
        { "[control]\nport = 1\njust a line\n[telemetry]\nport = 5\n", 3, "syntax error" },
        { "[telemetry]\njust a line\n", 2, "syntax error" },
};

Test(conf, bad_values_name_file_line_key_and_expectation) {
        for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
                struct conf c;
                char err[512] = "", want[300];
                const char *p = write_conf("bad.conf", bad_cases[i].text);

                conf_defaults(&c);
                cr_assert_eq(conf_load_file(&c, p, err, sizeof err), -EINVAL, "case %zu", i);
                snprintf(want, sizeof want, "%s:%u:", p, bad_cases[i].line);
                cr_assert(strstr(err, want), "case %zu: '%s' lacks '%s'", i, err, want);
                cr_assert(strstr(err, bad_cases[i].needle), "case %zu: '%s' lacks '%s'", i, err,
                          bad_cases[i].needle);
        }
}

Test(conf, bad_value_leaves_previous_value) {
        struct conf c;
        char err[256];

        conf_defaults(&c);
        cr_assert_lt(conf_set(&c, "telemetry", "interval", "-3", "test", err, sizeof err), 0);
        cr_assert_eq(c.telemetry.interval, 60);
        cr_assert_lt(conf_set(&c, "telemetry", "port", "", "test", err, sizeof err), 0);
        cr_assert_eq(c.telemetry.stream.port, 8756);
}

Test(conf, overlong_line_is_refused_not_split) {
        struct conf c;
        char err[512];
        char *text = malloc(10000);
        const char *p;

        strcpy(text, "[control]\ntoken = ");
        memset(text + strlen(text), 'x', 6000);
        strcpy(text + 18 + 6000, "\n");
        p = write_conf("long.conf", text);
        free(text);
        conf_defaults(&c);
        cr_assert_eq(conf_load_file(&c, p, err, sizeof err), -EINVAL);
        cr_assert(strstr(err, ":2: line longer than"), "%s", err);
}

Test(conf, missing_file_is_enoent) {
        struct conf c;
        char err[512];

        conf_defaults(&c);
        cr_assert_eq(conf_load_file(&c, "/nonexistent/resolvix.conf", err, sizeof err), -ENOENT);
}

Test(conf, environment_overrides_and_alias) {
        struct conf c;
        char err[256];
        char *env[] = { "RESOLVIX_TELEMETRY_INTERVAL=5", "RESOLVIX_WORKER_DIR=/opt/w", "RESOLVIX_LIVELOGS_PORT=9000",
                        "OTHER=1", NULL };
        char *bad[] = { "RESOLVIX_TELEMETRY_INTERVAL=soon", NULL };

        conf_defaults(&c);
        cr_assert_eq(conf_load_env(&c, env, err, sizeof err), 0, "%s", err);
        cr_assert_eq(c.telemetry.interval, 5);
        cr_assert_str_eq(c.control.worker_dir, "/opt/w");
        cr_assert_eq(c.livelogs.stream.port, 9000);
        cr_assert_eq(conf_load_env(&c, bad, err, sizeof err), -EINVAL);
        cr_assert(strstr(err, "environment RESOLVIX_TELEMETRY_INTERVAL"), "%s", err);
}

Test(conf, precedence_flag_over_env_over_file) {
        struct conf c;
        struct conf_cli cli;
        const char *p = write_conf("prec.conf", "[telemetry]\ninterval = 7\nport = 9100\n[livelogs]\nbacklog = 3\n");
        static const struct conf_flag flags[] = {
                { "interval", 'i', "telemetry", "interval", "SECONDS", "sampling interval" },
                { 0 },
        };
        char *argv[] = { "prog", "--config", (char *) p, "-i", "2", "--set", "livelogs.port=9200", NULL };

        setenv("RESOLVIX_TELEMETRY_INTERVAL", "4", 1);
        setenv("RESOLVIX_TELEMETRY_PORT", "9101", 1);
        cr_assert_eq(conf_load_args(7, argv, "test", flags, &c, &cli), 0);
        unsetenv("RESOLVIX_TELEMETRY_INTERVAL");
        unsetenv("RESOLVIX_TELEMETRY_PORT");
        cr_assert_eq(c.telemetry.interval, 2);             /* flag */
        cr_assert_eq(c.telemetry.stream.port, 9101);       /* env over file */
        cr_assert_eq(c.livelogs.backlog, 3);               /* file */
        cr_assert_eq(c.livelogs.stream.port, 9200);        /* --set */
        cr_assert_eq(c.control.port, 8754);                /* default */
}

/* What tests/fuzz found (corpus/conf-args/crash-set-key-longer-than-keybuf):
 * a --set whose SECTION.KEY is longer than the buffer it is split in wrote
 * past that buffer. It is refused, saying why. */
Test(conf, set_key_longer_than_any_key_is_refused, .init = cr_redirect_stderr) {
        struct conf c;
        struct conf_cli cli;
        char arg[400], said[512] = "";
        char *argv[] = { "prog", "--set", arg, NULL };

        snprintf(arg, sizeof arg, "livelogs.port%0*d=9200", 300, 0);
        cr_assert_eq(conf_load_args(3, argv, "test", NULL, &c, &cli), -EINVAL);
        cr_assert_not_null(fgets(said, sizeof said, cr_get_redirected_stderr()));
        cr_assert(strstr(said, "--set livelogs.port000"), "%s", said);
        cr_assert(strstr(said, "SECTION.KEY too long"), "%s", said);
}

Test(conf, explicit_missing_file_is_an_error) {
        struct conf c;
        struct conf_cli cli;
        char *argv[] = { "prog", "--config", "/nonexistent/x.conf", NULL };

        cr_assert_eq(conf_load_args(3, argv, "test", NULL, &c, &cli), -ENOENT);
}

Test(conf, env_round_trip) {
        struct conf a, b;
        char *env[64];
        char err[256];
        int n;

        conf_defaults(&a);
        a.telemetry.interval = 9;
        snprintf(a.livelogs.log_file, sizeof a.livelogs.log_file, "/var/log/x y.log");
        snprintf(a.telemetry.stream.token, sizeof a.telemetry.stream.token, "s3cret");
        n = conf_to_env(&a, env, 63);
        cr_assert_gt(n, 10);
        env[n] = NULL;
        conf_defaults(&b);
        cr_assert_eq(conf_load_env(&b, env, err, sizeof err), 0, "%s", err);
        cr_assert_eq(b.telemetry.interval, 9);
        cr_assert_str_eq(b.livelogs.log_file, "/var/log/x y.log");
        cr_assert_str_eq(b.telemetry.stream.token, "s3cret");
        for (int i = 0; i < n; i++)
                free(env[i]);
}

/* The ingest bounds: what a file may set, and what each refuses. */
Test(conf, ingest_bounds) {
        static const struct {
                const char *key, *value;
                size_t offset;
                unsigned want; /* 0: refused */
        } cases[] = {
                { "ingest_max_line", "64", offsetof(struct conf, telemetry.ingest_max_line), 64 },
                { "ingest_max_line", "31", 0, 0 },
                { "ingest_max_line", "1048577", 0, 0 },
                { "ingest_max_metrics", "1", offsetof(struct conf, telemetry.ingest_max_metrics), 1 },
                { "ingest_max_metrics", "0", 0, 0 },
                { "ingest_max_points", "1000000", offsetof(struct conf, telemetry.ingest_max_points), 1000000 },
                { "ingest_max_points", "1000001", 0, 0 },
                { "ingest_max_clients", "3", offsetof(struct conf, telemetry.ingest_max_clients), 3 },
                { "ingest_max_clients", "0", 0, 0 },
                { "ingest_max_clients", "many", 0, 0 },
                { "ingest_idle_timeout", "1", offsetof(struct conf, telemetry.ingest_idle_timeout), 1 },
                { "ingest_idle_timeout", "0", 0, 0 },
                { "ingest_idle_timeout", "86401", 0, 0 },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                struct conf c, before;
                char err[256] = "";
                int r;

                conf_defaults(&c);
                before = c;
                r = conf_set(&c, "telemetry", cases[i].key, cases[i].value, "test", err, sizeof err);
                if (cases[i].want == 0) {
                        cr_assert_eq(r, -EINVAL, "%s = %s", cases[i].key, cases[i].value);
                        cr_assert(strstr(err, cases[i].key), "%s", err);
                        cr_assert(strstr(err, "expected a whole number"), "%s", err);
                        cr_assert_eq(memcmp(&c, &before, sizeof c), 0, "%s changed the config", cases[i].value);
                } else {
                        cr_assert_eq(r, 0, "%s", err);
                        cr_assert_eq(*(unsigned *) ((char *) &c + cases[i].offset), cases[i].want, "%s",
                                     cases[i].key);
                }
        }
}

Test(conf, control_access_keys) {
        struct conf c;
        char err[256] = "";

        conf_defaults(&c);
        cr_assert_str_eq(c.control.allowed_hosts, "");
        cr_assert_str_eq(c.control.allowed_origins, "");
        cr_assert_eq(c.control.max_connections, 512);
        cr_assert_eq(c.control.max_connections_per_ip, 64);
        cr_assert_eq(c.control.request_deadline, 10);
        cr_assert_eq(c.control.worker_watchdog, 10);
        cr_assert_eq(conf_set(&c, "control", "allowed_hosts", "node7.example.com 192.0.2.7 [2001:db8::7]", "test",
                              err, sizeof err), 0, "%s", err);
        cr_assert_str_eq(c.control.allowed_hosts, "node7.example.com 192.0.2.7 [2001:db8::7]");
        cr_assert_eq(conf_set(&c, "control", "worker_watchdog", "0", "test", err, sizeof err), 0, "%s", err);
        cr_assert_lt(conf_set(&c, "control", "allowed_hosts", "2001:db8::7", "test", err, sizeof err), 0);
        cr_assert_lt(conf_set(&c, "control", "allowed_hosts", "[2001:db8::7", "test", err, sizeof err), 0);
        cr_assert_str_eq(c.control.allowed_hosts, "node7.example.com 192.0.2.7 [2001:db8::7]");
}

Test(conf, loopback_detection) {
        cr_assert(conf_address_is_loopback("127.0.0.1"));
        cr_assert(conf_address_is_loopback("127.8.9.1"));
        cr_assert(conf_address_is_loopback("::1"));
        cr_assert_not(conf_address_is_loopback("0.0.0.0"));
        cr_assert_not(conf_address_is_loopback("::"));
        cr_assert_not(conf_address_is_loopback("10.0.0.1"));
}

Test(conf, hub_defaults) {
        struct conf c;

        conf_defaults(&c);
        cr_assert_str_eq(c.hub.stream.listen, "0.0.0.0");
        cr_assert_eq(c.hub.stream.port, 8757);
        cr_assert_str_eq(c.hub.database, "");
        cr_assert_str_eq(c.hub.stream.token, "");
        cr_assert_str_eq(c.hub.enroll_token, "");
        cr_assert_eq(c.hub.retention_days, 14);
        cr_assert_eq(c.hub.rollup_retention_days, 730);
        cr_assert_str_eq(c.hub.agent_allow, "127.0.0.1/8 ::1");
        cr_assert_eq(c.hub.max_nodes, 100000);
        cr_assert_eq(c.hub.max_body, 8u << 20);
}

/* max_body takes the sizes an operator writes; agent_allow takes ranges. */
Test(conf, hub_sizes_and_ranges) {
        static const struct {
                const char *key, *value;
                bool ok;
                unsigned size; /* for max_body */
        } cases[] = {
                { "max_body", "8 MiB", true, 8u << 20 },
                { "max_body", "8M", true, 8u << 20 },
                { "max_body", "512KiB", true, 512u << 10 },
                { "max_body", "65536", true, 65536 },
                { "max_body", "1 GiB", true, 1u << 30 },
                { "max_body", "2 GiB", false, 0 },
                { "max_body", "100", false, 0 },
                { "max_body", "8 parsecs", false, 0 },
                { "max_body", "-1", false, 0 },
                { "max_body", "99999999999999999999 G", false, 0 },
                { "agent_allow", "", true, 0 },
                { "agent_allow", "10.0.0.0/8 192.168.1.7 fd00::/8 ::1", true, 0 },
                { "agent_allow", "10.0.0.0/33", false, 0 },
                { "agent_allow", "10.0.0.0/", false, 0 },
                { "agent_allow", "example.com", false, 0 },
                { "agent_allow", "::/129", false, 0 },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                struct conf c, before;
                char err[256] = "";
                int r;

                conf_defaults(&c);
                before = c;
                r = conf_set(&c, "hub", cases[i].key, cases[i].value, "f.conf:3", err, sizeof err);
                if (!cases[i].ok) {
                        cr_assert_eq(r, -EINVAL, "%s = %s", cases[i].key, cases[i].value);
                        cr_assert(strstr(err, "f.conf:3: [hub] "), "%s", err);
                        cr_assert(strstr(err, cases[i].key), "%s", err);
                        cr_assert_eq(memcmp(&c, &before, sizeof c), 0, "%s changed the config", cases[i].value);
                } else if (strcmp(cases[i].key, "max_body") == 0) {
                        cr_assert_eq(r, 0, "%s", err);
                        cr_assert_eq(c.hub.max_body, cases[i].size, "%s", cases[i].value);
                } else {
                        cr_assert_eq(r, 0, "%s", err);
                        cr_assert_str_eq(c.hub.agent_allow, cases[i].value);
                }
        }
}
