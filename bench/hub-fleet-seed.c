/* SPDX-License-Identifier: MIT */
/* bench/hub-fleet's fleet, enrolled before the hub starts: N nodes named
 * node0 … in the SQLite database of STATE_DIR, node i's token being
 * TOKEN_PREFIX followed by i, stored as the hub stores tokens (SHA-256), in
 * one transaction with their streams' rows, so that setting up 10,000 nodes
 * takes a second instead of 20,000 commits.
 *
 *   hub-fleet-seed STATE_DIR N TOKEN_PREFIX */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "digest.h"
#include "store.h"

int main(int argc, char **argv) {
        struct store *st;
        size_t n;
        int64_t now = (int64_t) time(NULL) * 1000;
        int r;

        if (argc != 4) {
                fprintf(stderr, "usage: %s STATE_DIR N TOKEN_PREFIX\n", argv[0]);
                return 2;
        }
        n = strtoul(argv[2], NULL, 10);
        r = store_open("", argv[1], &st);
        if (r < 0 || (r = store_begin(st)) < 0) {
                fprintf(stderr, "cannot open the database in %s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        for (size_t i = 0; i < n; i++) {
                struct store_node node = { .kind = STORE_NODE_RESOLVIX, .first_seen = now, .last_seen = now };
                char token[128];

                snprintf(node.node_id, sizeof node.node_id, "node%zu", i);
                snprintf(node.hostname, sizeof node.hostname, "host%zu", i);
                snprintf(token, sizeof token, "%s%zu", argv[3], i);
                sha256_hex(token, strlen(token), node.token_sha256);
                r = store_node_upsert(st, &node);
                if (r < 0) {
                        fprintf(stderr, "cannot store node %zu: %s\n", i, strerror(-r));
                        return 1;
                }
                /* Its stream's row too, as its first push would make it
                 * (in a commit of its own): adding a sample makes the row,
                 * in this transaction; the sample itself is dropped. */
                struct store_batch *b;
                struct store_sample sample = { .node_id = node.node_id, .stream = "bench", .seq = 0, .ts = now,
                                               .json = "{}", .json_len = 2 };
                r = store_batch_begin(st, &b);
                if (r >= 0)
                        r = store_batch_add(b, &sample);
                store_batch_free(b);
                if (r < 0) {
                        fprintf(stderr, "cannot make node %zu's stream: %s\n", i, strerror(-r));
                        return 1;
                }
        }
        r = store_commit(st);
        store_close(st);
        if (r < 0) {
                fprintf(stderr, "cannot commit: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
