/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clientid.h"
#include "digest.h"
#include "headline.h"
#include "hub.h"
#include "json-arena.h"
#include "jsonutil.h"
#include "log.h"
#include "push-parse.h"
#include "pyjson.h"
#include "secret.h"
#include "store-codec.h"
#include "timeutil.h"
#include "wstls.h"

/* The hub's own API (docs/fleet.md, "Native API"): enrolment and pushes from
 * pushd, and the questions operators ask: nodes, samples, queries, health. */

/* Every series of one query together: node=* over many nodes is bounded
 * too, not only each series. */
#define QUERY_POINTS_TOTAL_MAX 1000000

static void iso8601_ms(int64_t ms, char buf[static ISO8601_MAX]) {
        format_iso8601(ms > 0 ? (uint64_t) ms * USEC_PER_MSEC : 0, buf);
}

bool node_id_valid(const char *id) {
        size_t len = strlen(id);

        if (len == 0 || len > STORE_NODE_ID_MAX)
                return false;
        for (const char *p = id; *p; p++)
                if (!(isalnum((unsigned char) *p) && (unsigned char) *p < 0x80) && !strchr("._:@+-", *p))
                        return false;
        return true;
}

/* ---- enrolment ---------------------------------------------------------- */

struct enroll_job {
        struct job job;
        struct store_node node;
        char token[SHA256_HEX_LEN + 1];
        char once[SHA256_HEX_LEN + 1]; /* the hash of a one-time token presented, or "" */
        int64_t now;
        unsigned max_nodes;
        int status; /* the answer decided on the reader */
        char message[160];
};

static void enroll_node(struct job *j, struct store *st) {
        struct enroll_job *e = container_of(j, struct enroll_job, job);
        struct store_node old;
        uint64_t count;
        int r;

        r = store_node_get(st, e->node.node_id, &old);
        if (r == 0) {
                if (old.kind != STORE_NODE_RESOLVIX) {
                        e->status = HTTP_STATUS_CONFLICT;
                        snprintf(e->message, sizeof e->message, "node id %s belongs to a %s node", old.node_id,
                                 store_node_kind_to_string(old.kind));
                        return;
                }
                /* The same machine enrolling again (its token file lost):
                 * a new token replaces the old. Another machine may not
                 * take the id over. */
                if (old.machine_id[0] && e->node.machine_id[0] && !streq(old.machine_id, e->node.machine_id)) {
                        e->status = HTTP_STATUS_CONFLICT;
                        snprintf(e->message, sizeof e->message, "node id %s is enrolled by another machine",
                                 old.node_id);
                        return;
                }
                e->node.first_seen = old.first_seen;
        } else if (r == -ENOENT) {
                r = store_node_count(st, &count);
                if (r < 0) {
                        j->result = r;
                        return;
                }
                if (count >= e->max_nodes) {
                        e->status = HTTP_TOO_MANY_REQUESTS;
                        snprintf(e->message, sizeof e->message, "the hub holds max_nodes = %u nodes", e->max_nodes);
                        return;
                }
        } else {
                j->result = r;
                return;
        }
        j->result = store_node_upsert(st, &e->node);
        if (j->result == 0)
                e->status = HTTP_CREATED;
}

/* A one-time token is spent in the transaction that stores the node: an
 * enrolment refused (409, 429) or failed leaves it unspent, and of two
 * enrolments presenting it, on this hub or another on the same database,
 * exactly one gets through. */
static void enroll_run(struct job *j, struct store *st, struct lane_ctx *ctx) {
        struct enroll_job *e = container_of(j, struct enroll_job, job);
        int r;

        if (e->once[0] == '\0') {
                enroll_node(j, st);
                return;
        }
        r = store_begin(st);
        if (r < 0) {
                j->result = r;
                return;
        }
        r = store_enroll_token_take(st, e->once, e->now);
        if (r == -ENOENT) {
                e->status = HTTP_STATUS_UNAUTHORIZED;
                snprintf(e->message, sizeof e->message, "missing or wrong enroll token");
        } else if (r < 0)
                j->result = r;
        else
                enroll_node(j, st);
        if (j->result == 0 && e->status == HTTP_CREATED) {
                j->result = store_commit(st);
                if (j->result == 0)
                        log_info("Spent the one-time enroll token %.16s on node %s", e->once, e->node.node_id);
        }
        if (j->result < 0 || e->status != HTTP_CREATED)
                store_rollback(st);
}

static void enroll_done(struct hub *h, struct job *j) {
        struct enroll_job *e = container_of(j, struct enroll_job, job);
        struct ws_http_response resp = { 0 };
        _cleanup_json_ cJSON *answer = NULL;

        if (j->result < 0)
                respond_store_error(h, &resp, j->result);
        else if (e->status == HTTP_CREATED) {
                struct node *n = registry_put(h->registry, &e->node);

                log_info("Enrolled node %s (%s)", e->node.node_id, e->node.hostname);
                answer = cJSON_CreateObject();
                if (!n || !answer || !cJSON_AddStringToObject(answer, "node_id", e->node.node_id) ||
                    !cJSON_AddStringToObject(answer, "token", e->token))
                        respond_error(&resp, HTTP_STATUS_INTERNAL_SERVER_ERROR, "internal_error", "out of memory");
                else
                        respond_json(&resp, HTTP_CREATED, answer);
        } else if (e->status == HTTP_STATUS_UNAUTHORIZED) {
                hub_reject(h, REJECT_UNAUTHORIZED);
                respond_error(&resp, e->status, "unauthorized", "%s", e->message);
                resp.www_authenticate = "Bearer";
        } else {
                hub_reject(h, e->status == HTTP_TOO_MANY_REQUESTS ? REJECT_TOO_MANY_NODES : REJECT_BAD_REQUEST);
                respond_error(&resp, e->status, e->status == HTTP_TOO_MANY_REQUESTS ? "too_many_nodes" : "conflict",
                              "%s", e->message);
                if (e->status == HTTP_TOO_MANY_REQUESTS)
                        resp.retry_after = 3600;
        }
        job_answer(h, j, &resp);
        job_free(j);
}

static int string_field(const cJSON *body, const char *name, size_t max, bool required, char *out, size_t size) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);

        if (!v || cJSON_IsNull(v)) {
                if (required)
                        return -EINVAL;
                out[0] = '\0';
                return 0;
        }
        if (!cJSON_IsString(v) || strlen(v->valuestring) > max || strlen(v->valuestring) >= size)
                return -EINVAL;
        for (const char *p = v->valuestring; *p; p++)
                if ((unsigned char) *p < 0x20)
                        return -EINVAL;
        snprintf(out, size, "%s", v->valuestring);
        return 0;
}

/* [hub] tls_client_auth = certificate (docs/tls.md): a verified client
 * certificate whose CN is an enrolled node's id stands in for that node's
 * token, and names the only node the connection may enrol or push for. */
static bool cert_auth(const struct hub *h) {
        return streq(h->conf.hub.tls_client_auth, "certificate");
}

static int refuse_cert(struct request *rq, const char *cn, const char *node_id) {
        hub_reject(rq->h, REJECT_FORBIDDEN);
        if (!cn[0])
                return respond_error(rq->resp, HTTP_STATUS_FORBIDDEN, "forbidden",
                                     "the client certificate has no common name (CN) to name node %s", node_id);
        return respond_error(rq->resp, HTTP_STATUS_FORBIDDEN, "forbidden",
                             "the client certificate names node %s, not %s", cn, node_id);
}

static int enroll(struct request *rq) {
        struct hub *h = rq->h;
        const char *want = h->conf.hub.enroll_token;
        char buf[CONF_TOKEN_MAX + 32];
        const char *given;
        _cleanup_json_ cJSON *body = NULL;
        struct enroll_job *e;
        int64_t now = now_ms();
        int r;

        if (!streq(rq->req->method, "POST"))
                return respond_method_not_allowed(rq->resp, "POST");
        /* The configured token, or a one-time token the reader looks up. */
        given = bearer_token(rq->wsi, buf, sizeof buf);
        if (!given || given[0] == '\0') {
                hub_reject(h, REJECT_UNAUTHORIZED);
                respond_error(rq->resp, HTTP_STATUS_UNAUTHORIZED, "unauthorized", "missing or wrong enroll token");
                rq->resp->www_authenticate = "Bearer";
                return 0;
        }
        body = cJSON_ParseWithLength(rq->req->body, rq->req->body_len);
        e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        e->job.lane = LANE_READ;
        e->job.run = enroll_run;
        e->job.done = enroll_done;
        if (!cJSON_IsObject(body) ||
            string_field(body, "node_id", STORE_NODE_ID_MAX, true, e->node.node_id, sizeof e->node.node_id) < 0 ||
            !node_id_valid(e->node.node_id) ||
            string_field(body, "hostname", STORE_HOSTNAME_MAX, false, e->node.hostname, sizeof e->node.hostname) < 0 ||
            string_field(body, "machine_id", STORE_MACHINE_ID_MAX, false, e->node.machine_id,
                         sizeof e->node.machine_id) < 0) {
                free(e);
                hub_reject(h, REJECT_BAD_REQUEST);
                return respond_error(rq->resp, HTTP_STATUS_BAD_REQUEST, "bad_request",
                                     "expected {\"node_id\", \"hostname\", \"machine_id\"} with a node_id of 1 to %d "
                                     "letters, digits or ._:@+-",
                                     STORE_NODE_ID_MAX);
        }
        if (cert_auth(h)) {
                char cn[STORE_NODE_ID_MAX + 1];

                (void) ws_tls_peer_cn(rq->wsi, cn, sizeof cn);
                if (!streq(cn, e->node.node_id)) {
                        r = refuse_cert(rq, cn, e->node.node_id);
                        free(e);
                        return r;
                }
        }
        if (random_hex(32, e->token) < 0) {
                free(e);
                return respond_error(rq->resp, HTTP_STATUS_INTERNAL_SERVER_ERROR, "internal_error",
                                     "no randomness for a token");
        }
        if (!(want[0] && secret_equal(given, want)))
                sha256_hex(given, strlen(given), e->once);
        e->now = now;
        sha256_hex(e->token, strlen(e->token), e->node.token_sha256);
        /* With [hub] tls_client_ca the node's certificate names it too
         * (docs/tls.md); without, this stays empty. */
        (void) ws_tls_peer_subject(rq->wsi, e->node.cert_subject, sizeof e->node.cert_subject);
        e->node.kind = STORE_NODE_RESOLVIX;
        e->node.first_seen = e->node.last_seen = now;
        e->max_nodes = h->conf.hub.max_nodes;
        return request_defer(rq, &e->job);
}

/* ---- pushes ------------------------------------------------------------- */

struct push_job {
        struct job job;
        char node_id[STORE_NODE_ID_MAX + 1];
        char token_hex[SHA256_HEX_LEN + 1];
        char cert_cn[STORE_NODE_ID_MAX + 1]; /* tls_client_auth = certificate: who the connection is */
        char *body; /* the samples point into it */
        size_t len;
        bool gzipped;
        int64_t last_seq;
        char content_type[128];
        struct push_line *lines;
        size_t n_lines;
        struct json_arena *arena; /* the lines' trees */
        struct bytes packed;      /* the lines compressed, one after the other */
};

static void push_free(struct job *j) {
        struct push_job *p = container_of(j, struct push_job, job);

        push_lines_free(p->lines, p->n_lines);
        /* job_free() deleted the trees handed to the writer. */
        json_arena_free(p->arena);
        bytes_done(&p->packed);
        free(p->job.upsert);
        free(p->job.samples);
        free(p->body);
        free(p);
}

static void push_done(struct hub *h, struct job *j) {
        struct push_job *p = container_of(j, struct push_job, job);
        struct ws_http_response resp = { 0 };
        _cleanup_json_ cJSON *answer = NULL;
        struct node *n;

        if (j->result == 0) {
                hub_samples_stored(h, j);
                answer = cJSON_CreateObject();
                if (answer && cJSON_AddNumberToObject(answer, "acked", (double) j->acked) &&
                    cJSON_AddNumberToObject(answer, "duplicates", (double) j->duplicates) &&
                    cJSON_AddNumberToObject(answer, "last_seq", (double) p->last_seq))
                        respond_json(&resp, HTTP_STATUS_OK, answer);
                else
                        respond_error(&resp, HTTP_STATUS_INTERNAL_SERVER_ERROR, "internal_error", "out of memory");
        } else if (j->result == -ENOENT) {
                /* The node was deleted (through another hub) meanwhile. */
                n = registry_get(h->registry, p->node_id);
                if (n) {
                        fleet_forget(h, n);
                        registry_remove(h->registry, n);
                }
                hub_samples_failed(h, j);
                hub_reject(h, REJECT_UNAUTHORIZED);
                respond_error(&resp, HTTP_STATUS_UNAUTHORIZED, "unauthorized", "this node is no longer enrolled");
        } else {
                hub_samples_failed(h, j);
                respond_store_error(h, &resp, j->result);
        }
        job_answer(h, j, &resp);
        job_free(j);
}

static bool content_type_ok(const char *type) {
        static const char *const ok[] = { "application/x-ndjson", "application/ndjson", "application/jsonl",
                                          "application/json", "text/plain" };
        size_t len = strcspn(type, "; ");

        if (type[0] == '\0')
                return true;
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                if (strlen(ok[i]) == len && strncasecmp(type, ok[i], len) == 0)
                        return true;
        return false;
}

/* A node that pushes with another client certificate than it enrolled
 * with (renewed, or reissued): the subject on record follows, stored
 * with the batch. */
static int note_subject(struct lws *wsi, struct node *n, struct job *j) {
        char subject[STORE_CERT_SUBJECT_MAX + 1];

        (void) ws_tls_peer_subject(wsi, subject, sizeof subject);
        if (subject[0] == '\0' || streq(subject, n->s.cert_subject))
                return 0;
        snprintf(n->s.cert_subject, sizeof n->s.cert_subject, "%s", subject);
        j->upsert = malloc(sizeof *j->upsert);
        if (!j->upsert)
                return -ENOMEM;
        *j->upsert = n->s;
        return 0;
}

/* Each sample compressed as the store keeps it, here on the loop rather
 * than on the writer's thread, which the database keeps busy: under ingest
 * zstd was a third of the writer's time (docs/performance.md). */
static int push_compress(struct hub *h, struct push_job *p) {
        _cleanup_free_ size_t *at = calloc(p->n_lines + 1, sizeof *at);
        int r;

        if (!at)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_lines; i++) {
                at[i] = p->packed.len;
                r = body_compress(h->codec, p->lines[i].json, p->lines[i].len, &p->packed);
                if (r < 0)
                        return r;
        }
        at[p->n_lines] = p->packed.len;
        for (size_t i = 0; i < p->n_lines; i++) {
                p->job.samples[i].body = p->packed.p + at[i];
                p->job.samples[i].body_len = at[i + 1] - at[i];
        }
        return 0;
}

/* Parse and queue the batch of a node whose token checked out. */
static int push_queue(struct hub *h, struct push_job *p, struct ws_http_response *resp) {
        struct push_error err = { 0 };
        struct job_sample *newest;
        int r;

        p->arena = json_arena_new();
        json_arena_enter(p->arena);
        r = push_parse(p->body, p->len, now_ms(), &p->lines, &p->n_lines, &err);
        json_arena_leave();
        if (r < 0) {
                hub_reject(h, r == -E2BIG ? REJECT_TOO_LARGE : REJECT_BAD_REQUEST);
                log_debug("Refused a push from %s: %s", p->node_id, err.message);
                respond_error(resp, r == -E2BIG ? HTTP_STATUS_REQ_ENTITY_TOO_LARGE : HTTP_STATUS_BAD_REQUEST,
                              err.line > 0 ? "bad_line" : "bad_batch", "%s; nothing of this batch was stored",
                              err.message);
                if (err.line > 0) {
                        /* Name the line in a field too, for programs. */
                        cJSON *j = cJSON_Parse(resp->body);
                        if (j && cJSON_AddNumberToObject(j, "line", (double) err.line))
                                respond_json(resp, HTTP_STATUS_BAD_REQUEST, j);
                        cJSON_Delete(j);
                }
                return 0;
        }
        p->job.samples = calloc(p->n_lines, sizeof *p->job.samples);
        if (!p->job.samples)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_lines; i++) {
                struct push_line *l = &p->lines[i];

                p->job.samples[i] = (struct job_sample){
                        .node_id = p->node_id,
                        .stream = l->stream,
                        .seq = l->seq,
                        .ts = l->ts,
                        .json = l->json,
                        .len = l->len,
                        .values = l->values,
                        .n_values = l->n_values,
                        .root = l->root,
                        .tree = l->tree,
                        .stream_in_tree = l->tree != NULL,
                };
                /* The stream name may point into the tree: the writer frees
                 * the tree only after the row is added. */
                l->tree = NULL;
        }
        p->job.n_samples = p->n_lines;
        /* Only the sample that may become the node's latest is shown: the
         * one tree a scanned push needs. */
        newest = &p->job.samples[job_newest(&p->job)];
        if (newest->tree)
                sample_summarize(newest->tree, STORE_NODE_RESOLVIX, &newest->summary);
        else {
                cJSON *tree;

                /* From the push's arena, as the trees of the lines the scan
                 * hands back: no malloc and free of each node. */
                json_arena_enter(p->arena);
                tree = cJSON_ParseWithLength(newest->json, newest->len);
                json_arena_leave();
                sample_summarize(tree, STORE_NODE_RESOLVIX, &newest->summary);
                cJSON_Delete(tree);
        }
        p->last_seq = p->lines[p->n_lines - 1].seq;
        r = push_compress(h, p);
        return r < 0 ? r : 1;
}

static void push_lookup_run(struct job *j, struct store *st, struct lane_ctx *ctx) {
        struct push_job *p = container_of(j, struct push_job, job);
        struct store_node n;

        j->result = store_node_by_token(st, p->token_hex, &n);
        if (j->result == 0) {
                snprintf(p->node_id, sizeof p->node_id, "%s", n.node_id);
                j->upsert = malloc(sizeof n);
                if (j->upsert)
                        *j->upsert = n; /* handed to the loop; not written */
                else
                        j->result = -ENOMEM;
        }
}

/* A token this hub did not know, found (or not) in the database: another
 * hub enrolled the node. */
static void push_lookup_done(struct hub *h, struct job *j) {
        struct push_job *p = container_of(j, struct push_job, job);
        struct ws_http_response resp = { 0 };
        struct store_node *found = j->upsert;
        struct node *n = NULL;
        int r;

        j->upsert = NULL;
        if (!j->wsi) {
                free(found);
                job_free(j);
                return;
        }
        if (j->result == 0 && found)
                n = registry_put(h->registry, found);
        free(found);
        if (j->result == -ENOENT || (j->result == 0 && !n)) {
                hub_reject(h, REJECT_UNAUTHORIZED);
                respond_error(&resp, HTTP_STATUS_UNAUTHORIZED, "unauthorized", "missing or wrong node token");
                resp.www_authenticate = "Bearer";
        } else if (j->result == 0 && cert_auth(h) && !streq(p->cert_cn, n->s.node_id)) {
                struct request rq = { .h = h, .resp = &resp };

                (void) refuse_cert(&rq, p->cert_cn, n->s.node_id);
        } else if (j->result < 0)
                respond_store_error(h, &resp, j->result);
        else {
                r = push_queue(h, p, &resp);
                if (r > 0) {
                        j->lane = LANE_WRITE;
                        j->run = NULL;
                        j->done = push_done;
                        j->result = 0;
                        r = lanes_submit(h, j);
                        if (r == 0)
                                return;
                        respond_store_error(h, &resp, r);
                } else if (r < 0)
                        respond_error(&resp, HTTP_STATUS_INTERNAL_SERVER_ERROR, "internal_error", "out of memory");
        }
        job_answer(h, j, &resp);
        job_free(j);
}

static int push(struct request *rq) {
        struct hub *h = rq->h;
        char buf[CONF_TOKEN_MAX + 32], encoding[64], cn[STORE_NODE_ID_MAX + 1] = "";
        const char *given;
        struct push_job *p;
        struct node *n = NULL;
        int r;

        if (!streq(rq->req->method, "POST"))
                return respond_method_not_allowed(rq->resp, "POST");
        if (cert_auth(h))
                (void) ws_tls_peer_cn(rq->wsi, cn, sizeof cn);
        given = bearer_token(rq->wsi, buf, sizeof buf);
        if (!given || given[0] == '\0') {
                /* No token: the certificate alone, where it may. */
                n = cn[0] ? registry_get(h->registry, cn) : NULL;
                if (!n || n->s.kind != STORE_NODE_RESOLVIX) {
                        hub_reject(h, REJECT_UNAUTHORIZED);
                        if (cert_auth(h))
                                respond_error(rq->resp, HTTP_STATUS_UNAUTHORIZED, "unauthorized",
                                              "no node token, and the client certificate names no enrolled node");
                        else
                                respond_error(rq->resp, HTTP_STATUS_UNAUTHORIZED, "unauthorized",
                                              "missing node token");
                        rq->resp->www_authenticate = "Bearer";
                        return 0;
                }
        }
        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->job.lane = LANE_WRITE;
        p->job.done = push_done;
        p->job.free = push_free;
        snprintf(p->cert_cn, sizeof p->cert_cn, "%s", cn);
        if (!n)
                sha256_hex(given, strlen(given), p->token_hex);

        request_header(rq->wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, p->content_type, sizeof p->content_type);
        if (!content_type_ok(p->content_type)) {
                job_free(&p->job);
                hub_reject(h, REJECT_BAD_REQUEST);
                return respond_error(rq->resp, HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                                     "a push is application/x-ndjson: one JSON sample per line");
        }
        request_header(rq->wsi, WSI_TOKEN_HTTP_CONTENT_ENCODING, encoding, sizeof encoding);
        if (strcasecmp(encoding, "gzip") == 0 || strcasecmp(encoding, "x-gzip") == 0) {
                r = gunzip_capped(rq->req->body, rq->req->body_len, h->conf.hub.max_body, &p->body, &p->len);
                if (r < 0) {
                        job_free(&p->job);
                        hub_reject(h, r == -EFBIG ? REJECT_TOO_LARGE : REJECT_BAD_REQUEST);
                        if (r == -EFBIG)
                                return respond_error(rq->resp, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, "body_too_large",
                                                     "the body inflates to more than %u bytes (max_body)",
                                                     h->conf.hub.max_body);
                        return respond_error(rq->resp, HTTP_STATUS_BAD_REQUEST, "bad_gzip",
                                             "the body is not valid gzip");
                }
        } else if (encoding[0] == '\0' || strcasecmp(encoding, "identity") == 0) {
                /* A copy: the writer reads the samples after the peer may
                 * have gone and taken the request buffer with it. */
                p->body = malloc(rq->req->body_len + 1);
                if (!p->body) {
                        job_free(&p->job);
                        return -ENOMEM;
                }
                memcpy(p->body, rq->req->body, rq->req->body_len + 1);
                p->len = rq->req->body_len;
        } else {
                job_free(&p->job);
                hub_reject(h, REJECT_BAD_REQUEST);
                return respond_error(rq->resp, HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE, "unsupported_encoding",
                                     "Content-Encoding %s is not taken: send gzip or nothing", encoding);
        }

        if (!n)
                n = registry_by_token(h->registry, p->token_hex);
        if (!n) {
                p->job.lane = LANE_READ;
                p->job.run = push_lookup_run;
                p->job.done = push_lookup_done;
                return request_defer(rq, &p->job);
        }
        if (cert_auth(h) && !streq(cn, n->s.node_id)) {
                job_free(&p->job);
                return refuse_cert(rq, cn, n->s.node_id);
        }
        snprintf(p->node_id, sizeof p->node_id, "%s", n->s.node_id);
        r = push_queue(h, p, rq->resp);
        if (r <= 0) {
                job_free(&p->job);
                return r;
        }
        r = note_subject(rq->wsi, n, &p->job);
        if (r < 0) {
                job_free(&p->job);
                return r;
        }
        return request_defer(rq, &p->job);
}

/* ---- nodes -------------------------------------------------------------- */

static cJSON *node_json(const struct node *n, int64_t now) {
        cJSON *j = cJSON_CreateObject(), *latest;
        char first[ISO8601_MAX], last[ISO8601_MAX], ts[ISO8601_MAX];

        iso8601_ms(n->s.first_seen, first);
        iso8601_ms(n->s.last_seen, last);
        if (!j || !cJSON_AddStringToObject(j, "node_id", n->s.node_id) ||
            !cJSON_AddStringToObject(j, "hostname", n->s.hostname) ||
            !cJSON_AddStringToObject(j, "kind", store_node_kind_to_string(n->s.kind)) ||
            !cJSON_AddStringToObject(j, "first_seen", first) ||
            !(n->s.last_seen > 0 ? cJSON_AddStringToObject(j, "last_seen", last) : cJSON_AddNullToObject(j, "last_seen")) ||
            !cJSON_AddBoolToObject(j, "online", node_online(n, now)) ||
            !(n->s.cert_subject[0] ? cJSON_AddStringToObject(j, "tls_subject", n->s.cert_subject)
                                   : cJSON_AddNullToObject(j, "tls_subject")))
                goto fail;
        if (!n->latest) {
                if (!cJSON_AddNullToObject(j, "latest"))
                        goto fail;
                return j;
        }
        latest = cJSON_AddObjectToObject(j, "latest");
        if (!latest)
                goto fail;
        iso8601_ms(n->latest_ts, ts);
        if (!cJSON_AddStringToObject(latest, "timestamp", ts))
                goto fail;
        for (size_t i = 0; i < _HEADLINE_MAX; i++)
                if (n->summary.headline.has[i] &&
                    !json_add_round2(latest, headline_info[i].json_name, n->summary.headline.v[i]))
                        goto fail;
        return j;
fail:
        cJSON_Delete(j);
        return NULL;
}

static int nodes_list(struct request *rq) {
        _cleanup_free_ struct node **nodes = NULL;
        _cleanup_json_ cJSON *list = cJSON_CreateArray();
        int64_t now = now_ms();
        size_t n = 0;

        if (!streq(rq->req->method, "GET"))
                return respond_method_not_allowed(rq->resp, "GET");
        if (check_query_auth(rq) < 0)
                return 0;
        nodes = registry_sorted(rq->h->registry, &n);
        if (!nodes || !list)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                cJSON *j = node_json(nodes[i], now);
                if (!j || !cJSON_AddItemToArray(list, j)) {
                        cJSON_Delete(j);
                        return -ENOMEM;
                }
        }
        return respond_json(rq->resp, HTTP_STATUS_OK, list);
}

struct node_job {
        struct job job;
        char node_id[STORE_NODE_ID_MAX + 1];
        int64_t at;
        char *json;
        size_t len;
};

static void node_job_free(struct job *j) {
        struct node_job *nj = container_of(j, struct node_job, job);

        free(nj->json);
        free(nj);
}

static void delete_run(struct job *j, struct store *st, struct lane_ctx *ctx) {
        j->result = store_node_delete(st, container_of(j, struct node_job, job)->node_id);
}

static void delete_done(struct hub *h, struct job *j) {
        struct node_job *nj = container_of(j, struct node_job, job);
        struct ws_http_response resp = { 0 };
        struct node *n = registry_get(h->registry, nj->node_id);
        _cleanup_json_ cJSON *answer = NULL;

        if (j->result == 0 || j->result == -ENOENT) {
                if (n) {
                        if (n->s.kind == STORE_NODE_CLIENT)
                                client_cache_forget(h->clients, n->s.node_id);
                        fleet_forget(h, n);
                        registry_remove(h->registry, n);
                        log_info("Deleted node %s", nj->node_id);
                }
        }
        if (j->result == 0) {
                answer = cJSON_CreateObject();
                if (answer && cJSON_AddStringToObject(answer, "status", "deleted") &&
                    cJSON_AddStringToObject(answer, "node_id", nj->node_id))
                        respond_json(&resp, HTTP_STATUS_OK, answer);
        } else if (j->result == -ENOENT)
                respond_error(&resp, HTTP_STATUS_NOT_FOUND, "no_such_node", "no node %s", nj->node_id);
        else
                respond_store_error(h, &resp, j->result);
        job_answer(h, j, &resp);
        job_free(j);
}

static void sample_run(struct job *j, struct store *st, struct lane_ctx *ctx) {
        struct node_job *nj = container_of(j, struct node_job, job);

        j->result = store_sample_at(st, nj->node_id, nj->at, &nj->json, &nj->len, NULL);
}

static void sample_done(struct hub *h, struct job *j) {
        struct node_job *nj = container_of(j, struct node_job, job);
        struct ws_http_response resp = { 0 };

        if (j->result == 0) {
                respond_raw(&resp, HTTP_STATUS_OK, "application/json", nj->json, nj->len);
                nj->json = NULL;
        } else if (j->result == -ENOENT)
                respond_error(&resp, HTTP_STATUS_NOT_FOUND, "no_sample", "no sample of node %s at or before that time",
                              nj->node_id);
        else
                respond_store_error(h, &resp, j->result);
        job_answer(h, j, &resp);
        job_free(j);
}

/* Unix seconds, possibly fractional, into ms. */
static int parse_unix_ms(const char *s, int64_t *ret) {
        char *end;
        double v;

        if (s[0] == '\0')
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0 || v > 253402300799.0)
                return -EINVAL;
        *ret = (int64_t) llround(v * 1000);
        return 0;
}

static int node_request(struct request *rq, const char *rest) {
        const char *slash = strchr(rest, '/');
        size_t idlen = slash ? (size_t) (slash - rest) : strlen(rest);
        struct node_job *nj;
        char at[64];

        if (idlen == 0 || idlen > STORE_NODE_ID_MAX)
                return -ENOENT;
        nj = calloc(1, sizeof *nj);
        if (!nj)
                return -ENOMEM;
        nj->job.lane = LANE_READ;
        nj->job.free = node_job_free;
        memcpy(nj->node_id, rest, idlen);

        if (!slash) {
                if (streq(rq->req->method, "DELETE")) {
                        if (check_query_auth(rq) < 0)
                                goto answered;
                        /* On the writer: the handle that stores samples
                         * must know the node is gone. */
                        nj->job.lane = LANE_WRITE;
                        nj->job.run = delete_run;
                        nj->job.done = delete_done;
                        return request_defer(rq, &nj->job);
                }
                if (streq(rq->req->method, "GET")) {
                        struct node *n = registry_get(rq->h->registry, nj->node_id);
                        _cleanup_json_ cJSON *j = NULL;

                        if (check_query_auth(rq) < 0)
                                goto answered;
                        if (!n) {
                                respond_error(rq->resp, HTTP_STATUS_NOT_FOUND, "no_such_node", "no node %s",
                                              nj->node_id);
                                goto answered;
                        }
                        j = node_json(n, now_ms());
                        job_free(&nj->job);
                        return j ? respond_json(rq->resp, HTTP_STATUS_OK, j) : -ENOMEM;
                }
                job_free(&nj->job);
                return respond_method_not_allowed(rq->resp, "GET, DELETE");
        }
        if (streq(slash, "/sample")) {
                if (!streq(rq->req->method, "GET")) {
                        job_free(&nj->job);
                        return respond_method_not_allowed(rq->resp, "GET");
                }
                if (check_query_auth(rq) < 0)
                        goto answered;
                nj->at = INT64_MAX;
                if (request_arg(rq->wsi, "at", at, sizeof at) && at[0]) {
                        if (parse_unix_ms(at, &nj->at) < 0) {
                                hub_reject(rq->h, REJECT_BAD_REQUEST);
                                respond_error(rq->resp, HTTP_STATUS_BAD_REQUEST, "bad_request",
                                              "at must be Unix seconds");
                                goto answered;
                        }
                        /* "at" names a second: every sample within it is at or before it. */
                        if (nj->at % 1000 == 0)
                                nj->at += 999;
                }
                nj->job.run = sample_run;
                nj->job.done = sample_done;
                return request_defer(rq, &nj->job);
        }
        job_free(&nj->job);
        return -ENOENT;
answered:
        job_free(&nj->job);
        return 0;
}

/* ---- queries ------------------------------------------------------------ */

struct query_job {
        struct job job;
        struct store_query q;
        char node[STORE_NODE_ID_MAX + 1];
        char metric[STORE_METRIC_MAX + 1];
        int64_t step_used;
        size_t points;
        FILE *out;
        char *buf;
        size_t len;
        unsigned series;
};

static void query_free(struct job *j) {
        struct query_job *q = container_of(j, struct query_job, job);

        if (q->out)
                fclose(q->out);
        free(q->buf);
        free(q);
}

static void print_seconds(FILE *f, int64_t ms) {
        if (ms % 1000 == 0)
                fprintf(f, "%lld", (long long) (ms / 1000));
        else
                fprintf(f, "%lld.%03lld", (long long) (ms / 1000), (long long) (ms % 1000));
}

static int query_series(const char *node_id, const struct store_point *points, size_t n, void *userdata) {
        struct query_job *q = userdata;
        cJSON *id;
        char *quoted;

        q->points += n;
        if (q->points > QUERY_POINTS_TOTAL_MAX)
                return -E2BIG;
        id = cJSON_CreateString(node_id);
        quoted = id ? json_print(id) : NULL;
        cJSON_Delete(id);
        if (!quoted)
                return -ENOMEM;
        fprintf(q->out, "%s{\"node_id\":%s,\"points\":[", q->series++ ? "," : "", quoted);
        free(quoted);
        for (size_t i = 0; i < n; i++) {
                char value[40];

                fputs(i ? ",[" : "[", q->out);
                print_seconds(q->out, points[i].t);
                pyjson_float_repr(points[i].v, value, sizeof value);
                fprintf(q->out, ",%s]", value);
        }
        fputs("]}", q->out);
        return ferror(q->out) ? -ENOMEM : 0;
}

static void query_run(struct job *j, struct store *st, struct lane_ctx *ctx) {
        struct query_job *q = container_of(j, struct query_job, job);

        q->out = open_memstream(&q->buf, &q->len);
        if (!q->out) {
                j->result = -ENOMEM;
                return;
        }
        j->result = store_query(st, &q->q, &q->step_used, query_series, q);
        if (fclose(q->out) != 0 && j->result == 0)
                j->result = -ENOMEM;
        q->out = NULL;
}

static void query_done(struct hub *h, struct job *j) {
        struct query_job *q = container_of(j, struct query_job, job);
        struct ws_http_response resp = { 0 };
        char *body = NULL;
        cJSON *metric;
        char *quoted;
        FILE *f;
        size_t len = 0;

        if (j->result == -E2BIG) {
                hub_reject(h, REJECT_TOO_LARGE);
                respond_error(&resp, HTTP_STATUS_BAD_REQUEST, "too_many_points",
                              "the answer would hold more than %d points per series or %d in all: narrow the range "
                              "or raise step",
                              STORE_QUERY_POINTS_MAX, QUERY_POINTS_TOTAL_MAX);
        } else if (j->result == -EINVAL) {
                hub_reject(h, REJECT_BAD_REQUEST);
                respond_error(&resp, HTTP_STATUS_BAD_REQUEST, "bad_request", "the query's parameters do not fit");
        } else if (j->result == -ENOENT)
                respond_error(&resp, HTTP_STATUS_NOT_FOUND, "no_such_node", "no node %s", q->node);
        else if (j->result < 0)
                respond_store_error(h, &resp, j->result);
        else {
                metric = cJSON_CreateString(q->metric);
                quoted = metric ? json_print(metric) : NULL;
                cJSON_Delete(metric);
                f = open_memstream(&body, &len);
                if (quoted && f) {
                        fprintf(f, "{\"metric\":%s,\"step\":", quoted);
                        print_seconds(f, q->step_used);
                        fprintf(f, ",\"series\":[%s]}\n", q->buf ? q->buf : "");
                }
                free(quoted);
                if (f && fclose(f) == 0 && body)
                        respond_raw(&resp, HTTP_STATUS_OK, "application/json", body, len);
                else {
                        free(body);
                        respond_error(&resp, HTTP_STATUS_INTERNAL_SERVER_ERROR, "internal_error", "out of memory");
                }
        }
        job_answer(h, j, &resp);
        job_free(j);
}

/* "300", "300s", "5m", "1h", "1d" into ms. */
static int parse_duration_ms(const char *s, int64_t *ret) {
        char *end;
        double v;
        int64_t unit = 1000;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || !isfinite(v) || v < 0)
                return -EINVAL;
        if (streq(end, "") || streq(end, "s"))
                unit = 1000;
        else if (streq(end, "ms"))
                unit = 1;
        else if (streq(end, "m"))
                unit = 60 * 1000;
        else if (streq(end, "h"))
                unit = 3600 * 1000;
        else if (streq(end, "d"))
                unit = 86400 * 1000;
        else
                return -EINVAL;
        if (v * (double) unit > 100.0 * 365 * 86400 * 1000)
                return -EINVAL;
        *ret = (int64_t) llround(v * (double) unit);
        return 0;
}

static int query(struct request *rq) {
        struct hub *h = rq->h;
        char arg[512];
        struct query_job *q;
        const char *bad = NULL;
        int64_t now = now_ms();
        int a;

        if (!streq(rq->req->method, "GET"))
                return respond_method_not_allowed(rq->resp, "GET");
        if (check_query_auth(rq) < 0)
                return 0;
        q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->job.lane = LANE_READ;
        q->job.run = query_run;
        q->job.done = query_done;
        q->job.free = query_free;

        if (!request_arg(rq->wsi, "metric", q->metric, sizeof q->metric) || q->metric[0] == '\0')
                bad = "metric is required: a dotted path such as cpu.cpu_usage_percent";
        if (!request_arg(rq->wsi, "node", q->node, sizeof q->node) || q->node[0] == '\0')
                snprintf(q->node, sizeof q->node, "*");
        q->q.end = now;
        if (!bad && request_arg(rq->wsi, "end", arg, sizeof arg) && arg[0] && parse_unix_ms(arg, &q->q.end) < 0)
                bad = "end must be Unix seconds";
        q->q.start = q->q.end - 3600 * 1000;
        if (!bad && request_arg(rq->wsi, "start", arg, sizeof arg) && arg[0] && parse_unix_ms(arg, &q->q.start) < 0)
                bad = "start must be Unix seconds";
        if (!bad && q->q.end < q->q.start)
                bad = "end is before start";
        if (!bad && request_arg(rq->wsi, "step", arg, sizeof arg) && arg[0] && parse_duration_ms(arg, &q->q.step) < 0)
                bad = "step must be seconds, or a duration such as 30s, 5m, 1h";
        q->q.agg = STORE_AGG_AVG;
        if (!bad && request_arg(rq->wsi, "agg", arg, sizeof arg) && arg[0]) {
                a = store_agg_from_string(arg);
                if (a < 0)
                        bad = "agg must be avg, min, max or last";
                else
                        q->q.agg = (enum store_agg) a;
        }
        if (bad) {
                job_free(&q->job);
                hub_reject(h, REJECT_BAD_REQUEST);
                return respond_error(rq->resp, HTTP_STATUS_BAD_REQUEST, "bad_request", "%s", bad);
        }
        q->q.node_id = q->node;
        q->q.metric = q->metric;
        q->q.source = STORE_SOURCE_AUTO;
        return request_defer(rq, &q->job);
}

/* ---- health ------------------------------------------------------------- */

static void health_run(struct job *j, struct store *st, struct lane_ctx *ctx) {
        j->result = store_ping(st);
}

static void health_done(struct hub *h, struct job *j) {
        struct ws_http_response resp = { 0 };
        _cleanup_json_ cJSON *answer = cJSON_CreateObject();
        bool ok = j->result == 0;

        if (answer && cJSON_AddStringToObject(answer, "status", ok ? "healthy" : "degraded") &&
            cJSON_AddStringToObject(answer, "database", h->backend) &&
            cJSON_AddBoolToObject(answer, "database_answers", ok) &&
            cJSON_AddNumberToObject(answer, "nodes", (double) registry_count(h->registry)) &&
            (ok || cJSON_AddStringToObject(answer, "message", strerror(-j->result))))
                respond_json(&resp, ok ? HTTP_STATUS_OK : HTTP_STATUS_SERVICE_UNAVAILABLE, answer);
        if (!ok)
                resp.retry_after = HUB_RETRY_AFTER_SEC;
        job_answer(h, j, &resp);
        job_free(j);
}

static int health(struct request *rq) {
        struct job *j;

        if (!streq(rq->req->method, "GET"))
                return respond_method_not_allowed(rq->resp, "GET");
        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->lane = LANE_READ;
        j->run = health_run;
        j->done = health_done;
        return request_defer(rq, j);
}

int native_request(struct request *rq) {
        const char *p = rq->path;

        if (streq(p, "/health"))
                return health(rq);
        if (streq(p, "/api/v1/enroll"))
                return enroll(rq);
        if (streq(p, "/api/v1/enroll-tokens") || strneq(p, "/api/v1/enroll-tokens/", 22))
                return enroll_tokens_request(rq);
        if (streq(p, "/api/v1/push"))
                return push(rq);
        if (streq(p, "/api/v1/nodes"))
                return nodes_list(rq);
        if (strneq(p, "/api/v1/nodes/", 14))
                return node_request(rq, p + 14);
        if (streq(p, "/api/v1/query"))
                return query(rq);
        return -ENOENT;
}
