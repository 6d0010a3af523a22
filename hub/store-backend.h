/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "store-codec.h"
#include "store-map.h"
#include "store.h"

/* What store.c (one implementation of store.h for both databases) needs
 * from a database. Each back end is thin SQL around these; validation,
 * caches, encodings, downsampling and the order of maintenance live in
 * store.c, so both databases give the same answers by construction. */

#define MS_PER_MINUTE INT64_C(60000)
#define MS_PER_HOUR INT64_C(3600000)
#define MS_PER_DAY INT64_C(86400000)
/* How stale nodes.last_seen may get before a commit rewrites it. */
#define LAST_SEEN_SLACK MS_PER_MINUTE

/* A rollup row covers one hour in minutes or one day in hours. */
#define RES_MINUTE 60
#define RES_HOUR 3600
static inline int64_t res_slot_ms(int res) {
        return (int64_t) res * 1000;
}
static inline size_t res_slots(int res) {
        return res == RES_MINUTE ? 60 : 24;
}
static inline int64_t res_chunk_ms(int res) {
        return res == RES_MINUTE ? MS_PER_HOUR : MS_PER_DAY;
}

static inline int64_t floor_to(int64_t t, int64_t unit) {
        int64_t q = t / unit;
        return (t % unit < 0 ? q - 1 : q) * unit;
}

/* One raw row as read back. */
struct raw_row {
        int64_t ts, stream_ref, seq;
        const uint8_t *vals;
        size_t vals_len;
        const uint8_t *body; /* NULL when not asked for */
        size_t body_len;
};
typedef int (*raw_row_cb)(const struct raw_row *row, void *userdata);

/* One queued sample of a batch; its bytes live in the batch's buffer. */
struct batch_row {
        int64_t node_ref, stream_ref, seq, ts;
        size_t vals_off, vals_len, body_off, body_len;
        size_t plain_off, plain_len; /* the body as is, for the latest table */
};

struct store_batch {
        struct store *store;
        struct batch_row *rows;
        size_t n, cap;
        struct bytes data;
        int failed; /* negative errno of a refused add, 0 */
        /* Filled by the back end's commit: */
        bool *inserted;
        bool *forgotten; /* its node was deleted since it was added */
        size_t inserted_cap, forgotten_cap;
        size_t committed; /* rows of the last successful commit, for store_batch_tally() */
};

/* A node of a batch and what commit does for it. */
struct batch_node {
        int64_t node_ref;
        bool alive;        /* not deleted since its samples were added */
        ssize_t latest;    /* index of its newest inserted row, -1 if none */
};

/* A pending rollup: (node, res, start) needs computing from raw rows. */
struct pending {
        int64_t node_ref;
        int res;
        int64_t start;
        int64_t gen;
};

enum wm_lock {
        WM_READ,
        WM_SHARE,  /* commit: the watermark cannot move before we finish */
        WM_UPDATE, /* maintenance: moving it */
};

struct store_ops {
        const char *name;
        void (*close)(struct store *s);

        int (*ping)(struct store *s);
        int (*schema_version)(struct store *s, unsigned *ret);
        int (*size_bytes)(struct store *s, uint64_t *ret);

        int (*node_upsert)(struct store *s, const struct store_node *n);
        /* ret may be NULL when only the ref is wanted. */
        int (*node_get)(struct store *s, const char *node_id, struct store_node *ret, int64_t *ret_ref);
        int (*node_by_token)(struct store *s, const char *hex, struct store_node *ret);
        int (*nodes_each)(struct store *s, int (*cb)(const struct store_node *n, int64_t ref, void *u), void *u);
        int (*node_delete)(struct store *s, const char *node_id);
        int (*node_count)(struct store *s, uint64_t *ret);
        int (*client_get)(struct store *s, const char *username, char *hash);
        int (*client_put)(struct store *s, const char *username, const char *hash);
        int (*enroll_token_put)(struct store *s, const struct store_enroll_token *t, int64_t now);
        int (*enroll_token_take)(struct store *s, const char *hex, int64_t now);
        int (*enroll_tokens_each)(struct store *s, int64_t now,
                                  int (*cb)(const struct store_enroll_token *t, void *u), void *u);
        int (*enroll_token_delete)(struct store *s, const char *id);

        /* Dictionaries: get or create. Rows created here are committed at
         * once and never removed while referenced, so a cached ref stays
         * valid whatever the fate of the batch that asked for it. */
        int (*metric_ref)(struct store *s, const char *path, bool create, int64_t *ret);
        int (*stream_ref)(struct store *s, int64_t node_ref, const char *name, int64_t *ret);
        int (*layout_ref)(struct store *s, uint64_t digest, const uint8_t *refs, size_t len, int64_t *ret);
        int (*layout_get)(struct store *s, int64_t ref, struct bytes *ret);

        /* Store the batch in one transaction: see store_batch_commit(). Uses
         * batch_nodes() and batch_late() below for the common parts. */
        int (*commit)(struct store *s, struct store_batch *b, int64_t now, struct store_batch_result *ret);

        /* Reads. rows_each: start <= ts < end, ordered by (ts, stream, seq);
         * row_at: the last row with ts <= at in that order. */
        int (*rows_each)(struct store *s, int64_t node_ref, int64_t start, int64_t end, bool body, raw_row_cb cb,
                         void *u);
        int (*row_at)(struct store *s, int64_t node_ref, int64_t at, raw_row_cb cb, void *u);
        int (*latest)(struct store *s, int64_t node_ref, raw_row_cb cb, void *u);
        int (*latest_each)(struct store *s, int (*cb)(const char *node_id, const struct raw_row *r, void *u),
                           void *u);
        int (*time_bounds)(struct store *s, int64_t node_ref, int64_t *first, int64_t *last);
        /* Rollup rows with from <= start < to. */
        int (*chunks_each)(struct store *s, int64_t node_ref, int64_t metric_ref, int res, int64_t from, int64_t to,
                           int (*cb)(int64_t start, const uint8_t *data, size_t len, void *u), void *u);
        int (*pending_each)(struct store *s, int64_t node_ref, int64_t from, int64_t to,
                            int (*cb)(int res, int64_t start, void *u), void *u);

        /* Transactions for reads that must agree with themselves (a query)
         * and for each step of maintenance. */
        int (*begin)(struct store *s, bool write);
        int (*end)(struct store *s, bool commit);

        /* Maintenance, each inside begin(write)/end. */
        int (*watermark)(struct store *s, enum wm_lock lock, int64_t *ret);
        int (*watermark_set)(struct store *s, int64_t wm);
        /* The refs of deleted nodes whose data is still being erased. */
        int (*deleted_nodes_each)(struct store *s, int (*cb)(int64_t ref, void *u), void *u);
        /* A named int64 in the state table (0 when never set). */
        int (*state_get)(struct store *s, const char *name, int64_t *ret);
        int (*state_set)(struct store *s, const char *name, int64_t value);
        int (*pending_mark)(struct store *s, int64_t node_ref, int res, int64_t start);
        /* The oldest pending rollup that can be computed now (its hour or day
         * is complete: start + length <= wm), locked against
         * other maintainers; -ENODATA when none. */
        int (*pending_next)(struct store *s, int64_t wm, struct pending *ret);
        /* Remove it unless a commit marked it again meanwhile (gen moved). */
        int (*pending_done)(struct store *s, const struct pending *p);
        int (*chunk_put)(struct store *s, int64_t node_ref, int64_t metric_ref, int res, int64_t start,
                         const uint8_t *data, size_t len);
        /* Expire raw rows with ts < before (a UTC midnight), at most about
         * max_rows of them (PostgreSQL: whole partitions). Returns how many
         * rows or partitions went, 0 when nothing is left to do. */
        int (*expire_raw)(struct store *s, int64_t before, unsigned max_rows);
        int (*expire_rollups)(struct store *s, int64_t before, unsigned max_rows);
        /* Erase up to max_rows of a deleted node's data; when nothing is left
         * the node row itself. Returns > 0 while there was work. */
        int (*purge_node)(struct store *s, int64_t node_ref, unsigned max_rows);
        /* The smallest start of any pending rollup; -ENODATA. */
        int (*pending_oldest)(struct store *s, int64_t *ret);
        /* The back end's own chores, first in every store_maintain(). */
        int (*housekeeping)(struct store *s, int64_t now);
        /* Optional. Whether commits on this handle have left work that
         * another handle's store_checkpoint() may do meanwhile (SQLite: a
         * WAL to copy back); asking forgets it. */
        bool (*checkpoint_wanted)(struct store *s);
        int (*checkpoint)(struct store *s);
        /* Optional, both or neither (store_defer_sync()). */
        int (*defer_sync)(struct store *s);
        int (*sync)(struct store *s);
};

struct store {
        const struct store_ops *ops;
        struct body_codec *codec;
        struct store_map *node_cache;   /* node_id -> node_ref */
        struct store_map *stream_cache; /* node_ref bytes + name -> stream_ref */
        struct store_map *metric_cache; /* path -> metric_ref */
        struct store_map *layout_cache; /* the paths, NUL-separated -> layout_ref */
        struct store_map *layout_index; /* layout_ref bytes -> index in layouts */
        struct layout {
                int64_t *refs;
                size_t n;
        } *layouts;
        size_t n_layouts, layouts_cap;
        /* Pending rollups this handle knows exist: (node, res, start) of
         * chunks not complete at watermark pending_wm, which therefore no
         * maintainer can have removed yet. Saves a write per commit for
         * the hour and day every sample of a node falls in. */
        struct store_map *pending_cache;
        int64_t pending_wm;
        struct bytes pending_new; /* keys to cache once the commit is durable */
        struct bytes layout_key;  /* scratch for sample_layout() */
};

/* store.c */
int store_init(struct store *s, const struct store_ops *ops);
void store_done(struct store *s);

/* The distinct nodes of a batch (order of first appearance), with
 * inserted[] taken into account for `latest`. *ret is malloc'd. */
int batch_nodes(const struct store_batch *b, struct batch_node **ret, size_t *ret_n);
/* Mark, through ops->pending_mark, the (node, hour) and (node, day) rollups
 * that the inserted rows change (wm: the watermark read under WM_SHARE in
 * this transaction). Call batch_committed() once the commit is durable. */
int batch_mark_pending(struct store *s, const struct store_batch *b, int64_t wm);
void batch_committed(struct store *s, struct store_batch *b);
int batch_inserted_reserve(struct store_batch *b);

/* How the back ends say what went wrong. */
int store_open_sqlite(const char *state_dir, unsigned max_version, struct store **ret);
int store_open_pg(const char *url, unsigned max_version, struct store **ret);

/* For tests: open, creating or migrating only up to max_version. */
int store_open_version(const char *database, const char *state_dir, unsigned max_version, struct store **ret);
int store_schema_version(struct store *s, unsigned *ret);
