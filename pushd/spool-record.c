/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "spool-record.h"

static uint32_t get32(const unsigned char *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t get64(const unsigned char *p) {
        return (uint64_t) get32(p) | (uint64_t) get32(p + 4) << 32;
}

static void put32(unsigned char *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (unsigned char) (v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v) {
        put32(p, (uint32_t) v);
        put32(p + 4, (uint32_t) (v >> 32));
}

static uint32_t record_crc(const unsigned char *hdr, const void *payload, size_t len) {
        uLong crc = crc32(0L, Z_NULL, 0);

        crc = crc32(crc, hdr + 4, 12); /* length and seq */
        crc = crc32(crc, payload, (uInt) len);
        return (uint32_t) crc;
}

void spool_record_header(uint64_t seq, const void *payload, size_t len, unsigned char hdr[static SPOOL_RECORD_HEADER]) {
        put32(hdr, SPOOL_RECORD_MAGIC);
        put32(hdr + 4, (uint32_t) len);
        put64(hdr + 8, seq);
        put32(hdr + 16, record_crc(hdr, payload, len));
}

ssize_t spool_record_parse(const void *buf, size_t len, struct spool_record *ret) {
        const unsigned char *p = buf;
        uint32_t n;
        uint64_t seq;

        /* A prefix of the magic is still the start of a record. */
        if (len < 4) {
                unsigned char magic[4];
                put32(magic, SPOOL_RECORD_MAGIC);
                return memcmp(p, magic, len) == 0 ? 0 : -EBADMSG;
        }
        if (get32(p) != SPOOL_RECORD_MAGIC)
                return -EBADMSG;
        if (len < 8)
                return 0;
        n = get32(p + 4);
        if (n == 0 || n > SPOOL_RECORD_MAX)
                return -EBADMSG;
        if (len < SPOOL_RECORD_HEADER || len - SPOOL_RECORD_HEADER < n)
                return 0;
        seq = get64(p + 8);
        if (seq == 0 || get32(p + 16) != record_crc(p, p + SPOOL_RECORD_HEADER, n))
                return -EBADMSG;
        *ret = (struct spool_record){ .seq = seq, .payload = (const char *) p + SPOOL_RECORD_HEADER, .len = n };
        return (ssize_t) (SPOOL_RECORD_HEADER + n);
}

size_t spool_record_resync(const void *buf, size_t len) {
        const unsigned char *p = buf;
        struct spool_record rec;

        for (size_t off = 1; off + 4 <= len; off++) {
                const unsigned char *q = memchr(p + off, 'R', len - off);
                if (!q)
                        break;
                off = (size_t) (q - p);
                if (spool_record_parse(q, len - off, &rec) > 0)
                        return off;
        }
        return len;
}

static int parse_u64(const char *s, size_t n, uint64_t *ret) {
        uint64_t v = 0;

        if (n == 0 || n > 20)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - (uint64_t) (s[i] - '0')) / 10)
                        return -EINVAL;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        *ret = v;
        return 0;
}

int spool_position_parse(const char *text, struct spool_position *ret) {
        struct spool_position p = { 0 };
        unsigned seen = 0;

        for (const char *line = text; *line;) {
                size_t n = strcspn(line, "\n"), k;
                const char *v;

                k = strcspn(line, "=\n");
                if (k >= n)
                        return -EINVAL;
                v = line + k + 1;
                if (k == 6 && memcmp(line, "stream", 6) == 0 && !(seen & 1)) {
                        size_t vl = n - k - 1;
                        if (vl == 0 || vl >= sizeof p.stream)
                                return -EINVAL;
                        for (size_t i = 0; i < vl; i++)
                                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", v[i]) ||
                                    v[i] == '\0')
                                        return -EINVAL;
                        memcpy(p.stream, v, vl);
                        seen |= 1;
                } else if (k == 4 && memcmp(line, "done", 4) == 0 && !(seen & 2)) {
                        if (parse_u64(v, n - k - 1, &p.done) < 0)
                                return -EINVAL;
                        seen |= 2;
                } else if (k == 7 && memcmp(line, "dropped", 7) == 0 && !(seen & 4)) {
                        if (parse_u64(v, n - k - 1, &p.dropped) < 0)
                                return -EINVAL;
                        seen |= 4;
                } else
                        return -EINVAL;
                line += n;
                if (*line == '\n')
                        line++;
        }
        if (seen != 7)
                return -EINVAL;
        *ret = p;
        return 0;
}

int spool_position_format(const struct spool_position *p, char *buf, size_t size) {
        int n = snprintf(buf, size, "stream=%s\ndone=%llu\ndropped=%llu\n", p->stream, (unsigned long long) p->done,
                         (unsigned long long) p->dropped);

        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return n;
}
