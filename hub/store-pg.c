/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "log.h"
#include "macro.h"
#include "store-backend.h"
#include "timeutil.h"

/* The PostgreSQL back end (docs/fleet.md, "Storage"): the same tables as the
 * SQLite one, raw samples partitioned by day (retention drops whole
 * partitions, no long DELETE), a batch sent with COPY (binary) and the small
 * statements around it in one pipeline. A lost connection is reopened with
 * backoff; meanwhile every call answers -ENOTCONN at once, so the hub can
 * keep serving and answer pushes 503 + Retry-After.
 *
 * PostgreSQL wants the partition key in every unique index, so the identity
 * (node, stream, seq) is enforced by the commit itself: it locks the batch's
 * streams, whose row keeps the highest seq stored; a seq above it cannot be
 * stored yet, one at or below it (a resend, or backfill arriving after newer
 * samples) is looked up first, by the index (stream, seq). So both back ends
 * count the same duplicates. The other index, (node, ts), serves time
 * ranges; each is as narrow as its use, since a sample's index entries are
 * a third of what storing it costs the server (docs/performance.md). */

#define BACKOFF_MIN_USEC (100 * USEC_PER_MSEC)
#define BACKOFF_MAX_USEC (30 * USEC_PER_SEC)
#define CONNECT_TIMEOUT "10"
#define PAGE_ROWS 2000 /* the LIMIT of the PS_ROWS_* statements */
/* Serialises commits (shared) against moving the rollup watermark. */
#define WATERMARK_LOCK "7419052166"
/* Partitions dropped per maintenance call. */
#define DROP_MAX 4

#ifndef USEC_PER_MSEC
#define USEC_PER_MSEC UINT64_C(1000)
#endif
#ifndef USEC_PER_SEC
#define USEC_PER_SEC UINT64_C(1000000)
#endif

enum stmt {
        PS_NODE_UPSERT,
        PS_NODE_GET,
        PS_NODE_BY_TOKEN,
        PS_NODES_EACH,
        PS_NODE_DELETE,
        PS_NODE_DELETE_LATEST,
        PS_NODE_COUNT,
        PS_CLIENT_GET,
        PS_CLIENT_PUT,
        PS_ENROLL_EXPIRE,
        PS_ENROLL_PUT,
        PS_ENROLL_TAKE,
        PS_ENROLL_EACH,
        PS_ENROLL_DELETE,
        PS_METRIC_GET,
        PS_METRIC_PUT,
        PS_STREAM_GET,
        PS_STREAM_PUT,
        PS_LAYOUT_FIND,
        PS_LAYOUT_PUT,
        PS_LAYOUT_GET,
        PS_WM_SHARE,
        PS_NODES_ALIVE,
        PS_NODES_TOUCH,
        PS_STREAMS_LOCK,
        PS_PROBE,
        PS_STREAMS_MAX,
        PS_LATEST_PUT,
        PS_ROWS_FIRST,
        PS_ROWS_NEXT,
        PS_ROWS_BODY_FIRST,
        PS_ROWS_BODY_NEXT,
        PS_ROW_AT,
        PS_LATEST,
        PS_LATEST_EACH,
        PS_TIME_BOUNDS,
        PS_CHUNKS,
        PS_PENDING_EACH,
        PS_STATE_GET,
        PS_STATE_SET,
        PS_WM_UPDATE,
        PS_DELETED_EACH,
        PS_PENDING_MARK,
        PS_PENDING_NEXT,
        PS_PENDING_DONE,
        PS_PENDING_OLDEST,
        PS_CHUNK_PUT,
        PS_EXPIRE_ROLLUPS,
        PS_PURGE_SAMPLES,
        PS_PURGE_ROLLUPS,
        PS_PURGE_PENDING,
        PS_PURGE_STREAMS,
        PS_PURGE_LATEST,
        PS_PURGE_NODE,
        PS_PARTITIONS,
        PS_PING,
        PS_SIZE,
        _PS_MAX,
};

#define NODE_COLUMNS \
        "node_ref, node_id, hostname, kind, machine_id, coalesce(token_sha256, ''), cert_subject, first_seen, last_seen"

static const char *const stmt_sql[_PS_MAX] = {
        [PS_NODE_UPSERT] =
                "INSERT INTO nodes (node_id, hostname, kind, machine_id, token_sha256, cert_subject, first_seen, last_seen)"
                " VALUES ($1, $2, $3, $4, nullif($5, ''), $6, $7, $8)"
                " ON CONFLICT (node_id) DO UPDATE SET hostname = excluded.hostname, kind = excluded.kind,"
                " machine_id = excluded.machine_id, token_sha256 = excluded.token_sha256,"
                " cert_subject = excluded.cert_subject, first_seen = least(nodes.first_seen, excluded.first_seen),"
                " last_seen = greatest(nodes.last_seen, excluded.last_seen)",
        [PS_NODE_GET] = "SELECT " NODE_COLUMNS " FROM nodes WHERE node_id = $1",
        [PS_NODE_BY_TOKEN] = "SELECT " NODE_COLUMNS " FROM nodes WHERE token_sha256 = $1",
        [PS_NODES_EACH] = "SELECT " NODE_COLUMNS " FROM nodes WHERE node_id IS NOT NULL ORDER BY node_id COLLATE \"C\"",
        [PS_NODE_DELETE] = "UPDATE nodes SET node_id = NULL, token_sha256 = NULL, deleted = 1 WHERE node_id = $1"
                           " RETURNING node_ref",
        [PS_NODE_DELETE_LATEST] = "DELETE FROM latest WHERE node_ref = $1",
        [PS_NODE_COUNT] = "SELECT count(*) FROM nodes WHERE node_id IS NOT NULL",
        [PS_CLIENT_GET] = "SELECT hash FROM clients WHERE username = $1",
        [PS_CLIENT_PUT] = "INSERT INTO clients (username, hash) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [PS_ENROLL_EXPIRE] = "DELETE FROM enroll_tokens WHERE expires <= $1",
        [PS_ENROLL_PUT] = "INSERT INTO enroll_tokens (token_sha256, note, created, expires) VALUES ($1, $2, $3, $4)",
        /* A row delete: of two hubs spending one token, one deletes it,
         * the other waits for that and then finds nothing. */
        [PS_ENROLL_TAKE] = "DELETE FROM enroll_tokens WHERE token_sha256 = $1 AND expires > $2",
        [PS_ENROLL_EACH] = "SELECT token_sha256, note, created, expires FROM enroll_tokens WHERE expires > $1"
                           " ORDER BY created, token_sha256",
        [PS_ENROLL_DELETE] = "DELETE FROM enroll_tokens WHERE substr(token_sha256, 1, 16) = $1",
        [PS_METRIC_GET] = "SELECT metric_ref FROM metrics WHERE path = $1",
        [PS_METRIC_PUT] = "INSERT INTO metrics (path) VALUES ($1) ON CONFLICT DO NOTHING",
        [PS_STREAM_GET] = "SELECT stream_ref FROM streams WHERE node_ref = $1 AND name = $2",
        [PS_STREAM_PUT] = "INSERT INTO streams (node_ref, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [PS_LAYOUT_FIND] = "SELECT layout_ref FROM layouts WHERE digest = $1 AND refs = $2",
        [PS_LAYOUT_PUT] = "INSERT INTO layouts (digest, refs) VALUES ($1, $2) RETURNING layout_ref",
        [PS_LAYOUT_GET] = "SELECT refs FROM layouts WHERE layout_ref = $1",
        [PS_WM_SHARE] = "SELECT pg_advisory_xact_lock_shared(" WATERMARK_LOCK "),"
                        " coalesce((SELECT value FROM state WHERE name = 'rolled_until'), 0)",
        /* KEY SHARE: a delete (it changes node_id) waits for this commit,
         * so no sample lands after its node's data was erased. */
        [PS_NODES_ALIVE] = "SELECT node_ref, last_seen FROM nodes WHERE node_ref = ANY($1::bigint[]) AND deleted = 0"
                           " FOR KEY SHARE",
        [PS_NODES_TOUCH] = "UPDATE nodes SET last_seen = greatest(last_seen, $2) WHERE node_ref = ANY($1::bigint[])",
        [PS_STREAMS_LOCK] = "SELECT stream_ref, coalesce(max_seq, -9223372036854775808) FROM streams"
                            " WHERE stream_ref = ANY($1::bigint[]) ORDER BY stream_ref FOR UPDATE",
        [PS_PROBE] = "SELECT s.stream_ref, s.seq FROM samples s"
                     " JOIN unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS k(n, st, q)"
                     " ON s.node_ref = k.n AND s.stream_ref = k.st AND s.seq = k.q",
        [PS_STREAMS_MAX] = "UPDATE streams SET max_seq = greatest(coalesce(max_seq, $2), $2) WHERE stream_ref = $1",
        [PS_LATEST_PUT] =
                "INSERT INTO latest (node_ref, ts, stream_ref, seq, body) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (node_ref) DO UPDATE SET ts = excluded.ts, stream_ref = excluded.stream_ref,"
                " seq = excluded.seq, body = excluded.body"
                " WHERE (excluded.ts, excluded.stream_ref, excluded.seq) > (latest.ts, latest.stream_ref, latest.seq)",
        [PS_ROWS_FIRST] = "SELECT ts, stream_ref, seq, vals FROM samples WHERE node_ref = $1 AND ts >= $2 AND ts < $3"
                          " ORDER BY ts, stream_ref, seq LIMIT 2000",
        /* PostgreSQL bounds the scan of the index (node, ts) by the row
         * comparison's first column itself. */
        [PS_ROWS_NEXT] = "SELECT ts, stream_ref, seq, vals FROM samples WHERE node_ref = $1 AND ts < $3"
                         " AND (ts, stream_ref, seq) > ($2, $4, $5) ORDER BY ts, stream_ref, seq LIMIT 2000",
        [PS_ROWS_BODY_FIRST] = "SELECT ts, stream_ref, seq, vals, body FROM samples WHERE node_ref = $1 AND ts >= $2"
                               " AND ts < $3 ORDER BY ts, stream_ref, seq LIMIT 2000",
        [PS_ROWS_BODY_NEXT] = "SELECT ts, stream_ref, seq, vals, body FROM samples WHERE node_ref = $1 AND ts < $3"
                              " AND (ts, stream_ref, seq) > ($2, $4, $5) ORDER BY ts, stream_ref, seq LIMIT 2000",
        [PS_ROW_AT] = "SELECT ts, stream_ref, seq, vals, body FROM samples WHERE node_ref = $1 AND ts <= $2"
                      " ORDER BY ts DESC, stream_ref DESC, seq DESC LIMIT 1",
        [PS_LATEST] = "SELECT ts, stream_ref, seq, ''::bytea, body FROM latest WHERE node_ref = $1",
        [PS_LATEST_EACH] = "SELECT n.node_id, l.ts, l.stream_ref, l.seq, l.body FROM latest l"
                           " JOIN nodes n ON n.node_ref = l.node_ref WHERE n.node_id IS NOT NULL"
                           " ORDER BY n.node_id COLLATE \"C\"",
        [PS_TIME_BOUNDS] = "SELECT min(ts), max(ts) FROM samples WHERE node_ref = $1",
        [PS_CHUNKS] = "SELECT start, data FROM rollups WHERE node_ref = $1 AND metric_ref = $2 AND res = $3"
                      " AND start >= $4 AND start < $5 ORDER BY start",
        [PS_PENDING_EACH] = "SELECT res, start FROM rollup_pending WHERE node_ref = $1 AND start >= $2 AND start < $3",
        [PS_STATE_GET] = "SELECT value FROM state WHERE name = $1",
        [PS_STATE_SET] = "INSERT INTO state (name, value) VALUES ($1, $2)"
                         " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [PS_WM_UPDATE] = "SELECT pg_advisory_xact_lock(" WATERMARK_LOCK "),"
                         " coalesce((SELECT value FROM state WHERE name = 'rolled_until'), 0)",
        [PS_DELETED_EACH] = "SELECT node_ref FROM nodes WHERE deleted = 1 ORDER BY node_ref",
        [PS_PENDING_MARK] = "INSERT INTO rollup_pending (node_ref, res, start) VALUES ($1, $2, $3)"
                            " ON CONFLICT (node_ref, res, start) DO UPDATE SET gen = rollup_pending.gen + 1",
        /* Several hubs may maintain one database: each takes another row. */
        [PS_PENDING_NEXT] = "SELECT node_ref, res, start, gen FROM rollup_pending WHERE res = $1 AND start <= $2"
                            " ORDER BY start LIMIT 1 FOR UPDATE SKIP LOCKED",
        [PS_PENDING_DONE] = "DELETE FROM rollup_pending WHERE node_ref = $1 AND res = $2 AND start = $3 AND gen = $4",
        [PS_PENDING_OLDEST] = "SELECT min(start) FROM rollup_pending",
        [PS_CHUNK_PUT] = "INSERT INTO rollups (node_ref, metric_ref, res, start, data) VALUES ($1, $2, $3, $4, $5)"
                         " ON CONFLICT (node_ref, metric_ref, res, start) DO UPDATE SET data = excluded.data",
        [PS_EXPIRE_ROLLUPS] = "DELETE FROM rollups WHERE ctid = ANY(ARRAY(SELECT ctid FROM rollups WHERE start < $1"
                              " LIMIT $2))",
        [PS_PURGE_SAMPLES] = "DELETE FROM samples WHERE node_ref = $1 AND ts <= coalesce((SELECT ts FROM samples"
                             " WHERE node_ref = $1 ORDER BY ts LIMIT 1 OFFSET $2), (SELECT max(ts) FROM samples"
                             " WHERE node_ref = $1))",
        [PS_PURGE_ROLLUPS] = "DELETE FROM rollups WHERE ctid = ANY(ARRAY(SELECT ctid FROM rollups WHERE node_ref = $1"
                             " LIMIT $2))",
        [PS_PURGE_PENDING] = "DELETE FROM rollup_pending WHERE node_ref = $1",
        [PS_PURGE_STREAMS] = "DELETE FROM streams WHERE node_ref = $1",
        [PS_PURGE_LATEST] = "DELETE FROM latest WHERE node_ref = $1",
        [PS_PURGE_NODE] = "DELETE FROM nodes WHERE node_ref = $1",
        [PS_PARTITIONS] = "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                          " WHERE i.inhparent = 'samples'::regclass ORDER BY c.relname",
        [PS_PING] = "SELECT 1",
        [PS_SIZE] = "SELECT pg_database_size(current_database())",
};

static const char *const migrations[] = {
        /* 1: nodes, registrations, dictionaries and raw samples. */
        "CREATE TABLE nodes ("
        " node_ref bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " node_id text UNIQUE,"
        " hostname text NOT NULL,"
        " kind smallint NOT NULL,"
        " machine_id text NOT NULL,"
        " token_sha256 text UNIQUE,"
        " cert_subject text NOT NULL,"
        " first_seen bigint NOT NULL,"
        " last_seen bigint NOT NULL,"
        " deleted smallint NOT NULL DEFAULT 0);"
        "CREATE TABLE clients (username text PRIMARY KEY, hash text NOT NULL);"
        "CREATE TABLE streams ("
        " stream_ref bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " node_ref bigint NOT NULL,"
        " name text NOT NULL,"
        " max_seq bigint,"
        " UNIQUE (node_ref, name));"
        "CREATE TABLE metrics (metric_ref bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, path text NOT NULL UNIQUE);"
        "CREATE TABLE layouts (layout_ref bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, digest bigint NOT NULL,"
        " refs bytea NOT NULL);"
        "CREATE INDEX layouts_digest ON layouts (digest);"
        "CREATE TABLE samples ("
        " node_ref bigint NOT NULL,"
        " ts bigint NOT NULL,"
        " stream_ref bigint NOT NULL,"
        " seq bigint NOT NULL,"
        " vals bytea NOT NULL,"
        " body bytea NOT NULL) PARTITION BY RANGE (ts);"
        /* Already compressed: never try pglz on them. */
        "ALTER TABLE samples ALTER COLUMN vals SET STORAGE EXTERNAL, ALTER COLUMN body SET STORAGE EXTERNAL;"
        "CREATE UNIQUE INDEX samples_key ON samples (node_ref, stream_ref, seq, ts);"
        "CREATE INDEX samples_time ON samples (node_ref, ts, stream_ref, seq);",

        /* 2: the latest sample per node, rollups and their bookkeeping. */
        "CREATE TABLE latest ("
        " node_ref bigint PRIMARY KEY,"
        " ts bigint NOT NULL,"
        " stream_ref bigint NOT NULL,"
        " seq bigint NOT NULL,"
        " body bytea NOT NULL);"
        ""
        "INSERT INTO latest (node_ref, ts, stream_ref, seq, body)"
        " SELECT s.node_ref, s.ts, s.stream_ref, s.seq, s.body FROM nodes n JOIN samples s ON s.node_ref = n.node_ref"
        " WHERE (s.ts, s.stream_ref, s.seq) = (SELECT ts, stream_ref, seq FROM samples t"
        " WHERE t.node_ref = n.node_ref ORDER BY ts DESC, stream_ref DESC, seq DESC LIMIT 1);"
        "CREATE TABLE rollups ("
        " node_ref bigint NOT NULL,"
        " metric_ref bigint NOT NULL,"
        " res integer NOT NULL,"
        " start bigint NOT NULL,"
        " data bytea NOT NULL,"
        " UNIQUE (node_ref, metric_ref, res, start));"
        "CREATE INDEX rollups_start ON rollups (start);"
        "CREATE TABLE rollup_pending ("
        " node_ref bigint NOT NULL,"
        " res integer NOT NULL,"
        " start bigint NOT NULL,"
        " gen bigint NOT NULL DEFAULT 0,"
        " PRIMARY KEY (node_ref, res, start));"
        "CREATE INDEX rollup_pending_start ON rollup_pending (res, start);"
        "CREATE TABLE state (name text PRIMARY KEY, value bigint NOT NULL);"
        "INSERT INTO rollup_pending (node_ref, res, start)"
        " SELECT DISTINCT node_ref, 60, ts - ts % 3600000 FROM samples;"
        "INSERT INTO rollup_pending (node_ref, res, start)"
        " SELECT DISTINCT node_ref, 3600, ts - ts % 86400000 FROM samples;",
        /* 3: one-time enroll tokens, by their hash. */
        "CREATE TABLE enroll_tokens ("
        " token_sha256 text PRIMARY KEY,"
        " note text NOT NULL,"
        " created bigint NOT NULL,"
        " expires bigint NOT NULL);",
        /* 4: the samples' indexes only as wide as their lookups. */
        "DROP INDEX IF EXISTS samples_key;"
        "DROP INDEX IF EXISTS samples_time;"
        "CREATE INDEX IF NOT EXISTS samples_seq ON samples (stream_ref, seq);"
        "CREATE INDEX samples_time ON samples (node_ref, ts);",
};

struct pg {
        struct store base;
        char *url;     /* as configured, for connecting */
        char *display; /* without a password, for messages */
        PGconn *conn;
        bool prepared[_PS_MAX];
        uint64_t backoff, next_attempt;
        bool was_lost;
        struct store_map *partitions; /* day number -> 1 */
        bool partitions_loaded;
        /* While a commit's closing pipeline is being sent: how many
         * statements, to read back as many results. */
        bool pipelining;
        unsigned piped;
};

static struct pg *PG(struct store *s) {
        return container_of(s, struct pg, base);
}

static void result_clear(PGresult **r) {
        PQclear(*r);
}
#define _cleanup_result_ _cleanup_(result_clear)

/* ---- connection --------------------------------------------------------- */

static void pg_drop(struct pg *p) {
        if (p->conn)
                PQfinish(p->conn);
        p->conn = NULL;
        memset(p->prepared, 0, sizeof(p->prepared));
        p->partitions_loaded = false;
}

/* The server's NOTICEs (IF NOT EXISTS skipping, cascades) are chatter. */
static void notice_to_debug(void *userdata, const char *message) {
        log_debug("PostgreSQL: %s", message);
}

static int pg_connected(struct pg *p) {
        const char *keys[] = { "connect_timeout", "application_name", "dbname", NULL };
        const char *values[] = { CONNECT_TIMEOUT, "resolvix-hub", p->url, NULL };
        uint64_t now;

        if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
                return 0;
        pg_drop(p);
        now = now_usec(CLOCK_MONOTONIC);
        if (now < p->next_attempt)
                return -ENOTCONN;
        /* Later keywords override what the URL says, earlier ones do not:
         * the URL's own connect_timeout wins. */
        p->conn = PQconnectdbParams(keys, values, 1);
        if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
                p->backoff = p->backoff ? p->backoff * 2 : BACKOFF_MIN_USEC;
                if (p->backoff > BACKOFF_MAX_USEC)
                        p->backoff = BACKOFF_MAX_USEC;
                p->next_attempt = now + p->backoff;
                if (!p->was_lost || p->backoff == BACKOFF_MAX_USEC)
                        log_warning("PostgreSQL %s unreachable, retrying in %.1fs: %s", p->display,
                                    (double) p->backoff / USEC_PER_SEC,
                                    p->conn ? PQerrorMessage(p->conn) : "out of memory");
                p->was_lost = true;
                pg_drop(p);
                return -ENOTCONN;
        }
        PQsetNoticeProcessor(p->conn, notice_to_debug, p);
        if (p->was_lost)
                log_notice("PostgreSQL %s reachable again", p->display);
        p->was_lost = false;
        p->backoff = 0;
        return 0;
}

/* Map a failed result to an errno, logging the server's message once. A
 * lost connection is dropped here, to be reopened by the next call. */
static int pg_fail(struct pg *p, const PGresult *res, const char *what) {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        const char *msg = res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res)
                                                             : p->conn ? PQerrorMessage(p->conn) : "no connection";

        if (!p->conn || PQstatus(p->conn) != CONNECTION_OK || (state && (strneq(state, "08", 2) ||
                                                                          strneq(state, "57P0", 4)))) {
                log_warning("PostgreSQL %s: connection lost (%s): %s", p->display, what, msg);
                p->was_lost = true;
                pg_drop(p);
                return -ENOTCONN;
        }
        if (state && (streq(state, "40001") || streq(state, "40P01") || streq(state, "55P03"))) {
                log_warning("PostgreSQL %s: %s: %s", p->display, what, msg);
                return -EAGAIN;
        }
        if (state && (streq(state, "23505") || streq(state, "42P07"))) {
                log_debug("PostgreSQL %s: %s: %s", p->display, what, msg);
                return -EEXIST;
        }
        if (state && strneq(state, "53", 2)) {
                log_error("PostgreSQL %s: out of resources (%s): %s", p->display, what, msg);
                return -ENOSPC;
        }
        log_error("PostgreSQL %s: %s failed: %s", p->display, what, msg);
        return -EIO;
}

struct params {
        int n;
        const char *values[8];
        int lengths[8];
        int formats[8];
        char buf[8][24];
};

static void p_int(struct params *a, int64_t v) {
        snprintf(a->buf[a->n], sizeof(a->buf[0]), "%" PRIi64, v);
        a->values[a->n] = a->buf[a->n];
        a->lengths[a->n] = 0;
        a->formats[a->n++] = 0;
}

static void p_text(struct params *a, const char *s) {
        a->values[a->n] = s;
        a->lengths[a->n] = 0;
        a->formats[a->n++] = 0;
}

static void p_bytes(struct params *a, const void *d, size_t len) {
        a->values[a->n] = len ? d : "";
        a->lengths[a->n] = (int) len;
        a->formats[a->n++] = 1;
}

static int pg_prepare(struct pg *p, enum stmt id) {
        char name[16];
        _cleanup_result_ PGresult *res = NULL;

        if (p->prepared[id])
                return 0;
        snprintf(name, sizeof(name), "s%d", (int) id);
        res = PQprepare(p->conn, name, stmt_sql[id], 0, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
                return pg_fail(p, res, "preparing a statement");
        p->prepared[id] = true;
        return 0;
}

/* Run a prepared statement, results in binary. *ret (may be NULL) gets the
 * result of a successful run. A connection found dead outside a
 * transaction (the server restarted, an idle connection was cut) is
 * replaced and the statement run once more, so that only a database that
 * stays away makes a call fail. */
static int pg_run(struct pg *p, enum stmt id, const struct params *a, const char *what, PGresult **ret) {
        for (int attempt = 0;; attempt++) {
                _cleanup_result_ PGresult *res = NULL;
                char name[16];
                ExecStatusType st;
                bool in_tx;
                int r;

                r = pg_connected(p);
                if (r < 0)
                        return r;
                in_tx = PQtransactionStatus(p->conn) != PQTRANS_IDLE;
                r = pg_prepare(p, id);
                if (r >= 0) {
                        snprintf(name, sizeof(name), "s%d", (int) id);
                        res = PQexecPrepared(p->conn, name, a ? a->n : 0, a ? a->values : NULL, a ? a->lengths : NULL,
                                             a ? a->formats : NULL, 1);
                        st = PQresultStatus(res);
                        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
                                if (ret)
                                        *ret = TAKE_PTR(res);
                                return 0;
                        }
                        r = pg_fail(p, res, what);
                }
                if (r != -ENOTCONN || in_tx || attempt > 0)
                        return r;
                p->next_attempt = 0;
        }
}

static int pg_exec(struct pg *p, const char *sql, const char *what) {
        for (int attempt = 0;; attempt++) {
                _cleanup_result_ PGresult *res = NULL;
                bool in_tx;
                int r = pg_connected(p);

                if (r < 0)
                        return r;
                in_tx = PQtransactionStatus(p->conn) != PQTRANS_IDLE;
                res = PQexec(p->conn, sql);
                if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
                        return 0;
                r = pg_fail(p, res, what);
                /* As pg_run(): a dead idle connection is replaced once. */
                if (r != -ENOTCONN || in_tx || attempt > 0)
                        return r;
                p->next_attempt = 0;
        }
}

static int64_t get_int(const PGresult *res, int row, int col) {
        const char *v = PQgetvalue(res, row, col);
        uint64_t u = 0;

        switch (PQgetlength(res, row, col)) {
        case 2: {
                uint16_t x;
                memcpy(&x, v, 2);
                return (int16_t) be16toh(x);
        }
        case 4: {
                uint32_t x;
                memcpy(&x, v, 4);
                return (int32_t) be32toh(x);
        }
        case 8:
                memcpy(&u, v, 8);
                return (int64_t) be64toh(u);
        default:
                return 0;
        }
}

static const uint8_t *get_bytes(const PGresult *res, int row, int col, size_t *len) {
        *len = (size_t) PQgetlength(res, row, col);
        return (const uint8_t *) PQgetvalue(res, row, col);
}

/* ---- schema ------------------------------------------------------------- */

static int pg_schema_version(struct store *s, unsigned *ret) {
        struct pg *p = PG(s);
        _cleanup_result_ PGresult *res = NULL;
        int r = pg_connected(p);

        if (r < 0)
                return r;
        res = PQexec(p->conn, "SELECT version FROM schema_version");
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
                return pg_fail(p, res, "reading the schema version");
        *ret = PQntuples(res) > 0 ? (unsigned) atoi(PQgetvalue(res, 0, 0)) : 0;
        return 0;
}

static int pg_migrate(struct pg *p, unsigned max_version) {
        unsigned version;
        int r;

        r = pg_exec(p, "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)", "creating the schema");
        if (r < 0 && r != -EEXIST) /* two hubs creating it at once */
                return r;
        r = pg_exec(p, "BEGIN; LOCK TABLE schema_version IN EXCLUSIVE MODE", "migrating the schema");
        if (r < 0)
                return r;
        r = pg_schema_version(&p->base, &version);
        if (r < 0)
                goto fail;
        if (version > STORE_SCHEMA_VERSION) {
                r = log_error_errno(EPROTO, "PostgreSQL database %s has schema version %u, newer than this hub's %u",
                                    p->display, version, STORE_SCHEMA_VERSION);
                goto fail;
        }
        for (unsigned v = version + 1; v <= max_version && v <= ELEMENTSOF(migrations); v++) {
                char sql[96];

                r = pg_exec(p, migrations[v - 1], "migrating the schema");
                if (r < 0)
                        goto fail;
                snprintf(sql, sizeof(sql), "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%u)", v);
                r = pg_exec(p, sql, "migrating the schema");
                if (r < 0)
                        goto fail;
                if (version > 0)
                        log_info("PostgreSQL database %s migrated to schema version %u", p->display, v);
        }
        return pg_exec(p, "COMMIT", "migrating the schema");
fail:
        if (p->conn)
                (void) pg_exec(p, "ROLLBACK", "rolling back a migration");
        return r;
}

/* ---- nodes and clients --------------------------------------------------- */

static void copy_text(char *dst, size_t size, const char *src) {
        snprintf(dst, size, "%s", src);
}

static void read_node(const PGresult *res, int row, struct store_node *n, int64_t *ref) {
        *ref = get_int(res, row, 0);
        if (!n)
                return;
        copy_text(n->node_id, sizeof(n->node_id), PQgetvalue(res, row, 1));
        copy_text(n->hostname, sizeof(n->hostname), PQgetvalue(res, row, 2));
        n->kind = (enum store_node_kind) get_int(res, row, 3);
        copy_text(n->machine_id, sizeof(n->machine_id), PQgetvalue(res, row, 4));
        copy_text(n->token_sha256, sizeof(n->token_sha256), PQgetvalue(res, row, 5));
        copy_text(n->cert_subject, sizeof(n->cert_subject), PQgetvalue(res, row, 6));
        n->first_seen = get_int(res, row, 7);
        n->last_seen = get_int(res, row, 8);
}

static int pg_node_upsert(struct store *s, const struct store_node *n) {
        struct params a = { 0 };

        p_text(&a, n->node_id);
        p_text(&a, n->hostname);
        p_int(&a, n->kind);
        p_text(&a, n->machine_id);
        p_text(&a, n->token_sha256);
        p_text(&a, n->cert_subject);
        p_int(&a, n->first_seen);
        p_int(&a, n->last_seen);
        return pg_run(PG(s), PS_NODE_UPSERT, &a, "storing a node", NULL);
}

static int pg_node_lookup(struct pg *p, enum stmt id, const char *key, struct store_node *ret, int64_t *ret_ref) {
        _cleanup_result_ PGresult *res = NULL;
        struct params a = { 0 };
        int r;

        p_text(&a, key);
        r = pg_run(p, id, &a, "reading a node", &res);
        if (r < 0)
                return r;
        if (PQntuples(res) == 0)
                return -ENOENT;
        read_node(res, 0, ret, ret_ref);
        return 0;
}

static int pg_node_get(struct store *s, const char *node_id, struct store_node *ret, int64_t *ret_ref) {
        return pg_node_lookup(PG(s), PS_NODE_GET, node_id, ret, ret_ref);
}

static int pg_node_by_token(struct store *s, const char *hex, struct store_node *ret) {
        int64_t ref;
        return pg_node_lookup(PG(s), PS_NODE_BY_TOKEN, hex, ret, &ref);
}

static int pg_nodes_each(struct store *s, int (*cb)(const struct store_node *n, int64_t ref, void *u), void *u) {
        _cleanup_result_ PGresult *res = NULL;
        _cleanup_free_ struct store_node *n = malloc(sizeof(*n));
        int r;

        if (!n)
                return -ENOMEM;
        r = pg_run(PG(s), PS_NODES_EACH, NULL, "listing nodes", &res);
        if (r < 0)
                return r;
        for (int i = 0; i < PQntuples(res); i++) {
                int64_t ref;

                read_node(res, i, n, &ref);
                r = cb(n, ref, u);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int pg_node_delete(struct store *s, const char *node_id) {
        struct pg *p = PG(s);
        _cleanup_result_ PGresult *res = NULL;
        struct params a = { 0 };
        int r;

        r = pg_exec(p, "BEGIN", "deleting a node");
        if (r < 0)
                return r;
        p_text(&a, node_id);
        r = pg_run(p, PS_NODE_DELETE, &a, "deleting a node", &res);
        if (r >= 0 && PQntuples(res) == 0)
                r = -ENOENT;
        if (r >= 0) {
                a = (struct params){ 0 };
                p_int(&a, get_int(res, 0, 0));
                r = pg_run(p, PS_NODE_DELETE_LATEST, &a, "deleting a node", NULL);
        }
        if (r < 0) {
                if (p->conn)
                        (void) pg_exec(p, "ROLLBACK", "rolling back");
                return r;
        }
        return pg_exec(p, "COMMIT", "deleting a node");
}

static int pg_single_int(struct pg *p, enum stmt id, const struct params *a, const char *what, int64_t *ret) {
        _cleanup_result_ PGresult *res = NULL;
        int r = pg_run(p, id, a, what, &res);

        if (r < 0)
                return r;
        if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
                return -ENODATA;
        *ret = get_int(res, 0, 0);
        return 0;
}

static int pg_node_count(struct store *s, uint64_t *ret) {
        int64_t n;
        int r = pg_single_int(PG(s), PS_NODE_COUNT, NULL, "counting nodes", &n);

        if (r < 0)
                return r;
        *ret = (uint64_t) n;
        return 0;
}

static int pg_client_get(struct store *s, const char *username, char *hash) {
        _cleanup_result_ PGresult *res = NULL;
        struct params a = { 0 };
        int r;

        p_text(&a, username);
        r = pg_run(PG(s), PS_CLIENT_GET, &a, "reading a client", &res);
        if (r < 0)
                return r;
        if (PQntuples(res) == 0)
                return -ENOENT;
        copy_text(hash, STORE_PASSWORD_HASH_MAX + 1, PQgetvalue(res, 0, 0));
        return 0;
}

static int pg_client_put(struct store *s, const char *username, const char *hash) {
        _cleanup_result_ PGresult *res = NULL;
        struct params a = { 0 };
        int r;

        p_text(&a, username);
        p_text(&a, hash);
        r = pg_run(PG(s), PS_CLIENT_PUT, &a, "storing a client", &res);
        if (r < 0)
                return r;
        return streq(PQcmdTuples(res), "1") ? 0 : -EEXIST;
}

/* ---- enroll tokens ------------------------------------------------------- */

static int pg_enroll_token_put(struct store *s, const struct store_enroll_token *t, int64_t now) {
        struct params a = { 0 };
        int r;

        p_int(&a, now);
        r = pg_run(PG(s), PS_ENROLL_EXPIRE, &a, "expiring enroll tokens", NULL);
        if (r < 0)
                return r;
        a = (struct params){ 0 };
        p_text(&a, t->token_sha256);
        p_text(&a, t->note);
        p_int(&a, t->created);
        p_int(&a, t->expires);
        return pg_run(PG(s), PS_ENROLL_PUT, &a, "storing an enroll token", NULL);
}

static int pg_changed(struct pg *p, enum stmt id, const struct params *a, const char *what) {
        _cleanup_result_ PGresult *res = NULL;
        int r = pg_run(p, id, a, what, &res);

        if (r < 0)
                return r;
        return atoi(PQcmdTuples(res));
}

static int pg_enroll_token_take(struct store *s, const char *hex, int64_t now) {
        struct params a = { 0 };
        int r;

        p_text(&a, hex);
        p_int(&a, now);
        r = pg_changed(PG(s), PS_ENROLL_TAKE, &a, "spending an enroll token");
        return r < 0 ? r : r == 1 ? 0 : -ENOENT;
}

static int pg_enroll_tokens_each(struct store *s, int64_t now, int (*cb)(const struct store_enroll_token *t, void *u),
                                 void *u) {
        _cleanup_result_ PGresult *res = NULL;
        struct store_enroll_token t;
        struct params a = { 0 };
        int r;

        p_int(&a, now);
        r = pg_run(PG(s), PS_ENROLL_EACH, &a, "listing enroll tokens", &res);
        if (r < 0)
                return r;
        for (int i = 0; i < PQntuples(res); i++) {
                copy_text(t.token_sha256, sizeof(t.token_sha256), PQgetvalue(res, i, 0));
                copy_text(t.note, sizeof(t.note), PQgetvalue(res, i, 1));
                t.created = get_int(res, i, 2);
                t.expires = get_int(res, i, 3);
                r = cb(&t, u);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int pg_enroll_token_delete(struct store *s, const char *id) {
        struct params a = { 0 };
        int r;

        p_text(&a, id);
        r = pg_changed(PG(s), PS_ENROLL_DELETE, &a, "revoking an enroll token");
        return r < 0 ? r : r > 0 ? 0 : -ENOENT;
}

/* ---- dictionaries --------------------------------------------------------- */

static int pg_dict(struct pg *p, enum stmt get, enum stmt put, int64_t node, const char *text, bool create,
                   int64_t *ret) {
        for (int attempt = 0; attempt < 2; attempt++) {
                struct params a = { 0 };
                int r;

                if (node >= 0)
                        p_int(&a, node);
                p_text(&a, text);
                r = pg_single_int(p, get, &a, "reading a dictionary", ret);
                if (r != -ENODATA)
                        return r;
                if (!create || attempt > 0)
                        break;
                r = pg_run(p, put, &a, "extending a dictionary", NULL);
                if (r < 0)
                        return r;
        }
        return -ENOENT;
}

static int pg_metric_ref(struct store *s, const char *path, bool create, int64_t *ret) {
        return pg_dict(PG(s), PS_METRIC_GET, PS_METRIC_PUT, -1, path, create, ret);
}

static int pg_stream_ref(struct store *s, int64_t node_ref, const char *name, int64_t *ret) {
        return pg_dict(PG(s), PS_STREAM_GET, PS_STREAM_PUT, node_ref, name, true, ret);
}

static int pg_layout_ref(struct store *s, uint64_t digest, const uint8_t *refs, size_t len, int64_t *ret) {
        struct pg *p = PG(s);
        struct params a = { 0 };
        int r;

        p_int(&a, (int64_t) digest);
        p_bytes(&a, refs, len);
        r = pg_single_int(p, PS_LAYOUT_FIND, &a, "reading a layout", ret);
        if (r != -ENODATA)
                return r;
        return pg_single_int(p, PS_LAYOUT_PUT, &a, "storing a layout", ret);
}

static int pg_layout_get(struct store *s, int64_t ref, struct bytes *ret) {
        _cleanup_result_ PGresult *res = NULL;
        struct params a = { 0 };
        const uint8_t *d;
        size_t len;
        int r;

        p_int(&a, ref);
        r = pg_run(PG(s), PS_LAYOUT_GET, &a, "reading a layout", &res);
        if (r < 0)
                return r;
        if (PQntuples(res) == 0)
                return log_error_errno(EBADMSG, "Layout %" PRIi64 " is missing", ref);
        d = get_bytes(res, 0, 0, &len);
        r = bytes_reserve(ret, len);
        if (r < 0)
                return r;
        memcpy(ret->p, d, len);
        ret->len = len;
        return 0;
}

/* ---- transactions --------------------------------------------------------- */

static int pg_begin(struct store *s, bool write) {
        /* A query reads one snapshot throughout. */
        return pg_exec(PG(s), write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                       "starting a transaction");
}

static int pg_end(struct store *s, bool commit) {
        struct pg *p = PG(s);

        if (!p->conn)
                return commit ? -ENOTCONN : 0;
        if (!commit && PQtransactionStatus(p->conn) == PQTRANS_IDLE)
                return 0;
        return pg_exec(p, commit ? "COMMIT" : "ROLLBACK", commit ? "committing" : "rolling back");
}

static int pg_state_get(struct store *s, const char *name, int64_t *ret) {
        struct params a = { 0 };
        int r;

        p_text(&a, name);
        r = pg_single_int(PG(s), PS_STATE_GET, &a, "reading the state", ret);
        if (r == -ENODATA) {
                *ret = 0;
                return 0;
        }
        return r;
}

static int pg_state_set(struct store *s, const char *name, int64_t value) {
        struct params a = { 0 };

        p_text(&a, name);
        p_int(&a, value);
        return pg_run(PG(s), PS_STATE_SET, &a, "writing the state", NULL);
}

static int pg_watermark(struct store *s, enum wm_lock lock, int64_t *ret) {
        struct pg *p = PG(s);
        _cleanup_result_ PGresult *res = NULL;
        int r;

        if (lock == WM_READ)
                return pg_state_get(s, "rolled_until", ret);
        r = pg_run(p, lock == WM_SHARE ? PS_WM_SHARE : PS_WM_UPDATE, NULL, "locking the rollup watermark", &res);
        if (r < 0)
                return r;
        *ret = get_int(res, 0, 1);
        return 0;
}

static int pg_watermark_set(struct store *s, int64_t wm) {
        return pg_state_set(s, "rolled_until", wm);
}

/* ---- partitions ------------------------------------------------------- */

/* samples_YYYYMMDD holds the UTC day's samples. */
static void partition_name(int64_t day, char name[static 32]) {
        time_t t = (time_t) (day * 86400);
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(name, 32, "samples_%Y%m%d", &tm);
}

static int64_t partition_day(const char *name) {
        struct tm tm = { 0 };
        const char *end = strptime(name, "samples_%Y%m%d", &tm);

        if (!end || *end)
                return -1;
        return (int64_t) timegm(&tm) / 86400;
}

static int partitions_load(struct pg *p) {
        _cleanup_result_ PGresult *res = NULL;
        int r;

        if (p->partitions_loaded)
                return 0;
        store_map_clear(p->partitions);
        r = pg_run(p, PS_PARTITIONS, NULL, "listing partitions", &res);
        if (r < 0)
                return r;
        for (int i = 0; i < PQntuples(res); i++) {
                int64_t day = partition_day(PQgetvalue(res, i, 0));

                if (day >= 0 && (r = store_map_put(p->partitions, &day, sizeof(day), 1)) < 0)
                        return r;
        }
        p->partitions_loaded = true;
        return 0;
}

static int partition_ensure(struct pg *p, int64_t day) {
        char name[32], sql[256];
        int64_t known;
        int r;

        r = partitions_load(p);
        if (r < 0)
                return r;
        if (store_map_get(p->partitions, &day, sizeof(day), &known))
                return 0;
        partition_name(day, name);
        snprintf(sql, sizeof(sql),
                 "CREATE TABLE IF NOT EXISTS %s PARTITION OF samples FOR VALUES FROM (%" PRIi64 ") TO (%" PRIi64 ")",
                 name, day * MS_PER_DAY, (day + 1) * MS_PER_DAY);
        /* Two hubs creating it at once: the loser sees it exist. */
        for (int attempt = 0;; attempt++) {
                r = pg_exec(p, sql, "creating a partition");
                if (r != -EEXIST || attempt > 0)
                        break;
        }
        if (r < 0 && r != -EEXIST)
                return r;
        return store_map_put(p->partitions, &day, sizeof(day), 1);
}

/* ---- ingest ------------------------------------------------------------- */

struct key_idx {
        int64_t stream_ref, seq;
        size_t i;
};

static int key_cmp(const void *a, const void *b) {
        const struct key_idx *x = a, *y = b;

        if (x->stream_ref != y->stream_ref)
                return x->stream_ref < y->stream_ref ? -1 : 1;
        if (x->seq != y->seq)
                return x->seq < y->seq ? -1 : 1;
        return (x->i > y->i) - (x->i < y->i);
}

/* "{1,2,3}" */
static int array_text(struct bytes *out, const int64_t *v, size_t n) {
        int r = bytes_reserve(out, n * 21 + 3);

        if (r < 0)
                return r;
        out->len = 0;
        out->p[out->len++] = '{';
        for (size_t i = 0; i < n; i++)
                out->len += (size_t) sprintf((char *) out->p + out->len, "%s%" PRIi64, i ? "," : "", v[i]);
        out->p[out->len++] = '}';
        out->p[out->len] = 0;
        return 0;
}

static void copy_u16(struct bytes *b, uint16_t v) {
        v = htobe16(v);
        memcpy(b->p + b->len, &v, 2);
        b->len += 2;
}

static void copy_u32(struct bytes *b, uint32_t v) {
        v = htobe32(v);
        memcpy(b->p + b->len, &v, 4);
        b->len += 4;
}

static void copy_i64(struct bytes *b, int64_t v) {
        uint64_t u = htobe64((uint64_t) v);

        copy_u32(b, 8);
        memcpy(b->p + b->len, &u, 8);
        b->len += 8;
}

static void copy_blob(struct bytes *b, const uint8_t *d, size_t len) {
        copy_u32(b, (uint32_t) len);
        memcpy(b->p + b->len, d, len);
        b->len += len;
}

/* The most of the COPY's data sent in one message. The server reads each
 * message whole into one buffer. Once that buffer was larger than glibc's
 * mmap threshold, glibc raises its trim threshold to twice the size, and
 * the server's backend stops handing memory back to the kernel and taking
 * it again after each hundred rows (a brk() and a TLB flush on every CPU
 * each time), which cost it a fifth of its CPU in ingest
 * (docs/performance.md, "PostgreSQL's memory"). */
#define COPY_MESSAGE_MAX (1024 * 1024)

/* buf as one message of the COPY under way, then emptied. */
static int copy_send(struct pg *p, struct bytes *buf) {
        if (PQputCopyData(p->conn, (const char *) buf->p, (int) buf->len) != 1)
                return pg_fail(p, NULL, "sending samples");
        buf->len = 0;
        return 0;
}

/* The rows chosen as new, in PostgreSQL's binary COPY format. */
static int pg_copy_rows(struct pg *p, const struct store_batch *b) {
        static const char header[] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
        _cleanup_(bytes_done) struct bytes buf = { 0 };
        _cleanup_result_ PGresult *res = NULL;
        int r;

        res = PQexec(p->conn, "COPY samples (node_ref, ts, stream_ref, seq, vals, body) FROM STDIN (FORMAT binary)");
        if (PQresultStatus(res) != PGRES_COPY_IN)
                return pg_fail(p, res, "storing samples");
        PQclear(TAKE_PTR(res));

        r = bytes_reserve(&buf, COPY_MESSAGE_MAX);
        if (r < 0)
                return r;
        memcpy(buf.p, header, sizeof(header) - 1);
        buf.len = sizeof(header) - 1;
        for (size_t i = 0; i < b->n; i++) {
                const struct batch_row *row = &b->rows[i];
                size_t size = 2 + 4 * 12 + 6 + row->vals_len + row->body_len;

                if (!b->inserted[i])
                        continue;
                if (buf.len > 0 && buf.len + size > COPY_MESSAGE_MAX && (r = copy_send(p, &buf)) < 0)
                        return r;
                r = bytes_reserve(&buf, size);
                if (r < 0)
                        return r;
                copy_u16(&buf, 6);
                copy_i64(&buf, row->node_ref);
                copy_i64(&buf, row->ts);
                copy_i64(&buf, row->stream_ref);
                copy_i64(&buf, row->seq);
                copy_blob(&buf, b->data.p + row->vals_off, row->vals_len);
                copy_blob(&buf, b->data.p + row->body_off, row->body_len);
        }
        r = bytes_reserve(&buf, 2);
        if (r < 0)
                return r;
        copy_u16(&buf, 0xffff);
        r = copy_send(p, &buf);
        if (r < 0)
                return r;
        if (PQputCopyEnd(p->conn, NULL) != 1)
                return pg_fail(p, NULL, "sending samples");
        res = PQgetResult(p->conn);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
                return pg_fail(p, res, "storing samples");
        /* Drain to the end of the COPY's results. */
        PQclear(TAKE_PTR(res));
        while ((res = PQgetResult(p->conn)))
                PQclear(TAKE_PTR(res));
        return 0;
}

static int pipe_send(struct pg *p, enum stmt id, const struct params *a) {
        char name[16];

        snprintf(name, sizeof(name), "s%d", (int) id);
        if (!PQsendQueryPrepared(p->conn, name, a->n, a->values, a->lengths, a->formats, 1))
                return pg_fail(p, NULL, "sending a statement");
        p->piped++;
        return 0;
}

/* The first of the sorted keys equal to (stream_ref, seq), whatever i. */
static struct key_idx *key_find(struct key_idx *keys, size_t n, int64_t stream_ref, int64_t seq) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (keys[mid].stream_ref < stream_ref || (keys[mid].stream_ref == stream_ref && keys[mid].seq < seq))
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < n && keys[lo].stream_ref == stream_ref && keys[lo].seq == seq ? &keys[lo] : NULL;
}

static int pg_commit_rows(struct pg *p, struct store_batch *b, int64_t now, struct store_batch_result *res_out) {
        _cleanup_(bytes_done) struct bytes t1 = { 0 }, t2 = { 0 }, t3 = { 0 };
        _cleanup_free_ struct batch_node *nodes = NULL;
        _cleanup_free_ struct key_idx *keys = NULL;
        _cleanup_free_ int64_t *ints = NULL, *streams = NULL, *maxseq = NULL;
        _cleanup_result_ PGresult *res = NULL;
        size_t n_nodes, n_streams = 0, n_keys = 0, n_probe = 0;
        struct params a;
        int64_t wm;
        int r;

        memset(b->inserted, 0, b->n * sizeof(bool));
        memset(b->forgotten, 0, b->n * sizeof(bool));
        r = pg_watermark(&p->base, WM_SHARE, &wm);
        if (r < 0)
                return r;

        /* Which nodes still exist (and they were seen now). */
        r = batch_nodes(b, &nodes, &n_nodes);
        if (r < 0)
                return r;
        ints = calloc(b->n * 3 + 1, sizeof(int64_t));
        streams = calloc(b->n + 1, sizeof(int64_t));
        maxseq = calloc(b->n + 1, sizeof(int64_t));
        keys = calloc(b->n + 1, sizeof(*keys));
        if (!ints || !streams || !maxseq || !keys)
                return -ENOMEM;
        for (size_t i = 0; i < n_nodes; i++)
                ints[i] = nodes[i].node_ref;
        r = array_text(&t1, ints, n_nodes);
        if (r < 0)
                return r;
        a = (struct params){ 0 };
        p_text(&a, (const char *) t1.p);
        r = pg_run(p, PS_NODES_ALIVE, &a, "storing samples", &res);
        if (r < 0)
                return r;
        size_t n_stale = 0;
        for (size_t i = 0; i < n_nodes; i++) {
                nodes[i].alive = false;
                for (int k = 0; k < PQntuples(res); k++)
                        if (get_int(res, k, 0) == nodes[i].node_ref) {
                                nodes[i].alive = true;
                                if (get_int(res, k, 1) < now - LAST_SEEN_SLACK)
                                        ints[n_stale++] = nodes[i].node_ref;
                        }
        }
        PQclear(TAKE_PTR(res));
        if (n_stale > 0) {
                r = array_text(&t1, ints, n_stale);
                if (r < 0)
                        return r;
                a = (struct params){ 0 };
                p_text(&a, (const char *) t1.p);
                p_int(&a, now);
                r = pg_run(p, PS_NODES_TOUCH, &a, "storing samples", NULL);
                if (r < 0)
                        return r;
        }

        /* The streams of the living nodes, locked, with their highest seq. */
        for (size_t i = 0, k = 0; i < b->n; i++) {
                const struct batch_row *row = &b->rows[i];
                size_t j;

                if (nodes[k].node_ref != row->node_ref)
                        for (k = 0; nodes[k].node_ref != row->node_ref; k++)
                                ;
                if (!nodes[k].alive) {
                        b->forgotten[i] = true;
                        res_out->forgotten++;
                        continue;
                }
                keys[n_keys++] = (struct key_idx){ row->stream_ref, row->seq, i };
                for (j = 0; j < n_streams && streams[j] != row->stream_ref; j++)
                        ;
                if (j == n_streams)
                        streams[n_streams++] = row->stream_ref;
        }
        if (n_keys == 0)
                return 0;
        r = array_text(&t1, streams, n_streams);
        if (r < 0)
                return r;
        a = (struct params){ 0 };
        p_text(&a, (const char *) t1.p);
        r = pg_run(p, PS_STREAMS_LOCK, &a, "storing samples", &res);
        if (r < 0)
                return r;
        for (size_t j = 0; j < n_streams; j++) {
                maxseq[j] = INT64_MIN;
                for (int k = 0; k < PQntuples(res); k++)
                        if (get_int(res, k, 0) == streams[j])
                                maxseq[j] = get_int(res, k, 1);
        }
        PQclear(TAKE_PTR(res));

        /* Within the batch, the first of equal keys wins. */
        qsort(keys, n_keys, sizeof(*keys), key_cmp);
        for (size_t k = 0; k < n_keys; k++)
                b->inserted[keys[k].i] = k == 0 || keys[k].stream_ref != keys[k - 1].stream_ref ||
                                         keys[k].seq != keys[k - 1].seq;

        /* At or below a stream's highest seq: maybe stored already. */
        for (size_t k = 0; k < n_keys; k++) {
                const struct batch_row *row = &b->rows[keys[k].i];
                size_t j;

                if (!b->inserted[keys[k].i])
                        continue;
                for (j = 0; streams[j] != row->stream_ref; j++)
                        ;
                if (row->seq > maxseq[j])
                        continue;
                ints[n_probe] = row->node_ref;
                ints[b->n + n_probe] = row->stream_ref;
                ints[2 * b->n + n_probe] = row->seq;
                n_probe++;
        }
        if (n_probe > 0) {
                if ((r = array_text(&t1, ints, n_probe)) < 0 || (r = array_text(&t2, ints + b->n, n_probe)) < 0 ||
                    (r = array_text(&t3, ints + 2 * b->n, n_probe)) < 0)
                        return r;
                a = (struct params){ 0 };
                p_text(&a, (const char *) t1.p);
                p_text(&a, (const char *) t2.p);
                p_text(&a, (const char *) t3.p);
                r = pg_run(p, PS_PROBE, &a, "storing samples", &res);
                if (r < 0)
                        return r;
                for (int t = 0; t < PQntuples(res); t++) {
                        int64_t stream_ref = get_int(res, t, 0), seq = get_int(res, t, 1);

                        for (struct key_idx *hit = key_find(keys, n_keys, stream_ref, seq);
                             hit && hit < keys + n_keys && hit->stream_ref == stream_ref && hit->seq == seq; hit++)
                                b->inserted[hit->i] = false;
                }
                PQclear(TAKE_PTR(res));
        }
        for (size_t k = 0; k < n_keys; k++) {
                if (b->inserted[keys[k].i])
                        res_out->acked++;
                else
                        res_out->duplicates++;
        }
        if (res_out->acked == 0)
                return 0;

        r = pg_copy_rows(p, b);
        if (r < 0)
                return r;

        /* The rest in one pipeline: stream highs, latest rows, pending
         * rollups. Errors surface when reading back. */
        free(nodes);
        nodes = NULL;
        r = batch_nodes(b, &nodes, &n_nodes);
        if (r < 0)
                return r;
        if ((r = pg_prepare(p, PS_STREAMS_MAX)) < 0 || (r = pg_prepare(p, PS_LATEST_PUT)) < 0 ||
            (r = pg_prepare(p, PS_PENDING_MARK)) < 0)
                return r;
        if (!PQenterPipelineMode(p->conn))
                return pg_fail(p, NULL, "entering pipeline mode");
        p->pipelining = true;
        p->piped = 0;
        for (size_t j = 0; r >= 0 && j < n_streams; j++) {
                int64_t high = INT64_MIN;

                for (size_t k = 0; k < n_keys; k++)
                        if (keys[k].stream_ref == streams[j] && b->inserted[keys[k].i] && keys[k].seq > high)
                                high = keys[k].seq;
                if (high <= maxseq[j])
                        continue;
                a = (struct params){ 0 };
                p_int(&a, streams[j]);
                p_int(&a, high);
                r = pipe_send(p, PS_STREAMS_MAX, &a);
        }
        for (size_t i = 0; r >= 0 && i < n_nodes; i++) {
                const struct batch_row *row;

                if (nodes[i].latest < 0)
                        continue;
                row = &b->rows[nodes[i].latest];
                a = (struct params){ 0 };
                p_int(&a, row->node_ref);
                p_int(&a, row->ts);
                p_int(&a, row->stream_ref);
                p_int(&a, row->seq);
                p_bytes(&a, b->data.p + row->plain_off, row->plain_len);
                r = pipe_send(p, PS_LATEST_PUT, &a);
        }
        if (r >= 0)
                r = batch_mark_pending(&p->base, b, wm);
        if (r >= 0 && !PQsendQueryParams(p->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0))
                r = pg_fail(p, NULL, "committing samples");
        if (r >= 0)
                p->piped++;
        p->pipelining = false;
        if (r >= 0 && !PQpipelineSync(p->conn))
                r = pg_fail(p, NULL, "committing samples");
        if (r < 0) {
                pg_drop(p); /* a half-sent pipeline: start afresh */
                return r;
        }

        /* Every statement's result, then the sync. The first failure is the
         * error; the server skips the rest, COMMIT included. */
        int first_error = 0;
        for (unsigned k = 0; k < p->piped; k++) {
                res = PQgetResult(p->conn);
                if (!res) {
                        first_error = first_error ?: pg_fail(p, NULL, "committing samples");
                        break;
                }
                ExecStatusType st = PQresultStatus(res);
                if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !first_error)
                        first_error = pg_fail(p, res, "committing samples");
                PQclear(TAKE_PTR(res));
                /* NULL ends each statement's results. */
                while (p->conn && (res = PQgetResult(p->conn)))
                        PQclear(TAKE_PTR(res));
                if (!p->conn)
                        break;
        }
        if (p->conn) {
                res = PQgetResult(p->conn);
                if (PQresultStatus(res) != PGRES_PIPELINE_SYNC && !first_error)
                        first_error = pg_fail(p, res, "committing samples");
                PQclear(TAKE_PTR(res));
                if (p->conn && !PQexitPipelineMode(p->conn))
                        pg_drop(p);
        }
        if (first_error)
                return first_error;
        return 1; /* committed */
}

static int pg_commit(struct store *s, struct store_batch *b, int64_t now, struct store_batch_result *ret) {
        struct pg *p = PG(s);
        int r;

        /* Partitions first: DDL outside the batch's transaction. */
        for (size_t i = 0; i < b->n; i++) {
                int64_t day = floor_to(b->rows[i].ts, MS_PER_DAY) / MS_PER_DAY;

                if (i > 0 && day == floor_to(b->rows[i - 1].ts, MS_PER_DAY) / MS_PER_DAY)
                        continue;
                r = partition_ensure(p, day);
                if (r < 0)
                        return r;
        }

        for (int attempt = 0;; attempt++) {
                struct store_batch_result res = { 0 };

                r = pg_exec(p, "BEGIN", "storing samples");
                if (r < 0)
                        return r;
                r = pg_commit_rows(p, b, now, &res);
                if (r == 0) /* nothing new: commit the touches */
                        r = pg_exec(p, "COMMIT", "committing samples");
                if (r >= 0) {
                        *ret = res;
                        return 0;
                }
                if (p->conn && PQtransactionStatus(p->conn) != PQTRANS_IDLE)
                        (void) pg_exec(p, "ROLLBACK", "rolling back");
                /* Another hub dropped a partition this one thought existed:
                 * list them again and retry once. */
                if (r != -EIO || attempt > 0 || !p->conn)
                        return r;
                p->partitions_loaded = false;
                for (size_t i = 0; i < b->n; i++) {
                        r = partition_ensure(p, floor_to(b->rows[i].ts, MS_PER_DAY) / MS_PER_DAY);
                        if (r < 0)
                                return r;
                }
        }
}

/* ---- reads -------------------------------------------------------------- */

static void read_row(const PGresult *res, int i, bool body, struct raw_row *row) {
        *row = (struct raw_row){
                .ts = get_int(res, i, 0),
                .stream_ref = get_int(res, i, 1),
                .seq = get_int(res, i, 2),
        };
        row->vals = get_bytes(res, i, 3, &row->vals_len);
        if (body)
                row->body = get_bytes(res, i, 4, &row->body_len);
}

/* Pages of PAGE_ROWS by key, so a year of samples is never one result in
 * memory and the callback may run other statements. */
static int pg_rows_each(struct store *s, int64_t node_ref, int64_t start, int64_t end, bool body, raw_row_cb cb,
                        void *u) {
        struct pg *p = PG(s);
        struct raw_row last = { 0 };
        bool first = true;

        for (;;) {
                _cleanup_result_ PGresult *res = NULL;
                struct params a = { 0 };
                int r, n;

                p_int(&a, node_ref);
                p_int(&a, first ? start : last.ts);
                p_int(&a, end);
                if (!first) {
                        p_int(&a, last.stream_ref);
                        p_int(&a, last.seq);
                }
                r = pg_run(p, body ? (first ? PS_ROWS_BODY_FIRST : PS_ROWS_BODY_NEXT) : (first ? PS_ROWS_FIRST : PS_ROWS_NEXT),
                           &a, "reading samples", &res);
                if (r < 0)
                        return r;
                n = PQntuples(res);
                for (int i = 0; i < n; i++) {
                        read_row(res, i, body, &last);
                        r = cb(&last, u);
                        if (r != 0)
                                return r;
                }
                if (n < PAGE_ROWS)
                        return 0;
                first = false;
        }
}

static int pg_one_row(struct pg *p, enum stmt id, int64_t node_ref, int64_t at, raw_row_cb cb, void *u) {
        _cleanup_result_ PGresult *res = NULL;
        struct params a = { 0 };
        struct raw_row row;
        int r;

        p_int(&a, node_ref);
        if (id == PS_ROW_AT)
                p_int(&a, at);
        r = pg_run(p, id, &a, "reading a sample", &res);
        if (r < 0)
                return r;
        if (PQntuples(res) == 0)
                return -ENOENT;
        read_row(res, 0, true, &row);
        return cb(&row, u);
}

static int pg_row_at(struct store *s, int64_t node_ref, int64_t at, raw_row_cb cb, void *u) {
        return pg_one_row(PG(s), PS_ROW_AT, node_ref, at, cb, u);
}

static int pg_latest(struct store *s, int64_t node_ref, raw_row_cb cb, void *u) {
        return pg_one_row(PG(s), PS_LATEST, node_ref, 0, cb, u);
}

static int pg_latest_each(struct store *s, int (*cb)(const char *node_id, const struct raw_row *r, void *u),
                          void *u) {
        _cleanup_result_ PGresult *res = NULL;
        int r = pg_run(PG(s), PS_LATEST_EACH, NULL, "reading the latest samples", &res);

        if (r < 0)
                return r;
        for (int i = 0; i < PQntuples(res); i++) {
                struct raw_row row = {
                        .ts = get_int(res, i, 1),
                        .stream_ref = get_int(res, i, 2),
                        .seq = get_int(res, i, 3),
                };

                row.body = get_bytes(res, i, 4, &row.body_len);
                r = cb(PQgetvalue(res, i, 0), &row, u);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int pg_time_bounds(struct store *s, int64_t node_ref, int64_t *first, int64_t *last) {
        _cleanup_result_ PGresult *res = NULL;
        struct params a = { 0 };
        int r;

        p_int(&a, node_ref);
        r = pg_run(PG(s), PS_TIME_BOUNDS, &a, "reading time bounds", &res);
        if (r < 0)
                return r;
        if (PQgetisnull(res, 0, 0))
                return -ENODATA;
        *first = get_int(res, 0, 0);
        *last = get_int(res, 0, 1);
        return 0;
}

static int pg_chunks_each(struct store *s, int64_t node_ref, int64_t metric_ref, int res_, int64_t from, int64_t to,
                          int (*cb)(int64_t start, const uint8_t *data, size_t len, void *u), void *u) {
        _cleanup_result_ PGresult *res = NULL;
        struct params a = { 0 };
        int r;

        p_int(&a, node_ref);
        p_int(&a, metric_ref);
        p_int(&a, res_);
        p_int(&a, from);
        p_int(&a, to);
        r = pg_run(PG(s), PS_CHUNKS, &a, "reading rollups", &res);
        if (r < 0)
                return r;
        for (int i = 0; i < PQntuples(res); i++) {
                size_t len;
                const uint8_t *d = get_bytes(res, i, 1, &len);

                r = cb(get_int(res, i, 0), d, len, u);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int pg_pending_each(struct store *s, int64_t node_ref, int64_t from, int64_t to,
                           int (*cb)(int res, int64_t start, void *u), void *u) {
        _cleanup_result_ PGresult *res = NULL;
        struct params a = { 0 };
        int r;

        p_int(&a, node_ref);
        p_int(&a, from);
        p_int(&a, to);
        r = pg_run(PG(s), PS_PENDING_EACH, &a, "reading pending rollups", &res);
        if (r < 0)
                return r;
        for (int i = 0; i < PQntuples(res); i++) {
                r = cb((int) get_int(res, i, 0), get_int(res, i, 1), u);
                if (r != 0)
                        return r;
        }
        return 0;
}

/* ---- maintenance -------------------------------------------------------- */

static int pg_deleted_nodes_each(struct store *s, int (*cb)(int64_t ref, void *u), void *u) {
        _cleanup_result_ PGresult *res = NULL;
        int r = pg_run(PG(s), PS_DELETED_EACH, NULL, "listing deleted nodes", &res);

        if (r < 0)
                return r;
        for (int i = 0; i < PQntuples(res); i++) {
                r = cb(get_int(res, i, 0), u);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int pg_pending_mark(struct store *s, int64_t node_ref, int res, int64_t start) {
        struct pg *p = PG(s);
        struct params a = { 0 };

        p_int(&a, node_ref);
        p_int(&a, res);
        p_int(&a, start);
        if (p->pipelining)
                return pipe_send(p, PS_PENDING_MARK, &a);
        return pg_run(p, PS_PENDING_MARK, &a, "marking a rollup", NULL);
}

static int pg_pending_next(struct store *s, int64_t wm, struct pending *ret) {
        static const int order[] = { RES_MINUTE, RES_HOUR };

        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                _cleanup_result_ PGresult *res = NULL;
                struct params a = { 0 };
                int r;

                p_int(&a, order[i]);
                p_int(&a, wm - res_chunk_ms(order[i]));
                r = pg_run(PG(s), PS_PENDING_NEXT, &a, "reading pending rollups", &res);
                if (r < 0)
                        return r;
                if (PQntuples(res) > 0) {
                        *ret = (struct pending){
                                .node_ref = get_int(res, 0, 0),
                                .res = (int) get_int(res, 0, 1),
                                .start = get_int(res, 0, 2),
                                .gen = get_int(res, 0, 3),
                        };
                        return 0;
                }
        }
        return -ENODATA;
}

static int pg_pending_done(struct store *s, const struct pending *pd) {
        struct params a = { 0 };

        p_int(&a, pd->node_ref);
        p_int(&a, pd->res);
        p_int(&a, pd->start);
        p_int(&a, pd->gen);
        return pg_run(PG(s), PS_PENDING_DONE, &a, "finishing a rollup", NULL);
}

static int pg_pending_oldest(struct store *s, int64_t *ret) {
        return pg_single_int(PG(s), PS_PENDING_OLDEST, NULL, "reading pending rollups", ret);
}

static int pg_chunk_put(struct store *s, int64_t node_ref, int64_t metric_ref, int res, int64_t start,
                        const uint8_t *data, size_t len) {
        struct params a = { 0 };

        p_int(&a, node_ref);
        p_int(&a, metric_ref);
        p_int(&a, res);
        p_int(&a, start);
        p_bytes(&a, data, len);
        return pg_run(PG(s), PS_CHUNK_PUT, &a, "storing a rollup", NULL);
}

/* Today's and tomorrow's partitions made ahead, so that the turn of the
 * day waits for no DDL in a commit. */
static int pg_housekeeping(struct store *s, int64_t now) {
        struct pg *p = PG(s);
        int64_t today = floor_to(now, MS_PER_DAY) / MS_PER_DAY;
        int r;

        for (int64_t d = today; d <= today + 1; d++)
                if ((r = partition_ensure(p, d)) < 0)
                        return r;
        return 0;
}

/* Whole days: a partition goes once its day ends at or before `before`. */
static int pg_expire_raw(struct store *s, int64_t before, unsigned max_rows) {
        struct pg *p = PG(s);
        _cleanup_result_ PGresult *res = NULL;
        int dropped = 0, r;

        r = pg_run(p, PS_PARTITIONS, NULL, "listing partitions", &res);
        if (r < 0)
                return r;
        for (int i = 0; i < PQntuples(res); i++) {
                const char *name = PQgetvalue(res, i, 0);
                int64_t day = partition_day(name);
                char sql[64];

                if (day < 0 || (day + 1) * MS_PER_DAY > before)
                        continue;
                if (dropped == DROP_MAX)
                        return 1;
                snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", name);
                r = pg_exec(p, sql, "expiring samples");
                if (r < 0)
                        return r;
                store_map_remove(p->partitions, &day, sizeof(day));
                dropped++;
        }
        return 0;
}

static int pg_delete_step(struct pg *p, enum stmt id, int64_t key, unsigned max_rows, const char *what) {
        struct params a = { 0 };

        p_int(&a, key);
        p_int(&a, max_rows);
        return pg_changed(p, id, &a, what);
}

static int pg_expire_rollups(struct store *s, int64_t before, unsigned max_rows) {
        int r = pg_delete_step(PG(s), PS_EXPIRE_ROLLUPS, before, max_rows, "expiring rollups");
        return r < 0 ? r : (unsigned) r >= max_rows;
}

static int pg_purge_node(struct store *s, int64_t node_ref, unsigned max_rows) {
        static const enum stmt rest[] = { PS_PURGE_PENDING, PS_PURGE_STREAMS, PS_PURGE_LATEST, PS_PURGE_NODE };
        struct pg *p = PG(s);
        int r;

        r = pg_delete_step(p, PS_PURGE_SAMPLES, node_ref, max_rows, "erasing a deleted node");
        if (r != 0)
                return r;
        r = pg_delete_step(p, PS_PURGE_ROLLUPS, node_ref, max_rows, "erasing a deleted node");
        if (r != 0)
                return r;
        r = pg_exec(p, "BEGIN", "erasing a deleted node");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(rest); i++) {
                struct params a = { 0 };

                p_int(&a, node_ref);
                r = pg_run(p, rest[i], &a, "erasing a deleted node", NULL);
        }
        return pg_end(s, r >= 0) < 0 ? -EIO : r < 0 ? r : 0;
}

/* ---- handle ------------------------------------------------------------- */

static int pg_ping(struct store *s) {
        return pg_run(PG(s), PS_PING, NULL, "pinging", NULL);
}

static int pg_size_bytes(struct store *s, uint64_t *ret) {
        int64_t n;
        int r = pg_single_int(PG(s), PS_SIZE, NULL, "measuring the database", &n);

        if (r < 0)
                return r;
        *ret = (uint64_t) n;
        return 0;
}

static void pg_close(struct store *s) {
        struct pg *p = PG(s);

        pg_drop(p);
        store_map_free(p->partitions);
        store_done(&p->base);
        free(p->url);
        free(p->display);
        free(p);
}

static const struct store_ops pg_ops = {
        .name = "postgresql",
        .close = pg_close,
        .ping = pg_ping,
        .schema_version = pg_schema_version,
        .size_bytes = pg_size_bytes,
        .node_upsert = pg_node_upsert,
        .node_get = pg_node_get,
        .node_by_token = pg_node_by_token,
        .nodes_each = pg_nodes_each,
        .node_delete = pg_node_delete,
        .node_count = pg_node_count,
        .client_get = pg_client_get,
        .client_put = pg_client_put,
        .enroll_token_put = pg_enroll_token_put,
        .enroll_token_take = pg_enroll_token_take,
        .enroll_tokens_each = pg_enroll_tokens_each,
        .enroll_token_delete = pg_enroll_token_delete,
        .metric_ref = pg_metric_ref,
        .stream_ref = pg_stream_ref,
        .layout_ref = pg_layout_ref,
        .layout_get = pg_layout_get,
        .commit = pg_commit,
        .rows_each = pg_rows_each,
        .row_at = pg_row_at,
        .latest = pg_latest,
        .latest_each = pg_latest_each,
        .time_bounds = pg_time_bounds,
        .chunks_each = pg_chunks_each,
        .pending_each = pg_pending_each,
        .begin = pg_begin,
        .end = pg_end,
        .watermark = pg_watermark,
        .watermark_set = pg_watermark_set,
        .deleted_nodes_each = pg_deleted_nodes_each,
        .state_get = pg_state_get,
        .state_set = pg_state_set,
        .pending_mark = pg_pending_mark,
        .pending_next = pg_pending_next,
        .pending_done = pg_pending_done,
        .chunk_put = pg_chunk_put,
        .expire_raw = pg_expire_raw,
        .expire_rollups = pg_expire_rollups,
        .purge_node = pg_purge_node,
        .pending_oldest = pg_pending_oldest,
        .housekeeping = pg_housekeeping,
};

/* The URL without its password, for messages. */
static char *display_url(const char *url) {
        PQconninfoOption *opts = PQconninfoParse(url, NULL);
        char *out = NULL;
        const char *host = NULL, *db = NULL, *user = NULL;

        for (PQconninfoOption *o = opts; o && o->keyword; o++) {
                if (streq(o->keyword, "host"))
                        host = o->val;
                else if (streq(o->keyword, "dbname"))
                        db = o->val;
                else if (streq(o->keyword, "user"))
                        user = o->val;
        }
        if (asprintf(&out, "%s%s%s/%s", user ? user : "", user ? "@" : "", host ? host : "localhost",
                     db ? db : "") < 0)
                out = NULL;
        PQconninfoFree(opts);
        return out;
}

int store_open_pg(const char *url, unsigned max_version, struct store **ret) {
        struct pg *p = calloc(1, sizeof(*p));
        char *err = NULL;
        PQconninfoOption *check;
        int r;

        if (!p)
                return -ENOMEM;
        r = store_init(&p->base, &pg_ops);
        if (r < 0)
                goto fail;
        check = PQconninfoParse(url, &err);
        if (!check) {
                r = log_error_errno(EINVAL, "Bad PostgreSQL URL in [hub] database: %s", err ? err : "out of memory");
                PQfreemem(err);
                goto fail;
        }
        PQconninfoFree(check);
        p->url = strdup(url);
        p->display = display_url(url);
        p->partitions = store_map_new();
        if (!p->url || !p->display || !p->partitions) {
                r = -ENOMEM;
                goto fail;
        }
        r = pg_connected(p);
        if (r < 0) {
                r = log_error_errno(ENOTCONN, "Cannot reach PostgreSQL %s", p->display);
                goto fail;
        }
        r = pg_migrate(p, max_version);
        if (r < 0)
                goto fail;
        *ret = &p->base;
        return 0;
fail:
        pg_close(&p->base);
        return r;
}
