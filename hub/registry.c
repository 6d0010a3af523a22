/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "macro.h"
#include "strmap.h"

/* The nodes the hub knows, kept in memory: every push is authenticated
 * here, and /api/v1/nodes, /metrics and the fleet stream are answered from
 * here, without the database. Loaded from the store at start; the store
 * stays the truth (a token unknown here is looked up there before it is
 * refused). */

struct registry {
        struct strmap *by_id;
        struct strmap *by_token; /* keyed by node->s.token_sha256 */
};

int registry_new(struct registry **ret) {
        struct registry *r = calloc(1, sizeof *r);

        if (!r || strmap_new(&r->by_id) < 0 || strmap_new(&r->by_token) < 0) {
                if (r) {
                        strmap_free(r->by_id);
                        free(r);
                }
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

static void node_free(struct node *n) {
        free(n->latest);
        free(n);
}

void registry_free(struct registry *r) {
        size_t cursor = 0;
        struct node *n;

        if (!r)
                return;
        while ((n = strmap_next(r->by_id, &cursor, NULL)))
                node_free(n);
        strmap_free(r->by_id);
        strmap_free(r->by_token);
        free(r);
}

struct node *registry_get(struct registry *r, const char *node_id) {
        return strmap_get(r->by_id, node_id);
}

struct node *registry_by_token(struct registry *r, const char *sha256_hex) {
        return sha256_hex[0] ? strmap_get(r->by_token, sha256_hex) : NULL;
}

struct node *registry_put(struct registry *r, const struct store_node *s) {
        struct node *n = registry_get(r, s->node_id);

        if (n) {
                if (n->s.token_sha256[0])
                        strmap_remove(r->by_token, n->s.token_sha256);
                n->s = *s;
        } else {
                n = calloc(1, sizeof *n);
                if (!n)
                        return NULL;
                n->s = *s;
                if (strmap_put(r->by_id, n->s.node_id, n) < 0) {
                        free(n);
                        return NULL;
                }
        }
        if (n->s.token_sha256[0] && strmap_put(r->by_token, n->s.token_sha256, n) < 0)
                n->s.token_sha256[0] = '\0'; /* unusable rather than half-known */
        return n;
}

void registry_remove(struct registry *r, struct node *n) {
        if (n->s.token_sha256[0])
                strmap_remove(r->by_token, n->s.token_sha256);
        strmap_remove(r->by_id, n->s.node_id);
        node_free(n);
}

size_t registry_count(const struct registry *r) {
        return strmap_size(r->by_id);
}

static int by_id(const void *a, const void *b) {
        return strcmp((*(struct node *const *) a)->s.node_id, (*(struct node *const *) b)->s.node_id);
}

struct node **registry_sorted(struct registry *r, size_t *ret_n) {
        size_t n = strmap_size(r->by_id), i = 0, cursor = 0;
        struct node **v = malloc((n ? n : 1) * sizeof *v), *node;

        if (!v)
                return NULL;
        while ((node = strmap_next(r->by_id, &cursor, NULL)))
                v[i++] = node;
        qsort(v, i, sizeof *v, by_id);
        *ret_n = i;
        return v;
}

void sample_summarize(const cJSON *sample, enum store_node_kind kind, struct sample_summary *ret) {
        const cJSON *interval = cJSON_GetObjectItemCaseSensitive(sample, "interval");

        ret->interval = cJSON_IsNumber(interval) && interval->valuedouble >= 1 && interval->valuedouble <= 86400
                                ? (unsigned) interval->valuedouble
                                : 0;
        headline_from_sample(sample, kind, &ret->headline);
}

bool node_set_latest(struct node *n, int64_t ts, const char *json, size_t len, const struct sample_summary *summary) {
        char *copy;

        if (n->latest && ts < n->latest_ts)
                return false;
        copy = malloc(len + 1);
        if (!copy)
                return false;
        memcpy(copy, json, len);
        copy[len] = '\0';
        free(n->latest);
        n->latest = copy;
        n->latest_len = len;
        n->latest_ts = ts;
        /* The interval makes "online" mean three missed samples, whatever
         * the node's pace. */
        n->summary = *summary;
        return true;
}

bool node_online(const struct node *n, int64_t now) {
        int64_t window = (int64_t) n->summary.interval * 3000;

        if (window < HUB_ONLINE_MIN_MS)
                window = HUB_ONLINE_MIN_MS;
        return n->s.last_seen > 0 && now - n->s.last_seen <= window;
}
