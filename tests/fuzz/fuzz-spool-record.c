/* SPDX-License-Identifier: MIT */
/* pushd's spool as a crash, a full disk or rot may leave it: a segment of
 * records and a position file. Whatever parses as a record must lie inside
 * the bytes, carry the header the writer would write, and resyncing must
 * always move forward. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spool-record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void segment(const uint8_t *data, size_t size) {
        size_t off = 0;

        while (off < size) {
                struct spool_record rec;
                unsigned char hdr[SPOOL_RECORD_HEADER];
                ssize_t n = spool_record_parse(data + off, size - off, &rec);

                if (n == 0)
                        return; /* a torn tail */
                if (n < 0) {
                        size_t next = spool_record_resync(data + off, size - off);
                        if (next == 0 || next > size - off)
                                abort();
                        off += next;
                        continue;
                }
                if ((size_t) n > size - off || rec.len + SPOOL_RECORD_HEADER != (size_t) n || rec.seq == 0 ||
                    rec.payload != (const char *) data + off + SPOOL_RECORD_HEADER)
                        abort();
                spool_record_header(rec.seq, rec.payload, rec.len, hdr);
                if (memcmp(hdr, data + off, sizeof hdr) != 0)
                        abort();
                off += (size_t) n;
        }
}

static void position(const uint8_t *data, size_t size) {
        char *text = strndup((const char *) data, size), buf[256];
        struct spool_position p, again;
        int n;

        if (!text)
                return;
        if (spool_position_parse(text, &p) == 0) {
                n = spool_position_format(&p, buf, sizeof buf);
                if (n < 0 || spool_position_parse(buf, &again) < 0 || again.done != p.done ||
                    again.dropped != p.dropped || strcmp(again.stream, p.stream) != 0)
                        abort();
        }
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        segment(data, size);
        position(data, size);
        return 0;
}
