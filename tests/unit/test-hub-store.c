/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <pthread.h>
#include <criterion/options.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "fileio.h"
#include "jsonutil.h"
#include "macro.h"
#include "sample-values.h"
#include "store-backend.h"
#include "store-codec.h"
#include "store.h"

/* Every case runs against both back ends: SQLite in a fresh state
 * directory, PostgreSQL in a fresh database of a server this program starts
 * with tests/pg-server.sh (or the one RESOLVIX_TEST_PG_URL names). */

#define PG_SCRIPT TEST_DATA_DIR "/../pg-server.sh"

/* 2023-11-14 22:00:00 UTC: hour-aligned, so expectations are easy to state. */
#define T0 INT64_C(1699999200000)

/* Test processes get these from main() through the environment (criterion
 * runs each test in a process of its own). */
#define ENV_PG_URL "RESOLVIX_TEST_PG_URL"
#define ENV_PG_SKIP "RESOLVIX_TEST_PG_SKIP"

static char pg_dir[256];
static char pg_admin_url[512];
static const char *pg_skip_reason;

static void pg_from_env(void) {
        snprintf(pg_admin_url, sizeof(pg_admin_url), "%s", getenv(ENV_PG_URL) ?: "");
        pg_skip_reason = getenv(ENV_PG_SKIP);
}

struct env {
        bool pg;
        char state_dir[256];
        char database[512];
        struct store *s;
        struct sample_values *vals;
};
static struct env env;

/* ---- database plumbing for checks the interface does not offer --------- */

static void pg_exec(const char *url, const char *sql) {
        PGconn *c = PQconnectdb(url);
        PGresult *res;

        cr_assert_eq(PQstatus(c), CONNECTION_OK, "connect %s: %s", url, PQerrorMessage(c));
        res = PQexec(c, sql);
        cr_assert(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql,
                  PQerrorMessage(c));
        PQclear(res);
        PQfinish(c);
}

static char *pg_value(const char *url, const char *sql) {
        PGconn *c = PQconnectdb(url);
        PGresult *res;
        char *v;

        cr_assert_eq(PQstatus(c), CONNECTION_OK, "connect: %s", PQerrorMessage(c));
        res = PQexec(c, sql);
        cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
        v = strdup(PQgetvalue(res, 0, 0));
        PQclear(res);
        PQfinish(c);
        return v;
}

static void sqlite_exec(const char *state_dir, const char *sql) {
        char path[512];
        sqlite3 *db;
        char *err = NULL;

        snprintf(path, sizeof(path), "%s/hub.sqlite", state_dir);
        cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK, "%s: %s", sql, err ? err : "");
        sqlite3_close(db);
}

static int text_cb(void *u, int n, char **v, char **names) {
        *(char **) u = strdup(v[0] ? v[0] : "");
        return 0;
}

static char *sqlite_value(const char *state_dir, const char *sql) {
        char path[512], *out = NULL, *err = NULL;
        sqlite3 *db;

        snprintf(path, sizeof(path), "%s/hub.sqlite", state_dir);
        cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        cr_assert_eq(sqlite3_exec(db, sql, text_cb, &out, &err), SQLITE_OK, "%s: %s", sql, err ? err : "");
        sqlite3_close(db);
        cr_assert_not_null(out, "%s returned no row", sql);
        return out;
}

static void db_exec(struct env *e, const char *sql) {
        if (e->pg)
                pg_exec(e->database, sql);
        else
                sqlite_exec(e->state_dir, sql);
}

static long long db_int(struct env *e, const char *sql) {
        _cleanup_free_ char *v = e->pg ? pg_value(e->database, sql) : sqlite_value(e->state_dir, sql);
        return atoll(v);
}

/* ---- fixtures ------------------------------------------------------------ */

static void open_store(struct env *e) {
        int r = store_open(e->pg ? e->database : "", e->state_dir, &e->s);
        cr_assert_eq(r, 0, "store_open: %s", strerror(-r));
}

static void reopen(struct env *e) {
        store_close(e->s);
        e->s = NULL;
        open_store(e);
}

static void setup_common(struct env *e) {
        strcpy(e->state_dir, "/tmp/hub-store-test.XXXXXX");
        cr_assert_not_null(mkdtemp(e->state_dir));
        e->vals = malloc(sizeof(*e->vals));
        cr_assert_not_null(e->vals);
}

static void setup_sqlite(void) {
        env = (struct env){ 0 };
        setup_common(&env);
}

static void setup_pg(void) {
        static unsigned counter;

        env = (struct env){ .pg = true };
        setup_common(&env);
        pg_from_env();
        if (!*pg_admin_url)
                return;
        char sql[128], name[64];
        snprintf(name, sizeof(name), "hs_%d_%u", (int) getpid(), counter++);
        snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
        pg_exec(pg_admin_url, sql);
        /* The admin URL with this database's name instead of "postgres". */
        const char *q = strstr(pg_admin_url, "/postgres?");
        cr_assert_not_null(q);
        snprintf(env.database, sizeof(env.database), "%.*s/%s%s", (int) (q - pg_admin_url), pg_admin_url, name,
                 q + strlen("/postgres"));
}

static void teardown(void) {
        char cmd[600];

        store_close(env.s);
        free(env.vals);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env.state_dir);
        (void) system(cmd);
}

#define BOTH(name)                                                                   \
        static void name##_case(struct env *e);                                     \
        Test(hub_store_sqlite, name, .init = setup_sqlite, .fini = teardown) {      \
                open_store(&env);                                                   \
                name##_case(&env);                                                  \
        }                                                                           \
        Test(hub_store_pg, name, .init = setup_pg, .fini = teardown) {              \
                if (!*env.database && pg_skip_reason)                               \
                        cr_skip_test("%s", pg_skip_reason);                         \
                cr_assert(*env.database, "PostgreSQL did not start");               \
                open_store(&env);                                                   \
                name##_case(&env);                                                  \
        }                                                                           \
        static void name##_case(struct env *e)

static void node_put(struct env *e, const char *id, const char *token, int64_t when) {
        struct store_node n = { .kind = STORE_NODE_RESOLVIX, .first_seen = when, .last_seen = when };

        snprintf(n.node_id, sizeof(n.node_id), "%s", id);
        snprintf(n.hostname, sizeof(n.hostname), "host-%s", id);
        snprintf(n.machine_id, sizeof(n.machine_id), "%032x", 42);
        snprintf(n.token_sha256, sizeof(n.token_sha256), "%s", token ? token : "");
        cr_assert_eq(store_node_upsert(e->s, &n), 0);
}

/* The value a generated sample carries: exact hundredths, varying. */
static double gen_value(int64_t seq) {
        return (double) ((seq * 37 + 11) % 10000) / 100.0;
}

/* Add one generated sample: cpu.cpu_usage_percent = v, memory.x = v / 3
 * (not a hundredth: the inexact path), and a per-core array. */
static int add_v(struct env *e, struct store_batch *b, const char *node, const char *stream, int64_t seq, int64_t ts,
                 double v) {
        char json[512];
        _cleanup_json_ cJSON *j = NULL;

        snprintf(json, sizeof(json),
                 "{\"node_id\":\"%s\",\"stream\":\"%s\",\"seq\":%lld,\"metrics\":{\"cpu\":{\"cpu_usage_percent\":%.2f,"
                 "\"cpu_per_core_percent\":[%.2f,%.2f]},\"memory\":{\"x\":%.17g}}}",
                 node, stream, (long long) seq, v, v, 100 - v, v / 3);
        j = cJSON_Parse(json);
        cr_assert_not_null(j);
        cr_assert_gt(sample_values_flatten(j, e->vals), 0);
        struct store_sample x = {
                .node_id = node,
                .stream = stream,
                .seq = seq,
                .ts = ts,
                .json = json,
                .json_len = strlen(json),
                .values = e->vals->v,
                .n_values = e->vals->n,
        };
        int r = store_batch_add(b, &x);
        if (r < 0 && getenv("HS_DEBUG"))
                fprintf(stderr, "add: %s\n", strerror(-r));
        return r;
}

static int add(struct env *e, struct store_batch *b, const char *node, const char *stream, int64_t seq, int64_t ts) {
        return add_v(e, b, node, stream, seq, ts, gen_value(seq));
}

static struct store_batch_result commit(struct env *e, struct store_batch *b) {
        struct store_batch_result res = { 0 };
        int r = store_batch_commit(b, &res);

        cr_assert_eq(r, 0, "commit: %s", strerror(-r));
        return res;
}

/* Store samples seq from..to of one node, ts = base + seq * step. */
static void ingest(struct env *e, const char *node, int64_t from, int64_t to, int64_t base, int64_t step) {
        struct store_batch *b;

        cr_assert_eq(store_batch_begin(e->s, &b), 0);
        for (int64_t seq = from; seq <= to; seq++) {
                cr_assert_eq(add(e, b, node, "boot", seq, base + seq * step), 0);
                if (store_batch_count(b) == 500)
                        commit(e, b);
        }
        commit(e, b);
        store_batch_free(b);
}

static void maintain_all(struct env *e, int64_t now, unsigned raw_days, unsigned rollup_days) {
        struct store_retention ret = { raw_days, rollup_days };
        int r, rounds = 0;

        while ((r = store_maintain(e->s, now, &ret)) > 0)
                cr_assert_lt(++rounds, 100000);
        cr_assert_eq(r, 0, "maintain: %s", strerror(-r));
}

static int count_cb(int64_t ts, const char *json, size_t len, void *u) {
        (*(size_t *) u)++;
        return 0;
}

static size_t count_samples(struct env *e, const char *node) {
        size_t n = 0;
        int r = store_samples_each(e->s, node, INT64_MIN, INT64_MAX, count_cb, &n);

        cr_assert(r == 0 || r == -ENOENT, "samples_each: %s", strerror(-r));
        return n;
}

/* ---- queries ------------------------------------------------------------- */

struct series_out {
        char node_id[64][STORE_NODE_ID_MAX + 1];
        struct store_point *points[64];
        size_t n[64];
        size_t count;
};

static int series_cb(const char *node_id, const struct store_point *p, size_t n, void *u) {
        struct series_out *o = u;

        cr_assert_lt(o->count, 64);
        snprintf(o->node_id[o->count], sizeof(o->node_id[0]), "%s", node_id);
        o->points[o->count] = malloc((n ? n : 1) * sizeof(*p));
        memcpy(o->points[o->count], p, n * sizeof(*p));
        o->n[o->count++] = n;
        return 0;
}

static void series_free(struct series_out *o) {
        for (size_t i = 0; i < o->count; i++)
                free(o->points[i]);
        o->count = 0;
}

static int query(struct env *e, const char *node, const char *metric, int64_t start, int64_t end, int64_t step,
                 enum store_agg agg, enum store_source src, struct series_out *o) {
        struct store_query q = { node, metric, start, end, step, agg, src };
        int64_t used;

        series_free(o);
        return store_query(e->s, &q, &used, series_cb, o);
}

static void assert_same(const struct series_out *a, const struct series_out *b, double tolerance, const char *what) {
        cr_assert_eq(a->count, b->count, "%s: %zu vs %zu series", what, a->count, b->count);
        for (size_t s = 0; s < a->count && getenv("HS_DEBUG"); s++) {
                for (size_t i = 0; i < a->n[s]; i++) fprintf(stderr, "A %lld %.17g\n", (long long) a->points[s][i].t, a->points[s][i].v);
                for (size_t i = 0; i < b->n[s]; i++) fprintf(stderr, "B %lld %.17g\n", (long long) b->points[s][i].t, b->points[s][i].v);
        }
        for (size_t s = 0; s < a->count; s++) {
                cr_assert_eq(a->n[s], b->n[s], "%s: %zu vs %zu points", what, a->n[s], b->n[s]);
                for (size_t i = 0; i < a->n[s]; i++) {
                        cr_assert_eq(a->points[s][i].t, b->points[s][i].t, "%s: point %zu time", what, i);
                        if (tolerance == 0)
                                cr_assert_eq(a->points[s][i].v, b->points[s][i].v, "%s: point %zu: %.17g vs %.17g",
                                             what, i, a->points[s][i].v, b->points[s][i].v);
                        else
                                cr_assert_float_eq(a->points[s][i].v, b->points[s][i].v,
                                                   tolerance * fmax(1, fabs(a->points[s][i].v)), "%s: point %zu",
                                                   what, i);
                }
        }
}

/* ---- schema ------------------------------------------------------------- */

BOTH(schema_created_and_versioned) {
        unsigned v;

        cr_assert_eq(store_schema_version(e->s, &v), 0);
        cr_assert_eq(v, STORE_SCHEMA_VERSION);
        cr_assert_eq(db_int(e, "SELECT version FROM schema_version"), STORE_SCHEMA_VERSION);
        cr_assert_eq(db_int(e, "SELECT count(*) FROM schema_version"), 1);
        cr_assert_str_eq(store_backend(e->s), e->pg ? "postgresql" : "sqlite");
        cr_assert_eq(store_ping(e->s), 0);
        uint64_t size = 0;
        cr_assert_eq(store_size_bytes(e->s, &size), 0);
        cr_assert_gt(size, 0);
        /* Opening again migrates nothing and loses nothing. */
        node_put(e, "a", NULL, T0);
        reopen(e);
        cr_assert_eq(store_schema_version(e->s, &v), 0);
        cr_assert_eq(v, STORE_SCHEMA_VERSION);
        struct store_node n;
        cr_assert_eq(store_node_get(e->s, "a", &n), 0);
}

BOTH(migration_from_version_1) {
        struct store *old;
        struct store_node n;
        unsigned v;

        /* A database that a version-1 hub made, with a node in it. */
        store_close(e->s);
        e->s = NULL;
        if (!e->pg)
                cr_assert_eq(unlink(strcat(strcpy((char[300]){ 0 }, e->state_dir), "/hub.sqlite")), 0);
        else {
                db_exec(e, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
        }
        cr_assert_eq(store_open_version(e->pg ? e->database : "", e->state_dir, 1, &old), 0);
        cr_assert_eq(store_schema_version(old, &v), 0);
        cr_assert_eq(v, 1);
        cr_assert_eq(db_int(e, "SELECT count(*) FROM schema_version"), 1);
        e->s = old;
        node_put(e, "kept", NULL, T0);
        store_close(old);
        e->s = NULL;

        open_store(e);
        cr_assert_eq(store_schema_version(e->s, &v), 0);
        cr_assert_eq(v, STORE_SCHEMA_VERSION);
        cr_assert_eq(store_node_get(e->s, "kept", &n), 0);
        cr_assert_str_eq(n.hostname, "host-kept");
        /* Version 2's tables work. */
        ingest(e, "kept", 1, 30, T0, 10000);
        maintain_all(e, T0 + 3 * MS_PER_HOUR, 0, 0);
        struct series_out o = { 0 };
        cr_assert_eq(query(e, "kept", "cpu.cpu_usage_percent", T0, T0 + MS_PER_HOUR, MS_PER_HOUR, STORE_AGG_MAX,
                           STORE_SOURCE_ROLLUP, &o),
                     0);
        cr_assert_eq(o.count, 1);
        series_free(&o);
        /* Version 4's indexes replace version 1's, on every partition. */
        if (e->pg) {
                long long tables = db_int(e, "SELECT count(*) + 1 FROM pg_inherits WHERE inhparent = 'samples'::regclass");

                cr_assert_gt(tables, 1);
                cr_assert_eq(db_int(e, "SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'samples%'"), 2 * tables);
                cr_assert_eq(db_int(e, "SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'samples%'"
                                       " AND (indexdef LIKE '%(stream_ref, seq)' OR indexdef LIKE '%(node_ref, ts)')"),
                             2 * tables);
        }
}

/* Version 2 fills its new tables from what version 1 stored: the latest
 * sample of each node, and the rollups by the next maintenance. */
BOTH(migration_carries_version_1_samples) {
        struct series_out raw = { 0 }, rolled = { 0 };
        char *json;
        size_t len;
        int64_t ts;
        unsigned v;

        node_put(e, "n", NULL, T0);
        ingest(e, "n", 1, 720, T0, 10000);
        store_close(e->s);
        e->s = NULL;
        /* Take the database back to what version 1 had. */
        db_exec(e, "DROP TABLE enroll_tokens; DROP TABLE latest; DROP TABLE rollups; DROP TABLE rollup_pending;"
                   " DROP TABLE state;"
                   " UPDATE schema_version SET version = 1");
        open_store(e);
        cr_assert_eq(store_schema_version(e->s, &v), 0);
        cr_assert_eq(v, STORE_SCHEMA_VERSION);
        cr_assert_eq(store_sample_at(e->s, "n", INT64_MAX, &json, &len, &ts), 0);
        cr_assert_eq(ts, T0 + 720 * 10000);
        free(json);
        maintain_all(e, T0 + 5 * MS_PER_HOUR, 0, 0);
        cr_assert_eq(query(e, "n", "cpu.cpu_usage_percent", T0, T0 + 2 * MS_PER_HOUR, 5 * MS_PER_MINUTE, STORE_AGG_AVG,
                           STORE_SOURCE_RAW, &raw),
                     0);
        cr_assert_eq(query(e, "n", "cpu.cpu_usage_percent", T0, T0 + 2 * MS_PER_HOUR, 5 * MS_PER_MINUTE, STORE_AGG_AVG,
                           STORE_SOURCE_ROLLUP, &rolled),
                     0);
        cr_assert_eq(raw.count, 1);
        assert_same(&raw, &rolled, 0, "rollups of migrated samples");
        series_free(&raw);
        series_free(&rolled);
}

BOTH(newer_schema_refused) {
        struct store *s = NULL;

        store_close(e->s);
        e->s = NULL;
        db_exec(e, "UPDATE schema_version SET version = 99");
        cr_assert_eq(store_open(e->pg ? e->database : "", e->state_dir, &s), -EPROTO);
        cr_assert_null(s);
        cr_assert_eq(db_int(e, "SELECT version FROM schema_version"), 99);
}

/* ---- nodes and clients --------------------------------------------------- */

#define TOKEN_A "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define TOKEN_B "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"

BOTH(node_upsert_get_token_delete) {
        struct store_node n;
        uint64_t count;

        node_put(e, "b-node", TOKEN_B, T0 + 5);
        node_put(e, "a-node", TOKEN_A, T0);
        cr_assert_eq(store_node_get(e->s, "a-node", &n), 0);
        cr_assert_str_eq(n.node_id, "a-node");
        cr_assert_str_eq(n.hostname, "host-a-node");
        cr_assert_eq(n.kind, STORE_NODE_RESOLVIX);
        cr_assert_str_eq(n.token_sha256, TOKEN_A);
        cr_assert_eq(n.first_seen, T0);
        cr_assert_eq(n.last_seen, T0);

        /* An update keeps the earliest first_seen and the latest last_seen. */
        node_put(e, "a-node", TOKEN_A, T0 + 1000);
        n = (struct store_node){ .kind = STORE_NODE_CLIENT, .first_seen = T0 - 50, .last_seen = T0 + 10 };
        strcpy(n.node_id, "a-node");
        strcpy(n.token_sha256, TOKEN_A);
        cr_assert_eq(store_node_upsert(e->s, &n), 0);
        cr_assert_eq(store_node_get(e->s, "a-node", &n), 0);
        cr_assert_eq(n.first_seen, T0 - 50);
        cr_assert_eq(n.last_seen, T0 + 1000);
        cr_assert_eq(n.kind, STORE_NODE_CLIENT);
        cr_assert_str_eq(n.hostname, "");

        cr_assert_eq(store_node_by_token(e->s, TOKEN_B, &n), 0);
        cr_assert_str_eq(n.node_id, "b-node");
        cr_assert_eq(store_node_by_token(e->s, "1f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", &n), -ENOENT);
        cr_assert_eq(store_node_by_token(e->s, "short", &n), -ENOENT);
        /* A token another node holds is refused, and changes nothing. */
        n = (struct store_node){ .kind = STORE_NODE_RESOLVIX, .first_seen = T0, .last_seen = T0 };
        strcpy(n.node_id, "c-node");
        strcpy(n.token_sha256, TOKEN_A);
        cr_assert_eq(store_node_upsert(e->s, &n), -EEXIST);
        cr_assert_eq(store_node_get(e->s, "c-node", &n), -ENOENT);
        /* Bad input. */
        strcpy(n.token_sha256, "XYZ");
        cr_assert_eq(store_node_upsert(e->s, &n), -EINVAL);
        n.token_sha256[0] = 0;
        n.node_id[0] = 0;
        cr_assert_eq(store_node_upsert(e->s, &n), -EINVAL);
        strcpy(n.node_id, "c-node");
        n.kind = 7;
        cr_assert_eq(store_node_upsert(e->s, &n), -EINVAL);

        cr_assert_eq(store_node_count(e->s, &count), 0);
        cr_assert_eq(count, 2);

        cr_assert_eq(store_node_delete(e->s, "a-node"), 0);
        cr_assert_eq(store_node_delete(e->s, "a-node"), -ENOENT);
        cr_assert_eq(store_node_get(e->s, "a-node", &n), -ENOENT);
        cr_assert_eq(store_node_by_token(e->s, TOKEN_A, &n), -ENOENT);
        cr_assert_eq(store_node_count(e->s, &count), 0);
        cr_assert_eq(count, 1);
        /* The id and the token are free again. */
        node_put(e, "a-node", TOKEN_A, T0 + 7);
        cr_assert_eq(store_node_get(e->s, "a-node", &n), 0);
        cr_assert_eq(n.first_seen, T0 + 7);
}

static int collect_ids(const struct store_node *n, void *u) {
        char *out = u;
        strcat(out, n->node_id);
        strcat(out, ",");
        return 0;
}

static int stop_early(const struct store_node *n, void *u) {
        return 42;
}

BOTH(nodes_each_in_id_order) {
        char ids[256] = "";

        node_put(e, "zulu", NULL, T0);
        node_put(e, "alpha", NULL, T0);
        node_put(e, "mike", NULL, T0);
        cr_assert_eq(store_nodes_each(e->s, collect_ids, ids), 0);
        cr_assert_str_eq(ids, "alpha,mike,zulu,");
        cr_assert_eq(store_nodes_each(e->s, stop_early, NULL), 42);
        cr_assert_str_eq(store_node_kind_to_string(STORE_NODE_SYSTEM_MONITOR), "system-monitor");
        cr_assert_eq(store_node_kind_from_string("client"), STORE_NODE_CLIENT);
        cr_assert_eq(store_node_kind_from_string("bogus"), -EINVAL);
}

BOTH(clients_registered_once) {
        char hash[STORE_PASSWORD_HASH_MAX + 1];

        cr_assert_eq(store_client_get(e->s, "wood", hash), -ENOENT);
        cr_assert_eq(store_client_put(e->s, "wood", "$y$j9T$salt$hash1"), 0);
        cr_assert_eq(store_client_put(e->s, "wood", "$y$j9T$salt$other"), -EEXIST);
        cr_assert_eq(store_client_get(e->s, "wood", hash), 0);
        cr_assert_str_eq(hash, "$y$j9T$salt$hash1");
        cr_assert_eq(store_client_put(e->s, "", "x"), -EINVAL);
        cr_assert_eq(store_client_put(e->s, "x", ""), -EINVAL);
        reopen(e);
        cr_assert_eq(store_client_get(e->s, "wood", hash), 0);
        cr_assert_str_eq(hash, "$y$j9T$salt$hash1");
}

static int collect_token(const struct store_enroll_token *t, void *u) {
        char *out = u;
        strcat(out, t->note);
        strcat(out, ";");
        return 0;
}

static struct store_enroll_token token_rec(char c, const char *note, int64_t created, int64_t expires) {
        struct store_enroll_token t = { .created = created, .expires = expires };
        memset(t.token_sha256, c, STORE_TOKEN_SHA256_HEX);
        snprintf(t.note, sizeof(t.note), "%s", note);
        return t;
}

BOTH(enroll_tokens_spent_once) {
        struct store_enroll_token a = token_rec('a', "first", T0, T0 + 60000),
                                  b = token_rec('b', "second", T0 + 1, T0 + 120000),
                                  bad = token_rec('c', "old", T0, T0);
        char listed[256] = "", id[STORE_ENROLL_ID_LEN + 1];

        cr_assert_eq(store_enroll_token_put(e->s, &a, T0), 0);
        cr_assert_eq(store_enroll_token_put(e->s, &b, T0), 0);
        cr_assert_eq(store_enroll_token_put(e->s, &a, T0), -EEXIST);
        cr_assert_eq(store_enroll_token_put(e->s, &bad, T0), -EINVAL); /* expired already */
        bad.expires = T0 + 1;
        bad.token_sha256[0] = 'X';
        cr_assert_eq(store_enroll_token_put(e->s, &bad, T0), -EINVAL);
        cr_assert_eq(store_enroll_tokens_each(e->s, T0, collect_token, listed), 0);
        cr_assert_str_eq(listed, "first;second;");

        /* Spent once, inside a transaction only when it commits. */
        cr_assert_eq(store_begin(e->s), 0);
        cr_assert_eq(store_enroll_token_take(e->s, a.token_sha256, T0 + 10), 0);
        store_rollback(e->s);
        cr_assert_eq(store_begin(e->s), 0);
        cr_assert_eq(store_enroll_token_take(e->s, a.token_sha256, T0 + 10), 0);
        cr_assert_eq(store_commit(e->s), 0);
        cr_assert_eq(store_enroll_token_take(e->s, a.token_sha256, T0 + 10), -ENOENT);
        /* Expired: listed no more, not spendable. */
        listed[0] = '\0';
        cr_assert_eq(store_enroll_tokens_each(e->s, T0 + 120000, collect_token, listed), 0);
        cr_assert_str_eq(listed, "");
        cr_assert_eq(store_enroll_token_take(e->s, b.token_sha256, T0 + 120000), -ENOENT);
        /* Revoked by the start of its hash. */
        b.expires = T0 + 500000;
        b.token_sha256[0] = 'd';
        cr_assert_eq(store_enroll_token_put(e->s, &b, T0 + 120000), 0);
        snprintf(id, sizeof(id), "%.16s", b.token_sha256);
        reopen(e);
        cr_assert_eq(store_enroll_token_delete(e->s, "0123456789abcdef"), -ENOENT);
        cr_assert_eq(store_enroll_token_delete(e->s, "short"), -ENOENT);
        cr_assert_eq(store_enroll_token_delete(e->s, id), 0);
        cr_assert_eq(store_enroll_token_delete(e->s, id), -ENOENT);
        cr_assert_eq(store_enroll_token_take(e->s, b.token_sha256, T0 + 120000), -ENOENT);
}

/* ---- ingest ------------------------------------------------------------- */

BOTH(batch_all_or_nothing) {
        struct store_batch *b;
        struct store_batch_result res;
        size_t mark;

        node_put(e, "n", NULL, T0);
        cr_assert_eq(store_batch_begin(e->s, &b), 0);
        for (int i = 1; i <= 5; i++)
                cr_assert_eq(add(e, b, "n", "s", i, T0 + i), 0);
        mark = store_batch_count(b);
        /* A sample of a node nobody enrolled fails mid-batch... */
        cr_assert_eq(add(e, b, "stranger", "s", 6, T0 + 6), -ENOENT);
        cr_assert_eq(store_batch_count(b), mark);
        for (int i = 7; i <= 9; i++)
                cr_assert_eq(add(e, b, "n", "s", i, T0 + i), 0);
        /* ...and the batch cannot commit any of it. */
        cr_assert_eq(store_batch_commit(b, &res), -ENOENT);
        cr_assert_eq(count_samples(e, "n"), 0);
        int64_t first, last;
        cr_assert_eq(store_time_bounds(e->s, "n", &first, &last), -ENODATA);

        /* Dropping back to before the failed request commits the rest. */
        cr_assert_eq(store_batch_truncate(b, store_batch_count(b) + 1), -EINVAL);
        cr_assert_eq(store_batch_truncate(b, mark), 0);
        res = commit(e, b);
        cr_assert_eq(res.acked, 5);
        cr_assert_eq(res.duplicates, 0);
        cr_assert_eq(count_samples(e, "n"), 5);
        /* The commit saw the node now. */
        struct store_node n;
        cr_assert_eq(store_node_get(e->s, "n", &n), 0);
        cr_assert_gt(n.last_seen, T0 + 365 * MS_PER_DAY);
        cr_assert_eq(n.first_seen, T0);

        /* Bad fields are refused the same way. */
        struct store_sample bad = { .node_id = "n", .stream = "s", .seq = 1, .ts = -1, .json = "{}", .json_len = 2 };
        cr_assert_eq(store_batch_add(b, &bad), -EINVAL);
        cr_assert_eq(store_batch_commit(b, &res), -EINVAL);
        cr_assert_eq(store_batch_truncate(b, 0), 0);
        bad.ts = T0;
        bad.json_len = 0;
        cr_assert_eq(store_batch_add(b, &bad), -EINVAL);
        cr_assert_eq(store_batch_truncate(b, 0), 0);
        bad.json_len = STORE_SAMPLE_MAX + 1;
        cr_assert_eq(store_batch_add(b, &bad), -EINVAL);
        cr_assert_eq(store_batch_truncate(b, 0), 0);
        bad.json_len = 2;
        struct store_value twice[] = { { "a", 1 }, { "a", 2 } };
        bad.values = twice;
        bad.n_values = 2;
        cr_assert_eq(store_batch_add(b, &bad), -EINVAL);
        cr_assert_eq(store_batch_truncate(b, 0), 0);
        struct store_value nan[] = { { "a", NAN } };
        bad.values = nan;
        bad.n_values = 1;
        cr_assert_eq(store_batch_add(b, &bad), -EINVAL);
        cr_assert_eq(store_batch_truncate(b, 0), 0);
        res = commit(e, b);
        cr_assert_eq(res.acked, 0);
        cr_assert_eq(count_samples(e, "n"), 5);
        store_batch_free(b);
}

/* A node deleted between add and commit: its samples are forgotten, the
 * others of the batch stored. */
BOTH(commit_forgets_deleted_node) {
        struct store_batch *b;
        struct store *other;
        struct store_batch_result res;

        node_put(e, "keep", NULL, T0);
        node_put(e, "gone", NULL, T0);
        cr_assert_eq(store_batch_begin(e->s, &b), 0);
        cr_assert_eq(add(e, b, "keep", "s", 1, T0), 0);
        cr_assert_eq(add(e, b, "gone", "s", 1, T0), 0);
        cr_assert_eq(add(e, b, "gone", "s", 2, T0 + 1), 0);
        cr_assert_eq(store_open(e->pg ? e->database : "", e->state_dir, &other), 0);
        cr_assert_eq(store_node_delete(other, "gone"), 0);
        store_close(other);
        res = commit(e, b);
        cr_assert_eq(res.acked, 1);
        cr_assert_eq(res.forgotten, 2);
        cr_assert_eq(count_samples(e, "keep"), 1);
        cr_assert_eq(count_samples(e, "gone"), 0);
        /* The handle no longer takes samples for it. */
        cr_assert_eq(add(e, b, "gone", "s", 3, T0 + 2), -ENOENT);
        store_batch_free(b);
}

BOTH(duplicates_counted_and_stored_once) {
        struct store_batch *b;
        struct store_batch_result res;
        char *json;
        size_t len;
        int64_t ts;

        node_put(e, "n", NULL, T0);
        cr_assert_eq(store_batch_begin(e->s, &b), 0);
        /* Twice in one batch. */
        for (int i = 1; i <= 10; i++)
                cr_assert_eq(add(e, b, "n", "boot-1", i, T0 + i * 1000), 0);
        cr_assert_eq(add(e, b, "n", "boot-1", 4, T0 + 4000), 0);
        res = commit(e, b);
        cr_assert_eq(res.acked, 10);
        cr_assert_eq(res.duplicates, 1);

        /* Across batches, with new ones mixed in; another stream's seq 3 is
         * its own sample. */
        for (int i = 8; i <= 12; i++)
                cr_assert_eq(add(e, b, "n", "boot-1", i, T0 + i * 1000), 0);
        cr_assert_eq(add(e, b, "n", "boot-2", 3, T0 + 3500), 0);
        res = commit(e, b);
        cr_assert_eq(res.acked, 3);
        cr_assert_eq(res.duplicates, 3);

        /* A seq going backwards: stored ones are duplicates, a gap filled
         * late (backfill after the newest was sent first) is new. */
        cr_assert_eq(add(e, b, "n", "boot-1", 20, T0 + 20000), 0);
        cr_assert_eq(add(e, b, "n", "boot-1", 5, T0 + 5000), 0);
        cr_assert_eq(add(e, b, "n", "boot-1", 15, T0 + 15000), 0);
        res = commit(e, b);
        cr_assert_eq(res.acked, 2);
        cr_assert_eq(res.duplicates, 1);

        /* The same (stream, seq) with another time is still the same sample:
         * stored once, the first version kept. */
        cr_assert_eq(add(e, b, "n", "boot-1", 7, T0 + 999999), 0);
        res = commit(e, b);
        cr_assert_eq(res.acked, 0);
        cr_assert_eq(res.duplicates, 1);
        cr_assert_eq(store_sample_at(e->s, "n", T0 + 999999, &json, &len, &ts), 0);
        cr_assert_eq(ts, T0 + 20000);
        free(json);

        /* After reopening. */
        reopen(e);
        store_batch_free(b);
        cr_assert_eq(store_batch_begin(e->s, &b), 0);
        for (int i = 1; i <= 12; i++)
                cr_assert_eq(add(e, b, "n", "boot-1", i, T0 + i * 1000), 0);
        res = commit(e, b);
        cr_assert_eq(res.acked, 0);
        cr_assert_eq(res.duplicates, 12);
        cr_assert_eq(count_samples(e, "n"), 15);
        store_batch_free(b);
}

/* Letters that compress to about 4.7 bits each, from a seed. */
static void random_letters(char *p, size_t n, uint32_t *seed) {
        for (size_t i = 0; i < n; i++) {
                *seed = *seed * 1103515245 + 12345;
                p[i] = (char) ('a' + (*seed >> 16) % 26);
        }
}

BOTH(compression_round_trip) {
        static const char *bodies[] = {
                "{}",
                "{\"metrics\":{\"cpu\":{\"cpu_usage_percent\":12.5}},\"node_id\":\"h\\u00e9llo \xe2\x9c\x93\"}",
                "{\"cpu\":18,\"mem\":8513,\"storage\":81720,\"unix_time\":1651155333}",
        };
        struct store_batch *b;
        char *json;
        size_t len;
        int64_t ts;

        node_put(e, "n", NULL, T0);
        cr_assert_eq(store_batch_begin(e->s, &b), 0);
        for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
                struct store_sample x = { .node_id = "n", .stream = "", .seq = (int64_t) i, .ts = T0 + (int64_t) i,
                                          .json = bodies[i], .json_len = strlen(bodies[i]) };
                cr_assert_eq(store_batch_add(b, &x), 0);
        }
        /* A large one, at the size bound, of bytes that do not compress. */
        _cleanup_free_ char *big = malloc(STORE_SAMPLE_MAX);
        uint32_t seed = 12345;
        random_letters(big, STORE_SAMPLE_MAX, &seed);
        struct store_sample x = { .node_id = "n", .stream = "", .seq = 99, .ts = T0 + 99, .json = big,
                                  .json_len = STORE_SAMPLE_MAX };
        cr_assert_eq(store_batch_add(b, &x), 0);
        commit(e, b);
        store_batch_free(b);

        for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
                cr_assert_eq(store_sample_at(e->s, "n", T0 + (int64_t) i, &json, &len, &ts), 0);
                cr_assert_eq(len, strlen(bodies[i]));
                cr_assert_str_eq(json, bodies[i]);
                free(json);
        }
        cr_assert_eq(store_sample_at(e->s, "n", INT64_MAX, &json, &len, &ts), 0);
        cr_assert_eq(len, STORE_SAMPLE_MAX);
        cr_assert_eq(memcmp(json, big, len), 0);
        cr_assert_eq(json[len], 0);
        free(json);

        /* What is stored is compressed: a sample of the real shape takes far
         * less than its JSON. */
        cr_assert_lt(db_int(e, e->pg ? "SELECT octet_length(body) FROM samples WHERE ts = 1699999200002"
                                     : "SELECT length(body) FROM samples WHERE ts = 1699999200002"),
                     (long long) strlen(bodies[2]));
}

struct bodies_seen {
        uint32_t seed;
        size_t n;
};

static int same_letters_cb(int64_t ts, const char *json, size_t len, void *u) {
        struct bodies_seen *seen = u;
        char want[64 * 1024];

        random_letters(want, sizeof(want), &seen->seed);
        cr_assert_eq(ts, T0 + (int64_t) seen->n);
        cr_assert_eq(len, sizeof(want));
        cr_assert_eq(memcmp(json, want, len), 0, "sample %zu differs", seen->n);
        seen->n++;
        return 0;
}

/* One commit of more than a megabyte of compressed bodies: PostgreSQL's
 * COPY takes them in several messages. */
BOTH(batch_larger_than_one_copy_message) {
        static char body[64 * 1024];
        struct bodies_seen seen = { .seed = 777 };
        uint32_t seed = seen.seed;
        struct store_batch *b;

        node_put(e, "n", NULL, T0);
        cr_assert_eq(store_batch_begin(e->s, &b), 0);
        for (int64_t i = 0; i < 60; i++) {
                random_letters(body, sizeof(body), &seed);
                struct store_sample x = { .node_id = "n", .stream = "", .seq = i, .ts = T0 + i, .json = body,
                                          .json_len = sizeof(body) };
                cr_assert_eq(store_batch_add(b, &x), 0);
        }
        cr_assert_eq(commit(e, b).acked, 60);
        store_batch_free(b);
        cr_assert_gt(db_int(e, e->pg ? "SELECT sum(octet_length(body)) FROM samples"
                                     : "SELECT sum(length(body)) FROM samples"),
                     2 * 1024 * 1024);
        cr_assert_eq(store_samples_each(e->s, "n", INT64_MIN, INT64_MAX, same_letters_cb, &seen), 0);
        cr_assert_eq(seen.n, 60);
}

BOTH(body_compressed_by_the_caller_stored_as_given) {
        static const char body[] = "{\"metrics\":{\"cpu\":{\"cpu_usage_percent\":12.5}},\"seq\":7}";
        struct body_codec *codec;
        struct bytes packed = { 0 };
        struct store_batch *b;
        char *json;
        size_t len;
        int64_t ts;

        cr_assert_eq(body_codec_new(&codec), 0);
        cr_assert_eq(body_compress(codec, body, strlen(body), &packed), 0);
        node_put(e, "n", NULL, T0);
        cr_assert_eq(store_batch_begin(e->s, &b), 0);
        struct store_sample x = { .node_id = "n", .stream = "", .seq = 7, .ts = T0, .json = body,
                                  .json_len = strlen(body), .body = packed.p, .body_len = packed.len };
        cr_assert_eq(store_batch_add(b, &x), 0);
        commit(e, b);
        store_batch_free(b);
        cr_assert_eq(store_sample_at(e->s, "n", T0, &json, &len, &ts), 0);
        cr_assert_str_eq(json, body);
        cr_assert_eq(len, strlen(body));
        free(json);
        bytes_done(&packed);
        body_codec_free(codec);
}

/* ---- reads -------------------------------------------------------------- */

struct ts_list {
        int64_t ts[64];
        size_t n;
};

static int ts_cb(int64_t ts, const char *json, size_t len, void *u) {
        struct ts_list *l = u;

        cr_assert_eq(strlen(json), len);
        cr_assert_lt(l->n, 64);
        l->ts[l->n++] = ts;
        return 0;
}

BOTH(sample_at_bounds_and_each) {
        struct store_batch *b;
        struct ts_list l = { 0 };
        char *json;
        size_t len;
        int64_t ts, first, last;

        node_put(e, "n", NULL, T0);
        cr_assert_eq(store_sample_at(e->s, "n", INT64_MAX, &json, &len, &ts), -ENOENT);
        cr_assert_eq(store_sample_at(e->s, "nobody", INT64_MAX, &json, &len, &ts), -ENOENT);
        cr_assert_eq(store_time_bounds(e->s, "nobody", &first, &last), -ENOENT);
        cr_assert_eq(store_batch_begin(e->s, &b), 0);
        /* Out of order, two streams. */
        int64_t times[] = { 50, 10, 30, 20, 40 };
        for (size_t i = 0; i < ELEMENTSOF(times); i++)
                cr_assert_eq(add(e, b, "n", i % 2 ? "a" : "b", (int64_t) i, T0 + times[i] * 1000), 0);
        commit(e, b);
        store_batch_free(b);

        cr_assert_eq(store_time_bounds(e->s, "n", &first, &last), 0);
        cr_assert_eq(first, T0 + 10000);
        cr_assert_eq(last, T0 + 50000);
        /* Nearest before, exactly at, before the first. */
        cr_assert_eq(store_sample_at(e->s, "n", T0 + 35000, &json, &len, &ts), 0);
        cr_assert_eq(ts, T0 + 30000);
        cr_assert(strstr(json, "\"seq\":2") != NULL);
        free(json);
        cr_assert_eq(store_sample_at(e->s, "n", T0 + 20000, &json, &len, NULL), 0);
        cr_assert(strstr(json, "\"seq\":3") != NULL);
        free(json);
        cr_assert_eq(store_sample_at(e->s, "n", T0 + 9999, &json, &len, &ts), -ENOENT);
        cr_assert_eq(store_sample_at(e->s, "n", INT64_MAX, &json, &len, &ts), 0);
        cr_assert_eq(ts, T0 + 50000);
        cr_assert(strstr(json, "\"seq\":0") != NULL);
        free(json);

        /* Inclusive bounds, time order. */
        cr_assert_eq(store_samples_each(e->s, "n", T0 + 20000, T0 + 40000, ts_cb, &l), 0);
        cr_assert_eq(l.n, 3);
        cr_assert_eq(l.ts[0], T0 + 20000);
        cr_assert_eq(l.ts[1], T0 + 30000);
        cr_assert_eq(l.ts[2], T0 + 40000);
        l.n = 0;
        cr_assert_eq(store_samples_each(e->s, "n", INT64_MIN, INT64_MAX, ts_cb, &l), 0);
        cr_assert_eq(l.n, 5);
        for (size_t i = 1; i < l.n; i++)
                cr_assert_lt(l.ts[i - 1], l.ts[i]);
        cr_assert_eq(store_samples_each(e->s, "nobody", 0, 1, ts_cb, &l), -ENOENT);
}

struct latest_list {
        char ids[256];
        int64_t ts[8];
        size_t n;
};

static int latest_cb(const char *node_id, int64_t ts, const char *json, size_t len, void *u) {
        struct latest_list *l = u;

        strcat(l->ids, node_id);
        strcat(l->ids, ",");
        l->ts[l->n++] = ts;
        cr_assert(strstr(json, node_id) != NULL);
        return 0;
}

BOTH(latest_of_every_node) {
        struct latest_list l = { 0 };
        struct store_batch *b;

        node_put(e, "b", NULL, T0);
        node_put(e, "a", NULL, T0);
        node_put(e, "c", NULL, T0);
        cr_assert_eq(store_batch_begin(e->s, &b), 0);
        cr_assert_eq(add(e, b, "a", "", 1, T0 + 100), 0);
        cr_assert_eq(add(e, b, "a", "", 2, T0 + 300), 0);
        cr_assert_eq(add(e, b, "b", "", 1, T0 + 200), 0);
        commit(e, b);
        /* An older sample arriving later does not replace the latest. */
        cr_assert_eq(add(e, b, "a", "", 0, T0 + 50), 0);
        commit(e, b);
        store_batch_free(b);
        cr_assert_eq(store_latest_each(e->s, latest_cb, &l), 0);
        cr_assert_str_eq(l.ids, "a,b,");
        cr_assert_eq(l.ts[0], T0 + 300);
        cr_assert_eq(l.ts[1], T0 + 200);

        cr_assert_eq(store_node_delete(e->s, "a"), 0);
        memset(&l, 0, sizeof(l));
        cr_assert_eq(store_latest_each(e->s, latest_cb, &l), 0);
        cr_assert_str_eq(l.ids, "b,");
}

/* ---- queries ------------------------------------------------------------- */

/* Three hours and ten minutes at 10 s, and a second node at 30 s. */
static void history(struct env *e) {
        node_put(e, "n1", NULL, T0);
        node_put(e, "n2", NULL, T0);
        ingest(e, "n1", 0, 3 * 360 + 60, T0, 10000);
        ingest(e, "n2", 0, 3 * 120, T0 + 5000, 30000);
}

/* What the query should answer, computed here from the generated values. */
static void expected(int64_t step, enum store_agg agg, int64_t start, int64_t end, struct series_out *o) {
        series_free(o);
        struct store_point *p = calloc(20000, sizeof(*p));
        size_t n = 0;

        for (int64_t b = start / step * step; b <= end; b += step) {
                double sum = 0, min = INFINITY, max = -INFINITY, lastv = 0;
                int count = 0;

                for (int64_t seq = 0; seq <= 3 * 360 + 60; seq++) {
                        int64_t ts = T0 + seq * 10000;
                        double v = gen_value(seq);

                        if (ts < b || ts >= b + step)
                                continue;
                        sum += v;
                        count++;
                        min = fmin(min, v);
                        max = fmax(max, v);
                        lastv = v;
                }
                if (count == 0)
                        continue;
                p[n].t = b;
                p[n].v = agg == STORE_AGG_AVG ? sum / count : agg == STORE_AGG_MIN ? min : agg == STORE_AGG_MAX ? max : lastv;
                n++;
        }
        strcpy(o->node_id[0], "n1");
        o->points[0] = p;
        o->n[0] = n;
        o->count = 1;
}

BOTH(query_raw_and_rollups_agree) {
        static const int64_t steps[] = { 60000, 300000, 600000, MS_PER_HOUR, 2 * MS_PER_HOUR };
        struct series_out raw = { 0 }, rolled = { 0 }, automatic = { 0 }, want = { 0 };
        int64_t start = T0 - MS_PER_HOUR, end = T0 + 4 * MS_PER_HOUR;

        history(e);
        /* Before any maintenance everything comes from raw rows. */
        for (int agg = 0; agg < _STORE_AGG_MAX; agg++) {
                cr_assert_eq(query(e, "n1", "cpu.cpu_usage_percent", start, end, 300000, agg, STORE_SOURCE_AUTO,
                                   &automatic),
                             0);
                expected(300000, agg, start, end, &want);
                assert_same(&want, &automatic, 1e-12, "before rollup");
        }

        /* Ten hours on, the first day (to 24:00) is complete and has hour
         * rollups, the second has minute rollups up to 07:00 and raw rows
         * after: AUTO mixes all three. Three days on, everything is rolled
         * up both ways. */
        for (int pass = 0; pass < 2; pass++) {
                maintain_all(e, pass == 0 ? T0 + 10 * MS_PER_HOUR : T0 + 3 * MS_PER_DAY, 0, 0);
                for (size_t i = 0; i < ELEMENTSOF(steps); i++)
                        for (int agg = 0; agg < _STORE_AGG_MAX; agg++) {
                                const char *m = "cpu.cpu_usage_percent";

                                cr_assert_eq(query(e, "n1", m, start, end, steps[i], agg, STORE_SOURCE_RAW, &raw), 0);
                                cr_assert_eq(query(e, "n1", m, start, end, steps[i], agg, STORE_SOURCE_ROLLUP, &rolled),
                                             0);
                                cr_assert_eq(query(e, "n1", m, start, end, steps[i], agg, STORE_SOURCE_AUTO,
                                                   &automatic),
                                             0);
                                expected(steps[i], agg, start, end, &want);
                                cr_assert_gt(raw.n[0], 0);
                                /* Hundredths add up exactly, whatever the path. */
                                assert_same(&want, &raw, 1e-12, "computed vs raw");
                                assert_same(&raw, &automatic, 0, "raw vs auto");
                                if (pass == 0 && steps[i] % MS_PER_HOUR == 0)
                                        continue; /* hour rollups of the second day not made yet */
                                assert_same(&raw, &rolled, 0, "raw vs rollup");
                                /* Values that are not hundredths: equal up to rounding. */
                                m = "memory.x";
                                cr_assert_eq(query(e, "n1", m, start, end, steps[i], agg, STORE_SOURCE_RAW, &raw), 0);
                                cr_assert_eq(query(e, "n1", m, start, end, steps[i], agg, STORE_SOURCE_ROLLUP, &rolled),
                                             0);
                                assert_same(&raw, &rolled, 1e-12, "raw vs rollup, inexact");
                        }
        }

        /* A late sample: answered from raw rows until it is rolled up. */
        struct store_batch *b;
        cr_assert_eq(store_batch_begin(e->s, &b), 0);
        cr_assert_eq(add_v(e, b, "n1", "late", 1, T0 + 30 * MS_PER_MINUTE + 5000, 99.99), 0);
        commit(e, b);
        store_batch_free(b);
        for (int agg = 0; agg < _STORE_AGG_MAX; agg++) {
                cr_assert_eq(query(e, "n1", "cpu.cpu_usage_percent", start, end, MS_PER_HOUR, agg, STORE_SOURCE_RAW,
                                   &raw),
                             0);
                cr_assert_eq(query(e, "n1", "cpu.cpu_usage_percent", start, end, MS_PER_HOUR, agg, STORE_SOURCE_AUTO,
                                   &automatic),
                             0);
                assert_same(&raw, &automatic, 0, "late sample, auto");
        }
        cr_assert_eq(query(e, "n1", "cpu.cpu_usage_percent", start, end, MS_PER_HOUR, STORE_AGG_MAX, STORE_SOURCE_RAW,
                           &raw),
                     0);
        cr_assert_eq(raw.points[0][0].t, T0);
        cr_assert_eq(raw.points[0][0].v, 99.99);
        maintain_all(e, T0 + 3 * MS_PER_DAY, 0, 0);
        for (int agg = 0; agg < _STORE_AGG_MAX; agg++) {
                cr_assert_eq(query(e, "n1", "cpu.cpu_usage_percent", start, end, MS_PER_HOUR, agg, STORE_SOURCE_RAW,
                                   &raw),
                             0);
                cr_assert_eq(query(e, "n1", "cpu.cpu_usage_percent", start, end, MS_PER_HOUR, agg,
                                   STORE_SOURCE_ROLLUP, &rolled),
                             0);
                assert_same(&raw, &rolled, 0, "late sample rolled up, hours");
                cr_assert_eq(query(e, "n1", "cpu.cpu_usage_percent", start, end, MS_PER_MINUTE, agg, STORE_SOURCE_RAW,
                                   &raw),
                             0);
                cr_assert_eq(query(e, "n1", "cpu.cpu_usage_percent", start, end, MS_PER_MINUTE, agg,
                                   STORE_SOURCE_ROLLUP, &rolled),
                             0);
                assert_same(&raw, &rolled, 0, "late sample rolled up");
        }

        /* Every node. */
        cr_assert_eq(query(e, "*", "cpu.cpu_usage_percent", start, end, MS_PER_HOUR, STORE_AGG_AVG, STORE_SOURCE_AUTO,
                           &automatic),
                     0);
        cr_assert_eq(automatic.count, 2);
        cr_assert_str_eq(automatic.node_id[0], "n1");
        cr_assert_str_eq(automatic.node_id[1], "n2");
        series_free(&raw);
        series_free(&rolled);
        series_free(&automatic);
        series_free(&want);
}

BOTH(query_steps_and_bad_input) {
        struct series_out o = { 0 };
        struct store_query q = { "n1", "cpu.cpu_usage_percent", T0, T0 + MS_PER_HOUR, 90000, STORE_AGG_AVG,
                                 STORE_SOURCE_AUTO };
        int64_t used = 0;

        history(e);
        /* 90 s is counted in whole minutes: 2 min. */
        cr_assert_eq(store_query(e->s, &q, &used, series_cb, &o), 0);
        cr_assert_eq(used, 120000);
        cr_assert_eq(o.n[0], 31);
        series_free(&o);
        q.step = 5400000;
        cr_assert_eq(store_query(e->s, &q, &used, series_cb, &o), 0);
        cr_assert_eq(used, 2 * MS_PER_HOUR);
        series_free(&o);
        /* Under a minute: raw buckets as asked. */
        q.step = 25000;
        cr_assert_eq(store_query(e->s, &q, &used, series_cb, &o), 0);
        cr_assert_eq(used, 25000);
        cr_assert_eq(o.n[0], 3600 / 25 + 1);
        series_free(&o);
        /* step 0: every sample as stored. */
        q.step = 0;
        cr_assert_eq(store_query(e->s, &q, &used, series_cb, &o), 0);
        cr_assert_eq(o.n[0], 361);
        cr_assert_eq(o.points[0][1].t, T0 + 10000);
        cr_assert_eq(o.points[0][1].v, gen_value(1));
        series_free(&o);
        /* Per-core array values are series too. */
        q.metric = "cpu.cpu_per_core_percent.1";
        cr_assert_eq(store_query(e->s, &q, &used, series_cb, &o), 0);
        cr_assert_float_eq(o.points[0][1].v, 100 - gen_value(1), 1e-9);
        series_free(&o);

        /* Unknown metric: no series. Unknown node: -ENOENT. */
        q.metric = "no.such.metric";
        cr_assert_eq(store_query(e->s, &q, &used, series_cb, &o), 0);
        cr_assert_eq(o.count, 0);
        q.metric = "cpu.cpu_usage_percent";
        q.node_id = "nobody";
        cr_assert_eq(store_query(e->s, &q, &used, series_cb, &o), -ENOENT);
        q.node_id = "n1";
        q.end = q.start - 1;
        cr_assert_eq(store_query(e->s, &q, &used, series_cb, &o), -EINVAL);
        q.end = T0 + MS_PER_HOUR;
        q.step = -1;
        cr_assert_eq(store_query(e->s, &q, &used, series_cb, &o), -EINVAL);
        q.step = 60000;
        q.agg = 9;
        cr_assert_eq(store_query(e->s, &q, &used, series_cb, &o), -EINVAL);
        q.agg = STORE_AGG_AVG;
        q.metric = "";
        cr_assert_eq(store_query(e->s, &q, &used, series_cb, &o), -EINVAL);
        cr_assert_eq(store_agg_from_string("last"), STORE_AGG_LAST);
        cr_assert_eq(store_agg_from_string("median"), -EINVAL);
}

BOTH(query_point_bound) {
        struct series_out o = { 0 };
        struct store_query q = { "n", "cpu.cpu_usage_percent", 0, 0, 60000, STORE_AGG_AVG, STORE_SOURCE_AUTO };
        int64_t used;

        node_put(e, "n", NULL, T0);
        ingest(e, "n", 1, STORE_QUERY_POINTS_MAX + 1, T0, 1000);
        /* Exactly 11,000 buckets: answered. */
        q.start = T0;
        q.end = T0 + (STORE_QUERY_POINTS_MAX - 1) * q.step;
        cr_assert_eq(store_query(e->s, &q, &used, series_cb, &o), 0);
        series_free(&o);
        /* One more: refused before any work. */
        q.end += q.step;
        cr_assert_eq(store_query(e->s, &q, &used, series_cb, &o), -E2BIG);
        cr_assert_eq(o.count, 0);
        /* Raw samples: 11,001 in range is too many, 11,000 is fine. */
        q.step = 0;
        q.start = T0;
        q.end = T0 + (STORE_QUERY_POINTS_MAX + 1) * 1000;
        cr_assert_eq(store_query(e->s, &q, &used, series_cb, &o), -E2BIG);
        series_free(&o);
        q.start = T0 + 2000;
        cr_assert_eq(store_query(e->s, &q, &used, series_cb, &o), 0);
        cr_assert_eq(o.n[0], STORE_QUERY_POINTS_MAX);
        series_free(&o);
        /* Steps so large they overflow: refused, not wrapped. */
        q.step = INT64_MAX;
        cr_assert_eq(store_query(e->s, &q, &used, series_cb, &o), -E2BIG);
}

/* ---- maintenance -------------------------------------------------------- */

BOTH(expiry_of_raw_rows_and_rollups) {
        struct series_out o = { 0 };
        int64_t now = T0 + 20 * MS_PER_DAY + 6 * MS_PER_HOUR, first, last;
        int64_t raw_cut = (now - 14 * MS_PER_DAY) / MS_PER_DAY * MS_PER_DAY;
        char *json;
        size_t len;

        node_put(e, "n", NULL, T0);
        /* Every 10 minutes for 20 days. */
        ingest(e, "n", 0, 20 * 144, T0, 600000);
        maintain_all(e, now, 14, 0);
        cr_assert_eq(store_time_bounds(e->s, "n", &first, &last), 0);
        cr_assert_geq(first, raw_cut);
        cr_assert_lt(first, raw_cut + 600000);
        cr_assert_eq(last, T0 + 20 * 144 * 600000);
        cr_assert_eq(count_samples(e, "n"), (size_t) ((last - first) / 600000 + 1));
        /* What expired is still in the rollups, hour by hour. */
        cr_assert_eq(query(e, "n", "cpu.cpu_usage_percent", T0, now, MS_PER_HOUR, STORE_AGG_MAX, STORE_SOURCE_AUTO, &o),
                     0);
        cr_assert_eq(o.points[0][0].t, T0);
        cr_assert_eq(o.n[0], 20 * 24 + 1);
        cr_assert_eq(query(e, "n", "cpu.cpu_usage_percent", T0, now, 0, STORE_AGG_MAX, STORE_SOURCE_AUTO, &o), 0);
        cr_assert_eq(o.points[0][0].t, first);
        /* The latest sample outlives retention. */
        cr_assert_eq(store_sample_at(e->s, "n", INT64_MAX, &json, &len, NULL), 0);
        free(json);

        /* Rollups kept 5 days. */
        maintain_all(e, now, 14, 5);
        cr_assert_eq(query(e, "n", "cpu.cpu_usage_percent", T0, now, MS_PER_HOUR, STORE_AGG_MAX, STORE_SOURCE_ROLLUP,
                           &o),
                     0);
        cr_assert_geq(o.points[0][0].t, (now - 5 * MS_PER_DAY) / MS_PER_DAY * MS_PER_DAY);
        cr_assert_eq(db_int(e, "SELECT count(*) FROM rollups WHERE start < (SELECT min(start) FROM rollups) + 0"), 0);
        series_free(&o);
}

BOTH(deleted_node_data_erased) {
        struct series_out o = { 0 };

        node_put(e, "gone", NULL, T0);
        node_put(e, "kept", NULL, T0);
        ingest(e, "gone", 0, 2000, T0, 10000);
        ingest(e, "kept", 0, 10, T0, 10000);
        maintain_all(e, T0 + 10 * MS_PER_HOUR, 0, 0);
        cr_assert_gt(db_int(e, "SELECT count(*) FROM rollups"), 0);
        cr_assert_eq(store_node_delete(e->s, "gone"), 0);
        /* Gone from every read at once... */
        cr_assert_eq(query(e, "*", "cpu.cpu_usage_percent", T0, T0 + MS_PER_DAY, MS_PER_HOUR, STORE_AGG_AVG,
                           STORE_SOURCE_AUTO, &o),
                     0);
        cr_assert_eq(o.count, 1);
        cr_assert_str_eq(o.node_id[0], "kept");
        series_free(&o);
        /* ...and from the disk after maintenance, in small steps. */
        maintain_all(e, T0 + 10 * MS_PER_HOUR, 0, 0);
        cr_assert_eq(db_int(e, "SELECT count(*) FROM samples"), 11);
        cr_assert_eq(db_int(e, "SELECT count(*) FROM nodes"), 1);
        cr_assert_eq(db_int(e, "SELECT count(*) FROM rollups WHERE node_ref NOT IN (SELECT node_ref FROM nodes)"), 0);
        /* Enrolled again: a new node with nothing of the old one. */
        node_put(e, "gone", NULL, T0);
        cr_assert_eq(count_samples(e, "gone"), 0);
}

/* kill -9 of a process in the middle of committing: whatever it reported
 * committed is there after reopening, and the database is sound. */
BOTH(kill_9_while_committing) {
        int fds[2];
        pid_t pid;
        int64_t reported = 0, k;

        node_put(e, "n", NULL, T0);
        store_close(e->s);
        e->s = NULL;
        cr_assert_eq(pipe(fds), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                struct store *s;
                struct store_batch *b;

                close(fds[0]);
                if (store_open(e->pg ? e->database : "", e->state_dir, &s) < 0 || store_batch_begin(s, &b) < 0)
                        _exit(1);
                e->s = s;
                for (k = 1; k < 100000; k++) {
                        for (int i = 0; i < 50; i++)
                                if (add(e, b, "n", "boot", k * 50 + i, T0 + (k * 50 + i) * 100) < 0)
                                        _exit(2);
                        if (store_batch_commit(b, NULL) < 0)
                                _exit(3);
                        if (write(fds[1], &k, sizeof(k)) != sizeof(k))
                                _exit(4);
                }
                _exit(0);
        }
        close(fds[1]);
        while (reported < 20)
                cr_assert_eq(read(fds[0], &reported, sizeof(reported)), sizeof(reported));
        usleep(20000);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        while (read(fds[0], &k, sizeof(k)) == sizeof(k))
                reported = k;
        close(fds[0]);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the child ended by itself: %d", status);

        if (!e->pg) {
                _cleanup_free_ char *check = sqlite_value(e->state_dir, "PRAGMA integrity_check");
                cr_assert_str_eq(check, "ok");
        }
        open_store(e);
        size_t n = count_samples(e, "n");
        cr_assert_geq(n, (size_t) reported * 50, "%zu stored, %lld batches reported", n, (long long) reported);
        cr_assert_eq(n % 50, 0, "a batch was half stored: %zu", n);
        /* And each reported batch is there in full. */
        struct series_out o = { 0 };
        cr_assert_eq(query(e, "n", "cpu.cpu_usage_percent", T0, T0 + (reported * 50 + 49) * 100, 0, STORE_AGG_AVG,
                           STORE_SOURCE_RAW, &o),
                     0);
        cr_assert_eq(o.n[0], (size_t) reported * 50);
        series_free(&o);
        /* The database takes writes again. */
        ingest(e, "n", 1, 10, T0 - MS_PER_HOUR, 1000);
}

/* ---- PostgreSQL going away ------------------------------------------------ */

static void pg_outage(struct env *e, bool on) {
        char sql[512];
        const char *db = strstr(e->database, "@/") + 2;
        int len = (int) strcspn(db, "?");

        snprintf(sql, sizeof(sql), "ALTER DATABASE %.*s ALLOW_CONNECTIONS %s", len, db, on ? "false" : "true");
        pg_exec(pg_admin_url, sql);
        if (on) {
                snprintf(sql, sizeof(sql),
                         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%.*s'"
                         " AND pid <> pg_backend_pid()",
                         len, db);
                pg_exec(pg_admin_url, sql);
        }
}

/* The writer's WAL is copied back on another handle while the writer goes
 * on: past 16 MB of it, the writer's handle asks once; a checkpoint on the
 * other handle takes all of it, and the WAL starts over at the next commit. */
Test(hub_store_sqlite, wal_checkpointed_by_another_handle, .init = setup_sqlite, .fini = teardown) {
        struct store *other;
        struct store_batch *b;
        _cleanup_free_ char *big = malloc(32768);
        uint32_t seed = 7;
        int64_t seq = 0;
        bool wanted = false;

        open_store(&env);
        cr_assert_eq(store_open("", env.state_dir, &other), 0);
        node_put(&env, "n", NULL, T0);
        while (!wanted) {
                cr_assert_lt(seq, 4000, "no checkpoint asked for after %lld samples of 32 KiB", (long long) seq);
                cr_assert_eq(store_batch_begin(env.s, &b), 0);
                for (int i = 0; i < 10; i++, seq++) {
                        random_letters(big, 32768, &seed);
                        struct store_sample x = { .node_id = "n", .stream = "", .seq = seq, .ts = T0 + seq,
                                                  .json = big, .json_len = 32768 };
                        cr_assert_eq(store_batch_add(b, &x), 0);
                }
                commit(&env, b);
                store_batch_free(b);
                wanted = store_checkpoint_wanted(env.s);
        }
        /* 16 MB of WAL, about 24 KB a sample. */
        cr_assert_gt(seq, 400);
        cr_assert(!store_checkpoint_wanted(env.s), "asked twice for one commit");
        cr_assert_eq(store_checkpoint(other), 0);

        cr_assert_eq(store_batch_begin(env.s, &b), 0);
        struct store_sample x = { .node_id = "n", .stream = "", .seq = seq, .ts = T0 + seq, .json = "{}", .json_len = 2 };
        cr_assert_eq(store_batch_add(b, &x), 0);
        commit(&env, b);
        store_batch_free(b);
        cr_assert(!store_checkpoint_wanted(env.s), "the WAL did not start over after the checkpoint");
        /* Everything is there, read through the other handle. */
        char *json;
        size_t len;
        int64_t ts;
        cr_assert_eq(store_sample_at(other, "n", T0 + seq - 1, &json, &len, &ts), 0);
        cr_assert_eq(len, 32768);
        free(json);
        store_close(other);
}

static void *sync_often(void *userdata) {
        struct store *s = userdata;

        for (int i = 0; i < 200; i++)
                if (store_sync(s) < 0)
                        return (void *) 1;
        return NULL;
}

/* Commits that do not wait for the disk, and store_sync() on another thread
 * beside them, as the hub's writer and syncer do. */
Test(hub_store_sqlite, sync_deferred_beside_commits, .init = setup_sqlite, .fini = teardown) {
        struct store *other;
        pthread_t syncer;
        void *failed;

        open_store(&env);
        cr_assert_eq(store_sync(env.s), 0, "nothing to sync yet");
        cr_assert_eq(store_defer_sync(env.s), 0);
        node_put(&env, "n", NULL, T0);
        cr_assert_eq(pthread_create(&syncer, NULL, sync_often, env.s), 0);
        for (int64_t seq = 0; seq < 500; seq += 10) {
                struct store_batch *b;

                cr_assert_eq(store_batch_begin(env.s, &b), 0);
                for (int64_t k = seq; k < seq + 10; k++) {
                        struct store_sample x = { .node_id = "n", .stream = "", .seq = k, .ts = T0 + k,
                                                  .json = "{\"metrics\": {\"a\": 1}}", .json_len = 21 };
                        cr_assert_eq(store_batch_add(b, &x), 0);
                }
                commit(&env, b);
                store_batch_free(b);
        }
        cr_assert_eq(pthread_join(syncer, &failed), 0);
        cr_assert_null(failed, "store_sync() failed beside the commits");
        cr_assert_eq(store_sync(env.s), 0);

        cr_assert_eq(store_open("", env.state_dir, &other), 0);
        char *json;
        size_t len;
        int64_t ts;
        cr_assert_eq(store_sample_at(other, "n", T0 + 499, &json, &len, &ts), 0);
        cr_assert_eq(ts, T0 + 499);
        free(json);
        store_close(other);
}

/* PostgreSQL's commits are durable as they return. */
Test(hub_store_pg, sync_is_not_deferred, .init = setup_pg, .fini = teardown) {
        open_store(&env);
        cr_assert_eq(store_defer_sync(env.s), -EOPNOTSUPP);
        cr_assert_eq(store_sync(env.s), 0);
}

Test(hub_store_pg, reconnects_and_says_unavailable, .init = setup_pg, .fini = teardown) {
        struct env *e = &env;
        struct store_batch *b;
        struct store_batch_result res;
        struct store_node n;
        struct store *s = NULL;

        if (!*e->database && pg_skip_reason)
                cr_skip_test("%s", pg_skip_reason);
        open_store(e);
        node_put(e, "n", NULL, T0);

        /* A connection cut while idle is replaced without the caller noticing. */
        pg_outage(e, true);
        pg_outage(e, false);
        cr_assert_eq(store_ping(e->s), 0);
        cr_assert_eq(store_node_get(e->s, "n", &n), 0);

        /* The database away: every call says so at once, a batch stays whole. */
        cr_assert_eq(store_batch_begin(e->s, &b), 0);
        cr_assert_eq(add(e, b, "n", "s", 1, T0), 0);
        pg_outage(e, true);
        cr_assert_eq(store_ping(e->s), -ENOTCONN);
        cr_assert_eq(store_node_get(e->s, "n", &n), -ENOTCONN);
        cr_assert_eq(store_batch_commit(b, &res), -ENOTCONN);
        cr_assert_eq(store_batch_count(b), 1);
        /* Back: after the backoff the same batch commits. */
        pg_outage(e, false);
        for (int i = 0; i < 100 && store_ping(e->s) == -ENOTCONN; i++)
                usleep(100000);
        cr_assert_eq(store_ping(e->s), 0);
        res = commit(e, b);
        cr_assert_eq(res.acked, 1);
        store_batch_free(b);

        /* Never reached at start: refused with the same word. */
        cr_assert_eq(store_open("postgresql://postgres@/postgres?host=/nonexistent", "", &s), -ENOTCONN);
        cr_assert_null(s);
        cr_assert_eq(store_open("postgresql://[bad", "", &s), -EINVAL);
        cr_assert_eq(store_open("mysql://x", "", &s), -EINVAL);
}

/* ---- the pure encodings ------------------------------------------------- */

Test(hub_store_codec, values_round_trip) {
        static const double values[] = { 0, 0.01, -0.01, 45.2, 99.99, 100, 1e15, -123456.78, 0.1 + 0.2, 1.0 / 3,
                                         1e300, -1e-300, 9007199254740993.0, 2345678 };
        struct bytes b = { 0 };
        const uint8_t *p;

        cr_assert_eq(bytes_reserve(&b, ELEMENTSOF(values) * VALUE_MAX_BYTES + 10), 0);
        varint_put(&b, 777);
        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                value_put(&b, values[i]);
        int64_t layout;
        cr_assert_eq(values_layout(b.p, b.p + b.len, &layout, &p), 0);
        cr_assert_eq(layout, 777);
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                double v;
                cr_assert_eq(values_at(p, b.p + b.len, i, &v), 0);
                cr_assert_eq(memcmp(&v, &values[i], sizeof(v)), 0, "%zu: %.17g became %.17g", i, values[i], v);
        }
        double v;
        cr_assert_eq(values_at(p, b.p + b.len, ELEMENTSOF(values), &v), -EBADMSG);
        /* Hundredths are small. */
        b.len = 0;
        value_put(&b, 45.2);
        cr_assert_leq(b.len, 3);
        bytes_done(&b);
}

/* Every body version ever written reads back: resolvix-sample.body-v1 is
 * what the hub stored of resolvix-sample.json before version 2. */
Test(hub_store_codec, bodies_of_every_version_read_back) {
        static char json[8192], v1[8192];
        ssize_t json_len = read_file(TEST_DATA_DIR "/hub/resolvix-sample.json", json, sizeof(json));
        ssize_t v1_len = read_file(TEST_DATA_DIR "/hub/resolvix-sample.body-v1", v1, sizeof(v1));
        struct body_codec *c;
        struct bytes b = { 0 };
        const char *back;
        size_t len;

        cr_assert_gt(json_len, 1000);
        cr_assert_gt(v1_len, 1);
        cr_assert_eq(v1[0], 1);
        cr_assert_eq(body_codec_new(&c), 0);

        cr_assert_eq(body_decompress(c, (const uint8_t *) v1, (size_t) v1_len, &back, &len), 0);
        cr_assert_eq(len, (size_t) json_len);
        cr_assert_eq(memcmp(back, json, len), 0);

        cr_assert_eq(body_compress(c, json, (size_t) json_len, &b), 0);
        cr_assert_eq(b.p[0], 2);
        cr_assert_lt(b.len, (size_t) v1_len, "version 2 took %zu bytes, version 1 %zd", b.len, v1_len);
        cr_assert_eq(body_decompress(c, b.p, b.len, &back, &len), 0);
        cr_assert_eq(len, (size_t) json_len);
        cr_assert_eq(memcmp(back, json, len), 0);

        cr_assert_eq(body_plain(json, (size_t) json_len, &b), 0);
        cr_assert_eq(body_decompress(c, b.p + b.len - (size_t) json_len - 1, (size_t) json_len + 1, &back, &len), 0);
        cr_assert_eq(memcmp(back, json, len), 0);

        /* A version not yet made and a cut frame are refused. */
        v1[0] = 3;
        cr_assert_eq(body_decompress(c, (const uint8_t *) v1, (size_t) v1_len, &back, &len), -EBADMSG);
        v1[0] = 1;
        cr_assert_eq(body_decompress(c, (const uint8_t *) v1, (size_t) v1_len - 1, &back, &len), -EBADMSG);
        bytes_done(&b);
        body_codec_free(c);
}

Test(hub_store_codec, chunk_round_trip_and_damage) {
        struct agg slots[60] = { 0 }, back[60];
        struct bytes b = { 0 };

        agg_add(&slots[0], 1.5);
        agg_add(&slots[0], 2.25);
        agg_add(&slots[59], 1.0 / 3);
        agg_add(&slots[59], -7);
        cr_assert_eq(chunk_encode(slots, 60, &b), 0);
        cr_assert_eq(chunk_decode(b.p, b.len, back, 60), 0);
        cr_assert_eq(back[0].count, 2);
        cr_assert_eq(agg_value(&back[0], STORE_AGG_AVG), 1.875);
        cr_assert_eq(agg_value(&back[0], STORE_AGG_LAST), 2.25);
        cr_assert_eq(back[30].count, 0);
        cr_assert_eq(agg_value(&back[59], STORE_AGG_MIN), -7);
        cr_assert_eq(agg_value(&back[59], STORE_AGG_MAX), 1.0 / 3);
        cr_assert_eq(agg_value(&back[59], STORE_AGG_AVG), agg_value(&slots[59], STORE_AGG_AVG));
        /* Too few slots for it, cut short, a bad version. */
        cr_assert_eq(chunk_decode(b.p, b.len, back, 24), -EBADMSG);
        cr_assert_eq(chunk_decode(b.p, b.len - 1, back, 60), -EBADMSG);
        b.p[0] = 9;
        cr_assert_eq(chunk_decode(b.p, b.len, back, 60), -EBADMSG);
        bytes_done(&b);
}

/* ---- the PostgreSQL server for this run -------------------------------- */

static bool start_pg(void) {
        const char *url = getenv(ENV_PG_URL);
        char cmd[512], out[512] = "";
        FILE *f;
        int status;

        if (url && *url)
                return false;
        strcpy(pg_dir, "/tmp/hub-store-pg.XXXXXX");
        if (!mkdtemp(pg_dir) || chmod(pg_dir, 0755) < 0) {
                fprintf(stderr, "cannot make a directory for PostgreSQL: %m\n");
                return false;
        }
        snprintf(cmd, sizeof(cmd), "%s start '%s/server' --no-fsync", PG_SCRIPT, pg_dir);
        f = popen(cmd, "r");
        if (!f || !fgets(out, sizeof(out), f))
                out[0] = 0;
        status = f ? pclose(f) : -1;
        out[strcspn(out, "\n")] = 0;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
                setenv(ENV_PG_SKIP, "PostgreSQL server binaries are not installed (apt-get install postgresql)", 1);
        else if (status != 0 || !*out)
                fprintf(stderr, "tests/pg-server.sh failed (status %d): the PostgreSQL cases fail\n", status);
        else
                setenv(ENV_PG_URL, out, 1);
        return true;
}

static void stop_pg(void) {
        char cmd[600];

        snprintf(cmd, sizeof(cmd), "%s stop '%s/server' >/dev/null; rm -rf '%s'", PG_SCRIPT, pg_dir, pg_dir);
        (void) system(cmd);
}

Test(hub_store_pg, server_started) {
        /* A server that should have started and did not is a failure, not a
         * skip: only missing binaries skip. */
        pg_from_env();
        if (!*pg_admin_url && pg_skip_reason)
                cr_skip_test("%s", pg_skip_reason);
        cr_assert(*pg_admin_url, "tests/pg-server.sh could not start PostgreSQL");
}

int main(int argc, char *argv[]) {
        struct criterion_test_set *tests = criterion_initialize();
        bool started;
        int result = 0;

        started = start_pg();
        if (criterion_handle_args(argc, argv, true))
                result = !criterion_run_all_tests(tests);
        criterion_finalize(tests);
        if (started)
                stop_pg();
        return result;
}
