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
        const struct job_sample *s;
        struct node *n;

        if (j->commit_usec > 0)
                count_commit(h, j->commit_usec);
        h->stats.samples += j->acked;
        h->stats.duplicates += j->duplicates;
        h->stats.values += j->values;
        /* A batch that was all duplicates changes nothing: the latest
         * stays what was stored. */
        if (j->acked == 0 || j->n_samples == 0)
                return;
        s = &j->samples[job_newest(j)];
        n = registry_get(h->registry, s->node_id);
        if (!n)
                return; /* deleted meanwhile */
        n->s.last_seen = now;
        if (!node_set_latest(n, s->ts, s->json, s->len, &s->summary))
                return;
        if (streaming)
                fleet_publish(h, n);
        else
                fleet_forget(h, n); /* built again when a client asks */
}

size_t job_newest(const struct job *j) {
        size_t k = 0;

        for (size_t i = 1; i < j->n_samples; i++)
                if (j->samples[i].ts >= j->samples[k].ts)
                        k = i;
        return k;
}

void hub_samples_failed(struct hub *h, struct job *j) {
        if (j->commit_usec > 0)
                count_commit(h, j->commit_usec);
        log_debug("A batch of %zu samples was not stored: %s", j->n_samples, strerror(-j->result));
}
