/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "jsonutil.h"
#include "log.h"

/* The System Monitor server side (docs/fleet.md, "System Monitor server
 * side"): POST /system-monitor
 * with an "action". The agent reads only the status code: 202 for
 * check_url, 200 (known) or 204 (free) for check_system_id, 200 for
 * send_stats once the stats are stored. Agents post from agent_allow
 * addresses, or with a node token. */

struct stats_job {
        struct job job;
        char node_id[STORE_NODE_ID_MAX + 1];
        struct store_node node;
        char *body;
        size_t len;
        struct job_sample sample;
};

static void stats_free(struct job *j) {
        struct stats_job *sj = container_of(j, struct stats_job, job);

        free(sj->body);
        free(sj);
}

static int answer(struct ws_http_response *resp, int status, const char *action) {
        _cleanup_json_ cJSON *j = cJSON_CreateObject();

        if (!j || !cJSON_AddStringToObject(j, "action", action) ||
            !cJSON_AddStringToObject(j, "status", status == HTTP_STATUS_OK || status == HTTP_ACCEPTED ? "ok" : "free"))
                return -ENOMEM;
        return respond_json(resp, status, j);
}

static void stats_done(struct hub *h, struct job *j) {
        struct stats_job *sj = container_of(j, struct stats_job, job);
        struct ws_http_response resp = { 0 };

        if (j->result == 0) {
                if (j->upsert && !registry_get(h->registry, sj->node_id)) {
                        registry_put(h->registry, j->upsert);
                        log_info("New System Monitor agent %s", sj->node_id);
                }
                hub_samples_stored(h, j);
                answer(&resp, HTTP_STATUS_OK, "send_stats");
        } else {
                hub_samples_failed(h, j);
                respond_store_error(h, &resp, j->result);
        }
        job_answer(h, j, &resp);
        job_free(j);
}

static int send_stats(struct request *rq, const cJSON *body, struct node *n, const char *system_id) {
        struct hub *h = rq->h;
        const cJSON *stats = cJSON_GetObjectItemCaseSensitive(body, "stats");
        const cJSON *epoch = cJSON_GetObjectItemCaseSensitive(body, "epoch");
        struct stats_job *sj;
        int64_t now = now_ms(), ts = now, seq;

        if (!cJSON_IsObject(stats)) {
                hub_reject(h, REJECT_BAD_REQUEST);
                return respond_error(rq->resp, HTTP_STATUS_BAD_REQUEST, "bad_request", "send_stats needs a \"stats\" object");
        }
        if (epoch) {
                if (!cJSON_IsNumber(epoch) || epoch->valuedouble < 0 || epoch->valuedouble > 253402300799.0) {
                        hub_reject(h, REJECT_BAD_REQUEST);
                        return respond_error(rq->resp, HTTP_STATUS_BAD_REQUEST, "bad_request",
                                             "\"epoch\" must be Unix seconds");
                }
                ts = (int64_t) llround(epoch->valuedouble * 1000);
        }
        /* An agent that sends the same epoch twice (a retry after a lost
         * answer) sends the same stats: stored once. */
        seq = ts / 1000;
        sj = calloc(1, sizeof *sj);
        if (!sj)
                return -ENOMEM;
        sj->job.lane = LANE_WRITE;
        sj->job.done = stats_done;
        sj->job.free = stats_free;
        snprintf(sj->node_id, sizeof sj->node_id, "%s", n ? n->s.node_id : system_id);
        if (!n) {
                if (registry_count(h->registry) >= h->conf.hub.max_nodes) {
                        free(sj);
                        hub_reject(h, REJECT_TOO_MANY_NODES);
                        respond_error(rq->resp, HTTP_TOO_MANY_REQUESTS, "too_many_nodes",
                                      "the hub holds max_nodes = %u nodes", h->conf.hub.max_nodes);
                        rq->resp->retry_after = 3600;
                        return 0;
                }
                sj->node = (struct store_node){ .kind = STORE_NODE_SYSTEM_MONITOR, .first_seen = now, .last_seen = now };
                snprintf(sj->node.node_id, sizeof sj->node.node_id, "%s", system_id);
                sj->job.upsert = &sj->node;
        }
        sj->body = malloc(rq->req->body_len + 1);
        if (!sj->body) {
                free(sj);
                return -ENOMEM;
        }
        memcpy(sj->body, rq->req->body, rq->req->body_len + 1);
        sj->len = rq->req->body_len;
        sj->sample = (struct job_sample){
                .node_id = sj->node_id,
                .stream = "",
                .seq = seq,
                .ts = ts,
                .json = sj->body,
                .len = sj->len,
        };
        sample_summarize(body, n ? n->s.kind : STORE_NODE_SYSTEM_MONITOR, &sj->sample.summary);
        sj->job.samples = &sj->sample;
        sj->job.n_samples = 1;
        return request_defer(rq, &sj->job);
}

int agents_request(struct request *rq) {
        struct hub *h = rq->h;
        _cleanup_json_ cJSON *body = NULL;
        const cJSON *action, *id;
        char buf[CONF_TOKEN_MAX + 32];
        struct node *n = NULL, *token_node = NULL;
        const char *system_id = NULL;

        if (!streq(rq->req->method, "POST"))
                return respond_method_not_allowed(rq->resp, "POST");
        if (bearer_token(rq->wsi, buf, sizeof buf)) {
                token_node = bearer_node(rq);
                if (!token_node) {
                        hub_reject(h, REJECT_UNAUTHORIZED);
                        respond_error(rq->resp, HTTP_STATUS_UNAUTHORIZED, "unauthorized", "wrong node token");
                        rq->resp->www_authenticate = "Bearer";
                        return 0;
                }
        } else if (!peer_in(rq->wsi, h->agent_allow, h->n_agent_allow)) {
                hub_reject(h, REJECT_FORBIDDEN);
                return respond_error(rq->resp, HTTP_STATUS_FORBIDDEN, "forbidden",
                                     "this address is not in [hub] agent_allow, and no node token was given");
        }
        body = cJSON_ParseWithLength(rq->req->body, rq->req->body_len);
        action = cJSON_GetObjectItemCaseSensitive(body, "action");
        if (!cJSON_IsObject(body) || !cJSON_IsString(action)) {
                hub_reject(h, REJECT_BAD_REQUEST);
                return respond_error(rq->resp, HTTP_STATUS_BAD_REQUEST, "bad_request",
                                     "expected a JSON object with an \"action\"");
        }
        if (streq(action->valuestring, "check_url"))
                return answer(rq->resp, HTTP_ACCEPTED, "check_url");

        id = cJSON_GetObjectItemCaseSensitive(body, "system_id");
        if (token_node)
                n = token_node;
        else if (cJSON_IsString(id) && node_id_valid(id->valuestring)) {
                system_id = id->valuestring;
                n = registry_get(h->registry, system_id);
                if (n && n->s.kind != STORE_NODE_SYSTEM_MONITOR) {
                        hub_reject(h, REJECT_BAD_REQUEST);
                        return respond_error(rq->resp, HTTP_STATUS_CONFLICT, "conflict",
                                             "system id %s belongs to a %s node", system_id,
                                             store_node_kind_to_string(n->s.kind));
                }
        } else {
                hub_reject(h, REJECT_BAD_REQUEST);
                return respond_error(rq->resp, HTTP_STATUS_BAD_REQUEST, "bad_request",
                                     "\"system_id\" must be 1 to %d letters, digits or ._:@+-", STORE_NODE_ID_MAX);
        }

        if (streq(action->valuestring, "check_system_id")) {
                if (n && n->latest)
                        return answer(rq->resp, HTTP_STATUS_OK, "check_system_id");
                return respond_raw(rq->resp, HTTP_STATUS_NO_CONTENT, "application/json", NULL, 0);
        }
        if (streq(action->valuestring, "send_stats"))
                return send_stats(rq, body, n, system_id);
        hub_reject(h, REJECT_BAD_REQUEST);
        return respond_error(rq->resp, HTTP_STATUS_BAD_REQUEST, "unknown_action",
                             "action must be check_url, check_system_id or send_stats");
}
