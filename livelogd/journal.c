/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "journal.h"
#include "linesplit.h"
#include "log.h"
#include "macro.h"
#include "utf8.h"

/* Entries handed on per call before the loop gets to serve clients. */
#define ENTRIES_PER_CALL 2048

/* Fields larger than this are cut by sd-journal; above LINE_PIECE_MAX the
 * message is split like a long line of a file. */
#define DATA_THRESHOLD (1024 * 1024)

struct journal {
        sd_journal *j;
        line_sink_t sink;
        void *userdata;
        struct line_splitter *split;
        struct line_meta meta; /* of the entry being handed on */
};

/* The value of one field of the current entry, not NUL-terminated. */
static int field(sd_journal *j, const char *name, const char **value, size_t *len) {
        size_t prefix = strlen(name) + 1;
        const void *data;
        size_t n;
        int r;

        r = sd_journal_get_data(j, name, &data, &n);
        if (r < 0)
                return r;
        if (n < prefix)
                return -EBADMSG;
        *value = (const char *) data + prefix;
        *len = n - prefix;
        return 0;
}

static int sink_piece(const char *line, size_t len, bool continues, void *userdata) {
        struct journal *jn = userdata;

        return jn->sink(line, len, continues, &jn->meta, jn->userdata);
}

static int hand_on_entry(struct journal *jn) {
        char unit[256] = "";
        const char *msg, *v;
        size_t len, n;
        uint64_t usec;
        int priority = -1;

        /* The small fields first, copied: the data sd_journal_get_data()
         * returns is only good until its next call, which is for MESSAGE. */
        if (field(jn->j, "_SYSTEMD_UNIT", &v, &n) >= 0 && n < sizeof unit && utf8_valid(v, n)) {
                memcpy(unit, v, n);
                unit[n] = '\0';
        }
        if (field(jn->j, "PRIORITY", &v, &n) >= 0 && n == 1 && v[0] >= '0' && v[0] <= '7')
                priority = v[0] - '0';
        /* An entry without MESSAGE (a coredump's metadata, say) is no log line. */
        if (field(jn->j, "MESSAGE", &msg, &len) < 0)
                return 0;

        jn->meta = (struct line_meta){
                .unit = unit[0] ? unit : NULL,
                .priority = priority,
                .realtime_usec = sd_journal_get_realtime_usec(jn->j, &usec) >= 0 ? usec : 0,
        };
        return line_splitter_record(jn->split, msg, len, sink_piece, jn);
}

int journal_new(unsigned backlog, line_sink_t sink, void *userdata, struct journal **ret) {
        _cleanup_(journal_freep) struct journal *jn = NULL;
        int r;

        jn = calloc(1, sizeof *jn);
        if (!jn)
                return -ENOMEM;
        jn->sink = sink;
        jn->userdata = userdata;
        r = line_splitter_new(&jn->split);
        if (r < 0)
                return r;

        /* Errors are the caller's to report: it decides whether they stop
         * the start-up. */
        r = sd_journal_open(&jn->j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return r;
        (void) sd_journal_set_data_threshold(jn->j, DATA_THRESHOLD);
        /* Allocates the inotify watches before seeking, so that nothing
         * written between here and the first wake-up is missed. */
        r = sd_journal_get_fd(jn->j);
        if (r < 0)
                return r;

        r = sd_journal_seek_tail(jn->j);
        if (r < 0)
                return r;
        /* After seek_tail the position is past the last entry: step back
         * onto it (or `backlog` entries further) before reading forward. */
        if (backlog > 0) {
                r = sd_journal_previous_skip(jn->j, backlog);
                if (r > 0) {
                        r = hand_on_entry(jn);
                        if (r < 0)
                                return r;
                }
        } else
                (void) sd_journal_previous(jn->j);

        *ret = TAKE_PTR(jn);
        return 0;
}

struct journal *journal_free(struct journal *jn) {
        if (!jn)
                return NULL;
        sd_journal_closep(&jn->j);
        line_splitter_free(jn->split);
        free(jn);
        return NULL;
}

int journal_fd(struct journal *jn) {
        return sd_journal_get_fd(jn->j);
}

int journal_process(struct journal *jn) {
        int r;

        /* Picks up rotated and new journal files; the answer itself does
         * not matter, the entries are read below either way. */
        (void) sd_journal_process(jn->j);

        for (unsigned i = 0; i < ENTRIES_PER_CALL; i++) {
                r = sd_journal_next(jn->j);
                if (r < 0)
                        return log_error_errno(r, "Failed to read the journal: %m");
                if (r == 0)
                        return 0;
                r = hand_on_entry(jn);
                if (r < 0)
                        log_warning_errno(r, "Failed to hand on a journal entry: %m");
        }
        return 1;
}

bool journal_available(void) {
        _cleanup_(sd_journal_closep) sd_journal *j = NULL;

        if (access("/run/systemd/journal", F_OK) == 0)
                return true;
        if (sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY) < 0)
                return false;
        return sd_journal_next(j) > 0;
}
