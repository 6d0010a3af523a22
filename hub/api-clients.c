/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "clientid.h"
#include "hub.h"
#include "jsonutil.h"
#include "log.h"
#include "pyjson.h"
#include "timeutil.h"

/* The Flask system-monitor API, as its clients expect it (docs/fleet.md,
 * "Flask system-monitor API"):
 * registration, records over HTTP and over the /echo WebSocket, the time
 * range and report of a client's records, and the hub's own /monitor
 * figures. Answers are spelled as Python's json.dumps() spells them. A
 * client is a node of kind "client" whose samples are its records. */

#define REPORT_RECORDS_MAX 100000

static const char *const ERR_AUTH = "authorization error";
static const char *const ERR_USERNAME = "unsupportable username";
static const char *const ERR_EMPTY = "log is empty";
static const char *const ERR_VALUE = "value error";
static const char *const ERR_DATA = "incorrect data";
static const char *const WS_ERR_SIZE = "incorrect data size";
static const char *const WS_ERR_TYPE = "Data type incorrect, please use json";

/* Check a client's password on the reader, and make sure its node exists
 * (it may have been deleted while the registration stayed). Sets *status
 * to 200, 401 or 429. */
static int verify_client(struct store *st, struct lane_ctx *ctx, const char *username, const char *password,
                         unsigned max_nodes, bool may_register, struct store_node *node, int *status) {
        char hash[STORE_PASSWORD_HASH_MAX + 1];
        _cleanup_free_ char *fresh = NULL;
        bool new_client = false;
        int64_t now = now_ms();
        uint64_t count;
        int r;

        r = store_client_get(st, username, hash);
        if (r == -ENOENT && may_register) {
                new_client = true;
                r = store_node_get(st, username, node);
                if (r == 0 && node->kind != STORE_NODE_CLIENT) {
                        *status = HTTP_STATUS_UNAUTHORIZED;
                        return 0;
                }
                if (r == -ENOENT) {
                        r = store_node_count(st, &count);
                        if (r < 0)
                                return r;
                        if (count >= max_nodes) {
                                *status = HTTP_TOO_MANY_REQUESTS;
                                return 0;
                        }
                } else if (r < 0)
                        return r;
                r = client_password_hash(password, &ctx->crypt_data, &ctx->crypt_size, &fresh);
                if (r < 0)
                        return r;
                r = store_client_put(st, username, fresh);
                if (r == -EEXIST) {
                        /* Registered by someone else since the get. */
                        new_client = false;
                        r = store_client_get(st, username, hash);
                } else if (r == 0)
                        snprintf(hash, sizeof hash, "%s", fresh);
        }
        if (r == -ENOENT) {
                *status = HTTP_STATUS_UNAUTHORIZED;
                return 0;
        }
        if (r < 0)
                return r;
        if (!new_client) {
                r = client_password_verify(password, hash, &ctx->crypt_data, &ctx->crypt_size);
                if (r == -EACCES) {
                        *status = HTTP_STATUS_UNAUTHORIZED;
                        return 0;
                }
                if (r < 0)
                        return r;
        }
        r = store_node_get(st, username, node);
        if (r == -ENOENT) {
                *node = (struct store_node){ .kind = STORE_NODE_CLIENT, .first_seen = now, .last_seen = now };
                snprintf(node->node_id, sizeof node->node_id, "%s", username);
                r = store_node_upsert(st, node);
        } else if (r == 0 && node->kind != STORE_NODE_CLIENT) {
                *status = HTTP_STATUS_UNAUTHORIZED;
                return 0;
        }
        if (r < 0)
                return r;
        *status = HTTP_STATUS_OK;
        return 0;
}

/* ---- registration ------------------------------------------------------- */

struct register_job {
        struct job job;
        char username[CLIENT_USERNAME_MAX + 1];
        char *password;
        unsigned max_nodes;
        int status;
        struct store_node node;
};

static void register_free(struct job *j) {
        struct register_job *rj = container_of(j, struct register_job, job);

        free(rj->password);
        free(rj);
}

static void register_run(struct job *j, struct store *st, struct lane_ctx *ctx) {
        struct register_job *rj = container_of(j, struct register_job, job);

        j->result = verify_client(st, ctx, rj->username, rj->password, rj->max_nodes, true, &rj->node, &rj->status);
}

static void register_done(struct hub *h, struct job *j) {
        struct register_job *rj = container_of(j, struct register_job, job);
        struct ws_http_response resp = { 0 };
        _cleanup_json_ cJSON *answer = NULL;
        _cleanup_free_ char *id = NULL;

        if (j->result < 0)
                respond_store_error(h, &resp, j->result);
        else if (rj->status == HTTP_STATUS_OK) {
                if (!registry_get(h->registry, rj->username)) {
                        registry_put(h->registry, &rj->node);
                        log_info("Registered client %s", rj->username);
                }
                client_cache_put(h->clients, rj->username, rj->password);
                id = client_id_make(rj->username, rj->password);
                answer = cJSON_CreateObject();
                if (id && answer && cJSON_AddStringToObject(answer, "client_id", id) &&
                    cJSON_AddStringToObject(answer, "registration", rj->username))
                        respond_pyjson(&resp, HTTP_STATUS_OK, answer);
        } else if (rj->status == HTTP_TOO_MANY_REQUESTS) {
                hub_reject(h, REJECT_TOO_MANY_NODES);
                respond_flask_error(&resp, HTTP_TOO_MANY_REQUESTS, "too many clients");
                resp.retry_after = 3600;
        } else {
                hub_reject(h, REJECT_UNAUTHORIZED);
                respond_flask_error(&resp, HTTP_STATUS_UNAUTHORIZED, ERR_AUTH);
        }
        job_answer(h, j, &resp);
        job_free(j);
}

static const char *content_type(struct request *rq, char *buf, size_t size) {
        request_header(rq->wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, buf, size);
        return buf;
}

static int register_client(struct request *rq) {
        _cleanup_json_ cJSON *body = NULL;
        const cJSON *user, *pass;
        struct register_job *rj;
        char type[128];

        if (!streq(rq->req->method, "POST"))
                return respond_method_not_allowed(rq->resp, "POST");
        body = body_parse_object(rq->req->body, rq->req->body_len, content_type(rq, type, sizeof type));
        if (!body) {
                hub_reject(rq->h, REJECT_BAD_REQUEST);
                return respond_flask_error(rq->resp, HTTP_STATUS_BAD_REQUEST, ERR_DATA);
        }
        user = cJSON_GetObjectItemCaseSensitive(body, "username");
        pass = cJSON_GetObjectItemCaseSensitive(body, "password");
        if (!pass)
                pass = cJSON_GetObjectItemCaseSensitive(body, "pass");
        if (!cJSON_IsString(user) || !client_username_valid(user->valuestring)) {
                hub_reject(rq->h, REJECT_UNAUTHORIZED);
                return respond_flask_error(rq->resp, HTTP_STATUS_UNAUTHORIZED, ERR_USERNAME);
        }
        if (!cJSON_IsString(pass) || strlen(pass->valuestring) > CLIENT_PASSWORD_MAX) {
                hub_reject(rq->h, REJECT_UNAUTHORIZED);
                return respond_flask_error(rq->resp, HTTP_STATUS_UNAUTHORIZED, ERR_AUTH);
        }
        rj = calloc(1, sizeof *rj);
        if (!rj || !(rj->password = strdup(pass->valuestring))) {
                free(rj);
                return -ENOMEM;
        }
        snprintf(rj->username, sizeof rj->username, "%s", user->valuestring);
        rj->max_nodes = rq->h->conf.hub.max_nodes;
        rj->job.lane = LANE_READ;
        rj->job.run = register_run;
        rj->job.done = register_done;
        rj->job.free = register_free;
        return request_defer(rq, &rj->job);
}

/* ---- records: over HTTP and over /echo ----------------------------------- */

struct record_job {
        struct job job;
        char username[CLIENT_USERNAME_MAX + 1];
        char *password;
        bool echo; /* answer with a DATA_RETURN frame, not 202 */
        int status;
        struct store_node node;
        char *json; /* the record as stored */
        size_t len;
        struct job_sample sample;
};

static void record_free(struct job *j) {
        struct record_job *rec = container_of(j, struct record_job, job);

        free(rec->password);
        free(rec->json);
        free(rec);
}

static void record_answer(struct hub *h, struct record_job *rec, int status, const char *error) {
        struct ws_http_response resp = { 0 };
        _cleanup_free_ char *frame = NULL;

        if (rec->echo) {
                if (rec->job.wsi) {
                        if (status == HTTP_ACCEPTED) {
                                if (asprintf(&frame, "{\"type\": \"DATA_RETURN\", \"payload\": {\"data\": %s}}",
                                             rec->json) < 0)
                                        frame = NULL;
                        } else if (asprintf(&frame, "{\"type\": \"ERROR\", \"reason\": \"%s\"}", error) < 0)
                                frame = NULL;
                        if (frame)
                                ws_reply_textf(rec->job.wsi, "%s", frame);
                        rec->job.conn->job = NULL;
                        /* The next message may come now. */
                        lws_rx_flow_control(rec->job.wsi, 1);
                        rec->job.wsi = NULL;
                }
                return;
        }
        if (status == HTTP_ACCEPTED) {
                char *copy = strdup(rec->json);
                respond_raw(&resp, HTTP_ACCEPTED, "application/json", copy, copy ? strlen(copy) : 0);
        } else
                respond_flask_error(&resp, status, error);
        job_answer(h, &rec->job, &resp);
}

static void record_stored(struct hub *h, struct job *j) {
        struct record_job *rec = container_of(j, struct record_job, job);

        if (j->result == 0) {
                hub_samples_stored(h, j);
                record_answer(h, rec, HTTP_ACCEPTED, NULL);
        } else {
                hub_samples_failed(h, j);
                if (rec->echo)
                        record_answer(h, rec, HTTP_STATUS_SERVICE_UNAVAILABLE, "database unavailable");
                else {
                        struct ws_http_response resp = { 0 };

                        respond_store_error(h, &resp, j->result);
                        job_answer(h, j, &resp);
                }
        }
        job_free(j);
}

/* Hand the record to the writer. Answers nothing: on failure the caller
 * does. */
static int record_queue_write(struct hub *h, struct record_job *rec) {
        int r;

        rec->job.lane = LANE_WRITE;
        rec->job.run = NULL;
        rec->job.done = record_stored;
        rec->job.result = 0;
        rec->job.samples = &rec->sample;
        rec->job.n_samples = 1;
        r = lanes_submit(h, &rec->job);
        if (r < 0)
                rec->job.n_samples = 0;
        return r;
}

/* A record that could not be queued: say so, and drop it. */
static void record_refuse(struct hub *h, struct record_job *rec, int err) {
        if (rec->echo)
                record_answer(h, rec, HTTP_STATUS_SERVICE_UNAVAILABLE, "database unavailable");
        else {
                struct ws_http_response resp = { 0 };

                respond_store_error(h, &resp, err);
                job_answer(h, &rec->job, &resp);
        }
        job_free(&rec->job);
}

static void record_verify_run(struct job *j, struct store *st, struct lane_ctx *ctx) {
        struct record_job *rec = container_of(j, struct record_job, job);

        j->result = verify_client(st, ctx, rec->username, rec->password, UINT32_MAX, false, &rec->node, &rec->status);
}

static void record_verified(struct hub *h, struct job *j) {
        struct record_job *rec = container_of(j, struct record_job, job);
        int r;

        if (!j->wsi) {
                job_free(j);
                return;
        }
        if (j->result < 0) {
                record_refuse(h, rec, j->result);
                return;
        }
        if (rec->status != HTTP_STATUS_OK) {
                hub_reject(h, REJECT_UNAUTHORIZED);
                record_answer(h, rec, HTTP_STATUS_UNAUTHORIZED, ERR_AUTH);
                job_free(j);
                return;
        }
        if (!registry_get(h->registry, rec->username))
                registry_put(h->registry, &rec->node);
        client_cache_put(h->clients, rec->username, rec->password);
        r = record_queue_write(h, rec);
        if (r < 0)
                record_refuse(h, rec, r);
}

/* Queue a record: to the writer when the client id is one the hub has
 * verified, else to the reader to verify it first. Answers nothing; on
 * failure (a full queue) the caller answers and frees rec. */
static int record_submit(struct hub *h, struct record_job *rec) {
        int64_t now_us = (int64_t) now_usec(CLOCK_REALTIME);

        /* A record has no identity of its own: the hub numbers them, so
         * two records of one second are both kept. */
        h->record_seq = now_us > h->record_seq ? now_us : h->record_seq + 1;
        rec->sample = (struct job_sample){
                .node_id = rec->username,
                .stream = "",
                .seq = h->record_seq,
                .ts = rec->sample.ts,
                .json = rec->json,
                .len = rec->len,
                .summary = rec->sample.summary,
        };
        if (client_cache_check(h->clients, rec->username, rec->password) && registry_get(h->registry, rec->username))
                return record_queue_write(h, rec);
        rec->job.lane = LANE_READ;
        rec->job.run = record_verify_run;
        rec->job.done = record_verified;
        return lanes_submit(h, &rec->job);
}

/* The record as stored and answered: the client's figures under the Flask
 * report names, with "unix_time". */
static char *record_json(const cJSON *cpu, const cJSON *mem, const cJSON *storage, long long t, size_t *len,
                         struct sample_summary *summary) {
        _cleanup_json_ cJSON *r = cJSON_CreateObject();
        double v;
        int is_float;
        const cJSON *fields[] = { cpu, mem, storage };
        const char *names[] = { "cpu", "mem", "storage" };

        if (!r)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                if (body_number(fields[i], &v, &is_float) < 0)
                        return NULL;
                if (!(is_float ? pyjson_add_float(r, names[i], v) : cJSON_AddNumberToObject(r, names[i], v)))
                        return NULL;
        }
        if (!cJSON_AddNumberToObject(r, "unix_time", (double) t))
                return NULL;
        sample_summarize(r, STORE_NODE_CLIENT, summary);
        return pyjson_print_alloc(r, len);
}

static int parse_auth(struct request *rq, const char *username, char **ret_password) {
        char header[4096];
        _cleanup_free_ char *user = NULL, *pass = NULL;

        if (request_header(rq->wsi, WSI_TOKEN_HTTP_AUTHORIZATION, header, sizeof header) <= 0)
                return -EACCES;
        if (client_id_parse(header, &user, &pass) < 0 || !streq(user, username))
                return -EACCES;
        *ret_password = TAKE_PTR(pass);
        return 0;
}

static int record_http(struct request *rq, const char *username) {
        _cleanup_json_ cJSON *body = NULL;
        const cJSON *cpu, *t;
        struct record_job *rec;
        char type[128];
        double tv;
        long long when = (long long) (now_ms() / 1000);
        int r;

        if (!streq(rq->req->method, "POST"))
                return respond_method_not_allowed(rq->resp, "POST");
        body = body_parse_object(rq->req->body, rq->req->body_len, content_type(rq, type, sizeof type));
        cpu = cJSON_GetObjectItemCaseSensitive(body, "cpu_load");
        if (!cpu)
                cpu = cJSON_GetObjectItemCaseSensitive(body, "cpu");
        t = cJSON_GetObjectItemCaseSensitive(body, "time");
        if (t && !cJSON_IsNull(t)) {
                if (body_number(t, &tv, NULL) < 0 || tv < 0 || tv > 253402300799.0) {
                        hub_reject(rq->h, REJECT_BAD_REQUEST);
                        return respond_flask_error(rq->resp, HTTP_STATUS_BAD_REQUEST, ERR_DATA);
                }
                when = (long long) floor(tv);
        }
        rec = calloc(1, sizeof *rec);
        if (!rec)
                return -ENOMEM;
        rec->job.free = record_free;
        rec->json = body ? record_json(cpu, cJSON_GetObjectItemCaseSensitive(body, "mem"),
                                       cJSON_GetObjectItemCaseSensitive(body, "storage"), when, &rec->len,
                                       &rec->sample.summary)
                         : NULL;
        if (!rec->json) {
                job_free(&rec->job);
                hub_reject(rq->h, REJECT_BAD_REQUEST);
                return respond_flask_error(rq->resp, HTTP_STATUS_BAD_REQUEST, ERR_DATA);
        }
        if (!client_username_valid(username) || parse_auth(rq, username, &rec->password) < 0) {
                job_free(&rec->job);
                hub_reject(rq->h, REJECT_UNAUTHORIZED);
                return respond_flask_error(rq->resp, HTTP_STATUS_UNAUTHORIZED, ERR_AUTH);
        }
        snprintf(rec->username, sizeof rec->username, "%s", username);
        rec->sample.ts = when * 1000;
        rec->job.wsi = rq->wsi;
        rec->job.conn = rq->conn;
        r = record_submit(rq->h, rec);
        if (r < 0) {
                job_free(&rec->job);
                return respond_store_error(rq->h, rq->resp, r);
        }
        rq->conn->job = &rec->job;
        return -EINPROGRESS;
}

void echo_message(struct hub *h, struct hub_conn *c, const char *msg, size_t len) {
        _cleanup_json_ cJSON *m = pyjson_parse(msg, len);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(m, "type"), *data, *id, *t;
        _cleanup_free_ char *user = NULL, *pass = NULL;
        struct record_job *rec;
        cJSON *stored;
        int64_t ts;

        if (!cJSON_IsObject(m) || !cJSON_IsString(type)) {
                ws_reply_textf(c->wsi, "{\"type\": \"ERROR\", \"reason\": \"%s\"}", WS_ERR_TYPE);
                return;
        }
        if (streq(type->valuestring, "HELLO")) {
                ws_reply_textf(c->wsi, "{\"type\": \"WELCOME\", \"payload\": {\"welcome\": \"WELCOME\"}}");
                return;
        }
        if (!streq(type->valuestring, "CLIENT_DATA")) {
                ws_reply_textf(c->wsi, "{\"type\": \"ERROR\", \"reason\": \"%s\"}", WS_ERR_TYPE);
                return;
        }
        data = cJSON_GetObjectItemCaseSensitive(m, "data");
        if (!cJSON_IsObject(data) || !data->child) {
                ws_reply_textf(c->wsi, "{\"type\": \"ERROR\", \"reason\": \"%s\"}", WS_ERR_SIZE);
                return;
        }
        id = cJSON_GetObjectItemCaseSensitive(m, "client_id");
        if (!cJSON_IsString(id) || client_id_parse(id->valuestring, &user, &pass) < 0 ||
            !client_username_valid(user)) {
                hub_reject(h, REJECT_UNAUTHORIZED);
                ws_reply_textf(c->wsi, "{\"type\": \"ERROR\", \"reason\": \"%s\"}", ERR_AUTH);
                return;
        }
        /* Stored as sent, with the time it was taken added if it did not
         * say: that is what comes back. */
        stored = cJSON_DetachItemViaPointer(m, (cJSON *) data);
        t = cJSON_GetObjectItemCaseSensitive(stored, "unix_time");
        if (cJSON_IsNumber(t) && t->valuedouble >= 0 && t->valuedouble <= 253402300799.0)
                ts = (int64_t) floor(t->valuedouble) * 1000;
        else {
                ts = now_ms() / 1000 * 1000;
                if (!t)
                        cJSON_AddNumberToObject(stored, "unix_time", (double) (ts / 1000));
        }
        rec = calloc(1, sizeof *rec);
        if (!rec) {
                cJSON_Delete(stored);
                return;
        }
        rec->job.free = record_free;
        rec->echo = true;
        rec->json = pyjson_print_alloc(stored, &rec->len);
        sample_summarize(stored, STORE_NODE_CLIENT, &rec->sample.summary);
        cJSON_Delete(stored);
        if (!rec->json) {
                job_free(&rec->job);
                return;
        }
        snprintf(rec->username, sizeof rec->username, "%s", user);
        rec->password = TAKE_PTR(pass);
        rec->sample.ts = ts;
        rec->job.wsi = c->wsi;
        rec->job.conn = c;
        c->job = &rec->job;
        /* One record at a time per client: its answers stay in order, and
         * a client that floods waits on TCP, not in our memory. */
        lws_rx_flow_control(c->wsi, 0);
        if (record_submit(h, rec) < 0)
                record_refuse(h, rec, -EBUSY);
}

/* ---- time range and report ---------------------------------------------- */

struct report_job {
        struct job job;
        char username[CLIENT_USERNAME_MAX + 1];
        char *password; /* NULL: the query token rule already let it in */
        int status;
        bool report;
        int64_t start, end;
        int64_t first, last;
        cJSON *payload;
        size_t records;
};

static void report_free(struct job *j) {
        struct report_job *rp = container_of(j, struct report_job, job);

        free(rp->password);
        cJSON_Delete(rp->payload);
        free(rp);
}

static int report_record(int64_t ts, const char *json, size_t len, void *userdata) {
        struct report_job *rp = userdata;
        _cleanup_json_ cJSON *rec = pyjson_parse(json, len);
        cJSON *item, *v;
        static const char *const fields[][2] = { { "cpu", "cpu_load" }, { "mem", NULL }, { "storage", NULL } };

        if (++rp->records > REPORT_RECORDS_MAX)
                return -E2BIG;
        item = cJSON_CreateObject();
        if (!item || !cJSON_AddItemToArray(rp->payload, item))
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                v = cJSON_GetObjectItemCaseSensitive(rec, fields[i][0]);
                if (!v && fields[i][1])
                        v = cJSON_GetObjectItemCaseSensitive(rec, fields[i][1]);
                v = v ? cJSON_Duplicate(v, true) : cJSON_CreateNull();
                if (!v || !cJSON_AddItemToObject(item, fields[i][0], v)) {
                        cJSON_Delete(v);
                        return -ENOMEM;
                }
        }
        return cJSON_AddNumberToObject(item, "unix_time", (double) (ts / 1000)) ? 0 : -ENOMEM;
}

static void report_run(struct job *j, struct store *st, struct lane_ctx *ctx) {
        struct report_job *rp = container_of(j, struct report_job, job);
        struct store_node node;

        if (rp->password) {
                j->result = verify_client(st, ctx, rp->username, rp->password, UINT32_MAX, false, &node, &rp->status);
                if (j->result < 0 || rp->status != HTTP_STATUS_OK)
                        return;
        }
        rp->status = HTTP_STATUS_OK;
        if (!rp->report) {
                j->result = store_time_bounds(st, rp->username, &rp->first, &rp->last);
                return;
        }
        rp->payload = cJSON_CreateArray();
        if (!rp->payload) {
                j->result = -ENOMEM;
                return;
        }
        j->result = store_samples_each(st, rp->username, rp->start, rp->end, report_record, rp);
        if (j->result == -ENOENT) {
                /* A client nobody registered has an empty report. */
                j->result = 0;
        }
}

static void report_done(struct hub *h, struct job *j) {
        struct report_job *rp = container_of(j, struct report_job, job);
        struct ws_http_response resp = { 0 };
        _cleanup_json_ cJSON *answer = NULL;

        if (rp->password && j->result == 0 && rp->status == HTTP_STATUS_OK)
                client_cache_put(h->clients, rp->username, rp->password);
        if (j->result == 0 && rp->status != HTTP_STATUS_OK) {
                hub_reject(h, REJECT_UNAUTHORIZED);
                respond_flask_error(&resp, HTTP_STATUS_UNAUTHORIZED, ERR_AUTH);
        } else if (!rp->report && (j->result == -ENOENT || j->result == -ENODATA))
                respond_flask_error(&resp, HTTP_STATUS_NOT_ACCEPTABLE, ERR_EMPTY);
        else if (j->result == -E2BIG) {
                hub_reject(h, REJECT_TOO_LARGE);
                respond_flask_error(&resp, HTTP_STATUS_BAD_REQUEST, "too many records: narrow start and end");
        } else if (j->result < 0)
                respond_store_error(h, &resp, j->result);
        else {
                answer = cJSON_CreateObject();
                if (!answer)
                        ;
                else if (rp->report) {
                        cJSON_AddItemToObject(answer, "payload", rp->payload);
                        rp->payload = NULL;
                } else {
                        /* Flask sorts keys: "end" comes first. */
                        cJSON_AddNumberToObject(answer, "end", (double) (rp->last / 1000));
                        cJSON_AddNumberToObject(answer, "start", (double) (rp->first / 1000));
                }
                if (answer)
                        respond_pyjson(&resp, HTTP_STATUS_OK, answer);
        }
        job_answer(h, j, &resp);
        job_free(j);
}

static int report(struct request *rq, const char *username, bool full) {
        char arg[64];
        struct report_job *rp;
        long long v;
        struct ws_http_response denied = { 0 };
        struct ws_http_response *saved = rq->resp;

        if (!streq(rq->req->method, "GET") && !streq(rq->req->method, "POST"))
                return respond_method_not_allowed(rq->resp, "GET, POST");
        rp = calloc(1, sizeof *rp);
        if (!rp)
                return -ENOMEM;
        rp->job.lane = LANE_READ;
        rp->job.run = report_run;
        rp->job.done = report_done;
        rp->job.free = report_free;
        rp->report = full;
        rp->start = 0;
        rp->end = INT64_MAX;
        snprintf(rp->username, sizeof rp->username, "%s", username);
        if (full) {
                if (request_arg(rq->wsi, "start", arg, sizeof arg) && arg[0]) {
                        if (parse_python_int(arg, &v) < 0)
                                goto value_error;
                        rp->start = v < 0 ? 0 : v > INT64_MAX / 1000 ? INT64_MAX : v * 1000;
                }
                if (request_arg(rq->wsi, "end", arg, sizeof arg) && arg[0]) {
                        if (parse_python_int(arg, &v) < 0)
                                goto value_error;
                        /* The end second is inclusive: records within it count. */
                        rp->end = v < 0 ? -1 : v >= INT64_MAX / 1000 ? INT64_MAX : v * 1000 + 999;
                }
        }
        /* A client reads its own records with its client id; an operator
         * with the query token (or from loopback). */
        rq->resp = &denied;
        if (check_query_auth(rq) < 0) {
                free(denied.body);
                rq->resp = saved;
                if (!client_username_valid(username) || parse_auth(rq, username, &rp->password) < 0) {
                        job_free(&rp->job);
                        hub_reject(rq->h, REJECT_UNAUTHORIZED);
                        return respond_flask_error(rq->resp, HTTP_STATUS_UNAUTHORIZED, ERR_AUTH);
                }
                if (client_cache_check(rq->h->clients, username, rp->password)) {
                        free(rp->password);
                        rp->password = NULL;
                }
        }
        rq->resp = saved;
        if (!client_username_valid(username)) {
                /* No client can have that name: nothing was ever logged. */
                job_free(&rp->job);
                if (full)
                        return respond_raw(rq->resp, HTTP_STATUS_OK, "application/json", strdup("{\"payload\": []}"),
                                           strlen("{\"payload\": []}"));
                return respond_flask_error(rq->resp, HTTP_STATUS_NOT_ACCEPTABLE, ERR_EMPTY);
        }
        return request_defer(rq, &rp->job);
value_error:
        job_free(&rp->job);
        hub_reject(rq->h, REJECT_BAD_REQUEST);
        return respond_flask_error(rq->resp, HTTP_STATUS_BAD_REQUEST, ERR_VALUE);
}

/* ---- /monitor ----------------------------------------------------------- */

static int monitor(struct request *rq) {
        _cleanup_json_ cJSON *answer = NULL;
        char units_arg[16];
        const char *units = NULL;
        unsigned shift = 20;
        struct meminfo m;
        struct fs_usage fs;

        if (!streq(rq->req->method, "GET"))
                return respond_method_not_allowed(rq->resp, "GET");
        if (streq(rq->path, "/monitor/cpu/load")) {
                answer = cJSON_CreateObject();
                if (!answer || !pyjson_add_float(answer, "load", monitor_cpu_load(&rq->h->cpu)))
                        return -ENOMEM;
                return respond_pyjson(rq->resp, HTTP_STATUS_OK, answer);
        }
        if (!streq(rq->path, "/monitor/memory/info") && !streq(rq->path, "/monitor/storage/info"))
                return -ENOENT;
        if (monitor_units(request_arg(rq->wsi, "units", units_arg, sizeof units_arg) ? units_arg : NULL, &shift,
                          &units) < 0) {
                hub_reject(rq->h, REJECT_BAD_REQUEST);
                return respond_flask_error(rq->resp, HTTP_STATUS_BAD_REQUEST, "units must be B, KB, MB, GB or TB");
        }
        if (streq(rq->path, "/monitor/memory/info")) {
                if (monitor_read_meminfo(&m) < 0)
                        return respond_flask_error(rq->resp, HTTP_STATUS_INTERNAL_SERVER_ERROR, "no /proc/meminfo");
                answer = monitor_memory_json(&m, shift);
        } else {
                if (monitor_read_fs("/", &fs) < 0)
                        return respond_flask_error(rq->resp, HTTP_STATUS_INTERNAL_SERVER_ERROR, "no filesystem");
                answer = monitor_storage_json(&fs, shift, units);
        }
        return answer ? respond_pyjson(rq->resp, HTTP_STATUS_OK, answer) : -ENOMEM;
}

int clients_request(struct request *rq) {
        char username[CLIENT_USERNAME_MAX + 2];
        const char *rest, *slash;
        size_t len;

        if (streq(rq->path, "/client"))
                return register_client(rq);
        if (strneq(rq->path, "/monitor/", 9))
                return monitor(rq);
        rest = rq->path + 8;
        slash = strchr(rest, '/');
        len = slash ? (size_t) (slash - rest) : strlen(rest);
        if (len == 0)
                return -ENOENT;
        /* A name too long to be a client is still answered as one that
         * is not: 401 or an empty log, not 404. */
        snprintf(username, sizeof username, "%.*s", (int) (len < sizeof username - 1 ? len : sizeof username - 1),
                 rest);
        if (!slash)
                return record_http(rq, username);
        if (streq(slash, "/time"))
                return report(rq, username, false);
        if (streq(slash, "/time/report"))
                return report(rq, username, true);
        return -ENOENT;
}
