/* SPDX-License-Identifier: MIT */
/* livelogd's line splitter: whatever bytes a log file holds, cut into reads
 * of any size (the first two bytes choose it), and the same bytes as one
 * journal record. Every piece handed out must be valid UTF-8 and fit its
 * bound, and a line of a file holds no newline. The UTF-8 repair of
 * buffers and of C strings (utf8.h, which names in samples go through) must
 * agree with the check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linesplit.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_piece(const char *line, size_t len, bool continues, void *userdata) {
        size_t *bytes = userdata;

        if (len > LINE_SANITISED_MAX || !utf8_valid(line, len))
                abort();
        if (continues && len == 0)
                abort(); /* a piece that continues carries something */
        *bytes += len;
        return 0;
}

static int on_line(const char *line, size_t len, bool continues, void *userdata) {
        if (memchr(line, '\n', len))
                abort();
        return on_piece(line, len, continues, userdata);
}

static void check_utf8(const char *data, size_t size) {
        char *out = malloc(3 * size + 1), *copy, *buf;
        size_t n, size_buf = 3 * size + 1;
        bool valid = utf8_valid(data, size);

        if (!out)
                return;
        n = utf8_repair(data, size, out);
        if (n > 3 * size || !utf8_valid(out, n) || (valid && (n != size || memcmp(out, data, size) != 0)))
                abort();
        free(out);

        /* utf8_repair_str() takes a C string: compare on inputs without NUL. */
        if (memchr(data, '\0', size))
                return;
        copy = strndup(data, size);
        buf = malloc(size_buf);
        if (copy && buf) {
                const char *s = utf8_repair_str(copy, buf, size_buf);
                if ((s == copy) != valid || !utf8_valid(s, strlen(s)))
                        abort();
        }
        free(copy);
        free(buf);
}

/* One splitter for every input, as livelogd keeps one per stream: its
 * buffers are large, and each input ends with a flush. */
static struct line_splitter *s;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        if (line_splitter_new(&s) < 0)
                abort();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        size_t chunk, bytes = 0;
        const char *p;

        if (size < 2)
                return 0;
        chunk = ((size_t) data[0] << 8 | data[1]) % 4096 + 1;
        p = (const char *) data + 2;
        size -= 2;

        for (size_t off = 0; off < size; off += chunk) {
                size_t n = size - off < chunk ? size - off : chunk;
                if (line_splitter_feed(s, p + off, n, on_line, &bytes) < 0)
                        abort();
                if (line_splitter_pending(s) > LINE_PIECE_MAX)
                        abort();
        }
        if (line_splitter_flush(s, on_line, &bytes) < 0 || line_splitter_pending(s) != 0)
                abort();
        /* A record (a journal message) may hold newlines of its own. */
        if (line_splitter_record(s, p, size, on_piece, &bytes) < 0)
                abort();

        check_utf8(p, size);
        return 0;
}
