/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "procfs.h"

/* Numbers are parsed by hand rather than with strtoull()/strtod(): no errno
 * to reset, no locale deciding what a decimal point is (a CLI that calls
 * setlocale() shares this code), and an overflow is an error rather than a
 * silently saturated value. */

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static const char *skip_blanks(const char *p) {
        while (is_blank(*p))
                p++;
        return p;
}

static const char *line_end(const char *p) {
        const char *nl = strchr(p, '\n');
        return nl ? nl : p + strlen(p);
}

static const char *next_line(const char *p) {
        const char *e = line_end(p);
        return *e == '\n' ? e + 1 : e;
}

/* Skips leading blanks; stops at the first non-digit. */
static bool parse_u64(const char **p, uint64_t *ret) {
        const char *s = skip_blanks(*p);
        uint64_t v = 0;

        if (!is_digit(*s))
                return false;
        for (; is_digit(*s); s++) {
                unsigned d = (unsigned) (*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return false;
                v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return true;
}

static bool parse_i64(const char **p, int64_t *ret) {
        const char *s = skip_blanks(*p);
        bool neg = *s == '-';
        uint64_t v;

        if (neg)
                s++;
        if (!parse_u64(&s, &v) || v > (uint64_t) INT64_MAX)
                return false;
        *p = s;
        *ret = neg ? -(int64_t) v : (int64_t) v;
        return true;
}

static bool parse_unsigned(const char **p, unsigned *ret) {
        uint64_t v;

        if (!parse_u64(p, &v) || v > UINT_MAX)
                return false;
        *ret = (unsigned) v;
        return true;
}

/* "123", "123.45": what /proc prints for load averages and MHz. */
static bool parse_decimal(const char **p, double *ret) {
        const char *s;
        uint64_t whole;
        double frac = 0.0, scale = 1.0;

        if (!parse_u64(p, &whole))
                return false;
        s = *p;
        if (*s == '.') {
                for (s++; is_digit(*s); s++) {
                        scale /= 10.0;
                        frac += (*s - '0') * scale;
                }
        }
        *p = s;
        *ret = (double) whole + frac;
        return true;
}

/* Reads up to n numbers from the rest of the line; returns how many there
 * were, or -1 if something else than a number stands in the way. */
static int parse_u64_row(const char **p, const char *end, uint64_t *v, size_t n) {
        size_t i = 0;

        for (;;) {
                const char *s = skip_blanks(*p);
                if (s >= end) {
                        *p = s;
                        return (int) i;
                }
                if (i == n) /* more columns than we want: newer kernel */
                        return (int) i;
                if (!parse_u64(&s, &v[i]) || (s < end && !is_blank(*s)))
                        return -1;
                *p = s;
                i++;
        }
}

int procfs_stat_next_cpu(const char **cursor, struct stat_cpu *ret) {
        const char *p = *cursor;

        for (; *p; p = next_line(p)) {
                const char *end = line_end(p), *s = p + 3;
                uint64_t v[10] = { 0 };
                unsigned cpu = PROCFS_CPU_ALL;
                int n;

                if (!strneq(p, "cpu", 3))
                        continue;
                *cursor = next_line(p);
                if (is_digit(*s)) {
                        if (!parse_unsigned(&s, &cpu) || cpu == PROCFS_CPU_ALL)
                                return -EBADMSG;
                }
                if (!is_blank(*s))
                        return -EBADMSG;
                n = parse_u64_row(&s, end, v, ELEMENTSOF(v));
                /* user nice system idle exist since 2.4; later columns were
                 * added one by one (iowait 2.5.41 ... guest_nice 2.6.33). */
                if (n < 4)
                        return -EBADMSG;
                *ret = (struct stat_cpu){
                        .cpu = cpu,
                        .t = { v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9] },
                };
                return 1;
        }
        *cursor = p;
        return 0;
}

const struct meminfo_key meminfo_keys[] = {
        { "MemTotal", offsetof(struct meminfo, total) },
        { "MemFree", offsetof(struct meminfo, free) },
        { "MemAvailable", offsetof(struct meminfo, available) },
        { "Buffers", offsetof(struct meminfo, buffers) },
        { "Cached", offsetof(struct meminfo, cached) },
        { "SReclaimable", offsetof(struct meminfo, sreclaimable) },
        { "Shmem", offsetof(struct meminfo, shmem) },
        { "SwapTotal", offsetof(struct meminfo, swap_total) },
        { "SwapFree", offsetof(struct meminfo, swap_free) },
};
const size_t meminfo_keys_count = ELEMENTSOF(meminfo_keys);

int procfs_parse_meminfo(const char *buf, struct meminfo *ret) {
        struct meminfo m = { 0 };
        bool have_total = false;

        for (const char *p = buf; *p; p = next_line(p)) {
                const char *colon = strchr(p, ':'), *s;
                uint64_t v;

                if (!colon || colon > line_end(p))
                        continue;
                s = colon + 1;
                if (!parse_u64(&s, &v))
                        continue;
                s = skip_blanks(s);
                if (strneq(s, "kB", 2)) {
                        if (v > UINT64_MAX / 1024)
                                return -EBADMSG;
                        v *= 1024;
                }
                for (size_t i = 0; i < meminfo_keys_count; i++) {
                        size_t l = strlen(meminfo_keys[i].key);
                        if ((size_t) (colon - p) == l && strneq(p, meminfo_keys[i].key, l)) {
                                *(uint64_t *) ((char *) &m + meminfo_keys[i].offset) = v;
                                if (i == 0)
                                        have_total = true;
                                else if (i == 2)
                                        m.has_available = true;
                                break;
                        }
                }
        }
        if (!have_total)
                return -EBADMSG;
        if (!m.has_available) {
                /* Before MemAvailable existed, this was the usual estimate:
                 * free memory plus the caches the kernel can drop. Shared
                 * memory is counted in Cached but cannot be dropped. */
                uint64_t cache = m.cached + m.sreclaimable;
                m.available = m.free + m.buffers + (cache > m.shmem ? cache - m.shmem : 0);
        }
        if (m.available > m.total)
                m.available = m.total;
        if (m.swap_free > m.swap_total)
                m.swap_free = m.swap_total;
        *ret = m;
        return 0;
}

int procfs_parse_loadavg(const char *buf, struct loadavg *ret) {
        const char *p = buf;
        struct loadavg l;

        if (!parse_decimal(&p, &l.load1) || !parse_decimal(&p, &l.load5) || !parse_decimal(&p, &l.load15) ||
            !parse_unsigned(&p, &l.running) || *p != '/')
                return -EBADMSG;
        p++;
        if (!parse_unsigned(&p, &l.total))
                return -EBADMSG;
        *ret = l;
        return 0;
}

/* Copies the next blank-separated word of the line into buf. */
static bool parse_word(const char **p, const char *end, char *buf, size_t size) {
        const char *s = skip_blanks(*p), *e = s;

        while (e < end && !is_blank(*e))
                e++;
        if (e == s || (size_t) (e - s) >= size)
                return false;
        memcpy(buf, s, (size_t) (e - s));
        buf[e - s] = '\0';
        *p = e;
        return true;
}

int procfs_diskstats_next(const char **cursor, struct diskstat *ret) {
        const char *p = *cursor, *end;
        struct diskstat d = { 0 };
        uint64_t v[11];
        int n;

        p = skip_blanks(p);
        while (*p == '\n')
                p = skip_blanks(p + 1);
        if (!*p) {
                *cursor = p;
                return 0;
        }
        end = line_end(p);
        *cursor = next_line(p);
        if (!parse_unsigned(&p, &d.major) || !parse_unsigned(&p, &d.minor) ||
            !parse_word(&p, end, d.name, sizeof d.name))
                return -EBADMSG;
        n = parse_u64_row(&p, end, v, ELEMENTSOF(v));
        if (n >= 11) {
                /* reads merged sectors ms, writes merged sectors ms, ... */
                d.reads = v[0];
                d.sectors_read = v[2];
                d.writes = v[4];
                d.sectors_written = v[6];
        } else if (n == 4) {
                /* Partitions on kernels before 2.6.25 had only these. */
                d.reads = v[0];
                d.sectors_read = v[1];
                d.writes = v[2];
                d.sectors_written = v[3];
        } else
                return -EBADMSG;
        *ret = d;
        return 1;
}

int procfs_netdev_next(const char **cursor, struct netdev *ret) {
        const char *p = *cursor;

        for (; *p; p = next_line(p)) {
                const char *end = line_end(p), *colon = memchr(p, ':', (size_t) (end - p)), *s, *e;
                struct netdev d = { 0 };
                uint64_t v[16];

                if (!colon) /* the two header lines */
                        continue;
                *cursor = next_line(p);
                /* The name is right-aligned in a 6-wide field, and a large
                 * first counter follows the colon without a blank:
                 * "enp3s0:123456789012 ...". Names never contain ':'. */
                s = skip_blanks(p);
                e = colon;
                while (e > s && is_blank(e[-1]))
                        e--;
                if (e == s || (size_t) (e - s) >= sizeof d.name)
                        return -EBADMSG;
                memcpy(d.name, s, (size_t) (e - s));
                s = colon + 1;
                if (parse_u64_row(&s, end, v, ELEMENTSOF(v)) != (int) ELEMENTSOF(v))
                        return -EBADMSG;
                d.rx_bytes = v[0];
                d.rx_packets = v[1];
                d.rx_errs = v[2];
                d.rx_drop = v[3];
                d.tx_bytes = v[8];
                d.tx_packets = v[9];
                d.tx_errs = v[10];
                d.tx_drop = v[11];
                *ret = d;
                return 1;
        }
        *cursor = p;
        return 0;
}

/* The line starting with "<proto>:" at or after p, or NULL. */
static const char *find_proto_line(const char *p, const char *proto, size_t plen) {
        for (; *p; p = next_line(p))
                if (strneq(p, proto, plen) && p[plen] == ':')
                        return p;
        return NULL;
}

int procfs_parse_snmp(const char *buf, const char *proto, const char *field, int64_t *ret) {
        size_t plen = strlen(proto), flen = strlen(field), column = 0;
        const char *header, *values, *p, *end;
        bool found = false;

        header = find_proto_line(buf, proto, plen);
        if (!header)
                return -ENOENT;
        values = find_proto_line(next_line(header), proto, plen);
        if (!values)
                return -EBADMSG;

        end = line_end(header);
        for (p = header + plen + 1; p < end;) {
                const char *s = skip_blanks(p), *e = s;

                while (e < end && !is_blank(*e))
                        e++;
                if (e == s)
                        break;
                if ((size_t) (e - s) == flen && strneq(s, field, flen)) {
                        found = true;
                        break;
                }
                column++;
                p = e;
        }
        if (!found)
                return -ENOENT;

        end = line_end(values);
        p = values + plen + 1;
        for (size_t i = 0;; i++) {
                int64_t v;

                if (p >= end || !parse_i64(&p, &v))
                        return -EBADMSG;
                if (i == column) {
                        *ret = v;
                        return 0;
                }
        }
}

static int octal_digit(char c) {
        return c >= '0' && c <= '7' ? c - '0' : -1;
}

/* In place: "\040" becomes ' '. Anything else stays as written. */
static void unescape_octal(char *s) {
        char *w = s;

        for (char *r = s; *r;) {
                if (r[0] == '\\' && octal_digit(r[1]) >= 0 && octal_digit(r[2]) >= 0 && octal_digit(r[3]) >= 0) {
                        int c = octal_digit(r[1]) * 64 + octal_digit(r[2]) * 8 + octal_digit(r[3]);
                        if (c > 0 && c < 256) {
                                *w++ = (char) c;
                                r += 4;
                                continue;
                        }
                }
                *w++ = *r++;
        }
        *w = '\0';
}

/* Cuts the next space-separated field out of the line. */
static char *cut_field(char **p) {
        char *s = *p, *e;

        if (!*s)
                return NULL;
        e = strchr(s, ' ');
        if (e) {
                *e = '\0';
                *p = e + 1;
        } else
                *p = s + strlen(s);
        return s;
}

int procfs_mountinfo_next(char **cursor, struct mountinfo *ret) {
        char *p = *cursor, *line, *nl, *f[6], *sep, *fstype, *source;
        const char *q;
        struct mountinfo m = { 0 };

        while (*p == '\n')
                p++;
        if (!*p) {
                *cursor = p;
                return 0;
        }
        line = p;
        nl = strchr(p, '\n');
        if (nl) {
                *nl = '\0';
                *cursor = nl + 1;
        } else
                *cursor = p + strlen(p);

        /* id parent major:minor root mount-point options [optional...] - fstype source super-options */
        for (size_t i = 0; i < ELEMENTSOF(f); i++)
                if (!(f[i] = cut_field(&line)))
                        return -EBADMSG;
        q = f[0];
        if (!parse_unsigned(&q, &m.id) || *q)
                return -EBADMSG;
        q = f[1];
        if (!parse_unsigned(&q, &m.parent) || *q)
                return -EBADMSG;
        q = f[2];
        if (!parse_unsigned(&q, &m.major) || *q != ':')
                return -EBADMSG;
        q++;
        if (!parse_unsigned(&q, &m.minor) || *q)
                return -EBADMSG;
        /* Optional fields ("shared:1", "master:2", ...) end with a lone "-". */
        do
                sep = cut_field(&line);
        while (sep && !streq(sep, "-"));
        if (!sep)
                return -EBADMSG;
        fstype = cut_field(&line);
        source = cut_field(&line);
        if (!fstype || !source)
                return -EBADMSG;

        unescape_octal(f[3]);
        unescape_octal(f[4]);
        unescape_octal(source);
        m.fstype = fstype;
        m.source = source;
        m.super_options = line; /* the rest; may be empty */
        m.root = f[3];
        m.mount_point = f[4];
        m.options = f[5];
        *ret = m;
        return 1;
}

bool procfs_fs_requires_device(const char *filesystems, const char *fstype) {
        /* "fuse.sshfs" and "fuseblk.foo" are subtypes of what the file lists. */
        size_t flen = strcspn(fstype, ".");

        for (const char *p = filesystems; *p; p = next_line(p)) {
                const char *end = line_end(p), *name;

                if (strneq(p, "nodev", 5))
                        continue;
                name = skip_blanks(p);
                if ((size_t) (end - name) == flen && strneq(name, fstype, flen))
                        return true;
        }
        return false;
}

int procfs_parse_statm(const char *buf, struct statm *ret) {
        const char *p = buf;
        uint64_t v[7] = { 0 };
        int n = parse_u64_row(&p, line_end(buf), v, ELEMENTSOF(v));

        if (n < 2)
                return -EBADMSG;
        *ret = (struct statm){ .size = v[0], .resident = v[1], .shared = v[2], .text = v[3], .data = v[5] };
        return 0;
}

void procfs_parse_comm(const char *buf, size_t len, char ret[static PROCFS_COMM_MAX]) {
        if (len > 0 && buf[len - 1] == '\n')
                len--;
        if (len >= PROCFS_COMM_MAX)
                len = PROCFS_COMM_MAX - 1;
        memcpy(ret, buf, len);
        ret[len] = '\0';
}

int procfs_parse_cpuinfo_mhz(const char *buf, double *ret) {
        double sum = 0.0;
        unsigned n = 0;

        for (const char *p = buf; *p; p = next_line(p)) {
                const char *s;
                double v;

                if (!strneq(p, "cpu MHz", 7))
                        continue;
                s = skip_blanks(p + 7);
                if (*s != ':')
                        continue;
                s++;
                if (!parse_decimal(&s, &v))
                        continue;
                sum += v;
                n++;
        }
        if (n == 0)
                return -ENOENT;
        *ret = sum / n;
        return 0;
}
