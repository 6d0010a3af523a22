/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "build-config.h"
#include "buildtree.h"
#include "conf.h"
#include "errors.h"
#include "log.h"
#include "macro.h"
#include "net.h"

enum conf_type {
        CONF_STRING,  /* free text without control characters */
        CONF_TOKEN,   /* printable ASCII, no spaces */
        CONF_ADDRESS, /* IPv4 or IPv6 literal */
        CONF_PORT,    /* 1..65535, or 0 where min allows it */
        CONF_UINT,
        CONF_BOOL,
        CONF_PATH,    /* absolute path */
        CONF_LOGFILE, /* absolute path or "journal" */
        CONF_ORIGINS, /* space-separated scheme://host[:port] */
        CONF_HOSTS,   /* space-separated host names or addresses, no port */
        CONF_SIZE,    /* bytes, with an optional K, M or G (KiB, MiB, GiB) suffix */
        CONF_CIDRS,   /* space-separated addresses or address/prefix ranges */
};

struct conf_key {
        const char *section;
        const char *key;
        enum conf_type type;
        size_t offset;
        size_t size;
        unsigned min, max;
        const char *def;
        const char *env_alias; /* an extra variable name (docs/configuration.md) */
};

#define F(field) offsetof(struct conf, field), sizeof(((struct conf *) 0)->field)

static const struct conf_key conf_keys[] = {
        { "node", "id", CONF_TOKEN, F(node.id), 0, 0, "auto", NULL },
        { "node", "verbose", CONF_BOOL, F(node.verbose), 0, 0, "false", NULL },

        { "control", "listen", CONF_ADDRESS, F(control.listen), 0, 0, "127.0.0.1", NULL },
        { "control", "port", CONF_PORT, F(control.port), 1, 65535, "8754", NULL },
        { "control", "token", CONF_TOKEN, F(control.token), 0, 0, "", NULL },
        { "control", "state_dir", CONF_PATH, F(control.state_dir), 0, 0, NULL, NULL },
        { "control", "worker_dir", CONF_PATH, F(control.worker_dir), 0, 0, NULL, "RESOLVIX_WORKER_DIR" },
        { "control", "allowed_hosts", CONF_HOSTS, F(control.allowed_hosts), 0, 0, "", NULL },
        { "control", "allowed_origins", CONF_ORIGINS, F(control.allowed_origins), 0, 0, "", NULL },
        { "control", "max_connections", CONF_UINT, F(control.max_connections), 1, 16384, "512", NULL },
        { "control", "max_connections_per_ip", CONF_UINT, F(control.max_connections_per_ip), 1, 16384, "64", NULL },
        { "control", "request_deadline", CONF_UINT, F(control.request_deadline), 1, 3600, "10", NULL },
        { "control", "worker_watchdog", CONF_UINT, F(control.worker_watchdog), 0, 3600, "10", NULL },
        { "control", "tls_cert", CONF_PATH, F(control.tls_cert), 0, 0, "", NULL },
        { "control", "tls_key", CONF_PATH, F(control.tls_key), 0, 0, "", NULL },

        { "telemetry", "listen", CONF_ADDRESS, F(telemetry.stream.listen), 0, 0, "0.0.0.0", NULL },
        { "telemetry", "port", CONF_PORT, F(telemetry.stream.port), 1, 65535, "8756", NULL },
        { "telemetry", "interval", CONF_UINT, F(telemetry.interval), 1, 86400, "60", NULL },
        { "telemetry", "autostart", CONF_BOOL, F(telemetry.stream.autostart), 0, 0, "false", NULL },
        { "telemetry", "token", CONF_TOKEN, F(telemetry.stream.token), 0, 0, "", NULL },
        { "telemetry", "allowed_origins", CONF_ORIGINS, F(telemetry.stream.allowed_origins), 0, 0, "", NULL },
        { "telemetry", "max_clients", CONF_UINT, F(telemetry.stream.max_clients), 1, 100000, "1024", NULL },
        { "telemetry", "ping_interval", CONF_UINT, F(telemetry.stream.ping_interval), 1, 3600, "30", NULL },
        { "telemetry", "ingest_listen", CONF_ADDRESS, F(telemetry.ingest_listen), 0, 0, "127.0.0.1", NULL },
        { "telemetry", "ingest_port", CONF_PORT, F(telemetry.ingest_port), 0, 65535, "8888", NULL },
        { "telemetry", "ingest_max_line", CONF_UINT, F(telemetry.ingest_max_line), 32, 1048576, "1024", NULL },
        { "telemetry", "ingest_max_metrics", CONF_UINT, F(telemetry.ingest_max_metrics), 1, 1000000, "10000", NULL },
        { "telemetry", "ingest_max_points", CONF_UINT, F(telemetry.ingest_max_points), 1, 1000000, "1000", NULL },
        { "telemetry", "ingest_max_clients", CONF_UINT, F(telemetry.ingest_max_clients), 1, 65536, "256", NULL },
        { "telemetry", "ingest_idle_timeout", CONF_UINT, F(telemetry.ingest_idle_timeout), 1, 86400, "60", NULL },
        { "telemetry", "textfile_dir", CONF_PATH, F(telemetry.textfile_dir), 0, 0, "", NULL },
        { "telemetry", "tls_cert", CONF_PATH, F(telemetry.stream.tls_cert), 0, 0, "", NULL },
        { "telemetry", "tls_key", CONF_PATH, F(telemetry.stream.tls_key), 0, 0, "", NULL },

        { "livelogs", "listen", CONF_ADDRESS, F(livelogs.stream.listen), 0, 0, "0.0.0.0", NULL },
        { "livelogs", "port", CONF_PORT, F(livelogs.stream.port), 1, 65535, "8755", NULL },
        { "livelogs", "log_file", CONF_LOGFILE, F(livelogs.log_file), 0, 0, "/var/log/syslog", NULL },
        { "livelogs", "backlog", CONF_UINT, F(livelogs.backlog), 0, 100000, "100", NULL },
        { "livelogs", "autostart", CONF_BOOL, F(livelogs.stream.autostart), 0, 0, "false", NULL },
        { "livelogs", "token", CONF_TOKEN, F(livelogs.stream.token), 0, 0, "", NULL },
        { "livelogs", "allowed_origins", CONF_ORIGINS, F(livelogs.stream.allowed_origins), 0, 0, "", NULL },
        { "livelogs", "max_clients", CONF_UINT, F(livelogs.stream.max_clients), 1, 100000, "1024", NULL },
        { "livelogs", "ping_interval", CONF_UINT, F(livelogs.stream.ping_interval), 1, 3600, "30", NULL },
        { "livelogs", "tls_cert", CONF_PATH, F(livelogs.stream.tls_cert), 0, 0, "", NULL },
        { "livelogs", "tls_key", CONF_PATH, F(livelogs.stream.tls_key), 0, 0, "", NULL },

        { "hub", "listen", CONF_ADDRESS, F(hub.stream.listen), 0, 0, "0.0.0.0", NULL },
        { "hub", "port", CONF_PORT, F(hub.stream.port), 1, 65535, "8757", NULL },
        { "hub", "database", CONF_STRING, F(hub.database), 0, 0, "", NULL },
        { "hub", "token", CONF_TOKEN, F(hub.stream.token), 0, 0, "", NULL },
        { "hub", "enroll_token", CONF_TOKEN, F(hub.enroll_token), 0, 0, "", NULL },
        { "hub", "retention_days", CONF_UINT, F(hub.retention_days), 1, 36500, "14", NULL },
        { "hub", "rollup_retention_days", CONF_UINT, F(hub.rollup_retention_days), 1, 36500, "730", NULL },
        { "hub", "agent_allow", CONF_CIDRS, F(hub.agent_allow), 0, 0, "127.0.0.1/8 ::1", NULL },
        { "hub", "max_nodes", CONF_UINT, F(hub.max_nodes), 1, 10000000, "100000", NULL },
        { "hub", "max_body", CONF_SIZE, F(hub.max_body), 1024, 1073741824, "8 MiB", NULL },
        { "hub", "max_clients", CONF_UINT, F(hub.stream.max_clients), 1, 1000000, "16384", NULL },
        { "hub", "ping_interval", CONF_UINT, F(hub.stream.ping_interval), 1, 3600, "30", NULL },
        { "hub", "tls_cert", CONF_PATH, F(hub.stream.tls_cert), 0, 0, "", NULL },
        { "hub", "tls_key", CONF_PATH, F(hub.stream.tls_key), 0, 0, "", NULL },
        { "hub", "tls_client_ca", CONF_PATH, F(hub.tls_client_ca), 0, 0, "", NULL },
        { "hub", "tls_client_auth", CONF_TOKEN, F(hub.tls_client_auth), 0, 0, "", NULL },
        { "hub", "remote_write_url", CONF_STRING, F(hub.remote_write_url), 0, 0, "", NULL },
        { "hub", "remote_write_queue_mb", CONF_UINT, F(hub.remote_write_queue_mb), 1, 1048576, "256", NULL },

        { "push", "hub_url", CONF_STRING, F(push.hub_url), 0, 0, "", NULL },
        { "push", "enroll_token", CONF_TOKEN, F(push.enroll_token), 0, 0, "", NULL },
        { "push", "interval", CONF_UINT, F(push.interval), 1, 86400, "10", NULL },
        { "push", "protocol", CONF_TOKEN, F(push.protocol), 0, 0, "resolvix", NULL },
        { "push", "system_id", CONF_TOKEN, F(push.system_id), 0, 0, "auto", NULL },
        { "push", "spool_max_mb", CONF_UINT, F(push.spool_max_mb), 1, 1048576, "256", NULL },
        { "push", "backfill_rate", CONF_UINT, F(push.backfill_rate), 1, 100000, "50", NULL },
        { "push", "autostart", CONF_BOOL, F(push.autostart), 0, 0, "false", NULL },
        { "push", "ca_file", CONF_PATH, F(push.ca_file), 0, 0, "", NULL },
        { "push", "insecure", CONF_BOOL, F(push.insecure), 0, 0, "false", NULL },
        { "push", "tls_cert", CONF_PATH, F(push.tls_cert), 0, 0, "", NULL },
        { "push", "tls_key", CONF_PATH, F(push.tls_key), 0, 0, "", NULL },
};

#undef F

static const struct conf_key *conf_key_find(const char *section, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(conf_keys); i++)
                if (strcasecmp(conf_keys[i].section, section) == 0 && strcasecmp(conf_keys[i].key, key) == 0)
                        return &conf_keys[i];
        return NULL;
}

static bool section_known(const char *section) {
        for (size_t i = 0; i < ELEMENTSOF(conf_keys); i++)
                if (strcasecmp(conf_keys[i].section, section) == 0)
                        return true;
        return false;
}

bool conf_address_is_loopback(const char *addr) {
        struct in_addr a4;
        struct in6_addr a6;

        if (inet_pton(AF_INET, addr, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        if (inet_pton(AF_INET6, addr, &a6) == 1)
                return IN6_IS_ADDR_LOOPBACK(&a6);
        return false;
}

static int parse_bool(const char *v) {
        static const char *const yes[] = { "1", "yes", "true", "on" }, *const no[] = { "0", "no", "false", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(v, yes[i]) == 0)
                        return 1;
                if (strcasecmp(v, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

static int parse_uint(const char *v, unsigned min, unsigned max, unsigned *out) {
        char *end;
        unsigned long long n;

        if (!isdigit((unsigned char) v[0]))
                return -EINVAL;
        errno = 0;
        n = strtoull(v, &end, 10);
        if (errno != 0 || *end != '\0' || n < min || n > max)
                return -ERANGE;
        *out = (unsigned) n;
        return 0;
}

/* "8388608", "8M", "8 MiB", "512 KiB". */
static int parse_size(const char *v, unsigned min, unsigned max, unsigned *out) {
        static const struct {
                const char *suffix[3];
                unsigned shift;
        } units[] = {
                { { "", "B", NULL }, 0 },
                { { "K", "KiB", "KB" }, 10 },
                { { "M", "MiB", "MB" }, 20 },
                { { "G", "GiB", "GB" }, 30 },
        };
        char *end;
        unsigned long long n;

        if (!isdigit((unsigned char) v[0]))
                return -EINVAL;
        errno = 0;
        n = strtoull(v, &end, 10);
        if (errno != 0)
                return -ERANGE;
        while (*end == ' ')
                end++;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                for (size_t j = 0; j < ELEMENTSOF(units[i].suffix) && units[i].suffix[j]; j++)
                        if (strcasecmp(end, units[i].suffix[j]) == 0) {
                                if (n > (ULLONG_MAX >> units[i].shift))
                                        return -ERANGE;
                                n <<= units[i].shift;
                                if (n < min || n > max)
                                        return -ERANGE;
                                *out = (unsigned) n;
                                return 0;
                        }
        return -EINVAL;
}

static bool all_chars(const char *v, int (*ok)(int)) {
        for (const char *p = v; *p; p++)
                if (!ok((unsigned char) *p))
                        return false;
        return true;
}

static int is_text(int c) {
        return c >= 0x20 && c != 0x7f;
}

static int origins_valid(const char *v) {
        char copy[CONF_ORIGINS_MAX];
        char *save = NULL;

        snprintf(copy, sizeof copy, "%s", v);
        for (char *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
                if (!strstr(tok, "://") || !all_chars(tok, isgraph))
                        return false;
        return true;
}

/* Names and addresses as a Host header carries them, without the port:
 * node7.example.com, 192.0.2.7, [2001:db8::7]. */
static int hosts_valid(const char *v) {
        char copy[CONF_ORIGINS_MAX];
        char *save = NULL;

        snprintf(copy, sizeof copy, "%s", v);
        for (char *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
                size_t n = strlen(tok);
                bool bracketed = tok[0] == '[' && tok[n - 1] == ']';

                if (n > 255 || strspn(tok, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_[]:") != n)
                        return false;
                if (!bracketed && strpbrk(tok, "[]:"))
                        return false;
        }
        return true;
}

int conf_set(struct conf *c, const char *section, const char *key, const char *value,
             const char *origin, char *err, size_t errsz) {
        const struct conf_key *k = conf_key_find(section, key);
        void *field;
        unsigned u;
        int b;

        if (!k) {
                if (!section_known(section))
                        return fail_with(err, errsz, "%s: unknown section [%s] (expected node, control, telemetry, livelogs or hub)",
                                    origin, section);
                return fail_with(err, errsz, "%s: unknown key '%s' in section [%s]", origin, key, section);
        }
        field = (char *) c + k->offset;

#define BAD(what) \
        fail_with(err, errsz, "%s: [%s] %s: expected %s, got '%s'", origin, k->section, k->key, (what), value)

        switch (k->type) {
        case CONF_BOOL:
                b = parse_bool(value);
                if (b < 0)
                        return BAD("a boolean (true/false, yes/no, on/off, 1/0)");
                *(bool *) field = b;
                return 0;

        case CONF_PORT:
                if (parse_uint(value, k->min, k->max, &u) < 0)
                        return k->min == 0 ? BAD("a port number 0..65535 (0 turns it off)") : BAD("a port number 1..65535");
                *(uint16_t *) field = (uint16_t) u;
                return 0;

        case CONF_UINT: {
                char what[64];

                if (parse_uint(value, k->min, k->max, &u) < 0) {
                        snprintf(what, sizeof what, "a whole number %u..%u", k->min, k->max);
                        return BAD(what);
                }
                *(unsigned *) field = u;
                return 0;
        }

        case CONF_SIZE: {
                char what[96];

                if (parse_size(value, k->min, k->max, &u) < 0) {
                        snprintf(what, sizeof what, "a size from %u to %u bytes, with an optional K, M or G suffix",
                                 k->min, k->max);
                        return BAD(what);
                }
                *(unsigned *) field = u;
                return 0;
        }

        case CONF_CIDRS: {
                struct cidr list[64];
                size_t n;

                if (!all_chars(value, is_text) || cidr_list_parse(value, list, ELEMENTSOF(list), &n) < 0)
                        return BAD("space-separated addresses or ranges such as 127.0.0.1/8 ::1 (at most 64)");
                break;
        }

        case CONF_ADDRESS: {
                struct in6_addr a;

                if (inet_pton(AF_INET, value, &a) != 1 && inet_pton(AF_INET6, value, &a) != 1)
                        return BAD("an IPv4 or IPv6 address such as 127.0.0.1 or ::");
                break;
        }

        case CONF_TOKEN:
                if (!all_chars(value, isgraph))
                        return BAD("printable characters without spaces");
                break;

        case CONF_STRING:
                if (!all_chars(value, is_text))
                        return BAD("text without control characters");
                break;

        case CONF_PATH:
                /* Empty where the default is: the feature is off. */
                if (value[0] == '\0' && k->def && k->def[0] == '\0')
                        break;
                if (value[0] != '/' || !all_chars(value, is_text))
                        return BAD("an absolute path");
                break;

        case CONF_LOGFILE:
                if (!streq(value, "journal") && (value[0] != '/' || !all_chars(value, is_text)))
                        return BAD("an absolute path or \"journal\"");
                break;

        case CONF_ORIGINS:
                if (!origins_valid(value))
                        return BAD("space-separated origins such as https://ops.example.com");
                break;

        case CONF_HOSTS:
                if (!hosts_valid(value))
                        return BAD("space-separated host names or addresses such as node7.example.com, without port");
                break;
        }

        if (strlen(value) >= k->size) {
                char what[64];

                snprintf(what, sizeof what, "at most %zu characters", k->size - 1);
                return BAD(what);
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
#undef BAD
}

static void default_state_dir(char *buf, size_t size) {
        const char *e = getenv("STATE_DIRECTORY"); /* set by systemd's StateDirectory= */
        const char *home;

        if (e && e[0] == '/' && !strchr(e, ':')) {
                snprintf(buf, size, "%s", e);
                return;
        }
        if (geteuid() == 0) {
                snprintf(buf, size, "/var/lib/resolvix");
                return;
        }
        e = getenv("XDG_STATE_HOME");
        if (e && e[0] == '/') {
                snprintf(buf, size, "%s/resolvix", e);
                return;
        }
        home = getenv("HOME");
        if (!home || home[0] != '/') {
                struct passwd *pw = getpwuid(geteuid());
                home = pw ? pw->pw_dir : "/tmp";
        }
        snprintf(buf, size, "%s/.local/state/resolvix", home);
}

/* Run from the build tree, controld finds the workers it was built with
 * (linked beside it in <build>/controld); installed, in libexecdir. */
static void default_worker_dir(char *buf, size_t size) {
        if (build_tree_lookup("worker_dir", buf, size) < 0)
                snprintf(buf, size, "%s", RESOLVIX_LIBEXECDIR);
}

void conf_defaults(struct conf *c) {
        char err[256];

        memset(c, 0, sizeof *c);
        for (size_t i = 0; i < ELEMENTSOF(conf_keys); i++)
                if (conf_keys[i].def)
                        (void) conf_set(c, conf_keys[i].section, conf_keys[i].key, conf_keys[i].def, "default", err,
                                        sizeof err);
        default_state_dir(c->control.state_dir, sizeof c->control.state_dir);
        default_worker_dir(c->control.worker_dir, sizeof c->control.worker_dir);
}

struct file_ctx {
        struct conf *conf;
        const char *path;
        FILE *f;
        unsigned line;
        bool unclosed; /* the line read last opens a [section] it does not close */
        char *err;
        size_t errsz;
        int r;
};

/* inih hands us no line numbers in Debian's build, so we read the lines
 * ourselves: that also lets us refuse a line too long to hold, rather than
 * have it silently split in two. */
static char *file_reader(char *str, int num, void *userdata) {
        struct file_ctx *ctx = userdata;
        size_t len;

        if (ctx->r < 0)
                return NULL;
        if (!fgets(str, num, ctx->f)) {
                /* A directory opens, then fails here: say so rather than
                 * take it for an empty file. */
                if (ferror(ctx->f)) {
                        int r = negative_errno();

                        snprintf(ctx->err, ctx->errsz, "%s: cannot read: %s", ctx->path, strerror(-r));
                        ctx->r = r;
                }
                return NULL;
        }
        ctx->line++;
        len = strlen(str);
        {
                const char *p = str + strspn(str, " \t");

                ctx->unclosed = *p == '[' && !strchr(p, ']');
        }
        if (len == (size_t) num - 1 && str[len - 1] != '\n' && !feof(ctx->f)) {
                ctx->r = fail_with(ctx->err, ctx->errsz, "%s:%u: line longer than %d characters", ctx->path, ctx->line,
                              num - 2);
                return NULL;
        }
        return str;
}

static int file_handler(void *userdata, const char *section, const char *name, const char *value) {
        struct file_ctx *ctx = userdata;
        char origin[PATH_MAX + 32];

        if (ctx->r < 0)
                return 0;
        snprintf(origin, sizeof origin, "%s:%u", ctx->path, ctx->line);
        if (section[0] == '\0') {
                ctx->r = fail_with(ctx->err, ctx->errsz, "%s: key '%s' outside of any section", origin, name);
                return 0;
        }
        ctx->r = conf_set(ctx->conf, section, name, value, origin, ctx->err, ctx->errsz);
        return ctx->r >= 0;
}

int conf_load_file(struct conf *c, const char *path, char *err, size_t errsz) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        struct file_ctx ctx = { .conf = c, .path = path, .err = err, .errsz = errsz };
        int r;

        if (!f) {
                r = negative_errno();
                snprintf(err, errsz, "%s: cannot open: %s", path, strerror(-r));
                return r;
        }
        ctx.f = f;

        ini_allow_multiline = false;
        ini_use_stack = false;
        ini_max_line = 4096;
        /* Else inih reads on past a bad line, and the line we would name is
         * the file's last, not the bad one. */
        ini_stop_on_first_error = true;

        r = ini_parse_stream(file_reader, &ctx, file_handler, &ctx);
        if (ctx.r < 0)
                return ctx.r;
        if (r != 0 && ctx.unclosed)
                return fail_with(err, errsz, "%s:%u: section header without its closing ']'", path, ctx.line);
        if (r != 0)
                return fail_with(err, errsz, "%s:%u: syntax error (expected [section], key = value, or a ; comment)", path,
                            ctx.line);
        snprintf(c->path, sizeof c->path, "%s", path);
        return 0;
}

int conf_load_sources(struct conf *c, const char *path, char *const *envp, char *err, size_t errsz) {
        bool explicit = true;
        int r;

        if (!path)
                path = getenv("RESOLVIX_CONFIG");
        if (!path) {
                path = CONF_DEFAULT_PATH;
                explicit = false;
        }
        if (path[0] != '\0') {
                r = conf_load_file(c, path, err, errsz);
                if (r < 0 && !(r == -ENOENT && !explicit))
                        return r;
        }
        return conf_load_env(c, envp, err, errsz);
}

static void env_name(const struct conf_key *k, char *buf, size_t size) {
        snprintf(buf, size, "RESOLVIX_%s_%s", k->section, k->key);
        for (char *p = buf; *p; p++)
                *p = (char) toupper((unsigned char) *p);
}

int conf_load_env(struct conf *c, char *const *envp, char *err, size_t errsz) {
        for (size_t i = 0; i < ELEMENTSOF(conf_keys); i++) {
                const struct conf_key *k = &conf_keys[i];
                const char *names[2] = { NULL, k->env_alias };
                char name[128];

                env_name(k, name, sizeof name);
                names[0] = name;
                for (size_t j = 0; j < ELEMENTSOF(names); j++) {
                        char origin[160];
                        const char *v;
                        int r;

                        if (!names[j])
                                continue;
                        v = NULL;
                        for (char *const *e = envp; *e; e++) {
                                size_t l = strlen(names[j]);
                                if (strneq(*e, names[j], l) && (*e)[l] == '=')
                                        v = *e + l + 1;
                        }
                        if (!v)
                                continue;
                        snprintf(origin, sizeof origin, "environment %s", names[j]);
                        r = conf_set(c, k->section, k->key, v, origin, err, errsz);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int conf_get(const struct conf *c, const char *section, const char *key, char *buf, size_t bufsz) {
        const struct conf_key *k = conf_key_find(section, key);
        const void *field;

        if (!k)
                return -ENOENT;
        field = (const char *) c + k->offset;
        switch (k->type) {
        case CONF_BOOL:
                snprintf(buf, bufsz, "%s", *(const bool *) field ? "true" : "false");
                break;
        case CONF_PORT:
                snprintf(buf, bufsz, "%u", (unsigned) *(const uint16_t *) field);
                break;
        case CONF_UINT:
        case CONF_SIZE:
                snprintf(buf, bufsz, "%u", *(const unsigned *) field);
                break;
        default:
                snprintf(buf, bufsz, "%s", (const char *) field);
                break;
        }
        return 0;
}

int conf_main(int argc, char **argv, const char *summary, const struct conf_flag *flags, struct conf *c,
              bool (*validate)(const struct conf *c)) {
        struct conf_cli cli;
        int r;

        r = conf_load_args(argc, argv, summary, flags, c, &cli);
        if (r < 0)
                return r == -EINVAL ? 2 : 1;
        if (cli.help || cli.version)
                return 0;
        if (validate && !validate(c))
                return 1;
        if (cli.check) {
                conf_dump(c, stdout);
                return 0;
        }
        return -1;
}

void conf_dump(const struct conf *c, FILE *f) {
        const char *section = NULL;

        fprintf(f, "; configuration in effect (file: %s)\n", c->path[0] ? c->path : "none");
        for (size_t i = 0; i < ELEMENTSOF(conf_keys); i++) {
                const struct conf_key *k = &conf_keys[i];
                char value[PATH_MAX];
                bool secret = streq(k->key, "token") || streq(k->key, "enroll_token");

                if (!section || !streq(section, k->section)) {
                        section = k->section;
                        fprintf(f, "%s[%s]\n", i ? "\n" : "", section);
                }
                (void) conf_get(c, k->section, k->key, value, sizeof value);
                fprintf(f, "%s = %s\n", k->key, secret && value[0] ? "(set)" : value);
        }
}

int conf_to_env(const struct conf *c, char **out, size_t max) {
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(conf_keys) && n < max; i++) {
                char name[128], value[PATH_MAX];

                env_name(&conf_keys[i], name, sizeof name);
                (void) conf_get(c, conf_keys[i].section, conf_keys[i].key, value, sizeof value);
                if (asprintf(&out[n], "%s=%s", name, value) < 0) {
                        while (n > 0)
                                free(out[--n]);
                        return -ENOMEM;
                }
                n++;
        }
        return (int) n;
}

/* ---- command line ------------------------------------------------------- */

enum {
        OPT_CONFIG = 0x100,
        OPT_SET,
        OPT_CHECK,
        OPT_VERSION,
        OPT_FLAG_BASE = 0x200,
};

static void usage(FILE *f, const char *prog, const char *summary, const struct conf_flag *flags) {
        fprintf(f, "Usage: %s [OPTIONS]\n%s\n\nOptions:\n", prog, summary);
        for (const struct conf_flag *fl = flags; fl && fl->name; fl++) {
                char left[64];

                if (fl->short_name)
                        snprintf(left, sizeof left, "-%c, --%s %s", fl->short_name, fl->name, fl->arg_name);
                else
                        snprintf(left, sizeof left, "    --%s %s", fl->name, fl->arg_name);
                fprintf(f, "  %-28s %s ([%s] %s)\n", left, fl->help, fl->section, fl->key);
        }
        fprintf(f,
                "  -c, --config PATH            configuration file (default " CONF_DEFAULT_PATH
                ",\n"
                "                               or $RESOLVIX_CONFIG; \"\" reads none)\n"
                "      --set SECTION.KEY=VALUE  set any configuration key\n"
                "  -v, --verbose                debug logging ([node] verbose)\n"
                "      --check                  validate the configuration, print it and exit\n"
                "  -h, --help                   show this help\n"
                "      --version                show the version\n"
                "\nPrecedence: flags > RESOLVIX_<SECTION>_<KEY> environment > file > defaults.\n");
}

int conf_load_args(int argc, char **argv, const char *summary, const struct conf_flag *flags,
                   struct conf *c, struct conf_cli *cli) {
        struct option opts[64];
        char shortopts[64] = "+c:vh";
        size_t n = 0, nflags = 0;
        const char *config_path = NULL;
        char err[PATH_MAX + 256];
        int r, opt;

        *cli = (struct conf_cli){ 0 };
        opts[n++] = (struct option){ "config", required_argument, NULL, 'c' };
        opts[n++] = (struct option){ "set", required_argument, NULL, OPT_SET };
        opts[n++] = (struct option){ "verbose", no_argument, NULL, 'v' };
        opts[n++] = (struct option){ "check", no_argument, NULL, OPT_CHECK };
        opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
        opts[n++] = (struct option){ "version", no_argument, NULL, OPT_VERSION };
        for (const struct conf_flag *fl = flags; fl && fl->name; fl++, nflags++) {
                opts[n++] = (struct option){ fl->name, required_argument, NULL, (int) (OPT_FLAG_BASE + nflags) };
                if (fl->short_name) {
                        size_t l = strlen(shortopts);
                        shortopts[l] = (char) fl->short_name;
                        shortopts[l + 1] = ':';
                        shortopts[l + 2] = '\0';
                }
        }
        opts[n] = (struct option){ 0 };

        /* First pass: only find --config, --help and --version, so that the
         * file can be read before the flags that override it. */
        optind = 0;
        opterr = 1;
        while ((opt = getopt_long(argc, argv, shortopts, opts, NULL)) >= 0) {
                switch (opt) {
                case 'c':
                        config_path = optarg;
                        break;
                case 'h':
                        cli->help = true;
                        break;
                case OPT_VERSION:
                        cli->version = true;
                        break;
                case '?':
                        fprintf(stderr, "Try '%s --help'.\n", argv[0]);
                        return -EINVAL;
                default:
                        break;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "%s: unexpected argument '%s'. Try '%s --help'.\n", argv[0], argv[optind], argv[0]);
                return -EINVAL;
        }
        if (cli->help) {
                usage(stdout, argv[0], summary, flags);
                return 0;
        }
        if (cli->version) {
                printf("%s " RESOLVIX_VERSION "\n", argv[0]);
                return 0;
        }

        conf_defaults(c);
        extern char **environ;
        r = conf_load_sources(c, config_path, environ, err, sizeof err);
        if (r < 0)
                return log_error_errno(r, "Invalid configuration: %s", err);

        optind = 0;
        opterr = 0;
        while ((opt = getopt_long(argc, argv, shortopts, opts, NULL)) >= 0) {
                const char *origin_name = NULL, *section = NULL, *key = NULL;
                char origin[96], keybuf[128];

                if (opt == 'v') {
                        c->node.verbose = true;
                        continue;
                }
                if (opt == OPT_CHECK) {
                        cli->check = true;
                        continue;
                }
                if (opt == OPT_SET) {
                        char *dot, *eq;

                        eq = strchr(optarg, '=');
                        /* keybuf is cut at the '=': it must lie inside. */
                        if (eq && (size_t) (eq - optarg) >= sizeof keybuf) {
                                log_error("--set %.32s...: SECTION.KEY too long (no key is longer than %zu characters)",
                                          optarg, sizeof keybuf - 1);
                                return -EINVAL;
                        }
                        snprintf(keybuf, sizeof keybuf, "%s", optarg);
                        dot = strchr(keybuf, '.');
                        if (!dot || !eq || dot > keybuf + (eq - optarg)) {
                                log_error("--set %s: expected SECTION.KEY=VALUE", optarg);
                                return -EINVAL;
                        }
                        keybuf[eq - optarg] = '\0';
                        *dot = '\0';
                        section = keybuf;
                        key = dot + 1;
                        snprintf(origin, sizeof origin, "--set");
                        r = conf_set(c, section, key, eq + 1, origin, err, sizeof err);
                } else if (opt >= OPT_FLAG_BASE && (size_t) (opt - OPT_FLAG_BASE) < nflags) {
                        const struct conf_flag *fl = &flags[opt - OPT_FLAG_BASE];
                        origin_name = fl->name;
                        snprintf(origin, sizeof origin, "--%s", origin_name);
                        r = conf_set(c, fl->section, fl->key, optarg, origin, err, sizeof err);
                } else {
                        /* A short flag maps to its long twin. */
                        r = 0;
                        for (size_t i = 0; i < nflags; i++)
                                if (flags[i].short_name == opt) {
                                        snprintf(origin, sizeof origin, "-%c", opt);
                                        r = conf_set(c, flags[i].section, flags[i].key, optarg, origin, err,
                                                     sizeof err);
                                }
                }
                if (r < 0) {
                        log_error("Invalid option: %s", err);
                        return -EINVAL;
                }
        }

        if (c->node.verbose)
                log_set_max_level(LOG_DEBUG);
        return 0;
}
