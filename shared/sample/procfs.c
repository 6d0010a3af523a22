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
        { "Active", offsetof(struct meminfo, active) },
        { "Inactive", offsetof(struct meminfo, inactive) },
        { "Slab", offsetof(struct meminfo, slab) },
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
        if (!parse_unsigned(&p, &l.last_pid))
                l.last_pid = 0;
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
        uint64_t v[17] = { 0 };
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
                /* reads merged sectors ms, writes merged sectors ms, in
                 * flight, io ms, weighted ms; then discards (4.18) and
                 * flushes (5.5) */
                uint64_t *f[] = {
                        &d.reads,     &d.reads_merged, &d.sectors_read,   &d.read_ms,         &d.writes,
                        &d.writes_merged, &d.sectors_written, &d.write_ms, &d.in_flight,      &d.io_ms,
                        &d.weighted_io_ms, &d.discards, &d.discards_merged, &d.sectors_discarded, &d.discard_ms,
                        &d.flushes,   &d.flush_ms,
                };

                d.columns = n >= 17 ? 17 : n >= 15 ? 15 : 11;
                for (size_t i = 0; i < d.columns; i++)
                        *f[i] = v[i];
        } else if (n == 4) {
                /* Partitions on kernels before 2.6.25 had only these. */
                d.reads = v[0];
                d.sectors_read = v[1];
                d.writes = v[2];
                d.sectors_written = v[3];
                d.columns = 4;
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
                d.rx_fifo = v[4];
                d.rx_frame = v[5];
                d.rx_compressed = v[6];
                d.rx_multicast = v[7];
                d.tx_bytes = v[8];
                d.tx_packets = v[9];
                d.tx_errs = v[10];
                d.tx_drop = v[11];
                d.tx_fifo = v[12];
                d.tx_colls = v[13];
                d.tx_carrier = v[14];
                d.tx_compressed = v[15];
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

/* ---- what /metrics exposes beyond a sample ------------------------------ */

/* Copies [s, e) into buf if it fits with its NUL. */
static bool copy_span(const char *s, const char *e, char *buf, size_t size) {
        if (e <= s || (size_t) (e - s) >= size)
                return false;
        memcpy(buf, s, (size_t) (e - s));
        buf[e - s] = '\0';
        return true;
}

/* The end of the blank-separated word at s, at most end. */
static const char *word_end(const char *s, const char *end) {
        while (s < end && !is_blank(*s))
                s++;
        return s;
}

int procfs_parse_stat_counters(const char *buf, struct stat_counters *ret) {
        static const struct {
                const char *key;
                size_t offset;
        } keys[] = {
                { "intr", offsetof(struct stat_counters, intr) },
                { "ctxt", offsetof(struct stat_counters, ctxt) },
                { "btime", offsetof(struct stat_counters, btime) },
                { "processes", offsetof(struct stat_counters, processes) },
                { "procs_running", offsetof(struct stat_counters, procs_running) },
                { "procs_blocked", offsetof(struct stat_counters, procs_blocked) },
        };
        struct stat_counters c = { 0 };
        bool have_btime = false;

        for (const char *p = buf; *p; p = next_line(p)) {
                const char *key_end = word_end(p, line_end(p));

                for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                        const char *s = key_end;
                        size_t l = strlen(keys[i].key);

                        if ((size_t) (key_end - p) != l || !strneq(p, keys[i].key, l))
                                continue;
                        if (!parse_u64(&s, (uint64_t *) ((char *) &c + keys[i].offset)))
                                return -EBADMSG;
                        if (i == 2)
                                have_btime = true;
                        break;
                }
        }
        if (!have_btime)
                return -EBADMSG;
        *ret = c;
        return 0;
}

int procfs_meminfo_next(const char **cursor, struct meminfo_field *ret) {
        const char *p = *cursor;

        for (; *p; p = next_line(p)) {
                const char *end = line_end(p), *colon = memchr(p, ':', (size_t) (end - p)), *s;
                struct meminfo_field f = { 0 };

                if (p == end)
                        continue;
                *cursor = next_line(p);
                if (!colon || !copy_span(p, colon, f.key, sizeof f.key))
                        return -EBADMSG;
                s = colon + 1;
                if (!parse_u64(&s, &f.value))
                        return -EBADMSG;
                s = skip_blanks(s);
                if (strneq(s, "kB", 2)) {
                        if (f.value > UINT64_MAX / 1024)
                                return -EBADMSG;
                        f.value *= 1024;
                        f.has_unit = true;
                } else if (s != end)
                        return -EBADMSG;
                *ret = f;
                return 1;
        }
        *cursor = p;
        return 0;
}

/* The line after p that starts with the same "<proto>:" as p, or NULL. */
static const char *netstat_values_line(const char *p, size_t plen) {
        const char *v = next_line(p);

        return strneq(v, p, plen + 1) ? v : NULL;
}

static size_t count_words(const char *p, const char *end) {
        size_t n = 0;

        for (p = skip_blanks(p); p < end; p = skip_blanks(word_end(p, end)))
                n++;
        return n;
}

void procfs_netstat_init(struct netstat_cursor *c, const char *buf) {
        *c = (struct netstat_cursor){ .next = buf };
}

int procfs_netstat_next(struct netstat_cursor *c, struct proto_counter *ret) {
        for (;;) {
                const char *n, *n_end, *v, *v_end;
                int64_t value;

                if (!c->names) {
                        const char *p = c->next, *colon, *values;
                        size_t plen;

                        if (!*p)
                                return 0;
                        colon = memchr(p, ':', (size_t) (line_end(p) - p));
                        c->next = next_line(p);
                        if (!colon)
                                continue; /* a blank line */
                        plen = (size_t) (colon - p);
                        values = netstat_values_line(p, plen);
                        if (!values)
                                return -EBADMSG;
                        c->next = next_line(values);
                        /* Counted first, so that a pair that does not match
                         * up gives nothing rather than misnamed values. */
                        if (!copy_span(p, colon, c->proto, sizeof c->proto) ||
                            count_words(colon + 1, line_end(p)) != count_words(values + plen + 1, line_end(values)))
                                return -EBADMSG;
                        c->names = colon + 1;
                        c->names_end = line_end(p);
                        c->values = values + plen + 1;
                        c->values_end = line_end(values);
                }
                n = skip_blanks(c->names);
                v = skip_blanks(c->values);
                if (n >= c->names_end) {
                        c->names = NULL;
                        continue;
                }
                n_end = word_end(n, c->names_end);
                v_end = v;
                if (v >= c->values_end || !parse_i64(&v_end, &value) || (v_end < c->values_end && !is_blank(*v_end))) {
                        c->names = NULL;
                        return -EBADMSG;
                }
                c->names = n_end;
                c->values = v_end;
                if (!copy_span(n, n_end, ret->name, sizeof ret->name))
                        return -EBADMSG;
                memcpy(ret->proto, c->proto, sizeof ret->proto);
                ret->value = value;
                return 1;
        }
}

int procfs_snmp6_next(const char **cursor, struct proto_counter *ret) {
        const char *p = *cursor;

        for (; *p; p = next_line(p)) {
                const char *end = line_end(p), *key_end = word_end(p, end), *six, *s = key_end;
                struct proto_counter c;
                uint64_t v;

                if (p == end)
                        continue;
                *cursor = next_line(p);
                six = memchr(p, '6', (size_t) (key_end - p));
                if (!six || !copy_span(p, six + 1, c.proto, sizeof c.proto) ||
                    !copy_span(six + 1, key_end, c.name, sizeof c.name) || !parse_u64(&s, &v) || v > INT64_MAX)
                        return -EBADMSG;
                c.value = (int64_t) v;
                *ret = c;
                return 1;
        }
        *cursor = p;
        return 0;
}

void procfs_sockstat_init(struct sockstat_cursor *c, const char *buf) {
        *c = (struct sockstat_cursor){ .next = buf };
}

int procfs_sockstat_next(struct sockstat_cursor *c, struct proto_counter *ret) {
        for (;;) {
                const char *s, *name_end;
                uint64_t v;

                if (!c->pos) {
                        const char *p = c->next, *colon;

                        if (!*p)
                                return 0;
                        c->end = line_end(p);
                        c->next = next_line(p);
                        if (p == c->end)
                                continue;
                        colon = memchr(p, ':', (size_t) (c->end - p));
                        if (!colon || !copy_span(p, colon, c->proto, sizeof c->proto))
                                return -EBADMSG;
                        c->pos = colon + 1;
                }
                s = skip_blanks(c->pos);
                if (s >= c->end) {
                        c->pos = NULL;
                        continue;
                }
                name_end = word_end(s, c->end);
                c->pos = name_end;
                if (!copy_span(s, name_end, ret->name, sizeof ret->name) || !parse_u64(&c->pos, &v) ||
                    v > INT64_MAX) {
                        c->pos = NULL; /* the rest of this line cannot be paired up */
                        return -EBADMSG;
                }
                memcpy(ret->proto, c->proto, sizeof ret->proto);
                ret->value = (int64_t) v;
                return 1;
        }
}

int procfs_vmstat_next(const char **cursor, struct vmstat_field *ret) {
        const char *p = *cursor;

        for (; *p; p = next_line(p)) {
                const char *end = line_end(p), *key_end = word_end(p, end), *s = key_end;
                struct vmstat_field f;

                if (p == end)
                        continue;
                *cursor = next_line(p);
                if (!copy_span(p, key_end, f.name, sizeof f.name) || !parse_u64(&s, &f.value))
                        return -EBADMSG;
                *ret = f;
                return 1;
        }
        *cursor = p;
        return 0;
}

int procfs_parse_numbers(const char *buf, int64_t *v, size_t n) {
        const char *p = buf;
        size_t i = 0;

        for (; i < n; i++) {
                p += strspn(p, " \t\n");
                if (!*p)
                        break;
                /* "1500\n" is a number, "1500 kB" or "auto" is not. */
                if (!parse_i64(&p, &v[i]) || (*p && !strchr(" \t\n", *p)))
                        return -EBADMSG;
        }
        return i > 0 ? (int) i : -EBADMSG;
}

int procfs_parse_pressure(const char *buf, struct pressure *ret) {
        struct pressure r = { 0 };

        for (const char *p = buf; *p; p = next_line(p)) {
                const char *end = line_end(p), *t;
                bool full = strneq(p, "full ", 5);
                uint64_t total;

                if (!full && !strneq(p, "some ", 5))
                        continue;
                for (t = p; t < end && !strneq(t, "total=", 6); t++)
                        ;
                if (t >= end)
                        return -EBADMSG;
                t += 6;
                if (!parse_u64(&t, &total))
                        return -EBADMSG;
                if (full) {
                        r.full_us = total;
                        r.has_full = true;
                } else {
                        r.some_us = total;
                        r.has_some = true;
                }
        }
        if (!r.has_some)
                return -EBADMSG;
        *ret = r;
        return 0;
}

static bool parse_hex(const char **p, uint64_t *ret) {
        const char *s = skip_blanks(*p);
        uint64_t v = 0;

        if (unhexchar(*s) < 0)
                return false;
        for (; unhexchar(*s) >= 0; s++) {
                if (v >> 60)
                        return false;
                v = v << 4 | (uint64_t) unhexchar(*s);
        }
        *p = s;
        *ret = v;
        return true;
}

int procfs_softnet_next(const char **cursor, struct softnet *ret) {
        const char *p = *cursor;

        for (; *p; p = next_line(p)) {
                const char *end = line_end(p), *s = p;
                struct softnet n;

                if (p == end)
                        continue;
                *cursor = next_line(p);
                /* processed, dropped, time_squeeze; the columns after them
                 * (nine on 2.6, twelve and more since) are left alone. */
                if (!parse_hex(&s, &n.processed) || !parse_hex(&s, &n.dropped) || !parse_hex(&s, &n.time_squeeze) ||
                    (s < end && !is_blank(*s)))
                        return -EBADMSG;
                *ret = n;
                return 1;
        }
        *cursor = p;
        return 0;
}

int procfs_arp_next(const char **cursor, char ret[static PROCFS_IFNAME_MAX]) {
        const char *p = *cursor;

        for (; *p; p = next_line(p)) {
                const char *end = line_end(p), *e = end, *s;

                if (p == end || strneq(p, "IP address", 10))
                        continue;
                *cursor = next_line(p);
                /* IP address, HW type, Flags, HW address, Mask, Device: the
                 * device is the last word. */
                while (e > p && is_blank(e[-1]))
                        e--;
                for (s = e; s > p && !is_blank(s[-1]); s--)
                        ;
                if (s == p || !copy_span(s, e, ret, PROCFS_IFNAME_MAX))
                        return -EBADMSG;
                return 1;
        }
        *cursor = p;
        return 0;
}

int procfs_schedstat_next(const char **cursor, struct schedstat_cpu *ret) {
        const char *p = *cursor;

        for (; *p; p = next_line(p)) {
                const char *s = p + 3;
                uint64_t v[9];
                struct schedstat_cpu c;

                if (!strneq(p, "cpu", 3) || !is_digit(*s))
                        continue;
                *cursor = next_line(p);
                if (!parse_unsigned(&s, &c.cpu) || parse_u64_row(&s, line_end(p), v, ELEMENTSOF(v)) != 9)
                        return -EBADMSG;
                /* yld_count, legacy, schedule(), sched_goidle, ttwu_count,
                 * ttwu_local, then the three that say how each CPU's time went. */
                c.running_ns = v[6];
                c.waiting_ns = v[7];
                c.timeslices = v[8];
                *ret = c;
                return 1;
        }
        *cursor = p;
        return 0;
}

int procfs_parse_pid_stat(const char *buf, struct pid_stat *ret) {
        const char *name = strchr(buf, '('), *p = strrchr(buf, ')'), *end;
        struct pid_stat st = { 0 };
        size_t name_len;
        uint64_t *want[25] = {
                [14] = &st.utime, [15] = &st.stime, [22] = &st.starttime, [23] = &st.vsize, [24] = &st.rss,
        };

        if (!name || !p || p < name)
                return -EBADMSG;
        name_len = (size_t) (p - name - 1);
        memcpy(st.comm, name + 1, name_len < sizeof st.comm ? name_len : sizeof st.comm - 1);
        end = line_end(p);
        p = skip_blanks(p + 1);
        /* The state (field 3) is a letter; from field 4 on all are numbers,
         * some of them signed (tty, priority, nice). */
        if (p >= end || is_blank(*p))
                return -EBADMSG;
        p = word_end(p, end);
        for (size_t field = 4; field < ELEMENTSOF(want); field++) {
                int64_t v;

                if (!parse_i64(&p, &v))
                        return -EBADMSG;
                if (want[field]) {
                        if (v < 0)
                                return -EBADMSG;
                        *want[field] = (uint64_t) v;
                }
        }
        *ret = st;
        return 0;
}

bool procfs_options_read_only(const char *options) {
        for (const char *p = options; *p;) {
                size_t l = strcspn(p, ",");

                if (l == 2 && strneq(p, "ro", 2))
                        return true;
                p += l;
                if (*p == ',')
                        p++;
        }
        return false;
}
