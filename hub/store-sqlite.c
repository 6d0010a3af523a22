/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "grow.h"
#include "log.h"
#include "macro.h"
#include "store-backend.h"

/* The SQLite back end (docs/fleet.md, "Storage"): one file in the state
 * directory, WAL so that readers never wait for the writer, one writer at a
 * time taking the lock up front (BEGIN IMMEDIATE: a transaction that starts
 * reading and later writes could otherwise fail with SQLITE_BUSY half-way),
 * and synchronous=FULL: a commit that returned survives a power cut, not
 * only a crash of the hub (NORMAL in WAL mode only guarantees the latter).
 * The writer's handle commits with NORMAL instead (store_defer_sync()): the
 * hub acknowledges its pushes only once store_sync() has synced the WAL,
 * which another thread does while the writer prepares its next transaction.
 * Grouped commits pay that fsync once for many samples. */

#define BUSY_TIMEOUT_MS 5000
/* The WAL is copied back into the database (a checkpoint) off the commit
 * path: once a commit leaves WAL_HANDOFF_PAGES in it, the writer asks for a
 * checkpoint on the reader's handle (store_checkpoint_wanted()), which runs
 * beside the commits that follow; store_maintain() also checkpoints every
 * few seconds. Only a WAL grown to WAL_CHECKPOINT_PAGES is checkpointed by
 * the commit itself, as SQLite's autocheckpoint would, and then little is
 * left to copy: the WAL starts over once all of it is back in the
 * database, which needs a moment without a commit under way. */
#define WAL_HANDOFF_PAGES 4096
#define WAL_CHECKPOINT_PAGES 8192

enum stmt {
        ST_NODE_UPSERT,
        ST_NODE_GET,
        ST_NODE_BY_TOKEN,
        ST_NODES_EACH,
        ST_NODE_DELETE,
        ST_NODE_DELETE_LATEST,
        ST_NODE_COUNT,
        ST_NODE_ALIVE,
        ST_NODE_TOUCH,
        ST_CLIENT_GET,
        ST_CLIENT_PUT,
        ST_ENROLL_EXPIRE,
        ST_ENROLL_PUT,
        ST_ENROLL_TAKE,
        ST_ENROLL_EACH,
        ST_ENROLL_DELETE,
        ST_METRIC_GET,
        ST_METRIC_PUT,
        ST_STREAM_GET,
        ST_STREAM_PUT,
        ST_LAYOUT_FIND,
        ST_LAYOUT_PUT,
        ST_LAYOUT_GET,
        ST_SAMPLE_PUT,
        ST_LATEST_PUT,
        ST_ROWS,
        ST_ROWS_BODY,
        ST_ROW_AT,
        ST_LATEST,
        ST_LATEST_EACH,
        ST_TIME_BOUNDS,
        ST_CHUNKS,
        ST_PENDING_EACH,
        ST_STATE_GET,
        ST_STATE_SET,
        ST_DELETED_EACH,
        ST_PENDING_MARK,
        ST_PENDING_NEXT,
        ST_PENDING_DONE,
        ST_PENDING_OLDEST,
        ST_CHUNK_PUT,
        ST_EXPIRE_RAW_NODES,
        ST_EXPIRE_RAW,
        ST_EXPIRE_ROLLUPS,
        ST_PURGE_SAMPLES,
        ST_PURGE_ROLLUPS,
        ST_PURGE_REST,
        _ST_MAX,
};

/* Rows of one node in (ts, stream, seq) order come straight off the primary
 * key; (node_ref, stream_ref, seq) is the identity that deduplicates. */
static const char *const stmt_sql[_ST_MAX] = {
        [ST_NODE_UPSERT] =
                "INSERT INTO nodes (node_id, hostname, kind, machine_id, token_sha256, cert_subject, first_seen, last_seen)"
                " VALUES (?1, ?2, ?3, ?4, nullif(?5, ''), ?6, ?7, ?8)"
                " ON CONFLICT (node_id) DO UPDATE SET hostname = excluded.hostname, kind = excluded.kind,"
                " machine_id = excluded.machine_id, token_sha256 = excluded.token_sha256,"
                " cert_subject = excluded.cert_subject, first_seen = min(first_seen, excluded.first_seen),"
                " last_seen = max(last_seen, excluded.last_seen)",
        [ST_NODE_GET] = "SELECT node_ref, node_id, hostname, kind, machine_id, coalesce(token_sha256, ''), cert_subject,"
                        " first_seen, last_seen FROM nodes WHERE node_id = ?1",
        [ST_NODE_BY_TOKEN] = "SELECT node_ref, node_id, hostname, kind, machine_id, coalesce(token_sha256, ''),"
                             " cert_subject, first_seen, last_seen FROM nodes WHERE token_sha256 = ?1",
        [ST_NODES_EACH] = "SELECT node_ref, node_id, hostname, kind, machine_id, coalesce(token_sha256, ''), cert_subject,"
                          " first_seen, last_seen FROM nodes WHERE node_id IS NOT NULL ORDER BY node_id",
        [ST_NODE_DELETE] = "UPDATE nodes SET node_id = NULL, token_sha256 = NULL, deleted = 1 WHERE node_id = ?1"
                           " RETURNING node_ref",
        [ST_NODE_DELETE_LATEST] = "DELETE FROM latest WHERE node_ref = ?1",
        [ST_NODE_COUNT] = "SELECT count(*) FROM nodes WHERE node_id IS NOT NULL",
        [ST_NODE_ALIVE] = "SELECT last_seen FROM nodes WHERE node_ref = ?1 AND deleted = 0",
        [ST_NODE_TOUCH] = "UPDATE nodes SET last_seen = max(last_seen, ?2) WHERE node_ref = ?1",
        [ST_CLIENT_GET] = "SELECT hash FROM clients WHERE username = ?1",
        [ST_CLIENT_PUT] = "INSERT INTO clients (username, hash) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        [ST_ENROLL_EXPIRE] = "DELETE FROM enroll_tokens WHERE expires <= ?1",
        [ST_ENROLL_PUT] = "INSERT INTO enroll_tokens (token_sha256, note, created, expires) VALUES (?1, ?2, ?3, ?4)",
        [ST_ENROLL_TAKE] = "DELETE FROM enroll_tokens WHERE token_sha256 = ?1 AND expires > ?2",
        [ST_ENROLL_EACH] = "SELECT token_sha256, note, created, expires FROM enroll_tokens WHERE expires > ?1"
                           " ORDER BY created, token_sha256",
        [ST_ENROLL_DELETE] = "DELETE FROM enroll_tokens WHERE substr(token_sha256, 1, 16) = ?1",
        [ST_METRIC_GET] = "SELECT metric_ref FROM metrics WHERE path = ?1",
        [ST_METRIC_PUT] = "INSERT INTO metrics (path) VALUES (?1) ON CONFLICT DO NOTHING",
        [ST_STREAM_GET] = "SELECT stream_ref FROM streams WHERE node_ref = ?1 AND name = ?2",
        [ST_STREAM_PUT] = "INSERT INTO streams (node_ref, name) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        [ST_LAYOUT_FIND] = "SELECT layout_ref FROM layouts WHERE digest = ?1 AND refs = ?2",
        [ST_LAYOUT_PUT] = "INSERT INTO layouts (digest, refs) VALUES (?1, ?2)",
        [ST_LAYOUT_GET] = "SELECT refs FROM layouts WHERE layout_ref = ?1",
        [ST_SAMPLE_PUT] = "INSERT OR IGNORE INTO samples (node_ref, ts, stream_ref, seq, vals, body)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        [ST_LATEST_PUT] =
                "INSERT INTO latest (node_ref, ts, stream_ref, seq, body) VALUES (?1, ?2, ?3, ?4, ?5)"
                " ON CONFLICT (node_ref) DO UPDATE SET ts = excluded.ts, stream_ref = excluded.stream_ref,"
                " seq = excluded.seq, body = excluded.body"
                " WHERE (excluded.ts, excluded.stream_ref, excluded.seq) > (latest.ts, latest.stream_ref, latest.seq)",
        [ST_ROWS] = "SELECT ts, stream_ref, seq, vals FROM samples WHERE node_ref = ?1 AND ts >= ?2 AND ts < ?3"
                    " ORDER BY ts, stream_ref, seq",
        [ST_ROWS_BODY] = "SELECT ts, stream_ref, seq, vals, body FROM samples"
                         " WHERE node_ref = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts, stream_ref, seq",
        [ST_ROW_AT] = "SELECT ts, stream_ref, seq, vals, body FROM samples WHERE node_ref = ?1 AND ts <= ?2"
                      " ORDER BY ts DESC, stream_ref DESC, seq DESC LIMIT 1",
        [ST_LATEST] = "SELECT ts, stream_ref, seq, x'', body FROM latest WHERE node_ref = ?1",
        [ST_LATEST_EACH] = "SELECT n.node_id, l.ts, l.stream_ref, l.seq, l.body FROM latest l"
                           " JOIN nodes n ON n.node_ref = l.node_ref WHERE n.node_id IS NOT NULL ORDER BY n.node_id",
        [ST_TIME_BOUNDS] = "SELECT min(ts), max(ts) FROM samples WHERE node_ref = ?1",
        [ST_CHUNKS] = "SELECT start, data FROM rollups WHERE node_ref = ?1 AND metric_ref = ?2 AND res = ?3"
                      " AND start >= ?4 AND start < ?5 ORDER BY start",
        [ST_PENDING_EACH] = "SELECT res, start FROM rollup_pending WHERE node_ref = ?1 AND start >= ?2 AND start < ?3",
        [ST_STATE_GET] = "SELECT value FROM state WHERE name = ?1",
        [ST_STATE_SET] = "INSERT INTO state (name, value) VALUES (?1, ?2)"
                         " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [ST_DELETED_EACH] = "SELECT node_ref FROM nodes WHERE deleted = 1 ORDER BY node_ref",
        [ST_PENDING_MARK] = "INSERT INTO rollup_pending (node_ref, res, start) VALUES (?1, ?2, ?3)"
                            " ON CONFLICT DO UPDATE SET gen = gen + 1",
        [ST_PENDING_NEXT] = "SELECT node_ref, res, start, gen FROM rollup_pending WHERE res = ?1 AND start <= ?2"
                            " ORDER BY start LIMIT 1",
        [ST_PENDING_DONE] = "DELETE FROM rollup_pending WHERE node_ref = ?1 AND res = ?2 AND start = ?3 AND gen = ?4",
        [ST_PENDING_OLDEST] = "SELECT min(start) FROM rollup_pending WHERE res = ?1",
        [ST_CHUNK_PUT] = "INSERT INTO rollups (node_ref, metric_ref, res, start, data) VALUES (?1, ?2, ?3, ?4, ?5)"
                         " ON CONFLICT DO UPDATE SET data = excluded.data",
        [ST_EXPIRE_RAW_NODES] = "SELECT node_ref FROM nodes WHERE node_ref > ?1 ORDER BY node_ref LIMIT 1",
        /* Whole timestamps at a time, the oldest first: at most about ?3
         * rows, never a long lock. */
        [ST_EXPIRE_RAW] = "DELETE FROM samples WHERE node_ref = ?1 AND ts < min(?2, coalesce((SELECT ts FROM samples"
                          " WHERE node_ref = ?1 ORDER BY ts LIMIT 1 OFFSET ?3), ?2))",
        [ST_EXPIRE_ROLLUPS] = "DELETE FROM rollups WHERE rowid IN (SELECT rowid FROM rollups WHERE start < ?1 LIMIT ?2)",
        [ST_PURGE_SAMPLES] = "DELETE FROM samples WHERE node_ref = ?1 AND ts <= coalesce((SELECT ts FROM samples"
                             " WHERE node_ref = ?1 ORDER BY ts LIMIT 1 OFFSET ?2), (SELECT max(ts) FROM samples"
                             " WHERE node_ref = ?1))",
        [ST_PURGE_ROLLUPS] = "DELETE FROM rollups WHERE rowid IN (SELECT rowid FROM rollups WHERE node_ref = ?1"
                             " LIMIT ?2)",
        [ST_PURGE_REST] = "DELETE FROM rollup_pending WHERE node_ref = ?1;"
                          " DELETE FROM streams WHERE node_ref = ?1;"
                          " DELETE FROM latest WHERE node_ref = ?1;"
                          " DELETE FROM nodes WHERE node_ref = ?1",
};

/* Migrations, applied in order, each in the transaction that records the
 * new version; both back ends have the same versions with the same tables. */
static const char *const migrations[] = {
        /* 1: nodes, registrations, dictionaries and raw samples. */
        "CREATE TABLE nodes ("
        " node_ref INTEGER PRIMARY KEY AUTOINCREMENT,"
        " node_id TEXT UNIQUE," /* NULL once deleted, while its data is erased */
        " hostname TEXT NOT NULL,"
        " kind INTEGER NOT NULL,"
        " machine_id TEXT NOT NULL,"
        " token_sha256 TEXT UNIQUE,"
        " cert_subject TEXT NOT NULL,"
        " first_seen INTEGER NOT NULL,"
        " last_seen INTEGER NOT NULL,"
        " deleted INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE clients (username TEXT PRIMARY KEY, hash TEXT NOT NULL);"
        "CREATE TABLE streams ("
        " stream_ref INTEGER PRIMARY KEY AUTOINCREMENT,"
        " node_ref INTEGER NOT NULL,"
        " name TEXT NOT NULL,"
        " max_seq INTEGER,"
        " UNIQUE (node_ref, name));"
        "CREATE TABLE metrics (metric_ref INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL UNIQUE);"
        "CREATE TABLE layouts (layout_ref INTEGER PRIMARY KEY AUTOINCREMENT, digest INTEGER NOT NULL,"
        " refs BLOB NOT NULL);"
        "CREATE INDEX layouts_digest ON layouts (digest);"
        "CREATE TABLE samples ("
        " node_ref INTEGER NOT NULL,"
        " ts INTEGER NOT NULL,"
        " stream_ref INTEGER NOT NULL,"
        " seq INTEGER NOT NULL,"
        " vals BLOB NOT NULL,"
        " body BLOB NOT NULL,"
        " PRIMARY KEY (node_ref, ts, stream_ref, seq)) WITHOUT ROWID;"
        "CREATE UNIQUE INDEX samples_key ON samples (node_ref, stream_ref, seq);",

        /* 2: the latest sample per node, rollups and their bookkeeping. What
         * version 1 stored is rolled up by the next maintenance. */
        "CREATE TABLE latest ("
        " node_ref INTEGER PRIMARY KEY,"
        " ts INTEGER NOT NULL,"
        " stream_ref INTEGER NOT NULL,"
        " seq INTEGER NOT NULL,"
        " body BLOB NOT NULL);"
        "INSERT INTO latest (node_ref, ts, stream_ref, seq, body)"
        " SELECT s.node_ref, s.ts, s.stream_ref, s.seq, s.body FROM nodes n JOIN samples s ON s.node_ref = n.node_ref"
        " WHERE (s.ts, s.stream_ref, s.seq) = (SELECT ts, stream_ref, seq FROM samples t"
        " WHERE t.node_ref = n.node_ref ORDER BY ts DESC, stream_ref DESC, seq DESC LIMIT 1);"
        "CREATE TABLE rollups ("
        " node_ref INTEGER NOT NULL,"
        " metric_ref INTEGER NOT NULL,"
        " res INTEGER NOT NULL,"
        " start INTEGER NOT NULL,"
        " data BLOB NOT NULL,"
        " UNIQUE (node_ref, metric_ref, res, start));"
        "CREATE INDEX rollups_start ON rollups (start);"
        "CREATE TABLE rollup_pending ("
        " node_ref INTEGER NOT NULL,"
        " res INTEGER NOT NULL,"
        " start INTEGER NOT NULL,"
        " gen INTEGER NOT NULL DEFAULT 0,"
        " PRIMARY KEY (node_ref, res, start));"
        "CREATE INDEX rollup_pending_start ON rollup_pending (res, start);"
        "CREATE TABLE state (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "INSERT INTO rollup_pending (node_ref, res, start)"
        " SELECT DISTINCT node_ref, 60, ts - ts % 3600000 FROM samples;"
        "INSERT INTO rollup_pending (node_ref, res, start)"
        " SELECT DISTINCT node_ref, 3600, ts - ts % 86400000 FROM samples;",
        /* 3: one-time enroll tokens, by their hash. */
        "CREATE TABLE enroll_tokens ("
        " token_sha256 TEXT PRIMARY KEY,"
        " note TEXT NOT NULL,"
        " created INTEGER NOT NULL,"
        " expires INTEGER NOT NULL);",
        /* 4: PostgreSQL's indexes narrowed; nothing here. */
        "",
};

struct sq {
        struct store base;
        sqlite3 *db;
        char *path;
        bool checkpoint_wanted; /* see WAL_HANDOFF_PAGES */
        int wal_fd;             /* store_sync()'s own, or -1 */
        int64_t expire_cursor; /* the node expire_raw resumes at */
        sqlite3_stmt *stmt[_ST_MAX];
};

static struct sq *SQ(struct store *s) {
        return container_of(s, struct sq, base);
}

/* Map a failure to the errno the API acts on, logging SQLite's message
 * once, here, where it is known. */
static int sq_fail(struct sq *q, int rc, const char *what) {
        int primary = rc & 0xff;

        switch (primary) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                log_warning("SQLite database %s busy (%s): %s", q->path, what, sqlite3_errmsg(q->db));
                return -EAGAIN;
        case SQLITE_FULL:
                log_error("SQLite database %s full (%s): %s", q->path, what, sqlite3_errmsg(q->db));
                return -ENOSPC;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_CONSTRAINT:
                /* The caller's conflict (a token another node holds). */
                log_debug("SQLite database %s: %s: %s", q->path, what, sqlite3_errmsg(q->db));
                return -EEXIST;
        default:
                log_error("SQLite database %s: %s failed: %s", q->path, what, sqlite3_errmsg(q->db));
                return -EIO;
        }
}

static int sq_exec(struct sq *q, const char *sql, const char *what) {
        int rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : sq_fail(q, rc, what);
}

/* A prepared statement, reset and with its bindings cleared: prepared once
 * per handle and reused (most statements run per sample or per batch). */
static int sq_stmt(struct sq *q, enum stmt id, sqlite3_stmt **ret) {
        sqlite3_stmt *st = q->stmt[id];

        if (!st) {
                int rc = sqlite3_prepare_v3(q->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
                if (rc != SQLITE_OK)
                        return sq_fail(q, rc, "preparing a statement");
                q->stmt[id] = st;
        } else {
                sqlite3_reset(st);
                sqlite3_clear_bindings(st);
        }
        *ret = st;
        return 0;
}

static void sq_release(sqlite3_stmt *st) {
        /* Ends the read the statement holds open, so WAL checkpoints are not
         * held back by a handle between calls. */
        if (st)
                sqlite3_reset(st);
}
#define _cleanup_stmt_ _cleanup_(sq_releasep)
static void sq_releasep(sqlite3_stmt **st) {
        sq_release(*st);
}

/* Step once: 1 for a row, 0 when done. */
static int sq_step(struct sq *q, sqlite3_stmt *st, const char *what) {
        int rc = sqlite3_step(st);

        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return sq_fail(q, rc, what);
}

static int sq_bind_text(sqlite3_stmt *st, int i, const char *s) {
        return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static void copy_text(char *dst, size_t size, const unsigned char *src) {
        snprintf(dst, size, "%s", src ? (const char *) src : "");
}

static void read_node(sqlite3_stmt *st, struct store_node *n, int64_t *ref) {
        *ref = sqlite3_column_int64(st, 0);
        if (!n)
                return;
        copy_text(n->node_id, sizeof(n->node_id), sqlite3_column_text(st, 1));
        copy_text(n->hostname, sizeof(n->hostname), sqlite3_column_text(st, 2));
        n->kind = (enum store_node_kind) sqlite3_column_int(st, 3);
        copy_text(n->machine_id, sizeof(n->machine_id), sqlite3_column_text(st, 4));
        copy_text(n->token_sha256, sizeof(n->token_sha256), sqlite3_column_text(st, 5));
        copy_text(n->cert_subject, sizeof(n->cert_subject), sqlite3_column_text(st, 6));
        n->first_seen = sqlite3_column_int64(st, 7);
        n->last_seen = sqlite3_column_int64(st, 8);
}

/* ---- schema ------------------------------------------------------------- */

static int sq_schema_version(struct store *s, unsigned *ret) {
        struct sq *q = SQ(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(q->db, "SELECT version FROM schema_version", -1, &st, NULL), r;

        if (rc != SQLITE_OK)
                return sq_fail(q, rc, "reading the schema version");
        r = sq_step(q, st, "reading the schema version");
        if (r > 0)
                *ret = (unsigned) sqlite3_column_int(st, 0);
        else if (r == 0)
                *ret = 0;
        sqlite3_finalize(TAKE_PTR(st));
        return r < 0 ? r : 0;
}

static int sq_migrate(struct sq *q, unsigned max_version) {
        unsigned version;
        int r;

        r = sq_exec(q, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", "creating the schema");
        if (r < 0)
                return r;
        r = sq_exec(q, "BEGIN IMMEDIATE", "migrating the schema");
        if (r < 0)
                return r;
        r = sq_schema_version(&q->base, &version);
        if (r < 0)
                goto fail;
        if (version > STORE_SCHEMA_VERSION) {
                r = log_error_errno(EPROTO, "SQLite database %s has schema version %u, newer than this hub's %u",
                                    q->path, version, STORE_SCHEMA_VERSION);
                goto fail;
        }
        for (unsigned v = version + 1; v <= max_version && v <= ELEMENTSOF(migrations); v++) {
                char sql[80];

                r = sq_exec(q, migrations[v - 1], "migrating the schema");
                if (r < 0)
                        goto fail;
                snprintf(sql, sizeof(sql), "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%u)", v);
                r = sq_exec(q, sql, "migrating the schema");
                if (r < 0)
                        goto fail;
                if (version > 0)
                        log_info("SQLite database %s migrated to schema version %u", q->path, v);
        }
        return sq_exec(q, "COMMIT", "migrating the schema");
fail:
        (void) sq_exec(q, "ROLLBACK", "rolling back a migration");
        return r;
}

/* ---- nodes and clients --------------------------------------------------- */

static int sq_node_upsert(struct store *s, const struct store_node *n) {
        struct sq *q = SQ(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sq_stmt(q, ST_NODE_UPSERT, &st);

        if (r < 0)
                return r;
        sq_bind_text(st, 1, n->node_id);
        sq_bind_text(st, 2, n->hostname);
        sqlite3_bind_int(st, 3, n->kind);
        sq_bind_text(st, 4, n->machine_id);
        sq_bind_text(st, 5, n->token_sha256);
        sq_bind_text(st, 6, n->cert_subject);
        sqlite3_bind_int64(st, 7, n->first_seen);
        sqlite3_bind_int64(st, 8, n->last_seen);
        r = sq_step(q, st, "storing a node"); /* -EEXIST: another node has the token */
        return r < 0 ? r : 0;
}

static int sq_node_lookup(struct sq *q, enum stmt id, const char *key, struct store_node *ret, int64_t *ret_ref) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sq_stmt(q, id, &st);

        if (r < 0)
                return r;
        sq_bind_text(st, 1, key);
        r = sq_step(q, st, "reading a node");
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        read_node(st, ret, ret_ref);
        return 0;
}

static int sq_node_get(struct store *s, const char *node_id, struct store_node *ret, int64_t *ret_ref) {
        return sq_node_lookup(SQ(s), ST_NODE_GET, node_id, ret, ret_ref);
}

static int sq_node_by_token(struct store *s, const char *hex, struct store_node *ret) {
        int64_t ref;
        return sq_node_lookup(SQ(s), ST_NODE_BY_TOKEN, hex, ret, &ref);
}

static int sq_nodes_each(struct store *s, int (*cb)(const struct store_node *n, int64_t ref, void *u), void *u) {
        struct sq *q = SQ(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ struct store_node *n = malloc(sizeof(*n));
        int r = sq_stmt(q, ST_NODES_EACH, &st);

        if (r < 0)
                return r;
        if (!n)
                return -ENOMEM;
        while ((r = sq_step(q, st, "listing nodes")) > 0) {
                int64_t ref;

                read_node(st, n, &ref);
                r = cb(n, ref, u);
                if (r != 0)
                        return r;
        }
        return r;
}

static int sq_node_delete(struct store *s, const char *node_id) {
        struct sq *q = SQ(s);
        int64_t ref = 0;
        int r;

        r = sq_exec(q, "BEGIN IMMEDIATE", "deleting a node");
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;

                r = sq_stmt(q, ST_NODE_DELETE, &st);
                if (r >= 0) {
                        sq_bind_text(st, 1, node_id);
                        r = sq_step(q, st, "deleting a node");
                        if (r == 0)
                                r = -ENOENT;
                        else if (r > 0)
                                ref = sqlite3_column_int64(st, 0);
                }
        }
        if (r >= 0) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;

                r = sq_stmt(q, ST_NODE_DELETE_LATEST, &st);
                if (r >= 0) {
                        sqlite3_bind_int64(st, 1, ref);
                        r = sq_step(q, st, "deleting a node");
                }
        }
        if (r < 0) {
                (void) sq_exec(q, "ROLLBACK", "rolling back");
                return r;
        }
        return sq_exec(q, "COMMIT", "deleting a node");
}

static int sq_count(struct sq *q, enum stmt id, uint64_t *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sq_stmt(q, id, &st);

        if (r < 0)
                return r;
        r = sq_step(q, st, "counting");
        if (r < 0)
                return r;
        *ret = (uint64_t) sqlite3_column_int64(st, 0);
        return 0;
}

static int sq_node_count(struct store *s, uint64_t *ret) {
        return sq_count(SQ(s), ST_NODE_COUNT, ret);
}

static int sq_client_get(struct store *s, const char *username, char *hash) {
        struct sq *q = SQ(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sq_stmt(q, ST_CLIENT_GET, &st);

        if (r < 0)
                return r;
        sq_bind_text(st, 1, username);
        r = sq_step(q, st, "reading a client");
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        copy_text(hash, STORE_PASSWORD_HASH_MAX + 1, sqlite3_column_text(st, 0));
        return 0;
}

static int sq_client_put(struct store *s, const char *username, const char *hash) {
        struct sq *q = SQ(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sq_stmt(q, ST_CLIENT_PUT, &st);

        if (r < 0)
                return r;
        sq_bind_text(st, 1, username);
        sq_bind_text(st, 2, hash);
        r = sq_step(q, st, "storing a client");
        if (r < 0)
                return r;
        return sqlite3_changes(q->db) == 1 ? 0 : -EEXIST;
}

/* ---- enroll tokens ------------------------------------------------------- */

static int sq_bind_step(struct sq *q, enum stmt id, const int64_t *ints, size_t n, const char *what);

/* Run a statement of a text and, unless value is NULL, an integer: the
 * number of rows it changed. */
static int sq_text_step(struct sq *q, enum stmt id, const char *text, const int64_t *value, const char *what) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sq_stmt(q, id, &st);

        if (r < 0)
                return r;
        sq_bind_text(st, 1, text);
        if (value)
                sqlite3_bind_int64(st, 2, *value);
        r = sq_step(q, st, what);
        return r < 0 ? r : sqlite3_changes(q->db);
}

static int sq_enroll_token_put(struct store *s, const struct store_enroll_token *t, int64_t now) {
        struct sq *q = SQ(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t args[] = { now };
        int r = sq_bind_step(q, ST_ENROLL_EXPIRE, args, ELEMENTSOF(args), "expiring enroll tokens");

        if (r < 0)
                return r;
        r = sq_stmt(q, ST_ENROLL_PUT, &st);
        if (r < 0)
                return r;
        sq_bind_text(st, 1, t->token_sha256);
        sq_bind_text(st, 2, t->note);
        sqlite3_bind_int64(st, 3, t->created);
        sqlite3_bind_int64(st, 4, t->expires);
        r = sq_step(q, st, "storing an enroll token");
        return r < 0 ? r : 0;
}

static int sq_enroll_token_take(struct store *s, const char *hex, int64_t now) {
        int r = sq_text_step(SQ(s), ST_ENROLL_TAKE, hex, &now, "spending an enroll token");
        return r < 0 ? r : r == 1 ? 0 : -ENOENT;
}

static int sq_enroll_tokens_each(struct store *s, int64_t now, int (*cb)(const struct store_enroll_token *t, void *u),
                                 void *u) {
        struct sq *q = SQ(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct store_enroll_token t;
        int r = sq_stmt(q, ST_ENROLL_EACH, &st);

        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, now);
        while ((r = sq_step(q, st, "listing enroll tokens")) > 0) {
                copy_text(t.token_sha256, sizeof(t.token_sha256), sqlite3_column_text(st, 0));
                copy_text(t.note, sizeof(t.note), sqlite3_column_text(st, 1));
                t.created = sqlite3_column_int64(st, 2);
                t.expires = sqlite3_column_int64(st, 3);
                r = cb(&t, u);
                if (r != 0)
                        return r;
        }
        return r;
}

static int sq_enroll_token_delete(struct store *s, const char *id) {
        int r = sq_text_step(SQ(s), ST_ENROLL_DELETE, id, NULL, "revoking an enroll token");
        return r < 0 ? r : r > 0 ? 0 : -ENOENT;
}

/* ---- dictionaries --------------------------------------------------------- */

/* Look up by get, else put then get again (another handle may have put it). */
static int sq_dict(struct sq *q, enum stmt get, enum stmt put, int64_t node, const char *text, bool create,
                   int64_t *ret) {
        for (int attempt = 0; attempt < 2; attempt++) {
                {
                        _cleanup_stmt_ sqlite3_stmt *st = NULL;
                        int r = sq_stmt(q, get, &st), i = 1;

                        if (r < 0)
                                return r;
                        if (node >= 0)
                                sqlite3_bind_int64(st, i++, node);
                        sq_bind_text(st, i, text);
                        r = sq_step(q, st, "reading a dictionary");
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                *ret = sqlite3_column_int64(st, 0);
                                return 0;
                        }
                }
                if (!create || attempt > 0)
                        break;
                {
                        _cleanup_stmt_ sqlite3_stmt *st = NULL;
                        int r = sq_stmt(q, put, &st), i = 1;

                        if (r < 0)
                                return r;
                        if (node >= 0)
                                sqlite3_bind_int64(st, i++, node);
                        sq_bind_text(st, i, text);
                        r = sq_step(q, st, "extending a dictionary");
                        if (r < 0)
                                return r;
                }
        }
        return -ENOENT;
}

static int sq_metric_ref(struct store *s, const char *path, bool create, int64_t *ret) {
        return sq_dict(SQ(s), ST_METRIC_GET, ST_METRIC_PUT, -1, path, create, ret);
}

static int sq_stream_ref(struct store *s, int64_t node_ref, const char *name, int64_t *ret) {
        return sq_dict(SQ(s), ST_STREAM_GET, ST_STREAM_PUT, node_ref, name, true, ret);
}

/* Two handles creating the same layout at once get two refs for it: both
 * decode the same, so no lock is needed. */
static int sq_layout_ref(struct store *s, uint64_t digest, const uint8_t *refs, size_t len, int64_t *ret) {
        struct sq *q = SQ(s);
        int r;

        {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;

                r = sq_stmt(q, ST_LAYOUT_FIND, &st);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(st, 1, (int64_t) digest);
                sqlite3_bind_blob(st, 2, refs, (int) len, SQLITE_STATIC);
                r = sq_step(q, st, "reading a layout");
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret = sqlite3_column_int64(st, 0);
                        return 0;
                }
        }
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        r = sq_stmt(q, ST_LAYOUT_PUT, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, (int64_t) digest);
        sqlite3_bind_blob(st, 2, refs, (int) len, SQLITE_STATIC);
        r = sq_step(q, st, "storing a layout");
        if (r < 0)
                return r;
        *ret = sqlite3_last_insert_rowid(q->db);
        return 0;
}

static int sq_layout_get(struct store *s, int64_t ref, struct bytes *ret) {
        struct sq *q = SQ(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sq_stmt(q, ST_LAYOUT_GET, &st), n;

        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, ref);
        r = sq_step(q, st, "reading a layout");
        if (r <= 0)
                return r < 0 ? r : log_error_errno(EBADMSG, "Layout %" PRIi64 " is missing", ref);
        n = sqlite3_column_bytes(st, 0);
        r = bytes_reserve(ret, (size_t) n);
        if (r < 0)
                return r;
        memcpy(ret->p, sqlite3_column_blob(st, 0), (size_t) n);
        ret->len = (size_t) n;
        return 0;
}

/* ---- transactions --------------------------------------------------------- */

static int sq_begin(struct store *s, bool write) {
        return sq_exec(SQ(s), write ? "BEGIN IMMEDIATE" : "BEGIN", "starting a transaction");
}

static int sq_end(struct store *s, bool commit) {
        struct sq *q = SQ(s);

        if (commit)
                return sq_exec(q, "COMMIT", "committing");
        /* Nothing to roll back after a failed COMMIT that SQLite undid. */
        if (sqlite3_get_autocommit(q->db))
                return 0;
        return sq_exec(q, "ROLLBACK", "rolling back");
}

static int sq_state_get(struct store *s, const char *name, int64_t *ret) {
        struct sq *q = SQ(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sq_stmt(q, ST_STATE_GET, &st);

        if (r < 0)
                return r;
        sq_bind_text(st, 1, name);
        r = sq_step(q, st, "reading the state");
        if (r < 0)
                return r;
        *ret = r > 0 ? sqlite3_column_int64(st, 0) : 0;
        return 0;
}

static int sq_state_set(struct store *s, const char *name, int64_t value) {
        int r = sq_text_step(SQ(s), ST_STATE_SET, name, &value, "writing the state");
        return r < 0 ? r : 0;
}

/* One writer at a time: the transaction's lock is all the watermark needs. */
static int sq_watermark(struct store *s, enum wm_lock lock, int64_t *ret) {
        return sq_state_get(s, "rolled_until", ret);
}

static int sq_watermark_set(struct store *s, int64_t wm) {
        return sq_state_set(s, "rolled_until", wm);
}

/* ---- ingest ------------------------------------------------------------- */

static int sq_bind_step(struct sq *q, enum stmt id, const int64_t *ints, size_t n, const char *what) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sq_stmt(q, id, &st);

        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                sqlite3_bind_int64(st, (int) i + 1, ints[i]);
        r = sq_step(q, st, what);
        return r < 0 ? r : sqlite3_changes(q->db);
}

static int sq_commit_rows(struct sq *q, struct store_batch *b, int64_t now, struct store_batch_result *res) {
        _cleanup_free_ struct batch_node *nodes = NULL;
        size_t n_nodes;
        int64_t wm;
        int r;

        r = sq_watermark(&q->base, WM_SHARE, &wm);
        if (r < 0)
                return r;
        r = batch_nodes(b, &nodes, &n_nodes);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_nodes; i++) {
                int64_t args[] = { nodes[i].node_ref, now }, last_seen;

                {
                        _cleanup_stmt_ sqlite3_stmt *st = NULL;

                        r = sq_stmt(q, ST_NODE_ALIVE, &st);
                        if (r < 0)
                                return r;
                        sqlite3_bind_int64(st, 1, nodes[i].node_ref);
                        r = sq_step(q, st, "storing samples");
                        if (r < 0)
                                return r;
                        nodes[i].alive = r > 0;
                        last_seen = r > 0 ? sqlite3_column_int64(st, 0) : 0;
                }
                if (nodes[i].alive && last_seen < now - LAST_SEEN_SLACK) {
                        r = sq_bind_step(q, ST_NODE_TOUCH, args, ELEMENTSOF(args), "storing samples");
                        if (r < 0)
                                return r;
                }
        }

        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        r = sq_stmt(q, ST_SAMPLE_PUT, &st);
        if (r < 0)
                return r;
        for (size_t i = 0, k = 0; i < b->n; i++) {
                const struct batch_row *row = &b->rows[i];

                if (nodes[k].node_ref != row->node_ref)
                        for (k = 0; nodes[k].node_ref != row->node_ref; k++)
                                ;
                if (!nodes[k].alive) {
                        b->forgotten[i] = true;
                        res->forgotten++;
                        continue;
                }
                sqlite3_reset(st);
                sqlite3_bind_int64(st, 1, row->node_ref);
                sqlite3_bind_int64(st, 2, row->ts);
                sqlite3_bind_int64(st, 3, row->stream_ref);
                sqlite3_bind_int64(st, 4, row->seq);
                sqlite3_bind_blob(st, 5, b->data.p + row->vals_off, (int) row->vals_len, SQLITE_STATIC);
                sqlite3_bind_blob(st, 6, b->data.p + row->body_off, (int) row->body_len, SQLITE_STATIC);
                r = sq_step(q, st, "storing samples");
                if (r < 0)
                        return r;
                b->inserted[i] = sqlite3_changes(q->db) == 1;
                if (b->inserted[i])
                        res->acked++;
                else
                        res->duplicates++;
        }
        sq_release(st);

        /* Now that inserted[] is known: each node's newest new row. */
        free(nodes);
        nodes = NULL;
        r = batch_nodes(b, &nodes, &n_nodes);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_nodes; i++) {
                const struct batch_row *row;

                if (nodes[i].latest < 0)
                        continue;
                row = &b->rows[nodes[i].latest];
                r = sq_stmt(q, ST_LATEST_PUT, &st);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(st, 1, row->node_ref);
                sqlite3_bind_int64(st, 2, row->ts);
                sqlite3_bind_int64(st, 3, row->stream_ref);
                sqlite3_bind_int64(st, 4, row->seq);
                sqlite3_bind_blob(st, 5, b->data.p + row->plain_off, (int) row->plain_len, SQLITE_STATIC);
                r = sq_step(q, st, "storing the latest sample");
                if (r < 0)
                        return r;
        }
        return batch_mark_pending(&q->base, b, wm);
}

static int sq_commit(struct store *s, struct store_batch *b, int64_t now, struct store_batch_result *ret) {
        struct sq *q = SQ(s);
        struct store_batch_result res = { 0 };
        int r;

        r = sq_exec(q, "BEGIN IMMEDIATE", "storing samples");
        if (r < 0)
                return r;
        r = sq_commit_rows(q, b, now, &res);
        if (r >= 0)
                r = sq_exec(q, "COMMIT", "committing samples");
        if (r < 0) {
                (void) sq_end(s, false);
                return r;
        }
        *ret = res;
        return 0;
}

/* ---- reads -------------------------------------------------------------- */

static void read_row(sqlite3_stmt *st, int first, bool body, struct raw_row *row) {
        *row = (struct raw_row){
                .ts = sqlite3_column_int64(st, first),
                .stream_ref = sqlite3_column_int64(st, first + 1),
                .seq = sqlite3_column_int64(st, first + 2),
                .vals = sqlite3_column_blob(st, first + 3),
                .vals_len = (size_t) sqlite3_column_bytes(st, first + 3),
        };
        if (body) {
                row->body = sqlite3_column_blob(st, first + 4);
                row->body_len = (size_t) sqlite3_column_bytes(st, first + 4);
        }
}

static int sq_rows_each(struct store *s, int64_t node_ref, int64_t start, int64_t end, bool body, raw_row_cb cb,
                        void *u) {
        struct sq *q = SQ(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sq_stmt(q, body ? ST_ROWS_BODY : ST_ROWS, &st);

        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, node_ref);
        sqlite3_bind_int64(st, 2, start);
        sqlite3_bind_int64(st, 3, end);
        while ((r = sq_step(q, st, "reading samples")) > 0) {
                struct raw_row row;

                read_row(st, 0, body, &row);
                r = cb(&row, u);
                if (r != 0)
                        return r;
        }
        return r;
}

static int sq_one_row(struct sq *q, enum stmt id, int64_t node_ref, int64_t at, raw_row_cb cb, void *u) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct raw_row row;
        int r = sq_stmt(q, id, &st);

        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, node_ref);
        if (id == ST_ROW_AT)
                sqlite3_bind_int64(st, 2, at);
        r = sq_step(q, st, "reading a sample");
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        read_row(st, 0, true, &row);
        return cb(&row, u);
}

static int sq_row_at(struct store *s, int64_t node_ref, int64_t at, raw_row_cb cb, void *u) {
        return sq_one_row(SQ(s), ST_ROW_AT, node_ref, at, cb, u);
}

static int sq_latest(struct store *s, int64_t node_ref, raw_row_cb cb, void *u) {
        return sq_one_row(SQ(s), ST_LATEST, node_ref, 0, cb, u);
}

static int sq_latest_each(struct store *s, int (*cb)(const char *node_id, const struct raw_row *r, void *u),
                          void *u) {
        struct sq *q = SQ(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sq_stmt(q, ST_LATEST_EACH, &st);

        if (r < 0)
                return r;
        while ((r = sq_step(q, st, "reading the latest samples")) > 0) {
                struct raw_row row = {
                        .ts = sqlite3_column_int64(st, 1),
                        .stream_ref = sqlite3_column_int64(st, 2),
                        .seq = sqlite3_column_int64(st, 3),
                        .body = sqlite3_column_blob(st, 4),
                        .body_len = (size_t) sqlite3_column_bytes(st, 4),
                };

                r = cb((const char *) sqlite3_column_text(st, 0), &row, u);
                if (r != 0)
                        return r;
        }
        return r;
}

static int sq_time_bounds(struct store *s, int64_t node_ref, int64_t *first, int64_t *last) {
        struct sq *q = SQ(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sq_stmt(q, ST_TIME_BOUNDS, &st);

        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, node_ref);
        r = sq_step(q, st, "reading time bounds");
        if (r < 0)
                return r;
        if (sqlite3_column_type(st, 0) == SQLITE_NULL)
                return -ENODATA;
        *first = sqlite3_column_int64(st, 0);
        *last = sqlite3_column_int64(st, 1);
        return 0;
}

static int sq_chunks_each(struct store *s, int64_t node_ref, int64_t metric_ref, int res, int64_t from, int64_t to,
                          int (*cb)(int64_t start, const uint8_t *data, size_t len, void *u), void *u) {
        struct sq *q = SQ(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sq_stmt(q, ST_CHUNKS, &st);

        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, node_ref);
        sqlite3_bind_int64(st, 2, metric_ref);
        sqlite3_bind_int(st, 3, res);
        sqlite3_bind_int64(st, 4, from);
        sqlite3_bind_int64(st, 5, to);
        while ((r = sq_step(q, st, "reading rollups")) > 0) {
                r = cb(sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1), (size_t) sqlite3_column_bytes(st, 1),
                       u);
                if (r != 0)
                        return r;
        }
        return r;
}

static int sq_pending_each(struct store *s, int64_t node_ref, int64_t from, int64_t to,
                           int (*cb)(int res, int64_t start, void *u), void *u) {
        struct sq *q = SQ(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sq_stmt(q, ST_PENDING_EACH, &st);

        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, node_ref);
        sqlite3_bind_int64(st, 2, from);
        sqlite3_bind_int64(st, 3, to);
        while ((r = sq_step(q, st, "reading pending rollups")) > 0) {
                r = cb(sqlite3_column_int(st, 0), sqlite3_column_int64(st, 1), u);
                if (r != 0)
                        return r;
        }
        return r;
}

/* ---- maintenance -------------------------------------------------------- */

static int sq_deleted_nodes_each(struct store *s, int (*cb)(int64_t ref, void *u), void *u) {
        struct sq *q = SQ(s);
        _cleanup_free_ int64_t *refs = NULL;
        size_t n = 0, cap = 0;
        int r;

        /* Collected first: the callback writes to the tables read here. */
        {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;

                r = sq_stmt(q, ST_DELETED_EACH, &st);
                if (r < 0)
                        return r;
                while ((r = sq_step(q, st, "listing deleted nodes")) > 0) {
                        int g = GROW(refs, cap, n + 1, 16);

                        if (g < 0)
                                return g;
                        refs[n++] = sqlite3_column_int64(st, 0);
                }
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++) {
                r = cb(refs[i], u);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int sq_pending_mark(struct store *s, int64_t node_ref, int res, int64_t start) {
        int64_t args[] = { node_ref, res, start };
        int r = sq_bind_step(SQ(s), ST_PENDING_MARK, args, ELEMENTSOF(args), "marking a rollup");
        return r < 0 ? r : 0;
}

static int sq_pending_next(struct store *s, int64_t wm, struct pending *ret) {
        struct sq *q = SQ(s);
        static const int order[] = { RES_MINUTE, RES_HOUR };

        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                int r = sq_stmt(q, ST_PENDING_NEXT, &st);

                if (r < 0)
                        return r;
                sqlite3_bind_int(st, 1, order[i]);
                sqlite3_bind_int64(st, 2, wm - res_chunk_ms(order[i]));
                r = sq_step(q, st, "reading pending rollups");
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret = (struct pending){
                                .node_ref = sqlite3_column_int64(st, 0),
                                .res = sqlite3_column_int(st, 1),
                                .start = sqlite3_column_int64(st, 2),
                                .gen = sqlite3_column_int64(st, 3),
                        };
                        return 0;
                }
        }
        return -ENODATA;
}

static int sq_pending_done(struct store *s, const struct pending *p) {
        int64_t args[] = { p->node_ref, p->res, p->start, p->gen };
        int r = sq_bind_step(SQ(s), ST_PENDING_DONE, args, ELEMENTSOF(args), "finishing a rollup");
        return r < 0 ? r : 0;
}

static int sq_pending_oldest(struct store *s, int64_t *ret) {
        struct sq *q = SQ(s);
        static const int order[] = { RES_MINUTE, RES_HOUR };
        bool found = false;
        int64_t oldest = 0;

        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                int r = sq_stmt(q, ST_PENDING_OLDEST, &st);

                if (r < 0)
                        return r;
                sqlite3_bind_int(st, 1, order[i]);
                r = sq_step(q, st, "reading pending rollups");
                if (r < 0)
                        return r;
                if (sqlite3_column_type(st, 0) == SQLITE_NULL)
                        continue;
                if (!found || sqlite3_column_int64(st, 0) < oldest)
                        oldest = sqlite3_column_int64(st, 0);
                found = true;
        }
        if (!found)
                return -ENODATA;
        *ret = oldest;
        return 0;
}

static int sq_chunk_put(struct store *s, int64_t node_ref, int64_t metric_ref, int res, int64_t start,
                        const uint8_t *data, size_t len) {
        struct sq *q = SQ(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sq_stmt(q, ST_CHUNK_PUT, &st);

        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, node_ref);
        sqlite3_bind_int64(st, 2, metric_ref);
        sqlite3_bind_int(st, 3, res);
        sqlite3_bind_int64(st, 4, start);
        sqlite3_bind_blob(st, 5, data, (int) len, SQLITE_STATIC);
        r = sq_step(q, st, "storing a rollup");
        return r < 0 ? r : 0;
}

/* A small transaction around one bounded delete. */
static int sq_delete_step(struct sq *q, enum stmt id, const int64_t *args, size_t n, const char *what) {
        int r = sq_exec(q, "BEGIN IMMEDIATE", what), deleted;

        if (r < 0)
                return r;
        deleted = sq_bind_step(q, id, args, n, what);
        if (deleted < 0) {
                (void) sq_end(&q->base, false);
                return deleted;
        }
        r = sq_exec(q, "COMMIT", what);
        return r < 0 ? r : deleted;
}

/* Per node, the oldest rows first, one small transaction at a time; a call
 * stops after about max_rows and the next resumes at the node it left. */
static int sq_expire_raw(struct store *s, int64_t before, unsigned max_rows) {
        struct sq *q = SQ(s);
        unsigned deleted = 0;

        for (;;) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                int64_t node;
                int r = sq_stmt(q, ST_EXPIRE_RAW_NODES, &st);

                if (r < 0)
                        return r;
                sqlite3_bind_int64(st, 1, q->expire_cursor);
                r = sq_step(q, st, "expiring samples");
                if (r < 0)
                        return r;
                if (r == 0) {
                        q->expire_cursor = -1;
                        return 0;
                }
                node = sqlite3_column_int64(st, 0);
                sq_release(TAKE_PTR(st));

                do {
                        int64_t args[] = { node, before, max_rows };

                        r = sq_delete_step(q, ST_EXPIRE_RAW, args, ELEMENTSOF(args), "expiring samples");
                        if (r < 0)
                                return r;
                        deleted += (unsigned) r;
                        if (deleted >= max_rows) {
                                q->expire_cursor = node - 1;
                                return 1;
                        }
                } while ((unsigned) r >= max_rows);
                q->expire_cursor = node;
        }
}

static int sq_expire_rollups(struct store *s, int64_t before, unsigned max_rows) {
        int64_t args[] = { before, max_rows };
        int r = sq_delete_step(SQ(s), ST_EXPIRE_ROLLUPS, args, ELEMENTSOF(args), "expiring rollups");
        return r < 0 ? r : (unsigned) r >= max_rows;
}

static int sq_purge_node(struct store *s, int64_t node_ref, unsigned max_rows) {
        struct sq *q = SQ(s);
        int64_t args[] = { node_ref, max_rows };
        int r;

        r = sq_delete_step(q, ST_PURGE_SAMPLES, args, ELEMENTSOF(args), "erasing a deleted node");
        if (r != 0)
                return r;
        r = sq_delete_step(q, ST_PURGE_ROLLUPS, args, ELEMENTSOF(args), "erasing a deleted node");
        if (r != 0)
                return r;
        /* The rest is small: one transaction of several statements. */
        r = sq_exec(q, "BEGIN IMMEDIATE", "erasing a deleted node");
        if (r < 0)
                return r;
        {
                const char *sql = stmt_sql[ST_PURGE_REST];
                while (sql && *sql) {
                        sqlite3_stmt *st = NULL;
                        const char *tail = NULL;
                        int rc = sqlite3_prepare_v2(q->db, sql, -1, &st, &tail);

                        if (rc != SQLITE_OK) {
                                r = sq_fail(q, rc, "erasing a deleted node");
                                break;
                        }
                        if (!st)
                                break;
                        sqlite3_bind_int64(st, 1, node_ref);
                        r = sq_step(q, st, "erasing a deleted node");
                        sqlite3_finalize(st);
                        if (r < 0)
                                break;
                        sql = tail;
                }
        }
        if (r < 0) {
                (void) sq_end(s, false);
                return r;
        }
        r = sq_exec(q, "COMMIT", "erasing a deleted node");
        return r < 0 ? r : 0;
}

/* Copy what the WAL holds back into the database without waiting for
 * readers or the writer (PASSIVE), so that commits seldom do it themselves. */
static int sq_checkpoint(struct store *s) {
        struct sq *q = SQ(s);
        int rc = sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

        if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
                return sq_fail(q, rc, "checkpointing");
        return 0;
}

static int sq_housekeeping(struct store *s, int64_t now) {
        return sq_checkpoint(s);
}

static bool sq_checkpoint_wanted(struct store *s) {
        struct sq *q = SQ(s);
        bool wanted = q->checkpoint_wanted;

        q->checkpoint_wanted = false;
        return wanted;
}

/* After each commit of this handle, with the pages the WAL holds. */
static int sq_wal_hook(void *userdata, sqlite3 *db, const char *name, int pages) {
        struct sq *q = userdata;

        if (pages >= WAL_CHECKPOINT_PAGES)
                (void) sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        else if (pages >= WAL_HANDOFF_PAGES)
                q->checkpoint_wanted = true;
        return SQLITE_OK;
}

/* Commits on this handle no longer sync the WAL themselves. What
 * synchronous=NORMAL still syncs (the WAL before a checkpoint copies it, the
 * database after) keeps the files consistent; store_sync() makes each commit
 * durable. */
static int sq_defer_sync(struct store *s) {
        return sq_exec(SQ(s), "PRAGMA synchronous = NORMAL", "configuring the database");
}

/* fdatasync() of the WAL through a descriptor of its own: the file, not the
 * connection, so the writer goes on committing meanwhile. SQLite replaces
 * the WAL only when the last connection closes it; a WAL found unlinked is
 * opened again anyway, and a WAL that does not exist holds no commit. */
static int sq_sync(struct store *s) {
        struct sq *q = SQ(s);
        _cleanup_free_ char *wal = NULL;
        struct stat st;

        if (q->wal_fd >= 0 && (fstat(q->wal_fd, &st) < 0 || st.st_nlink == 0)) {
                close(q->wal_fd);
                q->wal_fd = -1;
        }
        if (q->wal_fd < 0) {
                if (asprintf(&wal, "%s-wal", q->path) < 0)
                        return -ENOMEM;
                q->wal_fd = open(wal, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (q->wal_fd < 0)
                        return errno == ENOENT ? 0 : log_error_errno(errno, "Cannot open %s: %m", wal);
        }
        if (fdatasync(q->wal_fd) < 0)
                return log_error_errno(errno, "Cannot sync the WAL of %s: %m", q->path);
        return 0;
}

/* ---- handle ------------------------------------------------------------- */

static int sq_ping(struct store *s) {
        uint64_t n;
        return sq_count(SQ(s), ST_NODE_COUNT, &n);
}

/* The pages in use, WAL included: the file may be larger (free pages kept
 * for reuse) and the WAL file is a temporary copy that is reused. */
static int sq_size_bytes(struct store *s, uint64_t *ret) {
        struct sq *q = SQ(s);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(q->db,
                                    "SELECT (page_count - freelist_count) * page_size"
                                    " FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()",
                                    -1, &st, NULL),
            r;

        if (rc != SQLITE_OK)
                return sq_fail(q, rc, "measuring the database");
        r = sq_step(q, st, "measuring the database");
        if (r > 0)
                *ret = (uint64_t) sqlite3_column_int64(st, 0);
        sqlite3_finalize(TAKE_PTR(st));
        return r < 0 ? r : r == 0 ? -EIO : 0;
}

static void sq_close(struct store *s) {
        struct sq *q = SQ(s);

        for (size_t i = 0; i < _ST_MAX; i++)
                sqlite3_finalize(q->stmt[i]);
        if (q->db)
                sqlite3_close_v2(q->db);
        if (q->wal_fd >= 0)
                close(q->wal_fd);
        store_done(&q->base);
        free(q->path);
        free(q);
}

static const struct store_ops sqlite_ops = {
        .name = "sqlite",
        .close = sq_close,
        .ping = sq_ping,
        .schema_version = sq_schema_version,
        .size_bytes = sq_size_bytes,
        .node_upsert = sq_node_upsert,
        .node_get = sq_node_get,
        .node_by_token = sq_node_by_token,
        .nodes_each = sq_nodes_each,
        .node_delete = sq_node_delete,
        .node_count = sq_node_count,
        .client_get = sq_client_get,
        .client_put = sq_client_put,
        .enroll_token_put = sq_enroll_token_put,
        .enroll_token_take = sq_enroll_token_take,
        .enroll_tokens_each = sq_enroll_tokens_each,
        .enroll_token_delete = sq_enroll_token_delete,
        .metric_ref = sq_metric_ref,
        .stream_ref = sq_stream_ref,
        .layout_ref = sq_layout_ref,
        .layout_get = sq_layout_get,
        .commit = sq_commit,
        .rows_each = sq_rows_each,
        .row_at = sq_row_at,
        .latest = sq_latest,
        .latest_each = sq_latest_each,
        .time_bounds = sq_time_bounds,
        .chunks_each = sq_chunks_each,
        .pending_each = sq_pending_each,
        .begin = sq_begin,
        .end = sq_end,
        .watermark = sq_watermark,
        .watermark_set = sq_watermark_set,
        .deleted_nodes_each = sq_deleted_nodes_each,
        .state_get = sq_state_get,
        .state_set = sq_state_set,
        .pending_mark = sq_pending_mark,
        .pending_next = sq_pending_next,
        .pending_done = sq_pending_done,
        .chunk_put = sq_chunk_put,
        .expire_raw = sq_expire_raw,
        .expire_rollups = sq_expire_rollups,
        .purge_node = sq_purge_node,
        .pending_oldest = sq_pending_oldest,
        .housekeeping = sq_housekeeping,
        .checkpoint_wanted = sq_checkpoint_wanted,
        .checkpoint = sq_checkpoint,
        .defer_sync = sq_defer_sync,
        .sync = sq_sync,
};

int store_open_sqlite(const char *state_dir, unsigned max_version, struct store **ret) {
        _cleanup_free_ char *dir = NULL;
        struct sq *q = calloc(1, sizeof(*q));
        int r, fd;

        if (!q)
                return -ENOMEM;
        q->expire_cursor = -1;
        q->wal_fd = -1;
        r = store_init(&q->base, &sqlite_ops);
        if (r < 0)
                goto fail;
        /* The directory may be reached through a symlink (systemd's
         * DynamicUser= makes /var/lib/resolvix-hub one, to private/): it is
         * resolved here, since SQLite's NOFOLLOW refuses a symlink anywhere
         * in the path, and only the file itself must not be one. */
        dir = realpath(state_dir, NULL);
        if (!dir) {
                r = log_error_errno(errno, "Cannot find the state directory %s: %m", state_dir);
                goto fail;
        }
        if (asprintf(&q->path, "%s/hub.sqlite", dir) < 0) {
                q->path = NULL;
                r = -ENOMEM;
                goto fail;
        }
        /* Token and password hashes live here: owner-only, made so before
         * SQLite sees it (it copies the mode to the -wal and -shm files),
         * and never through a symlink. */
        fd = open(q->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
                r = log_error_errno(errno, "Cannot open the hub database %s: %m", q->path);
                goto fail;
        }
        close(fd);
        r = sqlite3_open_v2(q->path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
                            NULL);
        if (r != SQLITE_OK) {
                r = log_error_errno(EIO, "Cannot open the hub database %s: %s", q->path,
                                    q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(r));
                goto fail;
        }
        sqlite3_extended_result_codes(q->db, 1);
        sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
        r = sq_exec(q,
                    "PRAGMA journal_mode = WAL;"
                    "PRAGMA synchronous = FULL;"
                    "PRAGMA foreign_keys = OFF;"
                    "PRAGMA cache_size = -32768;",
                    "configuring the database");
        if (r < 0)
                goto fail;
        /* In place of SQLite's autocheckpoint. */
        sqlite3_wal_hook(q->db, sq_wal_hook, q);
        r = sq_migrate(q, max_version);
        if (r < 0)
                goto fail;
        *ret = &q->base;
        return 0;
fail:
        sq_close(&q->base);
        return r;
}
