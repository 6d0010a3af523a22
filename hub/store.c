/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grow.h"
#include "log.h"
#include "macro.h"
#include "store-backend.h"
#include "timeutil.h"

/* Caches are bounded: past this many entries one starts over. */
#define CACHE_MAX 200000
/* Year 9999: a timestamp beyond it is a client's bug. */
#define TS_MAX INT64_C(253402300800000)
/* An hour is rolled up this long after it ends, so that pushes in flight
 * at the turn of the hour are not late arrivals. */
#define ROLLUP_GRACE (2 * MS_PER_MINUTE)
/* Bounds of one store_maintain() call. */
#define MAINTAIN_PENDING_MAX 64
#define MAINTAIN_ROWS_MAX 5000

/* ---- names -------------------------------------------------------------- */

static const char *const kind_names[_STORE_NODE_KIND_MAX] = {
        [STORE_NODE_RESOLVIX] = "resolvix",
        [STORE_NODE_CLIENT] = "client",
        [STORE_NODE_SYSTEM_MONITOR] = "system-monitor",
};

static const char *const agg_names[_STORE_AGG_MAX] = {
        [STORE_AGG_AVG] = "avg",
        [STORE_AGG_MIN] = "min",
        [STORE_AGG_MAX] = "max",
        [STORE_AGG_LAST] = "last",
};

static const char *name_of(const char *const *names, int n, int i) {
        return i >= 0 && i < n ? names[i] : NULL;
}

static int index_of(const char *const *names, int n, const char *s) {
        for (int i = 0; s && i < n; i++)
                if (streq(s, names[i]))
                        return i;
        return -EINVAL;
}

const char *store_node_kind_to_string(enum store_node_kind k) {
        return name_of(kind_names, _STORE_NODE_KIND_MAX, (int) k);
}

int store_node_kind_from_string(const char *s) {
        return index_of(kind_names, _STORE_NODE_KIND_MAX, s);
}

const char *store_agg_to_string(enum store_agg a) {
        return name_of(agg_names, _STORE_AGG_MAX, (int) a);
}

int store_agg_from_string(const char *s) {
        return index_of(agg_names, _STORE_AGG_MAX, s);
}

/* ---- opening ------------------------------------------------------------ */

int store_init(struct store *s, const struct store_ops *ops) {
        int r;

        s->ops = ops;
        r = body_codec_new(&s->codec);
        if (r < 0)
                return r;
        s->node_cache = store_map_new();
        s->stream_cache = store_map_new();
        s->metric_cache = store_map_new();
        s->layout_cache = store_map_new();
        s->layout_index = store_map_new();
        s->pending_cache = store_map_new();
        if (!s->node_cache || !s->stream_cache || !s->metric_cache || !s->layout_cache || !s->layout_index ||
            !s->pending_cache)
                return -ENOMEM;
        return 0;
}

void store_done(struct store *s) {
        body_codec_free(s->codec);
        store_map_free(s->node_cache);
        store_map_free(s->stream_cache);
        store_map_free(s->metric_cache);
        store_map_free(s->layout_cache);
        store_map_free(s->layout_index);
        store_map_free(s->pending_cache);
        for (size_t i = 0; i < s->n_layouts; i++)
                free(s->layouts[i].refs);
        free(s->layouts);
        bytes_done(&s->pending_new);
        bytes_done(&s->layout_key);
}

static bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

int store_open_version(const char *database, const char *state_dir, unsigned max_version, struct store **ret) {
        if (!database || !*database) {
                if (!state_dir || !*state_dir)
                        return log_debug_errno(EINVAL, "No state directory for the SQLite database");
                return store_open_sqlite(state_dir, max_version, ret);
        }
        if (startswith(database, "postgresql://") || startswith(database, "postgres://"))
                return store_open_pg(database, max_version, ret);
        return log_error_errno(EINVAL, "Unsupported [hub] database \"%s\": expected empty (SQLite) or postgresql://…",
                               database);
}

int store_open(const char *database, const char *state_dir, struct store **ret) {
        return store_open_version(database, state_dir, STORE_SCHEMA_VERSION, ret);
}

void store_close(struct store *s) {
        if (s)
                s->ops->close(s);
}

const char *store_backend(const struct store *s) {
        return s->ops->name;
}

int store_schema_version(struct store *s, unsigned *ret) {
        return s->ops->schema_version(s, ret);
}

int store_ping(struct store *s) {
        return s->ops->ping(s);
}

int store_size_bytes(struct store *s, uint64_t *ret) {
        return s->ops->size_bytes(s, ret);
}

/* ---- nodes and clients --------------------------------------------------- */

static bool valid_text(const char *s, size_t min, size_t max) {
        size_t n;

        if (!s)
                return false;
        n = strnlen(s, max + 1);
        return n >= min && n <= max;
}

/* len lowercase hex digits, nothing more. */
static bool valid_hex(const char *s, size_t len) {
        return strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

static bool valid_node_id(const char *id) {
        return valid_text(id, 1, STORE_NODE_ID_MAX);
}

int store_node_upsert(struct store *s, const struct store_node *n) {
        if (!valid_node_id(n->node_id) || !valid_text(n->hostname, 0, STORE_HOSTNAME_MAX) ||
            !valid_text(n->machine_id, 0, STORE_MACHINE_ID_MAX) ||
            !valid_text(n->cert_subject, 0, STORE_CERT_SUBJECT_MAX) || !store_node_kind_to_string(n->kind) ||
            (*n->token_sha256 && !valid_hex(n->token_sha256, STORE_TOKEN_SHA256_HEX)))
                return log_debug_errno(EINVAL, "Refusing to store an invalid node");
        return s->ops->node_upsert(s, n);
}

int store_node_get(struct store *s, const char *node_id, struct store_node *ret) {
        int64_t ref;

        if (!valid_node_id(node_id))
                return -ENOENT;
        return s->ops->node_get(s, node_id, ret, &ref);
}

int store_node_by_token(struct store *s, const char *sha256_hex, struct store_node *ret) {
        if (!sha256_hex || !valid_hex(sha256_hex, STORE_TOKEN_SHA256_HEX))
                return -ENOENT;
        return s->ops->node_by_token(s, sha256_hex, ret);
}

struct nodes_each_ctx {
        store_node_cb cb;
        void *userdata;
};

static int nodes_each_one(const struct store_node *n, int64_t ref, void *u) {
        struct nodes_each_ctx *c = u;
        return c->cb(n, c->userdata);
}

int store_nodes_each(struct store *s, store_node_cb cb, void *userdata) {
        struct nodes_each_ctx c = { cb, userdata };
        return s->ops->nodes_each(s, nodes_each_one, &c);
}

int store_node_delete(struct store *s, const char *node_id) {
        int r;

        if (!valid_node_id(node_id))
                return -ENOENT;
        r = s->ops->node_delete(s, node_id);
        if (r < 0)
                return r;
        store_map_remove(s->node_cache, node_id, strlen(node_id));
        return 0;
}

int store_node_count(struct store *s, uint64_t *ret) {
        return s->ops->node_count(s, ret);
}

int store_client_get(struct store *s, const char *username, char *hash) {
        if (!valid_text(username, 1, STORE_USERNAME_MAX))
                return -ENOENT;
        return s->ops->client_get(s, username, hash);
}

int store_client_put(struct store *s, const char *username, const char *hash) {
        if (!valid_text(username, 1, STORE_USERNAME_MAX) || !valid_text(hash, 1, STORE_PASSWORD_HASH_MAX))
                return log_debug_errno(EINVAL, "Refusing to store an invalid client registration");
        return s->ops->client_put(s, username, hash);
}

/* ---- enroll tokens ------------------------------------------------------- */

int store_enroll_token_put(struct store *s, const struct store_enroll_token *t, int64_t now) {
        if (!valid_hex(t->token_sha256, STORE_TOKEN_SHA256_HEX) || !valid_text(t->note, 0, STORE_ENROLL_NOTE_MAX) ||
            t->expires <= now)
                return log_debug_errno(EINVAL, "Refusing to store an invalid enroll token");
        return s->ops->enroll_token_put(s, t, now);
}

int store_enroll_token_take(struct store *s, const char *sha256_hex, int64_t now) {
        if (!sha256_hex || !valid_hex(sha256_hex, STORE_TOKEN_SHA256_HEX))
                return -ENOENT;
        return s->ops->enroll_token_take(s, sha256_hex, now);
}

int store_enroll_tokens_each(struct store *s, int64_t now, store_enroll_token_cb cb, void *userdata) {
        return s->ops->enroll_tokens_each(s, now, cb, userdata);
}

int store_enroll_token_delete(struct store *s, const char *id) {
        if (!id || !valid_hex(id, STORE_ENROLL_ID_LEN))
                return -ENOENT;
        return s->ops->enroll_token_delete(s, id);
}

int store_begin(struct store *s) {
        return s->ops->begin(s, true);
}

int store_commit(struct store *s) {
        return s->ops->end(s, true);
}

void store_rollback(struct store *s) {
        (void) s->ops->end(s, false);
}

/* ---- dictionaries --------------------------------------------------------- */

static int cache_put(struct store_map *m, const void *key, size_t len, int64_t value) {
        if (store_map_size(m) >= CACHE_MAX)
                store_map_clear(m);
        return store_map_put(m, key, len, value);
}

/* After a miss: hand out and remember what the database answered (r). */
static int cache_fill(struct store_map *m, const void *key, size_t len, int r, int64_t ref, int64_t *ret) {
        if (r < 0)
                return r;
        r = cache_put(m, key, len, ref);
        if (r < 0)
                return r;
        *ret = ref;
        return 0;
}

static int node_ref(struct store *s, const char *node_id, int64_t *ret) {
        size_t len = strlen(node_id);
        int64_t ref = 0;
        int r;

        if (store_map_get(s->node_cache, node_id, len, ret))
                return 0;
        r = s->ops->node_get(s, node_id, NULL, &ref);
        return cache_fill(s->node_cache, node_id, len, r, ref, ret);
}

static int stream_ref(struct store *s, int64_t node, const char *name, int64_t *ret) {
        char key[sizeof(int64_t) + STORE_STREAM_MAX];
        size_t len = strlen(name);
        int64_t ref = 0;
        int r;

        memcpy(key, &node, sizeof(node));
        memcpy(key + sizeof(node), name, len);
        if (store_map_get(s->stream_cache, key, sizeof(node) + len, ret))
                return 0;
        r = s->ops->stream_ref(s, node, name, &ref);
        return cache_fill(s->stream_cache, key, sizeof(node) + len, r, ref, ret);
}

static int metric_ref(struct store *s, const char *path, bool create, int64_t *ret) {
        size_t len = strlen(path);
        int64_t ref = 0;
        int r;

        if (store_map_get(s->metric_cache, path, len, ret))
                return 0;
        r = s->ops->metric_ref(s, path, create, &ref);
        return cache_fill(s->metric_cache, path, len, r, ref, ret);
}

/* The metric refs of a layout, loaded once per handle. Layouts never
 * change once written, so the copy never goes stale. */
static int layout_get(struct store *s, int64_t ref, const struct layout **ret) {
        _cleanup_(bytes_done) struct bytes b = { 0 };
        struct layout *l;
        int64_t idx;
        int r;

        if (store_map_get(s->layout_index, &ref, sizeof(ref), &idx)) {
                *ret = &s->layouts[idx];
                return 0;
        }
        r = s->ops->layout_get(s, ref, &b);
        if (r < 0)
                return r;
        r = GROW(s->layouts, s->layouts_cap, s->n_layouts + 1, 16);
        if (r < 0)
                return r;
        l = &s->layouts[s->n_layouts];
        *l = (struct layout){ .refs = calloc(b.len ? b.len : 1, sizeof(int64_t)) };
        if (!l->refs)
                return -ENOMEM;
        for (const uint8_t *p = b.p, *end = b.p + b.len; p < end;) {
                uint64_t u;
                size_t k = varint_get(p, end, &u);

                if (k == 0) {
                        free(l->refs);
                        return log_error_errno(EBADMSG, "Layout %" PRIi64 " is damaged", ref);
                }
                l->refs[l->n++] = (int64_t) u;
                p += k;
        }
        r = store_map_put(s->layout_index, &ref, sizeof(ref), (int64_t) s->n_layouts);
        if (r < 0) {
                free(l->refs);
                return r;
        }
        s->n_layouts++;
        *ret = l;
        return 0;
}

static int ref_cmp(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return (x > y) - (x < y);
}

/* The layout of a sample's values: its paths in order, NUL-separated, is the
 * cache key, so that a sample shaped like the previous one costs one hash. */
static int sample_layout(struct store *s, const struct store_sample *x, int64_t *ret) {
        _cleanup_(bytes_done) struct bytes refs = { 0 };
        _cleanup_free_ int64_t *sorted = NULL;
        struct bytes key = s->layout_key;
        int64_t ref;
        int r;

        key.len = 0;
        for (size_t i = 0; i < x->n_values; i++) {
                size_t len = strlen(x->values[i].path);

                r = bytes_reserve(&key, len + 1);
                if (r < 0)
                        goto keep;
                memcpy(key.p + key.len, x->values[i].path, len + 1);
                key.len += len + 1;
        }
        r = store_map_get(s->layout_cache, key.p ? key.p : (const uint8_t *) "", key.len, ret);
keep:
        /* The buffer is kept for the next sample, whatever happens. */
        s->layout_key = key;
        if (r != 0)
                return r < 0 ? r : 0;

        sorted = calloc(x->n_values ? x->n_values : 1, sizeof(int64_t));
        if (!sorted)
                return -ENOMEM;
        r = bytes_reserve(&refs, x->n_values * 10 + 1);
        if (r < 0)
                return r;
        for (size_t i = 0; i < x->n_values; i++) {
                r = metric_ref(s, x->values[i].path, true, &sorted[i]);
                if (r < 0)
                        return r;
                varint_put(&refs, (uint64_t) sorted[i]);
        }
        qsort(sorted, x->n_values, sizeof(int64_t), ref_cmp);
        for (size_t i = 1; i < x->n_values; i++)
                if (sorted[i] == sorted[i - 1])
                        return log_debug_errno(EINVAL, "A sample names the same value twice");
        r = s->ops->layout_ref(s, store_hash(refs.p, refs.len), refs.p, refs.len, &ref);
        if (r < 0)
                return r;
        r = cache_put(s->layout_cache, key.p ? key.p : (const uint8_t *) "", key.len, ref);
        if (r < 0)
                return r;
        *ret = ref;
        return 0;
}

/* ---- ingest ------------------------------------------------------------- */

int store_batch_begin(struct store *s, struct store_batch **ret) {
        struct store_batch *b = calloc(1, sizeof(*b));

        if (!b)
                return -ENOMEM;
        b->store = s;
        *ret = b;
        return 0;
}

void store_batch_free(struct store_batch *b) {
        if (!b)
                return;
        free(b->rows);
        free(b->inserted);
        free(b->forgotten);
        bytes_done(&b->data);
        free(b);
}

size_t store_batch_count(const struct store_batch *b) {
        return b->n;
}

int store_batch_truncate(struct store_batch *b, size_t n) {
        if (n > b->n)
                return -EINVAL;
        b->n = n;
        b->data.len = n > 0 ? b->rows[n - 1].plain_off + b->rows[n - 1].plain_len : 0;
        b->failed = 0;
        return 0;
}

static int sample_check(const struct store_sample *x) {
        if (!valid_node_id(x->node_id))
                return log_debug_errno(EINVAL, "Sample without a valid node id");
        if (!valid_text(x->stream, 0, STORE_STREAM_MAX))
                return log_debug_errno(EINVAL, "Sample stream name too long");
        if (x->ts < 0 || x->ts >= TS_MAX)
                return log_debug_errno(EINVAL, "Sample time %" PRIi64 " out of range", x->ts);
        if (!x->json || x->json_len == 0 || x->json_len > STORE_SAMPLE_MAX)
                return log_debug_errno(EINVAL, "Sample of %zu bytes", x->json_len);
        if (x->n_values > STORE_VALUES_MAX || (x->n_values > 0 && !x->values))
                return log_debug_errno(EINVAL, "Sample with %zu values", x->n_values);
        for (size_t i = 0; i < x->n_values; i++)
                if (!valid_text(x->values[i].path, 1, STORE_METRIC_MAX) || !isfinite(x->values[i].value))
                        return log_debug_errno(EINVAL, "Sample value %zu is not a named finite number", i);
        return 0;
}

static int batch_add(struct store_batch *b, const struct store_sample *x) {
        struct store *s = b->store;
        struct batch_row row = { .seq = x->seq, .ts = x->ts };
        int64_t layout;
        int r;

        r = sample_check(x);
        if (r < 0)
                return r;
        r = node_ref(s, x->node_id, &row.node_ref);
        if (r < 0)
                return r;
        r = stream_ref(s, row.node_ref, x->stream, &row.stream_ref);
        if (r < 0)
                return r;
        r = sample_layout(s, x, &layout);
        if (r < 0)
                return r;

        r = GROW(b->rows, b->cap, b->n + 1, 64);
        if (r < 0)
                return r;
        r = bytes_reserve(&b->data, 10 + x->n_values * VALUE_MAX_BYTES);
        if (r < 0)
                return r;
        row.vals_off = b->data.len;
        varint_put(&b->data, (uint64_t) layout);
        for (size_t i = 0; i < x->n_values; i++)
                value_put(&b->data, x->values[i].value);
        row.vals_len = b->data.len - row.vals_off;
        row.body_off = b->data.len;
        if (x->body)
                r = bytes_append(&b->data, x->body, x->body_len);
        else
                r = body_compress(s->codec, x->json, x->json_len, &b->data);
        if (r < 0) {
                b->data.len = row.vals_off;
                return r;
        }
        row.body_len = b->data.len - row.body_off;
        row.plain_off = b->data.len;
        r = body_plain(x->json, x->json_len, &b->data);
        if (r < 0) {
                b->data.len = row.vals_off;
                return r;
        }
        row.plain_len = b->data.len - row.plain_off;
        b->rows[b->n++] = row;
        return 0;
}

int store_batch_add(struct store_batch *b, const struct store_sample *x) {
        int r = batch_add(b, x);

        if (r < 0 && b->failed == 0)
                b->failed = r;
        return r;
}

int batch_inserted_reserve(struct store_batch *b) {
        int r = GROW(b->inserted, b->inserted_cap, b->n, 64);

        if (r < 0)
                return r;
        r = GROW(b->forgotten, b->forgotten_cap, b->n, 64);
        if (r < 0)
                return r;
        memset(b->inserted, 0, b->n * sizeof(bool));
        memset(b->forgotten, 0, b->n * sizeof(bool));
        return 0;
}

bool store_batch_row_stored(const struct store_batch *b, size_t i) {
        return i < b->committed && b->inserted[i] && !b->forgotten[i];
}

int store_batch_tally(const struct store_batch *b, size_t from, size_t to, struct store_batch_result *ret) {
        struct store_batch_result t = { 0 };

        if (from > to || to > b->committed)
                return -EINVAL;
        for (size_t i = from; i < to; i++) {
                if (b->forgotten[i])
                        t.forgotten++;
                else if (b->inserted[i])
                        t.acked++;
                else
                        t.duplicates++;
        }
        *ret = t;
        return 0;
}

static bool row_later(const struct batch_row *a, const struct batch_row *b) {
        if (a->ts != b->ts)
                return a->ts > b->ts;
        if (a->stream_ref != b->stream_ref)
                return a->stream_ref > b->stream_ref;
        return a->seq > b->seq;
}

int batch_nodes(const struct store_batch *b, struct batch_node **ret, size_t *ret_n) {
        _cleanup_free_ struct batch_node *nodes = NULL;
        size_t n = 0;

        nodes = calloc(b->n ? b->n : 1, sizeof(*nodes));
        if (!nodes)
                return -ENOMEM;
        /* Batches hold few distinct nodes in long runs: a linear look back
         * at the last one found is enough. */
        for (size_t i = 0, last = 0; i < b->n; i++) {
                const struct batch_row *row = &b->rows[i];
                size_t j;

                if (n > 0 && nodes[last].node_ref == row->node_ref)
                        j = last;
                else {
                        for (j = 0; j < n && nodes[j].node_ref != row->node_ref; j++)
                                ;
                        if (j == n)
                                nodes[n++] = (struct batch_node){ .node_ref = row->node_ref, .alive = true,
                                                                  .latest = -1 };
                        last = j;
                }
                if (b->inserted && b->inserted[i] &&
                    (nodes[j].latest < 0 || row_later(row, &b->rows[nodes[j].latest])))
                        nodes[j].latest = (ssize_t) i;
        }
        *ret = TAKE_PTR(nodes);
        *ret_n = n;
        return 0;
}

struct pending_key {
        int64_t node_ref;
        int64_t res;
        int64_t start;
};

int batch_mark_pending(struct store *s, const struct store_batch *b, int64_t wm) {
        _cleanup_(store_map_freep) struct store_map *seen = store_map_new();
        int r;

        if (!seen)
                return -ENOMEM;
        if (wm != s->pending_wm) {
                store_map_clear(s->pending_cache);
                s->pending_wm = wm;
        }
        s->pending_new.len = 0;
        for (size_t i = 0; i < b->n; i++) {
                const struct batch_row *row = &b->rows[i];
                static const int resolutions[] = { RES_MINUTE, RES_HOUR };

                if (!b->inserted[i])
                        continue;
                for (size_t k = 0; k < ELEMENTSOF(resolutions); k++) {
                        int res = resolutions[k];
                        struct pending_key key = { row->node_ref, res, floor_to(row->ts, res_chunk_ms(res)) };
                        bool open = key.start + res_chunk_ms(res) > wm;
                        int64_t dummy;

                        if (store_map_get(seen, &key, sizeof(key), &dummy))
                                continue;
                        r = store_map_put(seen, &key, sizeof(key), 1);
                        if (r < 0)
                                return r;
                        /* A chunk still open at wm cannot have been rolled
                         * up, so the mark this handle made earlier stands. */
                        if (open && store_map_get(s->pending_cache, &key, sizeof(key), &dummy))
                                continue;
                        r = s->ops->pending_mark(s, key.node_ref, res, key.start);
                        if (r < 0)
                                return r;
                        if (open) {
                                r = bytes_reserve(&s->pending_new, sizeof(key));
                                if (r < 0)
                                        return r;
                                memcpy(s->pending_new.p + s->pending_new.len, &key, sizeof(key));
                                s->pending_new.len += sizeof(key);
                        }
                }
        }
        return 0;
}

void batch_committed(struct store *s, struct store_batch *b) {
        for (size_t off = 0; off + sizeof(struct pending_key) <= s->pending_new.len; off += sizeof(struct pending_key))
                (void) cache_put(s->pending_cache, s->pending_new.p + off, sizeof(struct pending_key), 1);
        s->pending_new.len = 0;
}

static int64_t now_ms(void) {
        return (int64_t) (now_usec(CLOCK_REALTIME) / 1000);
}

int store_batch_commit(struct store_batch *b, struct store_batch_result *ret) {
        struct store *s = b->store;
        struct store_batch_result result = { 0 };
        int r;

        b->committed = 0;
        if (b->failed < 0)
                return b->failed;
        if (b->n > 0) {
                r = batch_inserted_reserve(b);
                if (r < 0)
                        return r;
                r = s->ops->commit(s, b, now_ms(), &result);
                if (r < 0) {
                        s->pending_new.len = 0;
                        return r;
                }
                batch_committed(s, b);
                /* A node deleted meanwhile: forget every id we cached. */
                if (result.forgotten > 0)
                        store_map_clear(s->node_cache);
        }
        b->committed = b->n;
        b->n = 0;
        b->data.len = 0;
        if (ret)
                *ret = result;
        return 0;
}

/* ---- reads -------------------------------------------------------------- */

struct body_ctx {
        struct store *s;
        char *json;
        size_t len;
        int64_t ts;
};

static void *memdup(const void *p, size_t len) {
        void *q = malloc(len);
        return q ? memcpy(q, p, len) : NULL;
}

/* The JSON of a row, in the codec's buffer. */
static int row_json(struct store *s, const struct raw_row *row, const char **json, size_t *len) {
        int r = body_decompress(s->codec, row->body, row->body_len, json, len);

        if (r < 0)
                return log_error_errno(r, "A stored sample is damaged: %m");
        return 0;
}

/* A node's ref from its id, for a read; -ENOENT for one that cannot exist.
 * Asked of the database every time, never of node_cache: another handle
 * (the hub's writer, another hub) may have deleted the node, or deleted it
 * and enrolled a new one under its id, and the read costs queries anyway. */
static int node_lookup(struct store *s, const char *node_id, int64_t *ret) {
        if (!valid_node_id(node_id))
                return -ENOENT;
        return s->ops->node_get(s, node_id, NULL, ret);
}

static int body_copy(const struct raw_row *row, void *u) {
        struct body_ctx *c = u;
        const char *json;
        size_t len;
        int r = row_json(c->s, row, &json, &len);

        if (r < 0)
                return r;
        c->json = memdup(json, len + 1);
        if (!c->json)
                return -ENOMEM;
        c->len = len;
        c->ts = row->ts;
        return 0;
}

int store_sample_at(struct store *s, const char *node_id, int64_t at, char **ret_json, size_t *ret_len,
                    int64_t *ret_ts) {
        struct body_ctx c = { .s = s };
        int64_t ref;
        int r;

        r = node_lookup(s, node_id, &ref);
        if (r < 0)
                return r;
        r = at == INT64_MAX ? s->ops->latest(s, ref, body_copy, &c) : s->ops->row_at(s, ref, at, body_copy, &c);
        if (r < 0) {
                free(c.json);
                return r;
        }
        if (!c.json)
                return -ENOENT;
        *ret_json = c.json;
        *ret_len = c.len;
        if (ret_ts)
                *ret_ts = c.ts;
        return 0;
}

int store_time_bounds(struct store *s, const char *node_id, int64_t *ret_first, int64_t *ret_last) {
        int64_t ref, first, last;
        int r;

        r = node_lookup(s, node_id, &ref);
        if (r < 0)
                return r;
        r = s->ops->time_bounds(s, ref, &first, &last);
        if (r < 0)
                return r;
        *ret_first = first;
        *ret_last = last;
        return 0;
}

struct each_ctx {
        struct store *s;
        store_sample_cb cb;
        store_latest_cb latest_cb;
        void *userdata;
};

static int each_one(const struct raw_row *row, void *u) {
        struct each_ctx *c = u;
        const char *json;
        size_t len;
        int r = row_json(c->s, row, &json, &len);

        if (r < 0)
                return r;
        return c->cb(row->ts, json, len, c->userdata);
}

int store_samples_each(struct store *s, const char *node_id, int64_t start, int64_t end, store_sample_cb cb,
                       void *userdata) {
        struct each_ctx c = { .s = s, .cb = cb, .userdata = userdata };
        int64_t ref;
        int r;

        r = node_lookup(s, node_id, &ref);
        if (r < 0)
                return r;
        if (end < start)
                return 0;
        return s->ops->rows_each(s, ref, start, end == INT64_MAX ? INT64_MAX : end + 1, true, each_one, &c);
}

static int latest_one(const char *node_id, const struct raw_row *row, void *u) {
        struct each_ctx *c = u;
        const char *json;
        size_t len;
        int r = row_json(c->s, row, &json, &len);

        if (r < 0)
                return r;
        return c->latest_cb(node_id, row->ts, json, len, c->userdata);
}

int store_latest_each(struct store *s, store_latest_cb cb, void *userdata) {
        struct each_ctx c = { .s = s, .latest_cb = cb, .userdata = userdata };
        return s->ops->latest_each(s, latest_one, &c);
}

/* ---- queries ------------------------------------------------------------ */

enum source {
        SRC_RAW,
        SRC_MINUTE, /* 1-minute rollups, one row per hour */
        SRC_HOUR,   /* 1-hour rollups, one row per day */
};

struct series {
        struct store *s;
        const struct store_query *q;
        int64_t metric_ref;
        int64_t step, first, r0, r1; /* buckets from first; ts in [r0, r1) */
        size_t n_buckets;
        struct agg *buckets;
        /* Raw rows, step 0: */
        struct store_point *points;
        size_t n_points;
        /* Which source answers each hour of [hour0, r1): */
        int64_t hour0;
        uint8_t *plan;
        size_t n_hours;
        /* layout_ref -> position of the metric in it, or -1 */
        struct store_map *positions;
};

static int value_of(struct series *x, const struct raw_row *row, double *ret) {
        const uint8_t *rest, *end = row->vals + row->vals_len;
        int64_t layout, pos;
        int r;

        r = values_layout(row->vals, end, &layout, &rest);
        if (r < 0)
                return r;
        if (!store_map_get(x->positions, &layout, sizeof(layout), &pos)) {
                const struct layout *l;

                r = layout_get(x->s, layout, &l);
                if (r < 0)
                        return r;
                pos = -1;
                for (size_t i = 0; i < l->n; i++)
                        if (l->refs[i] == x->metric_ref) {
                                pos = (int64_t) i;
                                break;
                        }
                r = store_map_put(x->positions, &layout, sizeof(layout), pos);
                if (r < 0)
                        return r;
        }
        if (pos < 0)
                return 0;
        r = values_at(rest, end, (size_t) pos, ret);
        return r < 0 ? r : 1;
}

static int raw_point(const struct raw_row *row, void *u) {
        struct series *x = u;
        double v;
        int r = value_of(x, row, &v);

        if (r <= 0)
                return r;
        if (x->n_points >= STORE_QUERY_POINTS_MAX)
                return -E2BIG;
        x->points[x->n_points++] = (struct store_point){ row->ts, v };
        return 0;
}

static int raw_bucket(const struct raw_row *row, void *u) {
        struct series *x = u;
        double v;
        int r = value_of(x, row, &v);

        if (r <= 0)
                return r;
        if (row->ts < x->r0 || row->ts >= x->r1)
                return 0;
        agg_add(&x->buckets[(row->ts - x->first) / x->step], v);
        return 0;
}

struct chunk_ctx {
        struct series *x;
        int res;
        enum source src;
};

static int chunk_buckets(int64_t start, const uint8_t *data, size_t len, void *u) {
        struct chunk_ctx *c = u;
        struct series *x = c->x;
        struct agg slots[60];
        size_t n = res_slots(c->res);
        int64_t width = res_slot_ms(c->res);
        int r = chunk_decode(data, len, slots, n);

        if (r < 0)
                return log_error_errno(r, "A rollup row is damaged: %m");
        for (size_t i = 0; i < n; i++) {
                int64_t t = start + (int64_t) i * width;

                if (slots[i].count == 0 || t < x->r0 || t >= x->r1)
                        continue;
                if (x->plan[(floor_to(t, MS_PER_HOUR) - x->hour0) / MS_PER_HOUR] != c->src)
                        continue;
                agg_merge(&x->buckets[(t - x->first) / x->step], &slots[i]);
        }
        return 0;
}

struct pending_ctx {
        struct series *x;
        int64_t wm;
};

/* An hour with pending rollups is answered from raw rows; so is every hour
 * of a day whose hour rollup is pending, when hour rollups were planned. */
static int plan_pending(int res, int64_t start, void *u) {
        struct pending_ctx *c = u;
        struct series *x = c->x;
        int64_t from = start, to = start + res_chunk_ms(res);

        for (int64_t h = from > x->hour0 ? from : x->hour0; h < to && h < x->r1; h += MS_PER_HOUR) {
                uint8_t *p = &x->plan[(h - x->hour0) / MS_PER_HOUR];

                if (res == RES_MINUTE)
                        *p = SRC_RAW;
                else if (*p == SRC_HOUR)
                        *p = h + MS_PER_HOUR <= c->wm ? SRC_MINUTE : SRC_RAW;
        }
        return 0;
}

static int plan(struct series *x, int64_t node) {
        struct store *s = x->s;
        bool hours = x->step % MS_PER_HOUR == 0;
        int64_t wm = 0;
        int r;

        /* Forced sources (tests, benchmarks) and steps the rollups cannot
         * cut exactly need no look at what is rolled up. */
        memset(x->plan, x->q->source != STORE_SOURCE_ROLLUP ? SRC_RAW : hours ? SRC_HOUR : SRC_MINUTE, x->n_hours);
        if (x->q->source != STORE_SOURCE_AUTO || x->step % MS_PER_MINUTE != 0)
                return 0;

        r = s->ops->watermark(s, WM_READ, &wm);
        if (r < 0)
                return r;
        for (size_t i = 0; i < x->n_hours; i++) {
                int64_t h = x->hour0 + (int64_t) i * MS_PER_HOUR;

                if (hours && floor_to(h, MS_PER_DAY) + MS_PER_DAY <= wm)
                        x->plan[i] = SRC_HOUR;
                else if (h + MS_PER_HOUR <= wm)
                        x->plan[i] = SRC_MINUTE;
        }
        struct pending_ctx c = { x, wm };
        return s->ops->pending_each(s, node, floor_to(x->hour0, MS_PER_DAY), x->r1, plan_pending, &c);
}

/* Read each run of consecutive hours planned for one source in one go. */
static int fetch(struct series *x, int64_t node, enum source src) {
        struct store *s = x->s;

        for (size_t i = 0; i < x->n_hours;) {
                size_t j;
                int64_t from, to;
                int r;

                if (x->plan[i] != src) {
                        i++;
                        continue;
                }
                for (j = i; j < x->n_hours && x->plan[j] == src; j++)
                        ;
                from = x->hour0 + (int64_t) i * MS_PER_HOUR;
                to = x->hour0 + (int64_t) j * MS_PER_HOUR;
                if (src == SRC_RAW)
                        r = s->ops->rows_each(s, node, from > x->r0 ? from : x->r0, to < x->r1 ? to : x->r1, false,
                                              raw_bucket, x);
                else {
                        int res = src == SRC_HOUR ? RES_HOUR : RES_MINUTE;
                        struct chunk_ctx c = { x, res, src };

                        r = s->ops->chunks_each(s, node, x->metric_ref, res, floor_to(from, res_chunk_ms(res)), to,
                                                chunk_buckets, &c);
                }
                if (r < 0)
                        return r;
                i = j;
        }
        return 0;
}

static int series_one(struct series *x, const char *node_id, int64_t node, store_series_cb cb, void *userdata) {
        struct store *s = x->s;
        const struct store_query *q = x->q;
        int r;

        store_map_clear(x->positions);
        if (x->step == 0) {
                x->n_points = 0;
                r = s->ops->rows_each(s, node, q->start, q->end == INT64_MAX ? INT64_MAX : q->end + 1, false, raw_point,
                                      x);
                if (r < 0)
                        return r;
                return x->n_points > 0 ? cb(node_id, x->points, x->n_points, userdata) : 0;
        }

        memset(x->buckets, 0, x->n_buckets * sizeof(*x->buckets));
        r = plan(x, node);
        if (r < 0)
                return r;
        for (enum source src = SRC_RAW; src <= SRC_HOUR; src++) {
                r = fetch(x, node, src);
                if (r < 0)
                        return r;
        }
        x->n_points = 0;
        for (size_t i = 0; i < x->n_buckets; i++)
                if (x->buckets[i].count > 0)
                        x->points[x->n_points++] = (struct store_point){ x->first + (int64_t) i * x->step,
                                                                         agg_value(&x->buckets[i], q->agg) };
        return x->n_points > 0 ? cb(node_id, x->points, x->n_points, userdata) : 0;
}

struct query_nodes {
        struct series *x;
        store_series_cb cb;
        void *userdata;
};

static int query_node(const struct store_node *n, int64_t ref, void *u) {
        struct query_nodes *c = u;
        return series_one(c->x, n->node_id, ref, c->cb, c->userdata);
}

/* Steps of a minute or more in whole minutes, of an hour or more in whole
 * hours: the widths the rollups can add up exactly. */
static int64_t query_step(int64_t step) {
        int64_t unit = step >= MS_PER_HOUR ? MS_PER_HOUR : step >= MS_PER_MINUTE ? MS_PER_MINUTE : 1;

        if (step > INT64_MAX / 2)
                return -1;
        return (step + unit - 1) / unit * unit;
}

int store_query(struct store *s, const struct store_query *q, int64_t *ret_step, store_series_cb cb,
                void *userdata) {
        _cleanup_(store_map_freep) struct store_map *positions = NULL;
        _cleanup_free_ struct store_point *points = NULL;
        _cleanup_free_ struct agg *buckets = NULL;
        _cleanup_free_ uint8_t *plan_buf = NULL;
        struct series x = { .s = s, .q = q };
        bool all = !q->node_id || streq(q->node_id, "*");
        int64_t node = 0;
        int r, r2;

        if (!valid_text(q->metric, 1, STORE_METRIC_MAX) || q->end < q->start || q->step < 0 ||
            !store_agg_to_string(q->agg) || q->source < STORE_SOURCE_AUTO || q->source > STORE_SOURCE_ROLLUP)
                return -EINVAL;
        x.step = query_step(q->step);
        if (x.step < 0)
                return -E2BIG;
        /* Rollups cannot cut a minute. */
        if (q->source == STORE_SOURCE_ROLLUP && (x.step == 0 || x.step % MS_PER_MINUTE != 0))
                return -EINVAL;
        if (!all) {
                r = node_lookup(s, q->node_id, &node);
                if (r < 0)
                        return r;
        }
        if (x.step > 0) {
                x.first = floor_to(q->start, x.step);
                x.r0 = x.first;
                int64_t last = floor_to(q->end, x.step);
                if ((last - x.first) / x.step >= STORE_QUERY_POINTS_MAX)
                        return -E2BIG;
                x.n_buckets = (size_t) ((last - x.first) / x.step) + 1;
                x.r1 = last > INT64_MAX - x.step ? INT64_MAX : last + x.step;
                x.hour0 = floor_to(x.r0, MS_PER_HOUR);
                x.n_hours = (size_t) ((x.r1 - 1 - x.hour0) / MS_PER_HOUR) + 1;
                buckets = calloc(x.n_buckets, sizeof(*buckets));
                plan_buf = calloc(x.n_hours, 1);
                if (!buckets || !plan_buf)
                        return -ENOMEM;
                x.buckets = buckets;
                x.plan = plan_buf;
        }
        points = calloc(x.step > 0 ? x.n_buckets : STORE_QUERY_POINTS_MAX, sizeof(*points));
        positions = store_map_new();
        if (!points || !positions)
                return -ENOMEM;
        x.points = points;
        x.positions = positions;

        r = metric_ref(s, q->metric, false, &x.metric_ref);
        if (r == -ENOENT) {
                /* Nobody ever sent this metric: no series, not an error. */
                if (ret_step)
                        *ret_step = x.step;
                return 0;
        }
        if (r < 0)
                return r;

        /* One snapshot, so that a query never sees an hour both in raw rows
         * and in a rollup written between two of its reads. */
        r = s->ops->begin(s, false);
        if (r < 0)
                return r;
        if (all) {
                struct query_nodes c = { &x, cb, userdata };
                r = s->ops->nodes_each(s, query_node, &c);
        } else
                r = series_one(&x, q->node_id, node, cb, userdata);
        r2 = s->ops->end(s, r >= 0);
        if (r < 0)
                return r;
        if (r2 < 0)
                return r2;
        if (ret_step)
                *ret_step = x.step;
        return r;
}

/* ---- maintenance -------------------------------------------------------- */

struct rollup_ctx {
        struct store *s;
        int res;
        int64_t start;
        struct store_map *index; /* metric_ref -> slot array index */
        int64_t *metrics;
        struct agg *slots; /* n_metrics x res_slots(res) */
        size_t n_metrics, cap, slots_cap;
};

static int rollup_row(const struct raw_row *row, void *u) {
        struct rollup_ctx *c = u;
        size_t n_slots = res_slots(c->res);
        const uint8_t *p, *end = row->vals + row->vals_len;
        const struct layout *l;
        size_t slot = (size_t) ((row->ts - c->start) / res_slot_ms(c->res));
        int64_t layout;
        int r;

        r = values_layout(row->vals, end, &layout, &p);
        if (r < 0)
                return r;
        r = layout_get(c->s, layout, &l);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n; i++) {
                int64_t m = l->refs[i], idx;
                double v;
                size_t k = value_get(p, end, &v);

                if (k == 0)
                        return log_error_errno(EBADMSG, "A stored sample's values are damaged");
                p += k;
                if (!store_map_get(c->index, &m, sizeof(m), &idx)) {
                        if ((r = GROW(c->slots, c->slots_cap, (c->n_metrics + 1) * n_slots, 64 * n_slots)) < 0 ||
                            (r = GROW(c->metrics, c->cap, c->n_metrics + 1, 64)) < 0)
                                return r;
                        idx = (int64_t) c->n_metrics++;
                        c->metrics[idx] = m;
                        memset(&c->slots[idx * n_slots], 0, n_slots * sizeof(struct agg));
                        r = store_map_put(c->index, &m, sizeof(m), idx);
                        if (r < 0)
                                return r;
                }
                agg_add(&c->slots[(size_t) idx * n_slots + slot], v);
        }
        return 0;
}

/* Compute one pending rollup row set from the raw rows it covers. Rows are
 * upserted, never deleted first: a late sample only ever adds values, so the
 * new set covers every metric the old one had. */
static int rollup_compute(struct store *s, const struct pending *p) {
        _cleanup_(store_map_freep) struct store_map *index = store_map_new();
        _cleanup_(bytes_done) struct bytes chunk = { 0 };
        struct rollup_ctx c = { .s = s, .res = p->res, .start = p->start, .index = index };
        size_t n_slots = res_slots(p->res);
        int r;

        if (!index)
                return -ENOMEM;
        r = s->ops->rows_each(s, p->node_ref, p->start, p->start + res_chunk_ms(p->res), false, rollup_row, &c);
        for (size_t m = 0; r >= 0 && m < c.n_metrics; m++) {
                chunk.len = 0;
                r = chunk_encode(&c.slots[m * n_slots], n_slots, &chunk);
                if (r >= 0)
                        r = s->ops->chunk_put(s, p->node_ref, c.metrics[m], p->res, p->start, chunk.p, chunk.len);
        }
        free(c.slots);
        free(c.metrics);
        return r;
}

/* One step in its own transaction. */
static int step_end(struct store *s, int r) {
        int r2 = s->ops->end(s, r >= 0);
        return r < 0 ? r : r2 < 0 ? r2 : r;
}

static int maintain_watermark(struct store *s, int64_t now, int64_t *ret_wm) {
        int64_t wm, target = floor_to(now - ROLLUP_GRACE, MS_PER_HOUR);
        int r;

        r = s->ops->begin(s, true);
        if (r < 0)
                return r;
        r = s->ops->watermark(s, WM_UPDATE, &wm);
        if (r >= 0 && target > wm) {
                r = s->ops->watermark_set(s, target);
                wm = target;
        }
        r = step_end(s, r);
        if (r < 0)
                return r;
        *ret_wm = wm;
        return 0;
}

/* Returns 1 when the bound stopped it with work left. */
static int maintain_rollups(struct store *s, int64_t wm) {
        for (unsigned i = 0; i < MAINTAIN_PENDING_MAX; i++) {
                struct pending p;
                int64_t expired;
                int r;

                r = s->ops->begin(s, true);
                if (r < 0)
                        return r;
                r = s->ops->pending_next(s, wm, &p);
                if (r == -ENODATA) {
                        (void) s->ops->end(s, false);
                        return 0;
                }
                if (r >= 0)
                        r = s->ops->state_get(s, "raw_expired_before", &expired);
                /* Raw rows before that are gone: recomputing would replace a
                 * full rollup with what one late sample says. */
                if (r >= 0 && p.start >= expired)
                        r = rollup_compute(s, &p);
                if (r >= 0)
                        r = s->ops->pending_done(s, &p);
                r = step_end(s, r);
                if (r < 0)
                        return r;
        }
        return 1;
}

static int maintain_expire(struct store *s, int64_t now, const struct store_retention *ret) {
        int more = 0, r;

        if (ret->raw_days > 0) {
                int64_t before = floor_to(now - (int64_t) ret->raw_days * MS_PER_DAY, MS_PER_DAY), oldest, done;

                r = s->ops->pending_oldest(s, &oldest);
                if (r >= 0 && oldest < before)
                        before = floor_to(oldest, MS_PER_DAY);
                else if (r < 0 && r != -ENODATA)
                        return r;
                r = s->ops->state_get(s, "raw_expired_before", &done);
                if (r < 0)
                        return r;
                if (before > done) {
                        r = s->ops->begin(s, true);
                        if (r >= 0)
                                r = s->ops->state_set(s, "raw_expired_before", before);
                        r = step_end(s, r);
                        if (r < 0)
                                return r;
                }
                r = s->ops->expire_raw(s, before, MAINTAIN_ROWS_MAX);
                if (r < 0)
                        return r;
                more |= r > 0;
        }
        if (ret->rollup_days > 0) {
                int64_t before = floor_to(now - (int64_t) ret->rollup_days * MS_PER_DAY, MS_PER_DAY);

                r = s->ops->expire_rollups(s, before, MAINTAIN_ROWS_MAX);
                if (r < 0)
                        return r;
                more |= r > 0;
        }
        return more;
}

static int purge_one(int64_t ref, void *u) {
        struct store *s = u;
        int r = s->ops->purge_node(s, ref, MAINTAIN_ROWS_MAX);

        /* One node per call: stop the walk once one had work. */
        return r != 0 ? r : 0;
}

bool store_checkpoint_wanted(struct store *s) {
        return s->ops->checkpoint_wanted && s->ops->checkpoint_wanted(s);
}

int store_checkpoint(struct store *s) {
        return s->ops->checkpoint ? s->ops->checkpoint(s) : 0;
}

int store_defer_sync(struct store *s) {
        return s->ops->defer_sync ? s->ops->defer_sync(s) : -EOPNOTSUPP;
}

int store_sync(struct store *s) {
        return s->ops->sync ? s->ops->sync(s) : 0;
}

int store_maintain(struct store *s, int64_t now, const struct store_retention *ret) {
        static const struct store_retention keep = { 0, 0 };
        int64_t wm;
        int more = 0, r;

        if (!ret)
                ret = &keep;
        r = s->ops->housekeeping(s, now);
        if (r < 0)
                return r;
        r = maintain_watermark(s, now, &wm);
        if (r < 0)
                return r;
        r = maintain_rollups(s, wm);
        if (r < 0)
                return r;
        more |= r;
        r = maintain_expire(s, now, ret);
        if (r < 0)
                return r;
        more |= r;
        r = s->ops->deleted_nodes_each(s, purge_one, s);
        if (r < 0)
                return r;
        more |= r > 0;
        return more;
}
