/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "macro.h"

/* resolvixctl: what every command shares. Each command prints its own
 * errors (it is the layer that knows what went wrong and what to try) and
 * returns a negative errno, which main() turns into an exit status. */

/* Exit statuses, as resolvixctl(1) documents them. */
enum {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILED = 1,      /* the daemon said no, a stream ended, a source unreadable */
        CTL_EXIT_USAGE = 2,       /* bad command line */
        CTL_EXIT_UNREACHABLE = 3, /* nothing answers at the address */
        CTL_EXIT_REFUSED = 4,     /* 401/403: token or origin */
};

/* -EINVAL means a usage error: the command has printed what was wrong. */
int ctl_exit_status(int r);

#define CTL_HOST_MAX 256
#define CTL_URL_MAX 2048

/* Where something listens: parsed from "host", "host:port", "[v6]:port" or
 * "scheme://host:port/path". */
struct ctl_address {
        char scheme[8]; /* "http", "ws", "wss", "https", or "" when none was given */
        char host[CTL_HOST_MAX];
        unsigned port;  /* 0 when none was given */
        char path[CTL_URL_MAX]; /* "/..." or "" */
};

/* Pure: 0, or -EINVAL with a reason for the user in err. */
int ctl_parse_address(const char *s, struct ctl_address *ret, char *err, size_t errsz);
/* A whole decimal number in [min, max]: 0, or -EINVAL / -ERANGE. */
int ctl_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *ret);
/* A duration: seconds, or a number with s, m, h, d or w ("24h", "5m"),
 * from 1 s to ten years. 0, or -EINVAL / -ERANGE. Pure. */
int ctl_parse_duration(const char *s, unsigned long long *ret);
/* Percent-encode s for a URL query value. */
void ctl_url_encode(const char *s, char *buf, size_t size);

/* The command line, parsed once by main(). */
struct conf;

struct ctl {
        const struct conf *conf;    /* the configuration: default ports */
        struct ctl_address control; /* controld: from --host/--port/RESOLVIX_HOST, or an http:// URI */
        const char *uri;            /* the positional URI, if the command takes one */
        bool host_given;            /* by --host, RESOLVIX_HOST or the URI */
        const char *config_path;    /* the configuration file read, NULL if none */
        const char *token;          /* --token, else RESOLVIX_TOKEN, else [control] token */
        const char *stream_token;   /* --stream-token, else RESOLVIX_STREAM_TOKEN */
        const char *telemetry_token; /* stream_token, else [telemetry] token, else token */
        const char *livelogs_token;  /* stream_token, else [livelogs] token, else token */
        unsigned timeout_s;
        const char *ca_file; /* --ca-file, else RESOLVIX_CA_FILE, else [push] ca_file; NULL: the system's CAs */
        bool insecure;       /* --insecure: no certificate or host name check (warned about) */
        bool json;
        bool color; /* stdout is a terminal, NO_COLOR unset, TERM not dumb */

        /* Command options. */
        bool has_interval, follow;
        unsigned interval;
        bool has_n;
        unsigned long n; /* logs --lines, watch --count */
        double delay_s;  /* watch --delay; < 0: not given */
        const char *grep;
        char ingest_host[CTL_HOST_MAX]; /* --host, else [telemetry] ingest_listen */
        unsigned ingest_port; /* 0: the configuration has custom metrics off */

        /* The hub: --hub, else RESOLVIX_HUB, else the first [push] hub_url,
         * else this machine at [hub] port. */
        struct ctl_address hub;
        const char *hub_token;          /* --token, else RESOLVIX_HUB_TOKEN */
        unsigned long long since_s, step_s; /* history --since, --step; 0: the default */

        int argc; /* the command's positional arguments (URI excluded) */
        char **argv;
};

void ctl_error(const char *fmt, ...) _printf_(1, 2);
/* The configuration file, for messages: the one read, else where it would be. */
const char *ctl_config_name(const struct ctl *c);
/* Hold messages back (while a full-screen view is up); false prints them. */
void ctl_error_defer(bool defer);

/* ---- controld over HTTP (http.c) ---- */

struct ctl_reply {
        long status;
        char *body; /* NUL-terminated */
        size_t len;
};

void ctl_reply_done(struct ctl_reply *r);

/* Bodies resolvixctl accepts: /tail with a large backlog is the biggest. */
#define CTL_REPLY_MAX (64u << 20)

/* GET, or POST with a JSON body when json_body is not NULL. A transport
 * failure is printed (with a hint when nothing listens) and returned as a
 * negative errno; any HTTP status is a success of this layer. what names the
 * peer in messages ("resolvix-controld", "livelogd"). */
int ctl_http(const struct ctl *c, const char *url, const char *token, const char *json_body, const char *what,
             struct ctl_reply *ret);

/* The common meaning of an HTTP error status, printed: -EACCES for 401/403
 * (with what to do about the token), -EIO for the rest. 0 for 2xx. */
int ctl_reply_check(const struct ctl *c, const struct ctl_reply *r, const char *what);

/* ---- controld (control.c) ---- */

/* http://host:port of controld, from the command line. */
void ctl_control_url(const struct ctl *c, const char *path, char *buf, size_t size);

/* GET /status, parsed. */
int ctl_get_status(const struct ctl *c, cJSON **ret);

/* The address of a worker's stream: the URI when it names the stream
 * (ws://, wss://), else the worker's ws_port from controld's /status on the
 * controld host. Fails (printed) when the worker is not running. */
int ctl_stream_address(const struct ctl *c, const char *worker, struct ctl_address *ret);

int ctl_cmd_status(struct ctl *c);
int ctl_cmd_start(struct ctl *c);
int ctl_cmd_stop(struct ctl *c);
int ctl_cmd_restart(struct ctl *c);

/* ---- streams (stream.c) ---- */

struct ctl_stream;

struct ctl_stream_ops {
        /* The handshake succeeded. */
        void (*open)(struct ctl_stream *s, void *userdata);
        /* One whole text message. Return < 0 to stop with that error, 1 to
         * stop cleanly, 0 to go on. */
        int (*message)(struct ctl_stream *s, void *userdata, const char *msg, size_t len);
        /* SIGWINCH (the terminal was resized). */
        void (*resize)(struct ctl_stream *s, void *userdata);
        /* Standard input is readable (only with watch_stdin). */
        int (*input)(struct ctl_stream *s, void *userdata);
        /* Every tick_usec, when that is not 0. */
        void (*tick)(struct ctl_stream *s, void *userdata);
};

struct ctl_stream_params {
        const struct ctl_address *address;
        const char *query; /* appended to the path: "grep=..." or NULL */
        const char *token;
        const char *what; /* "telemetryd" */
        const char *ca_file; /* for wss://, as struct ctl's */
        bool insecure;
        bool watch_stdin;
        unsigned long long tick_usec;
        void *userdata;
};

/* Messages over this close the connection: a sample is a few KiB, a log
 * line at most 64 KiB before JSON escaping. */
#define CTL_MESSAGE_MAX (4u << 20)

/* Connect and run until a callback stops, the server closes, or SIGINT /
 * SIGTERM / SIGHUP. Errors are printed. Returns 0 on a stop asked for by a
 * callback or a signal; -ECONNRESET when the server ended the stream. */
int ctl_stream_run(const struct ctl_stream_ops *ops, const struct ctl_stream_params *params);
/* Send a text message (a command such as get_metrics). */
int ctl_stream_send(struct ctl_stream *s, const char *text);

/* ---- rendering (render.c): pure, JSON in, text out ---- */

/* watch's history of the headline series (history.c): CPU %, memory %,
 * load, disk read + write and network in + out, in MB/s. */
#define CTL_HISTORY_SERIES 5
#define CTL_HISTORY_MAX 3600 /* telemetryd's ring holds at most as many */

struct ctl_history {
        double *t;                      /* seconds since the epoch */
        double *v[CTL_HISTORY_SERIES];  /* NAN where a sample lacked it */
        size_t n, cap;
};

void ctl_history_free(struct ctl_history *h);
/* Replace h with telemetryd's history answer ({"type":"history",...}). */
int ctl_history_from_json(struct ctl_history *h, const cJSON *history);
/* Append a sample newer than the last record; older ones are ignored. */
int ctl_history_add_sample(struct ctl_history *h, const cJSON *sample);

struct ctl_render {
        unsigned width, height; /* terminal cells; 0: unbounded */
        bool color;             /* ANSI colours */
        bool screen;            /* full-screen: clear each line's rest, pad to the height */
        const struct ctl_history *history; /* watch: sparklines of it, when it has records */
};

enum ctl_section {
        CTL_SECTION_CPU,
        CTL_SECTION_MEMORY,
        CTL_SECTION_PROCESSES,
        CTL_SECTION_DISKS,
        CTL_SECTION_NETWORK,
};

/* The JSON key under "metrics" that holds a section ("disk" for disks). */
const char *ctl_section_key(enum ctl_section s);

/* A section of a sample (its "metrics" object) as a readable table. */
void ctl_render_section(FILE *f, const cJSON *metrics, enum ctl_section s, const struct ctl_render *o);
/* The whole-screen watch view, lines of at most o->width cells, at most
 * o->height lines, each ending in "\n". status is a line for the bottom
 * (connection, keys), or NULL. */
void ctl_render_watch(FILE *f, const cJSON *sample, const char *status, const struct ctl_render *o);
/* One line per sample for a pipe. */
void ctl_render_line(FILE *f, const cJSON *sample);
/* GET /status as a table. */
void ctl_render_status(FILE *f, const cJSON *status, const struct ctl_render *o);

/* How many terminal cells the UTF-8 text s takes (one per code point). */
size_t ctl_text_width(const char *s);

/* ---- a resolvix-hub (fleet.c) ---- */

/* scheme://host:port[/path] of the hub, then path. */
void ctl_hub_url(const struct ctl *c, const char *path, char *buf, size_t size);
int ctl_cmd_nodes(struct ctl *c);
int ctl_cmd_history(struct ctl *c);

/* ---- the other commands ---- */

int ctl_cmd_watch(struct ctl *c);
int ctl_cmd_logs(struct ctl *c);
int ctl_cmd_local(struct ctl *c, enum ctl_section s);
int ctl_cmd_put(struct ctl *c);
int ctl_cmd_get(struct ctl *c);
