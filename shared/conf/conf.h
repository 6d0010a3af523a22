/* SPDX-License-Identifier: MIT */
#pragma once

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

/* The whole configuration, parsed once and then treated as read-only.
 * Strings are fixed arrays so a config is one flat value: copying it,
 * swapping it on SIGHUP or passing it to a worker needs no ownership rules. */

#define CONF_ADDR_MAX 64
#define CONF_TOKEN_MAX 256
#define CONF_ORIGINS_MAX 1024

/* What both WebSocket workers share. */
struct conf_stream {
        char listen[CONF_ADDR_MAX];
        uint16_t port;
        char token[CONF_TOKEN_MAX];
        char allowed_origins[CONF_ORIGINS_MAX]; /* space-separated, "" = any */
        unsigned max_clients;
        unsigned ping_interval; /* seconds idle before a ping; as long again without a pong drops the peer */
        bool autostart;
        char tls_cert[PATH_MAX]; /* PEM; with tls_key the port serves only TLS; "" = plain */
        char tls_key[PATH_MAX];
};

struct conf {
        char path[PATH_MAX]; /* the file that was read, "" if none */

        struct {
                char id[256];
                bool verbose;
        } node;

        struct {
                char listen[CONF_ADDR_MAX];
                uint16_t port;
                char token[CONF_TOKEN_MAX];
                char state_dir[PATH_MAX];
                char worker_dir[PATH_MAX];
                char allowed_hosts[CONF_ORIGINS_MAX];   /* space-separated, beside its own names */
                char allowed_origins[CONF_ORIGINS_MAX]; /* space-separated, beside its own page */
                unsigned max_connections;
                unsigned max_connections_per_ip;
                unsigned request_deadline; /* seconds for a whole request, headers and body */
                unsigned worker_watchdog;  /* seconds without WATCHDOG=1 before a worker is unresponsive; 0 = off */
                char tls_cert[PATH_MAX];   /* PEM; with tls_key the port serves only TLS; "" = plain */
                char tls_key[PATH_MAX];
        } control;

        struct {
                struct conf_stream stream;
                unsigned interval;
                char ingest_listen[CONF_ADDR_MAX];
                uint16_t ingest_port;
                unsigned ingest_max_line;    /* bytes in one request line, newline excluded */
                unsigned ingest_max_metrics; /* distinct custom metrics held */
                unsigned ingest_max_points;  /* points held per metric; the oldest go first */
                unsigned ingest_max_clients; /* ingest connections open at once */
                unsigned ingest_idle_timeout; /* seconds a connection may go without a complete request */
                char textfile_dir[PATH_MAX];  /* *.prom files merged into /metrics; "" = off */
        } telemetry;

        struct {
                struct conf_stream stream;
                char log_file[PATH_MAX];
                unsigned backlog;
        } livelogs;

        struct {
                struct conf_stream stream; /* stream.token: the query token; max_clients bounds WebSocket clients */
                char database[PATH_MAX];   /* "" = SQLite under [control] state_dir; postgresql://... */
                char enroll_token[CONF_TOKEN_MAX];
                unsigned retention_days;
                unsigned rollup_retention_days;
                char agent_allow[CONF_ORIGINS_MAX]; /* space-separated CIDRs */
                unsigned max_nodes;
                unsigned max_body; /* bytes */
                char tls_client_ca[PATH_MAX]; /* PEM; "" = no client certificates asked for */
                char tls_client_auth[16];     /* token, certificate or both; "" = both with tls_client_ca, else token */
                char remote_write_url[PATH_MAX]; /* "" = off; http(s)://... of a remote-write receiver */
                unsigned remote_write_queue_mb; /* bound of its queue on disk */
        } hub;

        struct {
                char hub_url[CONF_ORIGINS_MAX]; /* space-separated, tried in turn */
                char enroll_token[CONF_TOKEN_MAX];
                unsigned interval;
                char protocol[32];  /* "resolvix" or "system-monitor" */
                char system_id[256]; /* "auto" = the node id */
                unsigned spool_max_mb;
                unsigned backfill_rate; /* spooled samples per second while catching up */
                bool autostart;
                char ca_file[PATH_MAX]; /* PEM CA for https hubs; "" = the system's */
                bool insecure;          /* skip certificate verification (logged) */
                char tls_cert[PATH_MAX]; /* PEM client certificate shown to the hub; "" = none */
                char tls_key[PATH_MAX];  /* its PEM private key */
        } push;
};

#define CONF_DEFAULT_PATH RESOLVIX_SYSCONFDIR "/resolvix.conf"

/* A program-specific command-line flag that sets one configuration key,
 * e.g. {"port", 'p', "telemetry", "port", "PORT", "port to listen on"}. */
struct conf_flag {
        const char *name;
        int short_name; /* 0 for none */
        const char *section;
        const char *key;
        const char *arg_name;
        const char *help;
};

struct conf_cli {
        bool check;   /* --check: validate, print the result, exit */
        bool help;
        bool version;
};

/* Fill a config with the built-in defaults. */
void conf_defaults(struct conf *c);

/* Set one key from a string, validating it. `origin` names where the value
 * came from ("/etc/resolvix/resolvix.conf:12", "environment RESOLVIX_X",
 * "--port") and starts the error message written to err on failure. */
int conf_set(struct conf *c, const char *section, const char *key, const char *value,
             const char *origin, char *err, size_t errsz);

/* Parse an INI file into c. A missing file is -ENOENT (the caller decides
 * whether that matters); any bad line is -EINVAL with "file:line: ..." in err. */
int conf_load_file(struct conf *c, const char *path, char *err, size_t errsz);

/* Apply every RESOLVIX_<SECTION>_<KEY> found in the environment. */
int conf_load_env(struct conf *c, char *const *envp, char *err, size_t errsz);

/* The file and the environment over what c holds, as every program reads
 * them: path is --config's value, or NULL for $RESOLVIX_CONFIG, else
 * CONF_DEFAULT_PATH, which alone may be missing; "" reads no file. */
int conf_load_sources(struct conf *c, const char *path, char *const *envp, char *err, size_t errsz);

/* The whole sequence for a program's main(): defaults, file (--config, else
 * $RESOLVIX_CONFIG, else the default path; "" means none), environment, then
 * command-line flags, each overriding the one before. Common flags:
 * --config, --set SECTION.KEY=VALUE, --verbose, --check, --help, --version.
 * On error the message is logged and a negative errno returned; a usage
 * error is -EINVAL. */
int conf_load_args(int argc, char **argv, const char *summary, const struct conf_flag *flags,
                   struct conf *c, struct conf_cli *cli);

/* The start of every program's main(): conf_load_args(), then --help,
 * --version and --check acted on, and --verbose applied. validate, when not
 * NULL, is a program's own check of the result (it logs why and returns
 * false); --check runs it too. Returns -1 when the program should go on,
 * else its exit status: 0 after --help, --version or a passed --check, 2
 * for a usage error, 1 for anything else. */
int conf_main(int argc, char **argv, const char *summary, const struct conf_flag *flags, struct conf *c,
              bool (*validate)(const struct conf *c));

/* Print every key as it is in effect, in INI form (used by --check). */
void conf_dump(const struct conf *c, FILE *f);

/* Produce the environment assignments that reproduce c in a child process
 * ("RESOLVIX_TELEMETRY_PORT=8756", ...). Returns the number written, at most
 * max; each string is malloc'd and owned by the caller. */
int conf_to_env(const struct conf *c, char **out, size_t max);

bool conf_address_is_loopback(const char *addr);

/* The value of one key, formatted as it would appear in the file. */
int conf_get(const struct conf *c, const char *section, const char *key, char *buf, size_t bufsz);
