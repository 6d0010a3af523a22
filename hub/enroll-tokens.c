/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "hub.h"
#include "jsonutil.h"
#include "log.h"
#include "timeutil.h"

/* One-time enroll tokens (docs/fleet.md, "Enroll tokens"): an operator makes
 * one per node to be enrolled, through the API or `resolvix-hub
 * --new-enroll-token`; the hub keeps only its hash, and the first enrolment
 * that presents it spends it. */

/* Tokens that may wait unspent at once: what an operator hands out for one
 * roll-out, not a store a token holder can fill without end. */
#define ENROLL_TOKENS_MAX 1000

int enroll_token_make(int64_t ttl_sec, const char *note, int64_t now, char token[static 65],
                      struct store_enroll_token *ret) {
        struct store_enroll_token t = { .created = now, .expires = now + ttl_sec * 1000 };
        int r;

        if (ttl_sec < 1 || ttl_sec > ENROLL_TOKEN_TTL_MAX || strlen(note) > STORE_ENROLL_NOTE_MAX)
                return -EINVAL;
        for (const char *p = note; *p; p++)
                if ((unsigned char) *p < 0x20)
                        return -EINVAL;
        r = random_hex(32, token);
        if (r < 0)
                return r;
        sha256_hex(token, strlen(token), t.token_sha256);
        snprintf(t.note, sizeof t.note, "%s", note);
        *ret = t;
        return 0;
}

static int count_one(const struct store_enroll_token *t, void *userdata) {
        (*(size_t *) userdata)++;
        return 0;
}

int enroll_token_store(struct store *st, const struct store_enroll_token *t) {
        size_t n = 0;
        int r = store_enroll_tokens_each(st, t->created, count_one, &n);

        if (r < 0)
                return r;
        if (n >= ENROLL_TOKENS_MAX)
                return -E2BIG;
        return store_enroll_token_put(st, t, t->created);
}

static void iso8601_ms(int64_t ms, char buf[static ISO8601_MAX]) {
        format_iso8601(ms > 0 ? (uint64_t) ms * USEC_PER_MSEC : 0, buf);
}

/* ---- POST: make one ------------------------------------------------------- */

struct new_job {
        struct job job;
        struct store_enroll_token t;
        char token[SHA256_HEX_LEN + 1];
};

static void new_run(struct job *j, struct store *st, struct lane_ctx *ctx) {
        j->result = enroll_token_store(st, &container_of(j, struct new_job, job)->t);
}

static void new_done(struct hub *h, struct job *j) {
        struct new_job *nj = container_of(j, struct new_job, job);
        struct ws_http_response resp = { 0 };
        _cleanup_json_ cJSON *answer = NULL;
        char expires[ISO8601_MAX], id[STORE_ENROLL_ID_LEN + 1];

        if (j->result == 0) {
                iso8601_ms(nj->t.expires, expires);
                /* The id is the start of the hash: what the list shows. */
                snprintf(id, sizeof id, "%.*s", STORE_ENROLL_ID_LEN, nj->t.token_sha256);
                answer = cJSON_CreateObject();
                if (answer && cJSON_AddStringToObject(answer, "token", nj->token) &&
                    cJSON_AddStringToObject(answer, "id", id) && cJSON_AddStringToObject(answer, "expires", expires)) {
                        log_info("Made the one-time enroll token %s, valid until %s", id, expires);
                        respond_json(&resp, HTTP_CREATED, answer);
                } else
                        respond_error(&resp, HTTP_STATUS_INTERNAL_SERVER_ERROR, "internal_error", "out of memory");
        } else if (j->result == -E2BIG) {
                hub_reject(h, REJECT_TOO_MANY_NODES);
                respond_error(&resp, HTTP_TOO_MANY_REQUESTS, "too_many_tokens",
                              "%d unspent enroll tokens are waiting already: spend or revoke some first",
                              ENROLL_TOKENS_MAX);
        } else
                respond_store_error(h, &resp, j->result);
        job_answer(h, j, &resp);
        job_free(j);
}

static int tokens_new(struct request *rq) {
        _cleanup_json_ cJSON *body = NULL;
        const cJSON *ttl, *note;
        struct new_job *nj;
        int64_t ttl_sec = ENROLL_TOKEN_TTL_DEFAULT;
        int r;

        if (rq->req->body_len > 0) {
                body = cJSON_ParseWithLength(rq->req->body, rq->req->body_len);
                if (!cJSON_IsObject(body))
                        goto bad;
        }
        ttl = cJSON_GetObjectItemCaseSensitive(body, "ttl");
        note = cJSON_GetObjectItemCaseSensitive(body, "note");
        if (ttl && !cJSON_IsNull(ttl)) {
                if (!cJSON_IsNumber(ttl) || ttl->valuedouble != floor(ttl->valuedouble) || ttl->valuedouble < 1 ||
                    ttl->valuedouble > ENROLL_TOKEN_TTL_MAX)
                        goto bad;
                ttl_sec = (int64_t) ttl->valuedouble;
        }
        if (note && !cJSON_IsNull(note) && !cJSON_IsString(note))
                goto bad;
        nj = calloc(1, sizeof *nj);
        if (!nj)
                return -ENOMEM;
        r = enroll_token_make(ttl_sec, cJSON_IsString(note) ? note->valuestring : "", now_ms(), nj->token, &nj->t);
        if (r < 0) {
                free(nj);
                if (r == -EINVAL)
                        goto bad;
                return respond_error(rq->resp, HTTP_STATUS_INTERNAL_SERVER_ERROR, "internal_error",
                                     "no randomness for a token");
        }
        nj->job.lane = LANE_READ;
        nj->job.run = new_run;
        nj->job.done = new_done;
        return request_defer(rq, &nj->job);
bad:
        hub_reject(rq->h, REJECT_BAD_REQUEST);
        return respond_error(rq->resp, HTTP_STATUS_BAD_REQUEST, "bad_request",
                             "expected {\"ttl\": 1 to %d seconds, \"note\": up to %d characters}, both optional",
                             ENROLL_TOKEN_TTL_MAX, STORE_ENROLL_NOTE_MAX);
}

/* ---- GET: the unspent ones, without their secret ------------------------------ */

struct list_job {
        struct job job;
        cJSON *list;
};

static void list_free(struct job *j) {
        struct list_job *l = container_of(j, struct list_job, job);

        cJSON_Delete(l->list);
        free(l);
}

static int list_one(const struct store_enroll_token *t, void *userdata) {
        cJSON *list = userdata, *o = cJSON_CreateObject();
        char id[STORE_ENROLL_ID_LEN + 1], created[ISO8601_MAX], expires[ISO8601_MAX];

        snprintf(id, sizeof id, "%.*s", STORE_ENROLL_ID_LEN, t->token_sha256);
        iso8601_ms(t->created, created);
        iso8601_ms(t->expires, expires);
        if (!o || !cJSON_AddItemToArray(list, o)) {
                cJSON_Delete(o);
                return -ENOMEM;
        }
        if (!cJSON_AddStringToObject(o, "id", id) || !cJSON_AddStringToObject(o, "note", t->note) ||
            !cJSON_AddStringToObject(o, "created", created) || !cJSON_AddStringToObject(o, "expires", expires))
                return -ENOMEM;
        return 0;
}

static void list_run(struct job *j, struct store *st, struct lane_ctx *ctx) {
        struct list_job *l = container_of(j, struct list_job, job);

        l->list = cJSON_CreateArray();
        j->result = l->list ? store_enroll_tokens_each(st, now_ms(), list_one, l->list) : -ENOMEM;
}

static void list_done(struct hub *h, struct job *j) {
        struct list_job *l = container_of(j, struct list_job, job);
        struct ws_http_response resp = { 0 };

        if (j->result == 0)
                respond_json(&resp, HTTP_STATUS_OK, l->list);
        else
                respond_store_error(h, &resp, j->result);
        job_answer(h, j, &resp);
        job_free(j);
}

/* ---- DELETE: revoke ---------------------------------------------------------- */

struct revoke_job {
        struct job job;
        char id[STORE_ENROLL_ID_LEN + 1];
};

static void revoke_run(struct job *j, struct store *st, struct lane_ctx *ctx) {
        j->result = store_enroll_token_delete(st, container_of(j, struct revoke_job, job)->id);
}

static void revoke_done(struct hub *h, struct job *j) {
        struct revoke_job *rj = container_of(j, struct revoke_job, job);
        struct ws_http_response resp = { 0 };
        _cleanup_json_ cJSON *answer = NULL;

        if (j->result == 0) {
                log_info("Revoked the enroll token %s", rj->id);
                answer = cJSON_CreateObject();
                if (answer && cJSON_AddStringToObject(answer, "status", "revoked") &&
                    cJSON_AddStringToObject(answer, "id", rj->id))
                        respond_json(&resp, HTTP_STATUS_OK, answer);
        } else if (j->result == -ENOENT)
                respond_error(&resp, HTTP_STATUS_NOT_FOUND, "no_such_token", "no unspent enroll token %s", rj->id);
        else
                respond_store_error(h, &resp, j->result);
        job_answer(h, j, &resp);
        job_free(j);
}

int enroll_tokens_request(struct request *rq) {
        const char *rest = rq->path + strlen("/api/v1/enroll-tokens");
        const char *m = rq->req->method;

        if (rest[0] == '\0') {
                if (!streq(m, "POST") && !streq(m, "GET"))
                        return respond_method_not_allowed(rq->resp, "GET, POST");
                if (check_query_auth(rq) < 0)
                        return 0;
                if (streq(m, "POST"))
                        return tokens_new(rq);
                struct list_job *l = calloc(1, sizeof *l);
                if (!l)
                        return -ENOMEM;
                l->job.lane = LANE_READ;
                l->job.run = list_run;
                l->job.done = list_done;
                l->job.free = list_free;
                return request_defer(rq, &l->job);
        }
        if (rest[0] != '/' || rest[1] == '\0')
                return -ENOENT;
        if (!streq(m, "DELETE"))
                return respond_method_not_allowed(rq->resp, "DELETE");
        if (check_query_auth(rq) < 0)
                return 0;
        if (strlen(rest + 1) != STORE_ENROLL_ID_LEN)
                return respond_error(rq->resp, HTTP_STATUS_NOT_FOUND, "no_such_token", "no unspent enroll token %.64s",
                                     rest + 1);
        struct revoke_job *rj = calloc(1, sizeof *rj);
        if (!rj)
                return -ENOMEM;
        snprintf(rj->id, sizeof rj->id, "%s", rest + 1);
        rj->job.lane = LANE_READ;
        rj->job.run = revoke_run;
        rj->job.done = revoke_done;
        return request_defer(rq, &rj->job);
}
