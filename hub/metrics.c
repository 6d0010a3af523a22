/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "build-config.h"
#include "headline.h"
#include "hub.h"
#include "pyjson.h"
#include "remote-write.h"

/* GET /metrics (docs/fleet.md, "Native API"): the hub's own figures as
 * resolvix_hub_*, and every node's headline values as resolvix_node_*
 * with a node label, so that one scrape of the hub federates the fleet. */

static const char *const reject_names[_REJECT_MAX] = {
        [REJECT_BAD_REQUEST] = "bad_request",     [REJECT_UNAUTHORIZED] = "unauthorized",
        [REJECT_FORBIDDEN] = "forbidden",         [REJECT_TOO_LARGE] = "too_large",
        [REJECT_TOO_MANY_NODES] = "too_many_nodes", [REJECT_UNAVAILABLE] = "unavailable",
};

static void header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Node ids go into labels as they are: node_id_valid() and
 * client_username_valid() let no quote, backslash or newline into one. */
static void label(FILE *f, const char *value) {
        fputs(value, f);
}

static void hub_figures(FILE *f, struct hub *h, struct node **nodes, size_t n, int64_t now) {
        size_t kinds[_STORE_NODE_KIND_MAX] = { 0 }, online[_STORE_NODE_KIND_MAX] = { 0 };
        uint64_t rejected = 0;

        for (size_t i = 0; i < n; i++) {
                kinds[nodes[i]->s.kind]++;
                if (node_online(nodes[i], now))
                        online[nodes[i]->s.kind]++;
        }
        header(f, "resolvix_hub_build_info", "gauge", "The hub's version and storage back end.");
        fprintf(f, "resolvix_hub_build_info{version=\"%s\",database=\"%s\"} 1\n", RESOLVIX_VERSION, h->backend);
        header(f, "resolvix_hub_nodes", "gauge", "Nodes the hub knows, by kind.");
        for (int k = 0; k < _STORE_NODE_KIND_MAX; k++)
                fprintf(f, "resolvix_hub_nodes{kind=\"%s\"} %zu\n", store_node_kind_to_string(k), kinds[k]);
        header(f, "resolvix_hub_nodes_online", "gauge", "Nodes whose last push is recent, by kind.");
        for (int k = 0; k < _STORE_NODE_KIND_MAX; k++)
                fprintf(f, "resolvix_hub_nodes_online{kind=\"%s\"} %zu\n", store_node_kind_to_string(k), online[k]);
        header(f, "resolvix_hub_samples_ingested_total", "counter", "Samples stored.");
        fprintf(f, "resolvix_hub_samples_ingested_total %llu\n", (unsigned long long) h->stats.samples);
        header(f, "resolvix_hub_values_ingested_total", "counter", "Numeric values stored with those samples.");
        fprintf(f, "resolvix_hub_values_ingested_total %llu\n", (unsigned long long) h->stats.values);
        header(f, "resolvix_hub_samples_duplicate_total", "counter",
               "Samples sent again that were stored already (counted, not stored twice).");
        fprintf(f, "resolvix_hub_samples_duplicate_total %llu\n", (unsigned long long) h->stats.duplicates);
        header(f, "resolvix_hub_requests_rejected_total", "counter", "Requests refused, by reason.");
        for (int i = 0; i < _REJECT_MAX; i++) {
                fprintf(f, "resolvix_hub_requests_rejected_total{reason=\"%s\"} %llu\n", reject_names[i],
                        (unsigned long long) h->stats.rejected[i]);
                rejected += h->stats.rejected[i];
        }
        header(f, "resolvix_hub_commit_duration_seconds", "histogram",
               "How long each database transaction of pushed samples took, until it was on disk.");
        for (size_t i = 0; i < COMMIT_BUCKETS; i++)
                fprintf(f, "resolvix_hub_commit_duration_seconds_bucket{le=\"%g\"} %llu\n", commit_bucket_le[i],
                        (unsigned long long) h->stats.commit_buckets[i]);
        fprintf(f, "resolvix_hub_commit_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long) h->stats.commits);
        fprintf(f, "resolvix_hub_commit_duration_seconds_sum %.6f\n", h->stats.commit_seconds);
        fprintf(f, "resolvix_hub_commit_duration_seconds_count %llu\n", (unsigned long long) h->stats.commits);
        header(f, "resolvix_hub_queue_depth", "gauge", "Work waiting for the database, by thread.");
        fprintf(f, "resolvix_hub_queue_depth{queue=\"write\",unit=\"samples\"} %zu\n", lanes_write_depth(h));
        fprintf(f, "resolvix_hub_queue_depth{queue=\"read\",unit=\"jobs\"} %zu\n", lanes_read_depth(h));
        if (h->stats.db_size_known) {
                header(f, "resolvix_hub_database_size_bytes", "gauge", "Bytes the database occupies.");
                fprintf(f, "resolvix_hub_database_size_bytes %llu\n", (unsigned long long) h->stats.db_size);
        }
        if (h->remote_write) {
                struct remote_write_stats rs;

                remote_write_get_stats(h->remote_write, &rs);
                header(f, "resolvix_hub_remote_write_sent_samples_total", "counter",
                       "Samples the remote-write receiver took.");
                fprintf(f, "resolvix_hub_remote_write_sent_samples_total %llu\n", (unsigned long long) rs.sent_samples);
                header(f, "resolvix_hub_remote_write_sent_requests_total", "counter",
                       "Remote-write requests the receiver took.");
                fprintf(f, "resolvix_hub_remote_write_sent_requests_total %llu\n",
                        (unsigned long long) rs.sent_requests);
                header(f, "resolvix_hub_remote_write_failed_requests_total", "counter",
                       "Remote-write requests answered 429 or 5xx, or not at all (retried).");
                fprintf(f, "resolvix_hub_remote_write_failed_requests_total %llu\n",
                        (unsigned long long) rs.failed_requests);
                header(f, "resolvix_hub_remote_write_dropped_samples_total", "counter",
                       "Samples not forwarded, by reason: the queue's bound, or refused by the receiver (4xx).");
                fprintf(f, "resolvix_hub_remote_write_dropped_samples_total{reason=\"queue_full\"} %llu\n",
                        (unsigned long long) rs.dropped_samples);
                fprintf(f, "resolvix_hub_remote_write_dropped_samples_total{reason=\"rejected\"} %llu\n",
                        (unsigned long long) rs.rejected_samples);
                header(f, "resolvix_hub_remote_write_queued_samples", "gauge",
                       "Samples waiting in the remote-write queue on disk.");
                fprintf(f, "resolvix_hub_remote_write_queued_samples %llu\n", (unsigned long long) rs.queued_samples);
                header(f, "resolvix_hub_remote_write_queued_bytes", "gauge",
                       "Bytes the remote-write queue occupies on disk.");
                fprintf(f, "resolvix_hub_remote_write_queued_bytes %llu\n", (unsigned long long) rs.queued_bytes);
        }
        header(f, "resolvix_hub_clients", "gauge", "WebSocket clients connected (fleet stream and /echo).");
        fprintf(f, "resolvix_hub_clients %u\n", ws_server_clients(h->server));
        header(f, "resolvix_hub_fleet_clients", "gauge", "Clients of the fleet stream.");
        fprintf(f, "resolvix_hub_fleet_clients %u\n", fleet_clients(h->fleet));
}

static void node_figures(FILE *f, struct node **nodes, size_t n, int64_t now) {
        header(f, "resolvix_node_online", "gauge", "1 while the node's last push is recent.");
        for (size_t i = 0; i < n; i++) {
                fputs("resolvix_node_online{node=\"", f);
                label(f, nodes[i]->s.node_id);
                fprintf(f, "\",kind=\"%s\"} %d\n", store_node_kind_to_string(nodes[i]->s.kind),
                        node_online(nodes[i], now));
        }
        header(f, "resolvix_node_last_seen_timestamp_seconds", "gauge", "When the node last pushed.");
        for (size_t i = 0; i < n; i++) {
                if (nodes[i]->s.last_seen <= 0)
                        continue;
                fputs("resolvix_node_last_seen_timestamp_seconds{node=\"", f);
                label(f, nodes[i]->s.node_id);
                fprintf(f, "\"} %.3f\n", (double) nodes[i]->s.last_seen / 1000);
        }
        for (size_t k = 0; k < _HEADLINE_MAX; k++) {
                char name[96], value[40];
                bool any = false;

                for (size_t i = 0; i < n && !any; i++)
                        any = nodes[i]->summary.headline.has[k];
                if (!any)
                        continue;
                snprintf(name, sizeof name, "resolvix_node_%s", headline_info[k].metric_name);
                header(f, name, "gauge", headline_info[k].help);
                for (size_t i = 0; i < n; i++) {
                        const struct headline *hl = &nodes[i]->summary.headline;

                        if (!hl->has[k])
                                continue;
                        fprintf(f, "%s{node=\"", name);
                        label(f, nodes[i]->s.node_id);
                        pyjson_float_repr(hl->v[k], value, sizeof value);
                        fprintf(f, "\"} %s\n", value);
                }
        }
}

int metrics_request(struct request *rq) {
        struct hub *h = rq->h;
        _cleanup_free_ struct node **nodes = NULL;
        char *body = NULL;
        size_t len = 0, n = 0;
        int64_t now = now_ms();
        FILE *f;

        if (!streq(rq->req->method, "GET"))
                return respond_method_not_allowed(rq->resp, "GET");
        if (check_query_auth(rq) < 0)
                return 0;
        nodes = registry_sorted(h->registry, &n);
        f = open_memstream(&body, &len);
        if (!nodes || !f) {
                if (f)
                        fclose(f);
                free(body);
                return -ENOMEM;
        }
        hub_figures(f, h, nodes, n, now);
        node_figures(f, nodes, n, now);
        if (fclose(f) != 0) {
                free(body);
                return -ENOMEM;
        }
        return respond_raw(rq->resp, HTTP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
}
