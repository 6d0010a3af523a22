/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "hub.h"
#include "log.h"
#include "timeutil.h"

/* What follows a commit, whichever API the samples came through. */

const double commit_bucket_le[COMMIT_BUCKETS] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,   0.25,   0.5,   1,    2.5,   5 };

static void count_commit(struct hub *h, uint64_t usec) {
        double s = (double) usec / 1e6;

        h->stats.commits++;
        h->stats.commit_seconds += s;
        for (size_t i = 0; i < COMMIT_BUCKETS; i++)
                if (s <= commit_bucket_le[i])
                        h->stats.commit_buckets[i]++;
}

void hub_samples_stored(struct hub *h, struct job *j) {
        int64_t now = now_ms();
        bool streaming = fleet_clients(h->fleet) > 0;

        if (j->commit_usec > 0)
                count_commit(h, j->commit_usec);
        h->stats.samples += j->acked;
        h->stats.duplicates += j->duplicates;
        h->stats.values += j->values;
        /* A batch that was all duplicates changes nothing: the latest
         * stays what was stored. */
        for (size_t i = 0; j->acked > 0 && i < j->n_samples; i++) {
                const struct job_sample *s = &j->samples[i];
                struct node *n = registry_get(h->registry, s->node_id);

                if (!n)
                        continue; /* deleted meanwhile */
                n->s.last_seen = now;
                if (!node_set_latest(n, s->ts, s->json, s->len, &s->summary))
                        continue;
                if (streaming)
                        fleet_publish(h, n);
                else
                        fleet_forget(h, n); /* built again when a client asks */
        }
}

void hub_samples_failed(struct hub *h, struct job *j) {
        if (j->commit_usec > 0)
                count_commit(h, j->commit_usec);
        log_debug("A batch of %zu samples was not stored: %s", j->n_samples, strerror(-j->result));
}
