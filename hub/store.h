/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The hub's storage: one small, batch-shaped interface with two back ends,
 * chosen once by the database URL (docs/fleet.md, "Storage"):
 *
 *   ""              SQLite at <state_dir>/hub.sqlite, WAL, synchronous=FULL
 *   postgresql://…  PostgreSQL through libpq (also postgres://…)
 *
 * Both keep the same tables, the same schema_version numbers and give the
 * same answers. A handle is not thread-safe: open one per thread.
 *
 * Every function returns 0 (or a documented positive value) on success and a
 * negative errno on failure; out-parameters are written only on success.
 * Errors the API layer must tell apart:
 *   -ENOTCONN  the database is unreachable (PostgreSQL down; the back end
 *              reconnects by itself with backoff): answer 503 + Retry-After
 *   -EAGAIN    the database is busy (SQLite lock held past the busy timeout):
 *              answer 503 + Retry-After
 *   -ENOSPC    the disk or database is full
 *   -EIO       any other database error; its message is logged once, here
 *   -EINVAL    a bad argument (logged at debug level only: it is the caller's)
 *   -ENOENT    no such node / client / sample
 * Nothing is logged for -ENOENT, -ENODATA, -EINVAL or -E2BIG.
 *
 * Times are Unix milliseconds (int64_t) everywhere.
 *
 * Typical use by the daemon: one handle per thread; per group of pushes
 * store_batch_begin() once, store_batch_add() per line (after
 * sample_values_flatten()), store_batch_commit(), then answer every push of
 * the group; store_maintain() every few seconds from one handle. */

struct store;
struct store_batch;

#define STORE_NODE_ID_MAX 255        /* bytes, without the NUL */
#define STORE_HOSTNAME_MAX 255
#define STORE_MACHINE_ID_MAX 64
#define STORE_CERT_SUBJECT_MAX 1024
#define STORE_TOKEN_SHA256_HEX 64    /* exactly, lower-case hex */
#define STORE_STREAM_MAX 128
#define STORE_USERNAME_MAX 64
#define STORE_PASSWORD_HASH_MAX 255  /* a crypt(5) string */
#define STORE_METRIC_MAX 255         /* a dotted path */
#define STORE_VALUES_MAX 512         /* numeric values kept per sample */
#define STORE_SAMPLE_MAX (1024 * 1024) /* raw JSON bytes of one sample */
#define STORE_QUERY_POINTS_MAX 11000 /* per series */

/* ---- opening ------------------------------------------------------------ */

/* Open the database named by `database` ("" = SQLite in state_dir), creating
 * the schema or migrating it forward to the current version. A database newer
 * than this program is refused with -EPROTO. For PostgreSQL the first
 * connection must succeed (-ENOTCONN otherwise: a hub should not start
 * against a database it never reached); later losses are reconnected. */
int store_open(const char *database, const char *state_dir, struct store **ret);
void store_close(struct store *s);

/* "sqlite" or "postgresql", for logs and /metrics. */
const char *store_backend(const struct store *s);

/* The schema version this program creates and migrates to. */
#define STORE_SCHEMA_VERSION 4

/* 0 when the database answers a trivial query now (GET /health), else
 * -ENOTCONN / -EAGAIN / -EIO. A lost PostgreSQL connection is retried here
 * (subject to the back end's backoff). */
int store_ping(struct store *s);

/* Bytes the data takes (SQLite: pages in use, those still in the WAL
 * included; PostgreSQL: pg_database_size() of the current database). */
int store_size_bytes(struct store *s, uint64_t *ret);

/* ---- nodes -------------------------------------------------------------- */

enum store_node_kind {
        STORE_NODE_RESOLVIX,       /* "resolvix": pushd */
        STORE_NODE_CLIENT,         /* "client": a client of the collection server's client API */
        STORE_NODE_SYSTEM_MONITOR, /* "system-monitor": a system-monitor agent (docs/fleet.md) */
        _STORE_NODE_KIND_MAX,
};

const char *store_node_kind_to_string(enum store_node_kind k);
/* Negative errno (-EINVAL) for an unknown name. */
int store_node_kind_from_string(const char *s);

struct store_node {
        char node_id[STORE_NODE_ID_MAX + 1];
        char hostname[STORE_HOSTNAME_MAX + 1];
        enum store_node_kind kind;
        char machine_id[STORE_MACHINE_ID_MAX + 1];
        char token_sha256[STORE_TOKEN_SHA256_HEX + 1]; /* "" = no token */
        char cert_subject[STORE_CERT_SUBJECT_MAX + 1];
        int64_t first_seen, last_seen; /* ms; commits move last_seen to the minute */
};

/* Insert or replace the node with this node_id. On update, first_seen keeps
 * the earlier of the stored and the given value and last_seen the later, so
 * a caller may pass "now" for both. A node_id is 1..STORE_NODE_ID_MAX bytes;
 * a token is "" or 64 lower-case hex digits (-EINVAL otherwise). */
int store_node_upsert(struct store *s, const struct store_node *n);

/* -ENOENT when no such node. */
int store_node_get(struct store *s, const char *node_id, struct store_node *ret);

/* Find the node whose token hashes to sha256_hex (64 hex digits). The lookup
 * is by the hash itself, an index probe on a value derived from a secret of
 * 256 bits, so timing reveals nothing usable about the token; the caller
 * hashes what the peer presented and needs no further compare. -ENOENT when
 * no node has it. */
int store_node_by_token(struct store *s, const char *sha256_hex, struct store_node *ret);

/* Call cb for every node, in node_id order. A non-zero return from cb stops
 * the walk and is returned. */
typedef int (*store_node_cb)(const struct store_node *n, void *userdata);
int store_nodes_each(struct store *s, store_node_cb cb, void *userdata);

/* Forget the node: its id (free to enroll again, as a new node), its token,
 * its latest sample and, in the background of store_maintain(), all its
 * samples and rollups. From the moment this returns no read sees any of it.
 * -ENOENT when no such node. */
int store_node_delete(struct store *s, const char *node_id);

int store_node_count(struct store *s, uint64_t *ret);

/* ---- one-time enroll tokens (docs/fleet.md, "Enroll tokens") ----------- */

#define STORE_ENROLL_NOTE_MAX 255
#define STORE_ENROLL_ID_LEN 16 /* hex digits: the start of the token's hash */

struct store_enroll_token {
        char token_sha256[STORE_TOKEN_SHA256_HEX + 1];
        char note[STORE_ENROLL_NOTE_MAX + 1];
        int64_t created, expires; /* ms */
};

/* Keep a token by its hash until it expires (or is taken or revoked);
 * expired ones are dropped on the way. -EEXIST: that hash is kept already. */
int store_enroll_token_put(struct store *s, const struct store_enroll_token *t, int64_t now);

/* Spend the token hashing to sha256_hex: 0 once, for exactly one caller
 * among any number of hubs on the database; -ENOENT when it is unknown,
 * spent, revoked or expired at now. Inside store_begin() it is spent only
 * if that transaction commits. */
int store_enroll_token_take(struct store *s, const char *sha256_hex, int64_t now);

/* The tokens not expired at now, oldest first. */
typedef int (*store_enroll_token_cb)(const struct store_enroll_token *t, void *userdata);
int store_enroll_tokens_each(struct store *s, int64_t now, store_enroll_token_cb cb, void *userdata);

/* Revoke the token whose hash starts with id (STORE_ENROLL_ID_LEN hex
 * digits). -ENOENT when there is none. */
int store_enroll_token_delete(struct store *s, const char *id);

/* Several calls as one write transaction: all of them or none (an
 * enrolment that spends a one-time token). */
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/* ---- client registrations (docs/fleet.md, "Flask system-monitor API") -- */

/* The stored crypt(5) hash for username, into hash (at least
 * STORE_PASSWORD_HASH_MAX + 1 bytes). -ENOENT when not registered. */
int store_client_get(struct store *s, const char *username, char *hash);

/* Register username with a hash. Never replaces: -EEXIST when the username
 * is taken (the caller then verifies against store_client_get()). */
int store_client_put(struct store *s, const char *username, const char *hash);

/* ---- ingest ------------------------------------------------------------- */

struct store_value {
        const char *path; /* dotted path, 1..STORE_METRIC_MAX bytes */
        double value;     /* finite */
};

struct store_sample {
        const char *node_id;  /* an existing node (store_node_upsert) */
        const char *stream;   /* "" allowed; up to STORE_STREAM_MAX bytes */
        int64_t seq;          /* with (node, stream): the sample's identity */
        int64_t ts;           /* ms, when it was taken; 0 .. year 9999 */
        const char *json;     /* the raw sample, stored as is (compressed) */
        size_t json_len;      /* 1 .. STORE_SAMPLE_MAX */
        const struct store_value *values; /* see hub/sample-values.h */
        size_t n_values;      /* up to STORE_VALUES_MAX, paths distinct */
        /* json as body_compress() (store-codec.h) gave it, when the caller
         * compressed it already (off the writer's thread); else NULL. */
        const uint8_t *body;
        size_t body_len;
};

struct store_batch_result {
        uint64_t acked;      /* new rows stored by this commit */
        uint64_t duplicates; /* (node, stream, seq) already stored, or twice in the batch */
        uint64_t forgotten;  /* samples of nodes deleted since they were added */
};

/* Start a batch (nothing touches the database until commit). */
int store_batch_begin(struct store *s, struct store_batch **ret);

/* Validate, compress and queue one sample; the batch copies what it needs.
 * -EINVAL (bad field), -ENOENT (unknown node) or a database error: the
 * sample is not added and the batch is marked failed, so that a later
 * commit stores nothing and returns that error, unless the caller first
 * drops back with store_batch_truncate() to a count taken before the
 * request that failed. That is how a grouped commit refuses one request
 * whole without losing the others. */
int store_batch_add(struct store_batch *b, const struct store_sample *sample);

/* Samples queued so far. */
size_t store_batch_count(const struct store_batch *b);

/* Drop the samples queued after the first n, and clear a failure marked
 * since then. -EINVAL when n > store_batch_count(). */
int store_batch_truncate(struct store_batch *b, size_t n);

/* Store every queued sample in one transaction, deduplicated by
 * (node, stream, seq), and return only once it is durable (SQLite: WAL
 * fsync'd; PostgreSQL: COMMIT acknowledged), so the caller may acknowledge.
 * Each node's last_seen becomes the commit's time when it was more than a
 * minute older (rewriting a node row per batch would cost more than the
 * samples when every sample is another node's).
 * All or nothing: on failure nothing of the batch is stored and it keeps its
 * samples, so it may be committed again (after -ENOTCONN / -EAGAIN) or
 * rolled back. On success the batch is empty and may be reused. */
int store_batch_commit(struct store_batch *b, struct store_batch_result *ret);

/* After store_batch_commit() returned 0, and until the next commit: what
 * became of the samples that were queued at positions [from, to) of it, for
 * a caller that committed several requests together and answers each with
 * its own counts. -EINVAL when the range is not within that commit. */
int store_batch_tally(const struct store_batch *b, size_t from, size_t to, struct store_batch_result *ret);
/* Whether the committed row i was stored as new (not a duplicate, nor of a
 * node deleted meanwhile). */
bool store_batch_row_stored(const struct store_batch *b, size_t i);

/* Discard whatever is queued (a rollback: nothing was written) and free the
 * batch. NULL is fine. store_batch_truncate(b, 0) discards and keeps it. */
void store_batch_free(struct store_batch *b);

/* ---- reads -------------------------------------------------------------- */

/* The stored sample of the node with the greatest ts <= at (ties: the
 * greatest stream and seq), decompressed, NUL-terminated, malloc'd. at =
 * INT64_MAX: the latest sample, kept even after its raw row expired.
 * ret_ts may be NULL. -ENOENT: no such node or no such sample. */
int store_sample_at(struct store *s, const char *node_id, int64_t at, char **ret_json, size_t *ret_len,
                    int64_t *ret_ts);

/* The first and last ts of the node's raw samples. -ENOENT: no such node;
 * -ENODATA: no samples. */
int store_time_bounds(struct store *s, const char *node_id, int64_t *ret_first, int64_t *ret_last);

/* Raw samples of the node with start <= ts <= end, in (ts, stream, seq)
 * order. json is NUL-terminated and valid only during the call. A non-zero
 * return from cb stops the walk and is returned. -ENOENT: no such node. */
typedef int (*store_sample_cb)(int64_t ts, const char *json, size_t len, void *userdata);
int store_samples_each(struct store *s, const char *node_id, int64_t start, int64_t end, store_sample_cb cb,
                       void *userdata);

/* The latest sample of every node that has one, in node_id order. */
typedef int (*store_latest_cb)(const char *node_id, int64_t ts, const char *json, size_t len, void *userdata);
int store_latest_each(struct store *s, store_latest_cb cb, void *userdata);

enum store_agg {
        STORE_AGG_AVG,
        STORE_AGG_MIN,
        STORE_AGG_MAX,
        STORE_AGG_LAST,
        _STORE_AGG_MAX,
};
int store_agg_from_string(const char *s); /* "avg" … ; -EINVAL otherwise */
const char *store_agg_to_string(enum store_agg a);

/* Where store_query() reads from. AUTO is what the API uses; the others
 * exist so tests and benchmarks can compare both paths. */
enum store_source {
        STORE_SOURCE_AUTO,   /* rollups where they cover the range and step, raw elsewhere */
        STORE_SOURCE_RAW,    /* raw rows only (only what has not expired) */
        STORE_SOURCE_ROLLUP, /* rollups only (what maintain has rolled up) */
};

struct store_query {
        const char *node_id;    /* a node, or "*" (or NULL) for every node */
        const char *metric;     /* dotted path, as hub/sample-values.h names it */
        int64_t start, end;     /* ms, inclusive */
        int64_t step;           /* ms; 0 = every raw sample as stored */
        enum store_agg agg;
        enum store_source source;
};

struct store_point {
        int64_t t; /* ms: the sample's ts (step 0) or its bucket's start */
        double v;
};

/* Points of one series, in time order; valid only during the call. Nodes
 * without a value in the range get no call. A non-zero return stops. */
typedef int (*store_series_cb)(const char *node_id, const struct store_point *points, size_t n,
                               void *userdata);

/* Answer a metric query, one callback per node. With step > 0 the range is
 * cut into buckets [k*step, (k+1)*step) aligned to the epoch; each bucket
 * with values yields one point at its start. Steps of a minute or more are
 * rounded up to whole minutes, steps of an hour or more to whole hours, so
 * that the 1-minute and 1-hour rollups can answer them exactly; the step
 * used is returned in ret_step (may be NULL). Rollups answer what they
 * cover, raw rows the rest (the current hour, late arrivals not yet
 * rolled up): the answer is the same either way, up to float rounding.
 * Refused with -E2BIG when a series could exceed STORE_QUERY_POINTS_MAX
 * points (buckets in the range, or raw samples for step 0) and -EINVAL for
 * end < start, step < 0 or an unknown agg. -ENOENT: no such node. */
int store_query(struct store *s, const struct store_query *q, int64_t *ret_step, store_series_cb cb,
                void *userdata);

/* ---- maintenance -------------------------------------------------------- */

struct store_retention {
        unsigned raw_days;    /* [hub] retention_days; 0 = keep forever */
        unsigned rollup_days; /* [hub] rollup_retention_days; 0 = keep forever */
};

/* Do a bounded slice of background work, each step in its own short
 * transaction: roll completed hours up into 1-minute and 1-hour rollups
 * (and re-roll hours that late samples changed), expire raw samples older
 * than raw_days (SQLite: small delete batches; PostgreSQL: drop whole day
 * partitions; both cut at UTC midnight) and rollups older than rollup_days,
 * and erase the data of deleted nodes. Returns 1 when more work is waiting
 * (call again soon), 0 when idle, negative errno on failure. Call it from
 * one handle at a time every few seconds; several hubs on one PostgreSQL may
 * each call it. */
int store_maintain(struct store *s, int64_t now, const struct store_retention *r);
/* Whether the commits of s (the writer's handle) left work that
 * store_checkpoint() on another handle can take off the writer: SQLite's
 * WAL, copied back into the database while the writer goes on. Asking
 * forgets it. False for back ends without any. */
bool store_checkpoint_wanted(struct store *s);
int store_checkpoint(struct store *s);
/* From now on a commit of s returns before it reaches the disk, and is
 * durable once a store_sync() that started after it returned: the writer
 * prepares its next transaction while the last one is written out (SQLite:
 * the WAL is synced apart from the commit). -EOPNOTSUPP when the back end's
 * commits are durable as they return (PostgreSQL). */
int store_defer_sync(struct store *s);
/* Make every commit of s so far durable. It touches files only, never the
 * connection: it may run on another thread while s goes on committing. A
 * failure is fatal to the writer: what was committed meanwhile may never
 * reach the disk, and nothing after it is durable either. */
int store_sync(struct store *s);
