/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hub.h"
#include "log.h"
#include "remote-write.h"
#include "sample-values.h"
#include "timeutil.h"

/* Bounds on what may wait: the writer's queue holds parsed samples (a few
 * kilobytes each), counted until they are durable, the reader's holds
 * requests that each cost a query or a password hash. Past them the peer is
 * told to come back (503). */
#define WRITE_QUEUE_MAX_SAMPLES 20000
#define READ_QUEUE_MAX_JOBS 512

/* A commit costs one fdatasync however little it holds. When pushes come
 * from many peers at once (the last commit held COMMIT_GATHER_JOBS or
 * more), the writer waits until COMMIT_GATHER_USEC after the start of its
 * last commit before the next, so that what comes meanwhile joins it: a
 * push is answered that much later at most, and a fleet of 10,000 nodes
 * costs half the CPU. Unless COMMIT_GATHER_SAMPLES wait already. A lone
 * peer sending one batch after the other is never held up. */
#define COMMIT_GATHER_USEC 50000
#define COMMIT_GATHER_JOBS 4
#define COMMIT_GATHER_SAMPLES 2000

struct queue {
        pthread_cond_t wake;
        struct job *head, *tail;
        size_t jobs, samples;
        struct store *store;
        pthread_t thread;
        bool started;
};

struct lanes {
        struct hub *hub;
        pthread_mutex_t lock;
        struct queue writer, reader;
        bool gathering; /* the writer waits for more (COMMIT_GATHER_USEC) */
        bool checkpoint; /* the reader checkpoints the writer's commits */
        bool stop;
        struct job *done_head, *done_tail;
        int efd;
        /* Committed by the writer, waiting for store_sync() on the syncer
         * (when the writer's store defers it): the writer's next commit
         * overlaps the last one's fdatasync. */
        pthread_cond_t sync_wake;
        struct job *sync_head, *sync_tail;
        size_t sync_samples; /* theirs, bounded with the writer's queue */
        pthread_t syncer;
        bool syncer_started;
        bool writer_done;
        int sync_error; /* the first store_sync() that failed; fatal */
        /* The writer's own. */
        struct store_batch *batch;
        struct sample_values values;
};

/* The jobs first..last to the end of the list head..tail. */
static void join_list(struct job **head, struct job **tail, struct job *first, struct job *last) {
        if (*tail)
                (*tail)->next = first;
        else
                *head = first;
        *tail = last;
}

/* Samples the writer has not made durable yet. Under l->lock. */
static size_t write_backlog(const struct lanes *l) {
        return l->writer.samples + l->sync_samples;
}

static void append(struct job **head, struct job **tail, struct job *j) {
        j->next = NULL;
        join_list(head, tail, j, j);
}

/* The jobs first..last to the loop. A transaction ends here, with the
 * sync if there is one: that is what its duration counts. */
static void finished(struct lanes *l, struct job *first, struct job *last) {
        uint64_t one = 1, now = now_usec(CLOCK_MONOTONIC);

        for (struct job *j = first; j; j = j->next)
                if (j->commit_start > 0)
                        j->commit_usec = now - j->commit_start;
        pthread_mutex_lock(&l->lock);
        join_list(&l->done_head, &l->done_tail, first, last);
        pthread_mutex_unlock(&l->lock);
        (void) !write(l->efd, &one, sizeof one);
}

/* ---- the writer ----------------------------------------------------------- */

static int add_samples(struct lanes *l, struct job *j) {
        struct remote_write *rw = l->hub->remote_write;
        size_t mark = store_batch_count(l->batch);
        int r;

        j->values = 0;
        j->staged = rw ? remote_write_staged(rw) : 0;
        for (size_t i = 0; i < j->n_samples; i++) {
                struct job_sample *s = &j->samples[i];
                const struct store_value *values = s->values;
                size_t n_values = s->n_values;
                enum sample_root root = s->root;
                struct store_sample ss;

                /* Added once more (commit_group()): the stream name pointed
                 * into the tree freed the first time. */
                if (!s->tree && s->stream_in_tree) {
                        const cJSON *stream;

                        s->tree = cJSON_ParseWithLength(s->json, s->len);
                        stream = cJSON_GetObjectItemCaseSensitive(s->tree, "stream");
                        if (!cJSON_IsString(stream)) {
                                (void) store_batch_truncate(l->batch, mark);
                                if (rw)
                                        remote_write_truncate(rw, j->staged);
                                return -EINVAL;
                        }
                        s->stream = stream->valuestring;
                }
                if (!values) {
                        cJSON *t = s->tree ? s->tree : cJSON_ParseWithLength(s->json, s->len);

                        /* Not an object: no values. */
                        (void) sample_values_flatten(t, &l->values);
                        values = l->values.v;
                        n_values = l->values.n;
                        root = l->values.root;
                        if (t != s->tree)
                                cJSON_Delete(t);
                }
                if (rw && remote_write_stage(rw, s->node_id, s->ts, root, values, n_values) < 0) {
                        remote_write_truncate(rw, j->staged);
                        (void) store_batch_truncate(l->batch, mark);
                        return -ENOMEM;
                }
                ss = (struct store_sample){
                        .node_id = s->node_id,
                        .stream = s->stream,
                        .seq = s->seq,
                        .ts = s->ts,
                        .json = s->json,
                        .json_len = s->len,
                        .values = values,
                        .n_values = n_values,
                        .body = s->body,
                        .body_len = s->body_len,
                };
                r = store_batch_add(l->batch, &ss);
                /* Freed as soon as added, not with the job: a group of
                 * commits holds up to WRITE_QUEUE_MAX_SAMPLES of them. */
                cJSON_Delete(s->tree);
                s->tree = NULL;
                if (r < 0) {
                        (void) store_batch_truncate(l->batch, mark);
                        if (rw)
                                remote_write_truncate(rw, j->staged);
                        return r;
                }
                j->values += n_values;
        }
        return 0;
}

/* One transaction for the jobs of list. Returns whether a job's node was
 * found deleted since its samples were added: nothing of that job was
 * stored, and the store forgot every node id it had cached, so that job is
 * left with result 1 to be added again (see commit_group()). */
static bool commit_jobs(struct lanes *l, struct job *list) {
        struct remote_write *rw = l->hub->remote_write;
        struct store_batch_result res = { 0 };
        uint64_t start = now_usec(CLOCK_MONOTONIC);
        size_t ok_jobs = 0, from = 0;
        bool again = false;
        int r;

        if (!l->batch) {
                r = store_batch_begin(l->writer.store, &l->batch);
                if (r < 0) {
                        for (struct job *j = list; j; j = j->next)
                                j->result = r;
                        return false;
                }
        }
        for (struct job *j = list; j; j = j->next) {
                j->result = 0;
                j->commit_start = 0;
                if (j->upsert) {
                        r = store_node_upsert(l->writer.store, j->upsert);
                        if (r < 0) {
                                j->result = r;
                                continue;
                        }
                }
                r = add_samples(l, j);
                if (r < 0)
                        j->result = r;
                else
                        ok_jobs++;
        }
        if (ok_jobs == 0)
                return false;
        r = store_batch_commit(l->batch, &res);
        if (r < 0) {
                (void) store_batch_truncate(l->batch, 0);
                if (rw)
                        remote_write_truncate(rw, 0);
                for (struct job *j = list; j; j = j->next)
                        if (j->result == 0)
                                j->result = r;
                return false;
        }
        /* Each job's own figures, from its own rows: jobs that share the
         * transaction may overlap (a batch sent again while the first is
         * still queued), and the first of equal rows is the stored one. */
        for (struct job *j = list; j; j = j->next) {
                struct store_batch_result mine;

                if (j->result < 0)
                        continue;
                r = store_batch_tally(l->batch, from, from + j->n_samples, &mine);
                /* Forwarded: what this job stored as new (none, if it is
                 * added again: then it is staged again). */
                for (size_t i = 0; rw && i < j->n_samples; i++)
                        remote_write_keep(rw, j->staged + i,
                                          r >= 0 && mine.forgotten == 0 && store_batch_row_stored(l->batch, from + i));
                from += j->n_samples;
                if (r < 0) {
                        j->result = r;
                        continue;
                }
                if (mine.forgotten > 0) {
                        j->result = 1;
                        again = true;
                        continue;
                }
                j->acked = mine.acked;
                j->duplicates = mine.duplicates;
        }
        /* Queued for forwarding before any push of it is answered. */
        if (rw)
                remote_write_flush(rw);
        list->commit_start = start;
        return again;
}

/* Commit the batch jobs of list in one transaction and put every job on
 * the done list. A job whose node the writer's store handle still knew
 * under an id that was deleted meanwhile (by another hub, which may have
 * enrolled a new node under the id since) is added once more, alone, now
 * that the handle looks the id up afresh: stored under the new node, or
 * refused with -ENOENT when there is none. */
static void commit_group(struct lanes *l, struct job *list, struct job **done_head, struct job **done_tail) {
        struct job *next;

        if (commit_jobs(l, list))
                for (struct job *j = list; j; j = j->next) {
                        struct job *after = j->next;

                        if (j->result != 1)
                                continue;
                        j->next = NULL;
                        if (commit_jobs(l, j) || j->result == 1)
                                j->result = -ENOENT;
                        j->next = after;
                }
        for (struct job *j = list; j; j = next) {
                next = j->next;
                append(done_head, done_tail, j);
        }
}

static void *writer_main(void *userdata) {
        struct lanes *l = userdata;
        uint64_t last = 0;
        size_t last_jobs = 0;

        pthread_mutex_lock(&l->lock);
        for (;;) {
                struct job *list, *group_head = NULL, *group_tail = NULL, *done_head = NULL, *done_tail = NULL, *next;
                uint64_t now;
                bool checkpoint;

                while (!l->writer.head && !l->stop)
                        pthread_cond_wait(&l->writer.wake, &l->lock);
                if (!l->writer.head)
                        break;
                now = now_usec(CLOCK_MONOTONIC);
                if (last_jobs >= COMMIT_GATHER_JOBS && now < last + COMMIT_GATHER_USEC) {
                        struct timespec until = timespec_after(CLOCK_MONOTONIC, last + COMMIT_GATHER_USEC - now);

                        l->gathering = true;
                        while (!l->stop && l->writer.samples < COMMIT_GATHER_SAMPLES &&
                               pthread_cond_timedwait(&l->writer.wake, &l->lock, &until) != ETIMEDOUT)
                                ;
                        l->gathering = false;
                }
                last = now_usec(CLOCK_MONOTONIC);
                last_jobs = l->writer.jobs;
                list = l->writer.head;
                l->writer.head = l->writer.tail = NULL;
                l->writer.jobs = 0;
                pthread_mutex_unlock(&l->lock);

                /* Everything that waited goes in one transaction. A job with
                 * its own work (a node deleted) runs in its place in the
                 * order, after the batches queued before it: this handle
                 * then knows of it, as the batches after it need. */
                for (struct job *j = list; j; j = next) {
                        next = j->next;
                        j->next = NULL;
                        if (!j->run) {
                                append(&group_head, &group_tail, j);
                                continue;
                        }
                        if (group_head) {
                                commit_group(l, group_head, &done_head, &done_tail);
                                group_head = group_tail = NULL;
                        }
                        j->run(j, l->writer.store, NULL);
                        append(&done_head, &done_tail, j);
                }
                if (group_head)
                        commit_group(l, group_head, &done_head, &done_tail);

                checkpoint = store_checkpoint_wanted(l->writer.store);
                pthread_mutex_lock(&l->lock);
                for (struct job *j = done_head; j; j = j->next) {
                        l->writer.samples -= j->n_samples;
                        if (l->syncer_started)
                                l->sync_samples += j->n_samples;
                }
                if (checkpoint && !l->checkpoint) {
                        l->checkpoint = true;
                        pthread_cond_signal(&l->reader.wake);
                }
                if (l->syncer_started && done_head) {
                        join_list(&l->sync_head, &l->sync_tail, done_head, done_tail);
                        pthread_cond_signal(&l->sync_wake);
                } else if (done_head) {
                        pthread_mutex_unlock(&l->lock);
                        finished(l, done_head, done_tail);
                        pthread_mutex_lock(&l->lock);
                }
        }
        pthread_mutex_unlock(&l->lock);
        return NULL;
}

/* ---- the syncer ----------------------------------------------------------- */

/* Whatever the writer committed since the last pass, made durable at once;
 * only then are those jobs answered. After a failure nothing the writer
 * commits can be durable (store_sync()): every job fails, and the loop
 * stops the hub (on_done()). */
static void *syncer_main(void *userdata) {
        struct lanes *l = userdata;

        pthread_mutex_lock(&l->lock);
        for (;;) {
                struct job *head, *tail;
                int r;

                while (!l->sync_head && !l->writer_done)
                        pthread_cond_wait(&l->sync_wake, &l->lock);
                if (!l->sync_head)
                        break;
                head = l->sync_head;
                tail = l->sync_tail;
                l->sync_head = l->sync_tail = NULL;
                r = l->sync_error;
                pthread_mutex_unlock(&l->lock);

                if (r == 0)
                        r = store_sync(l->writer.store);
                for (struct job *j = head; r < 0 && j; j = j->next)
                        if (j->result == 0)
                                j->result = r;
                pthread_mutex_lock(&l->lock);
                if (r < 0 && l->sync_error == 0)
                        l->sync_error = r;
                for (struct job *j = head; j; j = j->next)
                        l->sync_samples -= j->n_samples;
                pthread_mutex_unlock(&l->lock);
                finished(l, head, tail);
                pthread_mutex_lock(&l->lock);
        }
        pthread_mutex_unlock(&l->lock);
        return NULL;
}

/* ---- the reader ----------------------------------------------------------- */

static void *reader_main(void *userdata) {
        struct lanes *l = userdata;
        struct lane_ctx ctx = { 0 };
        bool checkpointed = false;

        pthread_mutex_lock(&l->lock);
        for (;;) {
                struct job *j;

                while (!l->reader.head && !l->checkpoint && !l->stop)
                        pthread_cond_wait(&l->reader.wake, &l->lock);
                /* The writer's WAL, copied back while it commits on. A busy
                 * writer asks again after each commit: a job that waits goes
                 * first every other time, or queries would wait out the
                 * ingest. */
                if (l->checkpoint && !l->stop && !(checkpointed && l->reader.head)) {
                        l->checkpoint = false;
                        pthread_mutex_unlock(&l->lock);
                        (void) store_checkpoint(l->reader.store);
                        pthread_mutex_lock(&l->lock);
                        checkpointed = true;
                        continue;
                }
                checkpointed = false;
                j = l->reader.head;
                if (!j)
                        break;
                l->reader.head = j->next;
                if (!l->reader.head)
                        l->reader.tail = NULL;
                l->reader.jobs--;
                pthread_mutex_unlock(&l->lock);

                j->next = NULL;
                j->run(j, l->reader.store, &ctx);
                finished(l, j, j);
                pthread_mutex_lock(&l->lock);
        }
        pthread_mutex_unlock(&l->lock);
        free(ctx.crypt_data);
        return NULL;
}

/* ---- the loop's side ---------------------------------------------------- */

static void on_done(struct ws_server *s, int fd, void *data) {
        struct hub *h = data;
        struct lanes *l = h->lanes;
        struct job *list, *next;
        uint64_t n;
        int sync_error;

        (void) !read(fd, &n, sizeof n);
        pthread_mutex_lock(&l->lock);
        list = l->done_head;
        l->done_head = l->done_tail = NULL;
        sync_error = l->sync_error;
        pthread_mutex_unlock(&l->lock);
        for (struct job *j = list; j; j = next) {
                next = j->next;
                j->next = NULL;
                j->done(h, j);
                ws_server_release(s);
        }
        /* As PostgreSQL does on a failed fsync: stop, and let the database
         * recover from what reached the disk when the hub starts again. */
        if (sync_error < 0 && !h->failed) {
                h->failed = true;
                log_error("Stopping: the database could not be synced (%s), so nothing stored since can be "
                          "relied on; pushes are refused until the hub starts again",
                          strerror(-sync_error));
                (void) kill(getpid(), SIGTERM);
        }
}

int lanes_start(struct hub *h, struct store *writer, struct store *reader) {
        struct lanes *l = calloc(1, sizeof *l);
        int r, fd;

        if (!l)
                return -ENOMEM;
        l->hub = h;
        l->writer.store = writer;
        l->reader.store = reader;
        pthread_mutex_init(&l->lock, NULL);
        cond_init_clock(&l->writer.wake, CLOCK_MONOTONIC);
        cond_init_clock(&l->reader.wake, CLOCK_MONOTONIC);
        cond_init_clock(&l->sync_wake, CLOCK_MONOTONIC);
        l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (l->efd < 0) {
                r = negative_errno();
                free(l);
                return log_error_errno(r, "Cannot create an eventfd: %m");
        }
        h->lanes = l;
        fd = fcntl(l->efd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return log_error_errno(errno, "Cannot duplicate the eventfd: %m");
        r = ws_server_watch_fd(h->server, fd, on_done, h);
        if (r < 0)
                return r;
        r = store_defer_sync(writer);
        if (r != -EOPNOTSUPP) {
                if (r < 0)
                        return r;
                r = -pthread_create(&l->syncer, NULL, syncer_main, l);
                if (r < 0)
                        return log_error_errno(r, "Cannot start the syncer thread: %m");
                l->syncer_started = true;
        }
        r = -pthread_create(&l->writer.thread, NULL, writer_main, l);
        if (r < 0)
                return log_error_errno(r, "Cannot start the writer thread: %m");
        l->writer.started = true;
        r = -pthread_create(&l->reader.thread, NULL, reader_main, l);
        if (r < 0)
                return log_error_errno(r, "Cannot start the reader thread: %m");
        l->reader.started = true;
        return 0;
}

int lanes_submit(struct hub *h, struct job *j) {
        struct lanes *l = h->lanes;
        struct queue *q = j->lane == LANE_WRITE ? &l->writer : &l->reader;

        pthread_mutex_lock(&l->lock);
        if ((j->lane == LANE_WRITE && write_backlog(l) > 0 &&
             write_backlog(l) + j->n_samples > WRITE_QUEUE_MAX_SAMPLES) ||
            (j->lane == LANE_READ && q->jobs >= READ_QUEUE_MAX_JOBS)) {
                pthread_mutex_unlock(&l->lock);
                return -EBUSY;
        }
        j->result = 0;
        if (j->lane == LANE_WRITE && j->queued_usec == 0)
                j->queued_usec = now_usec(CLOCK_MONOTONIC);
        append(&q->head, &q->tail, j);
        q->jobs++;
        q->samples += j->n_samples;
        /* A writer gathering a group is woken only when it is big enough. */
        if (j->lane == LANE_READ || !l->gathering || q->samples >= COMMIT_GATHER_SAMPLES)
                pthread_cond_signal(&q->wake);
        pthread_mutex_unlock(&l->lock);
        ws_server_hold(h->server);
        return 0;
}

size_t lanes_write_depth(struct hub *h) {
        size_t n;

        pthread_mutex_lock(&h->lanes->lock);
        n = write_backlog(h->lanes);
        pthread_mutex_unlock(&h->lanes->lock);
        return n;
}

size_t lanes_read_depth(struct hub *h) {
        size_t n;

        pthread_mutex_lock(&h->lanes->lock);
        n = h->lanes->reader.jobs;
        pthread_mutex_unlock(&h->lanes->lock);
        return n;
}

void lanes_stop(struct hub *h) {
        struct lanes *l = h->lanes;
        struct job *next;

        if (!l)
                return;
        pthread_mutex_lock(&l->lock);
        l->stop = true;
        pthread_cond_broadcast(&l->writer.wake);
        pthread_cond_broadcast(&l->reader.wake);
        pthread_mutex_unlock(&l->lock);
        if (l->writer.started)
                pthread_join(l->writer.thread, NULL);
        pthread_mutex_lock(&l->lock);
        l->writer_done = true;
        pthread_cond_signal(&l->sync_wake);
        pthread_mutex_unlock(&l->lock);
        if (l->syncer_started)
                pthread_join(l->syncer, NULL);
        if (l->reader.started)
                pthread_join(l->reader.thread, NULL);
        for (struct job *j = l->done_head; j; j = next) {
                next = j->next;
                job_free(j);
        }
        store_batch_free(l->batch);
        close(l->efd);
        pthread_cond_destroy(&l->writer.wake);
        pthread_cond_destroy(&l->reader.wake);
        pthread_cond_destroy(&l->sync_wake);
        pthread_mutex_destroy(&l->lock);
        free(l);
        h->lanes = NULL;
}

void job_free(struct job *j) {
        if (!j)
                return;
        for (size_t i = 0; i < j->n_samples; i++)
                cJSON_Delete(j->samples[i].tree);
        if (j->free)
                j->free(j);
        else
                free(j);
}
