/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "jsonutil.h"
#include "log.h"
#include "macro.h"

/* WebSocket /api/v1/fleet (docs/fleet.md, "Native API"): on connect the
 * latest sample of every node, then every sample as it is stored, each as
 * {"node_id","kind","sample"}.
 *
 * A client owns no queue. Stored samples go into one ring shared by all
 * clients, and each client keeps only its position in it; a frame whose
 * node has a newer one further on is skipped (latest wins per node), and a
 * client that falls a whole ring behind starts again from a snapshot of
 * every node's latest. So a slow client costs a cursor, never memory, and
 * never delays the others. */

#define FLEET_RING 4096

struct fleet_frame {
        unsigned refs;
        bool superseded; /* its node has a newer frame */
        bool in_ring;
        uint64_t ring_pos;
        size_t len;
        unsigned char data[]; /* LWS_PRE bytes of headroom, then the text */
};

struct fleet {
        struct fleet_frame *ring[FLEET_RING];
        uint64_t head; /* ring positions handed out so far */
        struct hub_conn *clients;
        unsigned n_clients;
};

static struct fleet_frame *frame_ref(struct fleet_frame *f) {
        if (f)
                f->refs++;
        return f;
}

static void frame_unref(struct fleet_frame *f) {
        if (f && --f->refs == 0)
                free(f);
}

int fleet_new(struct fleet **ret) {
        struct fleet *f = calloc(1, sizeof *f);

        if (!f)
                return -ENOMEM;
        *ret = f;
        return 0;
}

void fleet_free(struct fleet *f) {
        if (!f)
                return;
        for (size_t i = 0; i < FLEET_RING; i++)
                frame_unref(f->ring[i]);
        free(f);
}

unsigned fleet_clients(const struct fleet *f) {
        return f->n_clients;
}

static struct fleet_frame *frame_new(const struct node *n) {
        _cleanup_free_ char *id = NULL;
        struct fleet_frame *f;
        int head;

        /* The node id is the only text here not already JSON. */
        {
                cJSON *s = cJSON_CreateString(n->s.node_id);
                id = s ? json_print(s) : NULL;
                cJSON_Delete(s);
        }
        if (!id)
                return NULL;
        head = snprintf(NULL, 0, "{\"node_id\":%s,\"kind\":\"%s\",\"sample\":", id,
                        store_node_kind_to_string(n->s.kind));
        f = malloc(sizeof *f + LWS_PRE + (size_t) head + n->latest_len + 2);
        if (!f)
                return NULL;
        f->refs = 1;
        f->superseded = false;
        f->in_ring = false;
        snprintf((char *) f->data + LWS_PRE, (size_t) head + 1, "{\"node_id\":%s,\"kind\":\"%s\",\"sample\":", id,
                 store_node_kind_to_string(n->s.kind));
        memcpy(f->data + LWS_PRE + head, n->latest, n->latest_len);
        f->data[LWS_PRE + (size_t) head + n->latest_len] = '}';
        f->len = (size_t) head + n->latest_len + 1;
        return f;
}

static void wake_all(struct fleet *f) {
        for (struct hub_conn *c = f->clients; c; c = c->next)
                lws_callback_on_writable(c->wsi);
}

/* No client will send a superseded frame: the ring lets go of it at once,
 * so it holds at most one frame per node, however fast they come. */
static void supersede(struct fleet *f, struct fleet_frame *old) {
        struct fleet_frame **slot;

        if (!old)
                return;
        old->superseded = true;
        if (old->in_ring) {
                slot = &f->ring[old->ring_pos % FLEET_RING];
                if (*slot == old) {
                        /* The ring's reference; the node's goes below. */
                        *slot = NULL;
                        old->in_ring = false;
                        old->refs--;
                }
        }
        frame_unref(old);
}

void fleet_publish(struct hub *h, struct node *n) {
        struct fleet *f = h->fleet;
        struct fleet_frame *frame = frame_new(n), **slot;

        if (!frame)
                return;
        supersede(f, n->frame);
        n->frame = frame;
        /* Nobody is listening: the ring would only keep old frames alive. */
        if (f->n_clients == 0)
                return;
        slot = &f->ring[f->head % FLEET_RING];
        if (*slot) {
                (*slot)->in_ring = false;
                frame_unref(*slot);
        }
        frame->in_ring = true;
        frame->ring_pos = f->head;
        *slot = frame_ref(frame);
        f->head++;
        wake_all(f);
}

void fleet_forget(struct hub *h, struct node *n) {
        supersede(h->fleet, n->frame);
        n->frame = NULL;
}

static void snapshot_drop(struct hub_conn *c) {
        for (size_t i = c->snapshot_pos; i < c->n_snapshot; i++)
                frame_unref(c->snapshot[i]);
        free(c->snapshot);
        c->snapshot = NULL;
        c->n_snapshot = c->snapshot_pos = 0;
}

/* Every node's latest frame, as of now; the ring takes over from here. */
static void snapshot_take(struct hub *h, struct hub_conn *c) {
        _cleanup_free_ struct node **nodes = NULL;
        size_t n = 0;

        snapshot_drop(c);
        c->cursor = h->fleet->head;
        nodes = registry_sorted(h->registry, &n);
        if (!nodes)
                return;
        c->snapshot = calloc(n ? n : 1, sizeof *c->snapshot);
        if (!c->snapshot)
                return;
        for (size_t i = 0; i < n; i++) {
                if (!nodes[i]->frame && nodes[i]->latest)
                        nodes[i]->frame = frame_new(nodes[i]);
                if (nodes[i]->frame)
                        c->snapshot[c->n_snapshot++] = frame_ref(nodes[i]->frame);
        }
}

void fleet_open(struct hub *h, struct hub_conn *c) {
        struct fleet *f = h->fleet;

        c->role = ROLE_FLEET;
        c->next = f->clients;
        c->prev = NULL;
        if (f->clients)
                f->clients->prev = c;
        f->clients = c;
        f->n_clients++;
        snapshot_take(h, c);
        log_info("Fleet client %s connected (%zu nodes in its snapshot)", c->peer, c->n_snapshot);
        lws_callback_on_writable(c->wsi);
}

void fleet_close(struct hub *h, struct hub_conn *c) {
        struct fleet *f = h->fleet;

        if (c->prev)
                c->prev->next = c->next;
        else if (f->clients == c)
                f->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
        f->n_clients--;
        snapshot_drop(c);
        log_info("Fleet client %s disconnected", c->peer);
}

static int send_frame(struct hub_conn *c, struct fleet_frame *frame) {
        if (ws_send_text(c->wsi, frame->data + LWS_PRE, frame->len) < 0)
                return -1;
        lws_callback_on_writable(c->wsi);
        return 0;
}

int fleet_writeable(struct hub *h, struct hub_conn *c) {
        struct fleet *f = h->fleet;

        while (c->snapshot_pos < c->n_snapshot) {
                struct fleet_frame *frame = c->snapshot[c->snapshot_pos];
                int r;

                c->snapshot[c->snapshot_pos++] = NULL;
                if (frame->superseded) {
                        /* Its newer frame is in the ring, after the cursor. */
                        frame_unref(frame);
                        continue;
                }
                r = send_frame(c, frame);
                frame_unref(frame);
                return r;
        }
        if (c->snapshot) {
                free(c->snapshot);
                c->snapshot = NULL;
                c->n_snapshot = c->snapshot_pos = 0;
        }
        if (f->head - c->cursor > FLEET_RING) {
                /* Fell a whole ring behind: what it missed is in the
                 * latest of each node. */
                snapshot_take(h, c);
                lws_callback_on_writable(c->wsi);
                return 0;
        }
        while (c->cursor < f->head) {
                struct fleet_frame *frame = f->ring[c->cursor % FLEET_RING];

                c->cursor++;
                if (frame && !frame->superseded)
                        return send_frame(c, frame);
        }
        return 0;
}
