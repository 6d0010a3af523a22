/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>


#include "conf.h"
#include "errors.h"
#include "follower.h"
#include "journal.h"
#include "log.h"
#include "macro.h"
#include "nodeid.h"
#include "notify.h"
#include "stream.h"
#include "wsserver.h"
#include "wstls.h"

/* How long reading on waits for clients to take what was read: a file
 * that grows faster than any client reads is still read at one chunk per
 * this, so the stream never lags far behind the file. */
#define RESUME_PATIENCE_USEC (10 * 1000)

static const struct conf_flag flags[] = {
        { "listen", 0, "livelogs", "listen", "ADDRESS", "address to listen on" },
        { "port", 'p', "livelogs", "port", "PORT", "WebSocket and HTTP port" },
        { "log-file", 'f', "livelogs", "log_file", "PATH", "log file to follow, or \"journal\"" },
        { "backlog", 'n', "livelogs", "backlog", "LINES", "lines replayed to a new client" },
        { "token", 0, "livelogs", "token", "TOKEN", "token clients must present" },
        { "max-clients", 0, "livelogs", "max_clients", "N", "most clients at once" },
        { 0 },
};

/* The source being followed (a file or the journal) wired into the
 * server's loop: its fd, a zero-delay timer that resumes a source which
 * stopped early so that clients get served in between, and the tick. */
struct livelogd {
        struct ws_server *server;
        struct stream *stream;
        struct follower *follower;
        struct journal *journal;
        lws_sorted_usec_list_t resume;
        lws_sorted_usec_list_t tick;
};

static void on_resume(lws_sorted_usec_list_t *sul);

static int source_process(struct livelogd *d) {
        return d->journal ? journal_process(d->journal) : follower_process(d->follower);
}

static void on_drained(void *userdata) {
        struct livelogd *d = userdata;

        lws_sul_schedule(ws_server_context(d->server), 0, &d->resume, on_resume, 0);
}

static void after_source(struct livelogd *d, int more) {
        stream_flush(d->stream);
        if (more <= 0) {
                stream_when_drained(d->stream, NULL, NULL);
                return;
        }
        /* Read on as soon as the fastest client has taken what was read,
         * and after RESUME_PATIENCE_USEC whatever the clients do. */
        if (stream_drained(d->stream)) {
                on_drained(d);
                return;
        }
        lws_sul_schedule(ws_server_context(d->server), 0, &d->resume, on_resume, RESUME_PATIENCE_USEC);
        stream_when_drained(d->stream, on_drained, d);
}

static void on_resume(lws_sorted_usec_list_t *sul) {
        struct livelogd *d = lws_container_of(sul, struct livelogd, resume);

        after_source(d, source_process(d));
}

static void on_source_fd(struct ws_server *s, int fd, void *data) {
        struct livelogd *d = data;

        after_source(d, source_process(d));
}

static void on_tick(lws_sorted_usec_list_t *sul) {
        struct livelogd *d = lws_container_of(sul, struct livelogd, tick);

        /* The journal wants the same as an fd event: sd_journal_process()
         * and reading on; some file systems give it no events at all. */
        after_source(d, d->journal ? journal_process(d->journal) : follower_tick(d->follower));
        lws_sul_schedule(ws_server_context(d->server), 0, &d->tick, on_tick, FOLLOWER_TICK_USEC);
}

/* File or journal (docs/livelogs-stream.md): a missing file on a machine
 * that has a journal (Debian 12 without rsyslog has no /var/log/syslog)
 * means the journal; a missing file elsewhere is waited for; a file we may
 * not read is a start-up failure the supervisor must be able to name. */
static int choose_journal(const char *log_file, bool *journal) {
        _cleanup_close_ int fd = -1;

        if (streq(log_file, "journal")) {
                *journal = true;
                return 0;
        }
        fd = open(log_file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd >= 0 || errno != ENOENT) {
                *journal = false;
                return fd >= 0 ? 0 : -errno;
        }
        *journal = journal_available();
        if (*journal)
                log_notice("%s does not exist; following the journal instead", log_file);
        return 0;
}

/* The server goes before the stream and the source it serves: declared
 * after them, it is released first. */
static void livelogd_release(struct livelogd *d) {
        if (!d->server)
                return;
        lws_sul_cancel(&d->tick);
        lws_sul_cancel(&d->resume);
        ws_server_free(d->server);
}

static int run(const struct conf *conf) {
        _cleanup_(stream_freep) struct stream *stream = NULL;
        _cleanup_(follower_freep) struct follower *follower = NULL;
        _cleanup_(journal_freep) struct journal *journal = NULL;
        _cleanup_(livelogd_release) struct livelogd d = { 0 };
        const char *log_file = conf->livelogs.log_file, *what;
        char node_id[256];
        bool use_journal;
        int watched, r;

        r = choose_journal(log_file, &use_journal);
        if (r < 0) {
                errno = -r;
                return notify_failure(r, ERROR_LOG_FILE_UNREADABLE, "cannot read %s: %m", log_file);
        }
        what = use_journal ? "journal" : log_file;

        node_id_resolve(conf->node.id, node_id, sizeof node_id);
        r = stream_new(node_id, conf->livelogs.backlog, &stream);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the stream: %m");

        if (use_journal) {
                r = journal_new(conf->livelogs.backlog, stream_line, stream, &journal);
                if (r < 0) {
                        errno = -r;
                        return notify_failure(r, ERROR_LOG_FILE_UNREADABLE, "cannot open the journal: %m");
                }
        } else {
                r = follower_new(log_file, conf->livelogs.backlog, stream_backlog_bytes(stream), stream_line, stream,
                                 &follower);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up following %s: %m", log_file);
        }

        r = ws_server_new(&stream_ops,
                          &(struct ws_server_params){
                                  .name = "livelogd",
                                  .stream = &conf->livelogs.stream,
                                  .max_message = STREAM_INBOUND_MAX,
                                  .userdata = stream,
                          },
                          &d.server);
        if (r < 0)
                return r; /* reported to the supervisor by ws_server_new() */

        /* The backlog goes into the ring before any client can connect. */
        if (follower) {
                r = follower_start(follower);
                if (r < 0) {
                        errno = -r;
                        return notify_failure(r, ERROR_LOG_FILE_UNREADABLE, "cannot read %s: %m", log_file);
                }
        }

        d.stream = stream;
        d.follower = follower;
        d.journal = journal;
        /* lws closes a watched fd when the context goes: it gets a
         * duplicate, and the source closes its own. */
        watched = fcntl(journal ? journal_fd(journal) : follower_fd(follower), F_DUPFD_CLOEXEC, 3);
        if (watched < 0)
                return log_error_errno(errno, "Failed to duplicate the descriptor of %s: %m", what);
        r = ws_server_watch_fd(d.server, watched, on_source_fd, &d);
        if (r < 0)
                return r; /* it said why */
        lws_sul_schedule(ws_server_context(d.server), 0, &d.tick, on_tick, FOLLOWER_TICK_USEC);
        /* Lines read at start-up may already want more reading. */
        after_source(&d, source_process(&d));

        log_info("Following %s; serving %s:%u (backlog %u lines, at most %u clients)", what,
                 conf->livelogs.stream.listen, conf->livelogs.stream.port, conf->livelogs.backlog,
                 conf->livelogs.stream.max_clients);
        /* controld's /status shows what is really followed, which is not
         * always what was configured: one datagram with READY=1. */
        char fields[PATH_MAX + 32];
        snprintf(fields, sizeof fields, "RESOLVIX_LOG_FILE=%s", what);
        notify_ready(fields, "following %s", what);

        return ws_server_run(d.server);
}

/* --check, too, says whether the TLS files can be used (docs/tls.md); under
 * controld the reason goes to it as well. */
static bool tls_usable(const struct conf *c) {
        return ws_tls_check_listener(&c->livelogs.stream, NULL, true) >= 0;
}

int main(int argc, char **argv) {
        static struct conf conf; /* large: keep it off the stack */
        int r;

        log_open("livelogd", "livelogs");
        r = conf_main(argc, argv, "Stream a log file or the journal, line by line, over WebSocket.", flags, &conf,
                      tls_usable);
        if (r >= 0)
                return r;
        return run(&conf) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
