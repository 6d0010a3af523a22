/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "conf.h"
#include "headline.h"
#include "monitor.h"
#include "net.h"
#include "sample-values.h"
#include "store.h"
#include "wsserver.h"

/* resolvix-hub: one event loop (libwebsockets, through shared/wsserver)
 * serves HTTP and both WebSocket streams on one port; two threads own the
 * database handles (docs/fleet.md, "How the hub works"):
 *
 *   - the writer takes every queued batch at once and commits them
 *     together, then hands each back; a push is answered only then;
 *   - the reader runs everything else that touches the database (queries,
 *     registrations with their slow password hashes, enrolment, health,
 *     maintenance), one job at a time, so the loop never waits on SQL.
 *
 * The loop keeps the nodes in memory (registry.c): tokens are checked and
 * the fleet stream, /metrics and /api/v1/nodes are answered without the
 * database. */

#define HUB_AGENT_ALLOW_MAX 64
/* What a 503 (database away or busy, queue full) asks the peer to wait. */
#define HUB_RETRY_AFTER_SEC 5
/* A node is online while its last push is this recent, or three of its
 * intervals when a sample says what its interval is. */
#define HUB_ONLINE_MIN_MS (90 * 1000)

/* Statuses libwebsockets has no names for. */
#define HTTP_CREATED 201
#define HTTP_ACCEPTED 202
#define HTTP_UPGRADE_REQUIRED 426
#define HTTP_TOO_MANY_REQUESTS 429
#define HTTP_INSUFFICIENT_STORAGE 507

struct hub;
struct job;
struct node;
struct registry;
struct fleet;
struct lanes;
struct client_cache;

/* ---- per-connection area (wsserver's client_size) ---------------------- */

enum conn_role {
        ROLE_NONE,
        ROLE_HTTP,
        ROLE_ECHO,
        ROLE_FLEET,
};

struct fleet_frame;

struct hub_conn {
        enum conn_role role;
        struct lws *wsi;
        struct job *job; /* an answer being computed for this connection */
        /* ROLE_FLEET */
        struct hub_conn *prev, *next;
        struct fleet_frame **snapshot; /* still to send, one per node */
        size_t n_snapshot, snapshot_pos;
        uint64_t cursor; /* next ring position to look at */
        char peer[64];
};

/* ---- jobs and the two threads (lanes.c) --------------------------------- */

enum lane {
        LANE_WRITE,
        LANE_READ,
};

/* What a reader job may use besides its store handle. */
struct lane_ctx {
        void *crypt_data; /* libcrypt's work area, reused */
        int crypt_size;
};

typedef void (*job_run_fn)(struct job *j, struct store *st, struct lane_ctx *ctx);
typedef void (*job_done_fn)(struct hub *h, struct job *j);
typedef void (*job_free_fn)(struct job *j);

/* What the hub shows of a sample besides its text (sample_summarize()). */
struct sample_summary {
        unsigned interval;        /* its "interval" in seconds (1..86400), else 0 */
        struct headline headline; /* /api/v1/nodes "latest", resolvix_node_* */
};

struct job_sample {
        const char *node_id;
        const char *stream;
        int64_t seq, ts;
        const char *json; /* as sent; stored as is */
        size_t len;
        /* Named on the loop (sample_scan()), or NULL: the writer names them
         * from tree, then frees it. */
        const struct store_value *values;
        size_t n_values;
        enum sample_root root;
        cJSON *tree;
        struct sample_summary summary; /* read at parse (sample_summarize()), of job_newest() only */
        const uint8_t *body; /* json compressed, or NULL (struct store_sample) */
        size_t body_len;
        bool stream_in_tree; /* stream points into tree (the "stream" of the JSON) */
};

struct job {
        struct job *next;
        enum lane lane;
        job_run_fn run;   /* LANE_READ: the work, on the reader */
        job_done_fn done; /* on the loop, with the outcome */
        job_free_fn free;
        /* Who waits for the answer; NULL once it went away. Loop only. */
        struct lws *wsi;
        struct hub_conn *conn;
        int result; /* 0 or a negative errno from the store */

        /* LANE_WRITE */
        struct store_node *upsert; /* stored before the samples; may be NULL */
        struct job_sample *samples; /* of one node */
        size_t n_samples;
        size_t staged; /* where its samples start among those staged for remote write */
        uint64_t acked, duplicates, values;
        uint64_t queued_usec;
        /* On the first job of a transaction only: when it began
         * (CLOCK_MONOTONIC), and, once finished, how long it took until it
         * was on disk. */
        uint64_t commit_start, commit_usec;
};

int lanes_start(struct hub *h, struct store *writer, struct store *reader);
/* -EBUSY when the lane's queue is full (answer 503). */
int lanes_submit(struct hub *h, struct job *j);
/* Samples waiting for the writer (or for their commit to be synced), jobs
 * waiting for the reader. */
size_t lanes_write_depth(struct hub *h);
size_t lanes_read_depth(struct hub *h);
/* Let the threads finish what is queued (every batch is committed, and
 * synced), join them, and drop answers nobody can receive any more. */
void lanes_stop(struct hub *h);
void job_free(struct job *j);

/* ---- nodes in memory (registry.c) --------------------------------------- */

struct node {
        struct store_node s; /* id, kind, hostname, machine id, token hash, first/last seen */
        int64_t latest_ts;    /* ms; 0 = no sample yet */
        char *latest;         /* the latest sample as stored */
        size_t latest_len;
        struct sample_summary summary; /* of the latest sample */
        struct fleet_frame *frame;
};

/* 1..255 letters, digits or ._:@+- : safe in a URL path and a label. */
bool node_id_valid(const char *id);

int registry_new(struct registry **ret);
void registry_free(struct registry *r);
struct node *registry_get(struct registry *r, const char *node_id);
struct node *registry_by_token(struct registry *r, const char *sha256_hex);
/* Add the node or update the one with that id from n (latest kept). */
struct node *registry_put(struct registry *r, const struct store_node *n);
void registry_remove(struct registry *r, struct node *n);
size_t registry_count(const struct registry *r);
/* Every node, ordered by id; malloc'd. */
struct node **registry_sorted(struct registry *r, size_t *ret_n);
/* Keep the latest sample (if ts is not older than what is kept). Returns
 * true when it replaced it. */
bool node_set_latest(struct node *n, int64_t ts, const char *json, size_t len, const struct sample_summary *summary);
/* What a node's latest sample says that the hub shows, read from its tree
 * when it is parsed rather than from its text at every request. */
void sample_summarize(const cJSON *sample, enum store_node_kind kind, struct sample_summary *ret);
bool node_online(const struct node *n, int64_t now_ms);

/* ---- the live fleet stream (fleet.c) ------------------------------------ */

int fleet_new(struct fleet **ret);
void fleet_free(struct fleet *f);
/* A node's latest sample changed: build its frame, tell every client. */
void fleet_publish(struct hub *h, struct node *n);
void fleet_forget(struct hub *h, struct node *n);
void fleet_open(struct hub *h, struct hub_conn *c);
void fleet_close(struct hub *h, struct hub_conn *c);
int fleet_writeable(struct hub *h, struct hub_conn *c);
unsigned fleet_clients(const struct fleet *f);

/* ---- the daemon --------------------------------------------------------- */

enum reject {
        REJECT_BAD_REQUEST,
        REJECT_UNAUTHORIZED,
        REJECT_FORBIDDEN,
        REJECT_TOO_LARGE,
        REJECT_TOO_MANY_NODES,
        REJECT_UNAVAILABLE,
        _REJECT_MAX,
};

#define COMMIT_BUCKETS 12

struct hub_stats {
        uint64_t samples;    /* stored */
        uint64_t duplicates;
        uint64_t values;
        uint64_t rejected[_REJECT_MAX];
        uint64_t commits;
        uint64_t commit_buckets[COMMIT_BUCKETS]; /* cumulative counts per le */
        double commit_seconds;
        uint64_t db_size;
        bool db_size_known;
};

extern const double commit_bucket_le[COMMIT_BUCKETS];

struct hub {
        struct conf conf;
        int argc;
        char **argv;
        struct ws_server *server;
        struct lanes *lanes;
        struct registry *registry;
        struct fleet *fleet;
        struct client_cache *clients;
        struct remote_write *remote_write; /* NULL: no remote_write_url */
        struct body_codec *codec; /* the loop's, for pushes (push_queue()) */
        struct cidr agent_allow[HUB_AGENT_ALLOW_MAX];
        size_t n_agent_allow;
        struct cpu_load cpu;
        const char *backend;
        struct hub_stats stats;
        int64_t record_seq; /* the last seq given to a Flask client's record */
        lws_sorted_usec_list_t watchdog_timer, maintain_timer;
        uint64_t watchdog_usec;
        bool maintaining;
        bool failed; /* stopping because the database failed (lanes.c): exit 1 */
};

extern const struct ws_server_ops hub_ops;

int64_t now_ms(void);
void hub_reject(struct hub *h, enum reject why);
/* Schedule the next slice of store maintenance. */
void hub_maintain_later(struct hub *h, uint64_t usec);

/* ---- HTTP (routes.c) ------------------------------------------------------ */

struct request {
        struct hub *h;
        struct lws *wsi;
        struct hub_conn *conn;
        const struct ws_http_request *req;
        struct ws_http_response *resp;
        char path[1024]; /* without the /api prefix of the Flask clients' paths */
};

int respond_raw(struct ws_http_response *r, int status, const char *type, char *body, size_t len);
int respond_json(struct ws_http_response *r, int status, const cJSON *j);
/* Python's spelling, for the Flask clients. */
int respond_pyjson(struct ws_http_response *r, int status, const cJSON *j);
/* {"status":"error","detail":...,"message":...}, the native API's errors. */
int respond_error(struct ws_http_response *r, int status, const char *detail, const char *fmt, ...)
        _printf_(4, 5);
/* {"error": "..."}, the Flask API's errors. */
int respond_flask_error(struct ws_http_response *r, int status, const char *error);
int respond_method_not_allowed(struct ws_http_response *r, const char *allow);
/* The answer to a store error: 503 + Retry-After when the database is
 * away or busy, 500 otherwise. */
int respond_store_error(struct hub *h, struct ws_http_response *r, int err);

/* Hand the job to its lane and leave the request waiting for it
 * (-EINPROGRESS), or answer 503 when the lane is full. */
int request_defer(struct request *rq, struct job *j);
/* From a job's done(): send resp to whoever waits, if anyone still does. */
void job_answer(struct hub *h, struct job *j, struct ws_http_response *resp);

int request_header(struct lws *wsi, enum lws_token_indexes h, char *buf, size_t size);
bool request_arg(struct lws *wsi, const char *name, char *buf, size_t size);
bool peer_is_loopback(struct lws *wsi);
bool peer_in(struct lws *wsi, const struct cidr *ranges, size_t n);
/* The query token rule: Bearer [hub] token when set, else loopback only.
 * Returns 0, or answers 401/403 into resp and returns -EACCES. */
int check_query_auth(struct request *rq);
/* The node whose token the request carries as Bearer, or NULL. */
struct node *bearer_node(struct request *rq);
const char *bearer_token(struct lws *wsi, char *buf, size_t size);

/* Handlers, by API. Each returns what ops->request returns. */
int clients_request(struct request *rq);
int agents_request(struct request *rq);
int native_request(struct request *rq);
int metrics_request(struct request *rq);
/* The fleet dashboard's static files (dashboard.c); -ENOENT for any other path. */
int dashboard_request(struct request *rq);
int enroll_tokens_request(struct request *rq);

/* One-time enroll tokens (enroll-tokens.c). */
#define ENROLL_TOKEN_TTL_DEFAULT (24 * 3600) /* seconds */
#define ENROLL_TOKEN_TTL_MAX (30 * 24 * 3600)
/* A new token (64 hex digits) into token and its record to store into ret;
 * -EINVAL for a ttl out of 1..ENROLL_TOKEN_TTL_MAX or a bad note. */
int enroll_token_make(int64_t ttl_sec, const char *note, int64_t now, char token[static 65],
                      struct store_enroll_token *ret);
/* Keep it; -E2BIG when too many wait unspent already. */
int enroll_token_store(struct store *st, const struct store_enroll_token *t);

/* WebSocket /echo (api-clients.c). */
void echo_message(struct hub *h, struct hub_conn *c, const char *msg, size_t len);

/* After a write job committed (ingest.c): count it, keep each node's
 * latest sample and feed the fleet stream. */
void hub_samples_stored(struct hub *h, struct job *j);
/* The stats of a failed write job. */
void hub_samples_failed(struct hub *h, struct job *j);
/* The sample of j that becomes its node's latest once stored: the newest,
 * the last of equals, as node_set_latest() would keep them one by one. */
size_t job_newest(const struct job *j);
