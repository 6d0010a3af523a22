/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <curl/curl.h>

#include "build-config.h"
#include "conf.h"
#include "ctl.h"
#include "log.h"

/* resolvixctl: the command line, parsed once into struct ctl, then one
 * command run. Options may come before or after the command; each command
 * says which of them apply to it. */

enum {
        O_CONN = 1 << 0,     /* --host --port --token --timeout */
        O_STREAM = 1 << 1,   /* --stream-token */
        O_JSON = 1 << 2,
        O_INTERVAL = 1 << 3,
        O_FOLLOW = 1 << 4,
        O_GREP = 1 << 5,
        O_LINES = 1 << 6,
        O_COUNT = 1 << 7,
        O_DELAY = 1 << 8,
        O_INGEST = 1 << 9,   /* --ingest-port (with --host) */
        O_HOST = 1 << 10,    /* --host alone */
        O_TOKEN = 1 << 11,   /* --token --timeout, also for the hub */
        O_HUB = 1 << 12,     /* --hub */
        O_RANGE = 1 << 13,   /* --since --step */
};

enum {
        ARG_STREAM_TOKEN = 0x100,
        ARG_TIMEOUT,
        ARG_INGEST_PORT,
        ARG_LINES,
        ARG_COUNT,
        ARG_CA_FILE,
        ARG_INSECURE,
        ARG_HUB,
        ARG_SINCE,
        ARG_STEP,
};

struct command {
        const char *name;
        const char *usage;
        const char *summary;
        const char *help; /* the command's own options and details */
        unsigned options;
        unsigned min_args, max_args; /* positional, the URI not counted */
        bool uri;                    /* an optional URI may follow */
        bool stream_uri;             /* that URI may be a ws:// stream */
        int (*run)(struct ctl *c);
};

static int run_cpu(struct ctl *c) {
        return ctl_cmd_local(c, CTL_SECTION_CPU);
}
static int run_memory(struct ctl *c) {
        return ctl_cmd_local(c, CTL_SECTION_MEMORY);
}
static int run_processes(struct ctl *c) {
        return ctl_cmd_local(c, CTL_SECTION_PROCESSES);
}
static int run_disks(struct ctl *c) {
        return ctl_cmd_local(c, CTL_SECTION_DISKS);
}
static int run_network(struct ctl *c) {
        return ctl_cmd_local(c, CTL_SECTION_NETWORK);
}

#define LOCAL_HELP(what)                                                                               \
        "Show " what " of this machine now, read from /proc and /sys by the sampler telemetryd uses:\n" \
        "no daemon needed. Rates and percentages cover a 0.2 s window.\n\n"                           \
        "  -j, --json        the JSON telemetryd sends under metrics." /* section key follows */

static const struct command commands[] = {
        { "status", "[URI]", "workers, pids, ports, restarts",
          "Show what resolvix-controld supervises: each worker's state, pid, stream port, interval or log\n"
          "file, when it started, how often it restarted and how it last exited.\n\n"
          "  -j, --json        controld's GET /status body as it is",
          O_CONN | O_JSON, 0, 0, true, false, ctl_cmd_status },
        { "start", "telemetry|livelogs|push [URI]", "start a worker",
          "Start a worker; resolvix-controld answers once it accepts stream connections, or with\n"
          "why it could not start (port in use, log file unreadable...).\n\n"
          "  -i, --interval N  seconds between telemetry samples, 1..86400; applied at once\n"
          "                    when telemetry is already running\n"
          "  -j, --json        controld's answer as it is",
          O_CONN | O_JSON | O_INTERVAL, 1, 1, true, false, ctl_cmd_start },
        { "stop", "telemetry|livelogs|push [URI]", "stop a worker",
          "Stop a worker (SIGTERM; its clients get a close frame).\n\n"
          "  -j, --json        controld's answer as it is",
          O_CONN | O_JSON, 1, 1, true, false, ctl_cmd_stop },
        { "restart", "telemetry|livelogs|push [URI]", "restart a worker",
          "Stop and start a worker again.\n\n"
          "  -i, --interval N  seconds between telemetry samples, 1..86400\n"
          "  -j, --json        controld's answer as it is",
          O_CONN | O_JSON | O_INTERVAL, 1, 1, true, false, ctl_cmd_restart },
        { "watch", "[URI]", "a live, top-like view of the telemetry stream",
          "Show the telemetry stream as it comes: per-core CPU, memory, swap, disk I/O and usage,\n"
          "network and the top processes, redrawn on each sample and on resizing the terminal,\n"
          "with sparklines of the headline series filled at once from telemetryd's last hour\n"
          "(q quits, space asks for a sample now). On a pipe, one line per sample.\n"
          "Without a URI the stream's port comes from resolvix-controld's /status; a ws:// URI\n"
          "connects to the stream directly.\n\n"
          "  -d, --delay S     also ask for a fresh sample every S seconds (default 2; 0: only\n"
          "                    the stream's own samples, one per interval)\n"
          "  -n, --count N     stop after N samples\n"
          "  -j, --json        each sample as it came, one per line",
          O_CONN | O_STREAM | O_JSON | O_COUNT | O_DELAY, 0, 0, true, true, ctl_cmd_watch },
        { "logs", "[-f] [--grep ERE] [-n N] [URI]", "the live log: the last lines, or follow it",
          "Print the last lines of the log livelogd follows; with -f keep printing new lines as\n"
          "they are written. Without a URI the stream's port comes from resolvix-controld's\n"
          "/status; a ws:// URI names livelogd directly.\n\n"
          "  -f, --follow      keep printing new lines until interrupted\n"
          "  -g, --grep ERE    only lines matching the POSIX extended regular expression\n"
          "                    (matched by livelogd)\n"
          "  -n, --lines N     how many of the last lines (default 10; livelogd keeps its backlog)\n"
          "  -j, --json        each line as livelogd's JSON frame (timestamp, seq...)",
          O_CONN | O_STREAM | O_JSON | O_FOLLOW | O_GREP | O_LINES, 0, 0, true, true, ctl_cmd_logs },
        { "cpu", "", "this machine's CPU usage, per core, and load", LOCAL_HELP("CPU usage, per core, and load") "cpu",
          O_JSON, 0, 0, false, false, run_cpu },
        { "memory", "", "this machine's memory and swap", LOCAL_HELP("memory and swap") "memory", O_JSON, 0, 0, false,
          false, run_memory },
        { "processes", "", "this machine's process count and top processes by memory",
          LOCAL_HELP("the process count and the top processes by resident memory") "processes", O_JSON, 0, 0, false,
          false, run_processes },
        { "disks", "", "this machine's filesystems and disk I/O",
          LOCAL_HELP("every mounted block-device filesystem and the disk I/O rates") "disk", O_JSON, 0, 0, false,
          false, run_disks },
        { "network", "", "this machine's network throughput and interfaces",
          LOCAL_HELP("network throughput, TCP connections and per-interface counters") "network", O_JSON, 0, 0,
          false, false, run_network },
        { "put", "METRIC VALUE [TIMESTAMP]", "store a custom metric",
          "Send one value to telemetryd's custom-metrics port (put METRIC VALUE TIMESTAMP).\n"
          "TIMESTAMP is in seconds since the epoch, now by default; VALUE may be negative\n"
          "(resolvixctl put fridge.temp -3.5).\n\n"
          "  -H, --host HOST   where telemetryd listens (default: [telemetry] ingest_listen)\n"
          "      --ingest-port PORT  its [telemetry] ingest_port (default: the configuration's)",
          O_HOST | O_INGEST, 2, 3, false, false, ctl_cmd_put },
        { "get", "METRIC|'*'", "read custom metrics",
          "Print the stored values of a custom metric, or of all of them with '*', one\n"
          "\"METRIC VALUE TIMESTAMP\" line each.\n\n"
          "  -H, --host HOST   where telemetryd listens (default: [telemetry] ingest_listen)\n"
          "      --ingest-port PORT  its [telemetry] ingest_port (default: the configuration's)\n"
          "  -j, --json        {\"METRIC\": [[TIMESTAMP, VALUE], ...]}",
          O_HOST | O_INGEST | O_JSON, 1, 1, false, false, ctl_cmd_get },
        { "nodes", "", "the nodes a resolvix-hub knows, with their latest figures",
          "List every node of a resolvix-hub: its kind, whether it reports (online), when it last\n"
          "did, and its latest CPU, memory and 1-minute load.\n\n"
          "  -j, --json        the hub's GET /api/v1/nodes body as it is",
          O_HUB | O_TOKEN | O_JSON, 0, 0, false, false, ctl_cmd_nodes },
        { "history", "NODE METRIC [--since 24h] [--step 5m]", "a node's stored series from a resolvix-hub",
          "Print the values of METRIC for NODE over a past span, as the hub stored them or\n"
          "averaged per step: a table, headed on a terminal by a sparkline of the span.\n"
          "METRIC is a dotted path into the sample (cpu.cpu_usage_percent, memory.memory_usage_percent,\n"
          "cpu.load_avg_1min, disk.disk_io.read_mb_per_sec, network.bytes_recv_mb_per_sec, custom.NAME)\n"
          "or a Flask client's field (cpu, mem, storage).\n\n"
          "  -s, --since D     how far back: seconds, or 90s, 30m, 24h, 7d, 2w (default 24h)\n"
          "      --step D      one point per D, averaged (default: the span in about 288 points;\n"
          "                    the hub answers at most 11000)\n"
          "  -j, --json        the hub's GET /api/v1/query body as it is",
          O_HUB | O_TOKEN | O_JSON | O_RANGE, 2, 2, false, false, ctl_cmd_history },
};

static const char connection_help[] =
        "  URI                  http://HOST[:PORT] of resolvix-controld (default: [control] listen\n"
        "                       and port of the configuration, a wildcard meaning this machine)\n"
        "  -H, --host HOST[:PORT]  the same (RESOLVIX_HOST)\n"
        "  -p, --port PORT      resolvix-controld's port\n"
        "  -t, --token TOKEN    bearer token of the control API (RESOLVIX_TOKEN; default:\n"
        "                       [control] token)\n"
        "      --timeout S      give up on an HTTP answer after S seconds (default 30)\n"
        "      --ca-file FILE   PEM CA that https:// and wss:// servers' certificates must chain to\n"
        "                       (RESOLVIX_CA_FILE; default: [push] ca_file, else the system's)\n"
        "      --insecure       check no certificate or host name (a warning is printed)\n";

static const char stream_help[] =
        "      --stream-token TOKEN  token of the stream (RESOLVIX_STREAM_TOKEN; default: the\n"
        "                       stream's token in the configuration, else --token)\n";

static const char hub_help[] =
        "      --hub URL        http://HOST[:PORT] of resolvix-hub (RESOLVIX_HUB; default: the first\n"
        "                       [push] hub_url of the configuration, else this machine's [hub] port)\n"
        "  -t, --token TOKEN    the hub's [hub] token (RESOLVIX_HUB_TOKEN)\n"
        "      --timeout S      give up on an HTTP answer after S seconds (default 30)\n";

static const char exit_help[] =
        "Exit status: 0 done; 1 failed (resolvix said no, the stream ended); 2 bad usage;\n"
        "3 nothing answers (resolvix or the stream is not running); 4 refused (token, origin).\n";

static void help_general(FILE *f) {
        fprintf(f, "Usage: resolvixctl [OPTIONS] COMMAND [ARGS] [URI]\n\n"
                   "Drive resolvix from a terminal: its control API, its telemetry and live-log streams,\n"
                   "and this machine's figures without any daemon.\n\nCommands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
                char head[64];

                snprintf(head, sizeof head, "%s %s", commands[i].name, commands[i].usage);
                fprintf(f, "  %-36s %s\n", head, commands[i].summary);
        }
        fprintf(f, "  %-36s %s\n\nConnection:\n%s%s\nOutput:\n"
                   "  -j, --json           machine-readable output\n"
                   "  -h, --help           this text; COMMAND --help for a command's own\n"
                   "  -V, --version        the version\n\n"
                   "The hub (nodes, history):\n%s\n"
                   "Configuration:\n"
                   "  -c, --config FILE    read ports and tokens from FILE (RESOLVIX_CONFIG; default\n"
                   "                       " CONF_DEFAULT_PATH ", which may be missing)\n\n%s"
                   "See resolvixctl(1).\n",
                "help [COMMAND]", "this text, or a command's", connection_help, stream_help, hub_help, exit_help);
}

static void help_command(FILE *f, const struct command *cmd) {
        fprintf(f, "Usage: resolvixctl %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->help);
        if (cmd->options & O_CONN)
                fprintf(f, "\nConnection:\n%s%s", connection_help, cmd->options & O_STREAM ? stream_help : "");
        if (cmd->options & O_HUB)
                fprintf(f, "\nThe hub:\n%s", hub_help);
        if (cmd->stream_uri)
                fprintf(f, "  ws://HOST:PORT       the stream itself, bypassing resolvix-controld\n");
        fprintf(f, "\n%s", exit_help);
}

static const struct command *command_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(commands[i].name, name))
                        return &commands[i];
        return NULL;
}

static int usage_error(const struct command *cmd, const char *fmt, ...) _printf_(2, 3);
static int usage_error(const struct command *cmd, const char *fmt, ...) {
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        ctl_error("%s", msg);
        if (cmd)
                fprintf(stderr, "Usage: resolvixctl %s %s\nTry 'resolvixctl %s --help'.\n", cmd->name, cmd->usage,
                        cmd->name);
        else
                fprintf(stderr, "Usage: resolvixctl [OPTIONS] COMMAND [ARGS] [URI]\nTry 'resolvixctl --help'.\n");
        return -EINVAL;
}

/* An HTTP server's address as given on the command line or in the
 * environment: HOST, HOST:PORT or http(s)://HOST[:PORT][/PATH]. */
static int parse_http_server(const char *value, const char *what, const char *server, unsigned default_port,
                             struct ctl_address *a) {
        char err[256];

        if (ctl_parse_address(value, a, err, sizeof err) < 0)
                return usage_error(NULL, "%s: %s", what, err);
        if (a->scheme[0] && !streq(a->scheme, "http") && !streq(a->scheme, "https"))
                return usage_error(NULL, "%s: %s speaks http:// or https://, not %s://", what, server, a->scheme);
        /* No scheme: the caller picks one once the configuration is known. */
        if (a->port == 0)
                a->port = default_port;
        return 0;
}

/* --host and RESOLVIX_HOST. */
static int set_control(struct ctl *c, const char *value, const char *what) {
        struct ctl_address a;
        int r = parse_http_server(value, what, "resolvix-controld",
                                  c->control.port ? c->control.port : c->conf->control.port, &a);

        if (r < 0)
                return r;
        c->control = a;
        c->host_given = true;
        return 0;
}

/* --hub, RESOLVIX_HUB and [push] hub_url. */
static int set_hub(struct ctl *c, const char *value, const char *what) {
        struct ctl_address a;
        int r = parse_http_server(value, what, "resolvix-hub", c->conf->hub.stream.port, &a);

        if (r < 0)
                return r;
        if (!a.scheme[0])
                snprintf(a.scheme, sizeof a.scheme, "%s", c->conf->hub.stream.tls_cert[0] ? "https" : "http");
        /* The API's paths follow: no trailing slash of the base. */
        while (a.path[0] && a.path[strlen(a.path) - 1] == '/')
                a.path[strlen(a.path) - 1] = '\0';
        c->hub = a;
        return 0;
}

struct seen {
        unsigned mask;
        const char *name[16]; /* by bit: the spelling used, for messages */
};

static void see(struct seen *s, unsigned bit, const char *name) {
        s->mask |= bit;
        s->name[__builtin_ctz(bit)] = name;
}

static int parse_number(const char *opt, const char *v, unsigned long min, unsigned long max, unsigned long *ret) {
        if (ctl_parse_uint(v, min, max, ret) < 0)
                return usage_error(NULL, "%s wants a whole number from %lu to %lu, not \"%s\"", opt, min, max, v);
        return 0;
}

/* Where to connect to reach a server listening on addr: a wildcard means
 * any address of this machine, so loopback. */
static const char *connect_host(const char *addr) {
        if (addr[0] == '\0' || streq(addr, "0.0.0.0"))
                return "127.0.0.1";
        if (streq(addr, "::"))
                return "::1";
        return addr;
}

/* "-3.5" can be no option (none is a digit): it is a value, even without
 * "--" before it. getopt would take it for options, so each such argument is
 * handed to it without its '-' and given back afterwards; getopt moves the
 * pointers, never the text, so they are recognised by address. */
static bool is_negative_number(const char *s) {
        return s[0] == '-' && (isdigit((unsigned char) s[1]) || (s[1] == '.' && isdigit((unsigned char) s[2])));
}

static char *unmask(char *arg, char *const *masked, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (arg == masked[i])
                        return arg - 1;
        return arg;
}

/* The configuration, read before the environment and the flags that win
 * over it: --config may come anywhere on the line. getopt reorders what it
 * scans, and a reordered line would read differently the second time
 * ("status --port" would become "--port status"): it scans a copy. */
static int load_config(int argc, char **argv, const struct option *options, const char *optstring, struct conf *conf) {
        _cleanup_free_ char **copy = NULL;
        const char *path = NULL;
        char err[PATH_MAX + 256];
        bool help = false;
        int opt, r;

        copy = calloc((size_t) argc + 1, sizeof *copy);
        if (!copy) {
                ctl_error("out of memory");
                return -ENOMEM;
        }
        memcpy(copy, argv, (size_t) argc * sizeof *copy);
        opterr = 0;
        optind = 0;
        while ((opt = getopt_long(argc, copy, optstring, options, NULL)) >= 0)
                if (opt == 'c')
                        path = optarg;
                else if (opt == 'h' || opt == 'V')
                        help = true;
        optind = 0;
        r = conf_load_sources(conf, path, environ, err, sizeof err);
        /* Help and the version are there whatever the file says. */
        if (r < 0 && help) {
                conf_defaults(conf);
                return 0;
        }
        if (r < 0) {
                ctl_error("invalid configuration: %s", err);
                return -EINVAL;
        }
        return 0;
}

/* 1: run c->argv's command; 0: done (help, version); < 0: usage error. */
static int parse_args(int argc, char **argv, struct ctl *c, struct conf *conf, const struct command **ret) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { "json", no_argument, NULL, 'j' },
                { "host", required_argument, NULL, 'H' },
                { "port", required_argument, NULL, 'p' },
                { "token", required_argument, NULL, 't' },
                { "stream-token", required_argument, NULL, ARG_STREAM_TOKEN },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "interval", required_argument, NULL, 'i' },
                { "follow", no_argument, NULL, 'f' },
                { "grep", required_argument, NULL, 'g' },
                { "lines", required_argument, NULL, ARG_LINES },
                { "count", required_argument, NULL, ARG_COUNT },
                { "delay", required_argument, NULL, 'd' },
                { "ingest-port", required_argument, NULL, ARG_INGEST_PORT },
                { "config", required_argument, NULL, 'c' },
                { "ca-file", required_argument, NULL, ARG_CA_FILE },
                { "insecure", no_argument, NULL, ARG_INSECURE },
                { "hub", required_argument, NULL, ARG_HUB },
                { "since", required_argument, NULL, 's' },
                { "step", required_argument, NULL, ARG_STEP },
                { 0 },
        };
        static const char optstring[] = ":hVjH:p:t:i:fg:n:d:c:s:";
        char *masked[64];
        size_t n_masked = 0;
        const struct command *cmd = NULL;
        struct seen seen = { 0 };
        bool help = false, port_given = false, token_given = false;
        char first_hub[CONF_ORIGINS_MAX];
        unsigned allowed;
        unsigned long v, port = 0;
        const char *env, *n_name = NULL;
        int opt, r;

        for (int i = 1; i < argc && n_masked < ELEMENTSOF(masked); i++)
                if (is_negative_number(argv[i]))
                        masked[n_masked++] = argv[i] = argv[i] + 1;

        r = load_config(argc, argv, options, optstring, conf);
        if (r < 0)
                return r;
        c->config_path = conf->path[0] ? conf->path : NULL;
        snprintf(c->control.host, sizeof c->control.host, "%s", connect_host(conf->control.listen));
        c->control.port = conf->control.port;
        if (conf->control.token[0])
                c->token = conf->control.token;
        c->ingest_port = conf->telemetry.ingest_port;

        env = getenv("RESOLVIX_HOST");
        if (env && env[0] && (r = set_control(c, env, "RESOLVIX_HOST")) < 0)
                return r;
        env = getenv("RESOLVIX_TOKEN");
        if (env && env[0])
                c->token = env;
        env = getenv("RESOLVIX_STREAM_TOKEN");
        if (env && env[0])
                c->stream_token = env;
        /* The fleet's CA ([push] ca_file) is the one an operator's own
         * certificates come from (docs/tls.md). */
        if (conf->push.ca_file[0])
                c->ca_file = conf->push.ca_file;
        env = getenv("RESOLVIX_CA_FILE");
        if (env && env[0])
                c->ca_file = env;
        /* The hub: this machine's by default, else the first hub pushd
         * would use, else RESOLVIX_HUB; --hub wins over all. */
        snprintf(c->hub.scheme, sizeof c->hub.scheme, "%s", conf->hub.stream.tls_cert[0] ? "https" : "http");
        snprintf(c->hub.host, sizeof c->hub.host, "%s", connect_host(conf->hub.stream.listen));
        c->hub.port = conf->hub.stream.port;
        if (sscanf(conf->push.hub_url, "%1023s", first_hub) == 1 &&
            (r = set_hub(c, first_hub, "[push] hub_url")) < 0)
                return r;
        env = getenv("RESOLVIX_HUB");
        if (env && env[0] && (r = set_hub(c, env, "RESOLVIX_HUB")) < 0)
                return r;
        env = getenv("RESOLVIX_HUB_TOKEN");
        if (env && env[0])
                c->hub_token = env;

        opterr = 0;
        while ((opt = getopt_long(argc, argv, optstring, options, NULL)) >= 0) {
                if (optarg)
                        optarg = unmask(optarg, masked, n_masked);
                switch (opt) {
                case 'h':
                        help = true;
                        break;
                case 'V':
                        printf("resolvixctl %s\n", RESOLVIX_VERSION);
                        return 0;
                case 'j':
                        c->json = true;
                        see(&seen, O_JSON, "--json");
                        break;
                case 'H':
                        if ((r = set_control(c, optarg, "--host")) < 0)
                                return r;
                        see(&seen, O_HOST, "--host");
                        break;
                case 'p':
                        if ((r = parse_number("--port", optarg, 1, 65535, &port)) < 0)
                                return r;
                        port_given = true;
                        see(&seen, O_CONN, "--port");
                        break;
                case 't':
                        c->token = optarg;
                        token_given = true;
                        see(&seen, O_TOKEN, "--token");
                        break;
                case ARG_CA_FILE:
                        c->ca_file = optarg;
                        break;
                case ARG_INSECURE:
                        c->insecure = true;
                        break;
                case ARG_STREAM_TOKEN:
                        c->stream_token = optarg;
                        see(&seen, O_STREAM, "--stream-token");
                        break;
                case ARG_TIMEOUT:
                        if ((r = parse_number("--timeout", optarg, 1, 3600, &v)) < 0)
                                return r;
                        c->timeout_s = (unsigned) v;
                        see(&seen, O_TOKEN, "--timeout");
                        break;
                case 'i':
                        if ((r = parse_number("--interval", optarg, 1, 86400, &v)) < 0)
                                return r;
                        c->interval = (unsigned) v;
                        c->has_interval = true;
                        see(&seen, O_INTERVAL, "--interval");
                        break;
                case 'f':
                        c->follow = true;
                        see(&seen, O_FOLLOW, "--follow");
                        break;
                case 'g':
                        c->grep = optarg;
                        see(&seen, O_GREP, "--grep");
                        break;
                case 'n':
                case ARG_LINES:
                case ARG_COUNT:
                        n_name = opt == 'n' ? "-n" : opt == ARG_LINES ? "--lines" : "--count";
                        if ((r = parse_number(n_name, optarg, opt == ARG_COUNT ? 1 : 0, 1000000000, &v)) < 0)
                                return r;
                        c->n = v;
                        c->has_n = true;
                        if (opt != 'n')
                                see(&seen, opt == ARG_LINES ? O_LINES : O_COUNT, n_name);
                        break;
                case 'd': {
                        char *end;

                        errno = 0;
                        c->delay_s = strtod(optarg, &end);
                        if (errno || *end || end == optarg || !isfinite(c->delay_s) || c->delay_s < 0 ||
                            c->delay_s > 86400 || (c->delay_s > 0 && c->delay_s < 0.1))
                                return usage_error(NULL, "--delay wants seconds, 0 or from 0.1 to 86400, not \"%s\"",
                                                   optarg);
                        see(&seen, O_DELAY, "--delay");
                        break;
                }
                case ARG_INGEST_PORT:
                        if ((r = parse_number("--ingest-port", optarg, 1, 65535, &v)) < 0)
                                return r;
                        c->ingest_port = (unsigned) v;
                        see(&seen, O_INGEST, "--ingest-port");
                        break;
                case ARG_HUB:
                        if ((r = set_hub(c, optarg, "--hub")) < 0)
                                return r;
                        see(&seen, O_HUB, "--hub");
                        break;
                case 's':
                case ARG_STEP: {
                        const char *name = opt == 's' ? "--since" : "--step";

                        if (ctl_parse_duration(optarg, opt == 's' ? &c->since_s : &c->step_s) < 0)
                                return usage_error(NULL, "%s wants a duration from 1s to ten years, such as 90s, 30m, "
                                                   "24h or 7d, not \"%s\"", name, optarg);
                        see(&seen, O_RANGE, name);
                        break;
                }
                case 'c':
                        break; /* read before the others */
                case ':':
                        return usage_error(NULL, "%s needs a value", argv[optind - 1]);
                default:
                        if (optopt)
                                return usage_error(NULL, "unknown option -%c", optopt);
                        return usage_error(NULL, "unknown option %s", argv[optind - 1]);
                }
        }

        for (int i = optind; i < argc; i++)
                argv[i] = unmask(argv[i], masked, n_masked);

        if (optind < argc && streq(argv[optind], "help")) {
                help = true;
                optind++;
        }
        if (optind >= argc) {
                if (help) {
                        help_general(stdout);
                        return 0;
                }
                return usage_error(NULL, "which command? (status, start, stop, watch, logs, cpu, ...)");
        }
        cmd = command_find(argv[optind]);
        if (!cmd)
                return usage_error(NULL, "unknown command \"%s\"", argv[optind]);
        if (help) {
                help_command(stdout, cmd);
                return 0;
        }
        optind++;

        /* -n means --lines to logs and --count to watch. */
        if (n_name && streq(n_name, "-n"))
                see(&seen, cmd->options & O_LINES ? O_LINES : O_COUNT, "-n");
        allowed = cmd->options | (cmd->options & O_CONN ? O_HOST | O_TOKEN : 0);
        for (unsigned bit = 0; bit < ELEMENTSOF(seen.name); bit++)
                if ((seen.mask & ~allowed) & (1u << bit))
                        return usage_error(cmd, "%s does not apply to %s", seen.name[bit], cmd->name);
        if (port_given)
                c->control.port = (unsigned) port;
        /* The control API's token is not the hub's: only one given for this
         * command counts. */
        if (token_given)
                c->hub_token = c->token;

        c->argc = argc - optind;
        c->argv = argv + optind;
        if (cmd->uri && (unsigned) c->argc > cmd->max_args) {
                const char *uri = c->argv[--c->argc];
                struct ctl_address a;
                char err[256];

                if (ctl_parse_address(uri, &a, err, sizeof err) < 0)
                        return usage_error(cmd, "%s", err);
                if (streq(a.scheme, "ws") || streq(a.scheme, "wss")) {
                        if (!cmd->stream_uri)
                                return usage_error(cmd, "%s talks to resolvix-controld: give an http:// URI", cmd->name);
                        c->uri = uri;
                } else if ((r = set_control(c, uri, "URI")) < 0)
                        return r;
        }
        if ((unsigned) c->argc < cmd->min_args)
                return usage_error(cmd, "%s needs %s", cmd->name, cmd->usage);
        if ((unsigned) c->argc > cmd->max_args)
                return usage_error(cmd, "too many arguments for %s: \"%s\"", cmd->name, c->argv[cmd->max_args]);
        if (cmd->run == ctl_cmd_start || cmd->run == ctl_cmd_stop || cmd->run == ctl_cmd_restart) {
                if (!streq(c->argv[0], "telemetry") && !streq(c->argv[0], "livelogs") && !streq(c->argv[0], "push"))
                        return usage_error(cmd, "%s what? \"%s\" is not a worker: use telemetry, livelogs or push", cmd->name,
                                           c->argv[0]);
                if (c->has_interval && !streq(c->argv[0], "telemetry"))
                        return usage_error(cmd, "--interval applies to telemetry only");
        }
        /* A stream's own token from the configuration counts more than
         * the control API's: it is the one that stream checks. */
        c->telemetry_token = c->stream_token ?: conf->telemetry.stream.token[0] ? conf->telemetry.stream.token : c->token;
        c->livelogs_token = c->stream_token ?: conf->livelogs.stream.token[0] ? conf->livelogs.stream.token : c->token;
        /* put and get reach the ingest listener, unless told another host. */
        snprintf(c->ingest_host, sizeof c->ingest_host, "%s",
                 c->host_given ? c->control.host : connect_host(conf->telemetry.ingest_listen));
        *ret = cmd;
        return 1;
}

int main(int argc, char **argv) {
        static struct conf conf;
        struct ctl c = {
                .conf = &conf,
                .timeout_s = 30,
                .delay_s = -1,
        };
        const struct command *cmd = NULL;
        const char *term = getenv("TERM");
        int r;

        log_open("resolvixctl", NULL);
        conf_defaults(&conf);
        c.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !(term && streq(term, "dumb"));

        r = parse_args(argc, argv, &c, &conf, &cmd);
        if (r <= 0)
                return ctl_exit_status(r);
        /* Not given by a URI: https when this machine's controld has a
         * certificate. */
        if (!c.control.scheme[0])
                snprintf(c.control.scheme, sizeof c.control.scheme, "%s", conf.control.tls_cert[0] ? "https" : "http");
        if (c.insecure)
                ctl_error("warning: --insecure: server certificates and host names are not checked");
        if (c.delay_s < 0)
                c.delay_s = 2;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                ctl_error("cannot initialise libcurl");
                return CTL_EXIT_FAILED;
        }
        r = cmd->run(&c);
        curl_global_cleanup();
        return ctl_exit_status(r);
}
