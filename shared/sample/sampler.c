/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <pwd.h>
#include <string.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include "grow.h"
#include "fileio.h"
#include "proccache.h"
#include "procfile.h"
#include "log.h"
#include "sample.h"
#include "timeutil.h"

#define DISKSTAT_SECTOR 512 /* diskstats counts 512-byte sectors whatever the device's own size */
#define CPUINFO_EVERY_USEC (30 * USEC_PER_SEC)
#define USERS_CACHED 16
#define DISKS_CACHED 64
/* Candidates kept while scanning: a few more than reported, so that one
 * that exits before it can be named leaves no hole. */
#define TOP_CANDIDATES (SAMPLE_TOP_PROCESSES + 3)
/* Descriptors the process cache keeps open across ticks (a statm or a
 * pidfd per process, and the top processes' stat and comm) up to this,
 * which covers all but the largest machines. */
#define STATM_FDS_KEPT 4096
/* sampler.pid_offset before a listing showed it, and when it made no sense */
#define PID_OFFSET_UNKNOWN ((off_t) -1)
#define PID_OFFSET_NONE ((off_t) -2)

enum file {
        FILE_STAT,
        FILE_MEMINFO,
        FILE_LOADAVG,
        FILE_DISKSTATS,
        FILE_NETDEV,
        FILE_SNMP,
        FILE_MOUNTINFO,
        FILE_FILESYSTEMS,
        FILE_CPUINFO,
        _FILE_MAX,
};

/* diskstats and net/dev are made a line per disk or interface, of some
 * 200 bytes at most: a bound on the line, with room to spare. */
#define PROC_LINE_MAX 512

/* Where each file is, and how the kernel makes it (procfile.record_max). */
static const struct {
        const char *path;
        size_t record_max;
} file_info[_FILE_MAX] = {
        [FILE_STAT] = { "stat", PROCFILE_WHOLE },
        [FILE_MEMINFO] = { "meminfo", PROCFILE_WHOLE },
        [FILE_LOADAVG] = { "loadavg", PROCFILE_WHOLE },
        [FILE_DISKSTATS] = { "diskstats", PROC_LINE_MAX },
        [FILE_NETDEV] = { "net/dev", PROC_LINE_MAX },
        [FILE_SNMP] = { "net/snmp", PROCFILE_WHOLE },
        [FILE_MOUNTINFO] = { "self/mountinfo", 0 },
        [FILE_FILESYSTEMS] = { "filesystems", PROCFILE_WHOLE },
        [FILE_CPUINFO] = { "cpuinfo", 0 },
};

/* One of two alternating samples: the current one is built while the
 * previous one still holds the counters it is compared with. A third holds
 * the readings taken between two (sampler_peek()). */
enum { SLOT_ASIDE = 2, _SLOT_MAX };

struct slot {
        struct sample s;
        size_t cpu_cap, mount_cap, disk_cap, iface_cap;
};

struct disk_class {
        unsigned major, minor;
        char name[PROCFS_DISK_NAME_MAX];
        bool counted;
};

struct user {
        uid_t uid;
        char name[SAMPLE_USERNAME_MAX];
};

enum source {
        SOURCE_STAT,
        SOURCE_MEMINFO,
        SOURCE_LOADAVG,
        SOURCE_DISKSTATS,
        SOURCE_NETDEV,
        SOURCE_SNMP,
        SOURCE_MOUNTINFO,
        SOURCE_PROCESSES,
        SOURCE_SYS,
};

static const char *const source_name[] = {
        [SOURCE_STAT] = "/proc/stat",
        [SOURCE_MEMINFO] = "/proc/meminfo",
        [SOURCE_LOADAVG] = "/proc/loadavg",
        [SOURCE_DISKSTATS] = "/proc/diskstats",
        [SOURCE_NETDEV] = "/proc/net/dev",
        [SOURCE_SNMP] = "/proc/net/snmp",
        [SOURCE_MOUNTINFO] = "/proc/self/mountinfo",
        [SOURCE_PROCESSES] = "the process list in /proc",
        [SOURCE_SYS] = "/sys/block",
};

struct sampler {
        int proc_fd, sys_fd;
        char root[PATH_MAX]; /* "" for the real root */
        long page_size, clk_tck;

        struct slot slots[_SLOT_MAX];
        unsigned cur; /* 0 or 1: the slot holding the newest numbered reading */
        bool have_reading;
        uint64_t seq;

        struct procfile files[_FILE_MAX];
        /* The filesystems to report, chosen from mountinfo; the strings
         * point into its buffer. Chosen again only when the mount table
         * changes, which the kernel signals by poll(). */
        struct mountinfo *mounts;
        size_t n_mounts, mounts_cap;
        bool mounts_known, mountinfo_pollable;
        struct sample_process candidates[TOP_CANDIDATES];
        size_t n_candidates;
        struct proccache procs;
        /* Listing only the new processes (proccache_listing_from()): only
         * on the real /proc of our own pid namespace. d_off of a pid's
         * entry in the listing is pid_offset plus the next pid, so a seek
         * to pid_offset + pid lists from pid on; -1 until a listing showed
         * it. readings[] belong to the last two scans that saw everything
         * they listed (n_readings of them). */
        bool partial_ok, forks_known;
        uint64_t forks;
        off_t pid_offset;
        struct proc_reading readings[2];
        unsigned n_readings, partial_in_a_row;
        unsigned scans, full_scans;
        union {
                struct dirent64 align; /* getdents64() wants it aligned like this */
                char data[16384];
        } dents;

        double frequency_mhz;
        uint64_t cpuinfo_read_usec;

        struct disk_class disks[DISKS_CACHED];
        size_t n_disks, next_disk;

        struct user users[USERS_CACHED];
        size_t n_users, next_user;

        unsigned warned; /* bit per source: its failure was logged */
};

/* ---- pure helpers ------------------------------------------------------- */

uint64_t counter_delta(uint64_t prev, uint64_t cur) {
        if (cur >= prev)
                return cur - prev;
        if (prev <= UINT32_MAX && prev - cur > (UINT64_C(1) << 31))
                return (UINT64_C(1) << 32) - prev + cur;
        return cur;
}

static uint64_t mode_delta(uint64_t prev, uint64_t cur) {
        return cur > prev ? cur - prev : 0;
}

double cpu_busy_percent(const struct cpu_times *a, const struct cpu_times *b) {
        /* guest and guest_nice are part of user and nice already. */
        uint64_t idle = mode_delta(a->idle, b->idle) + mode_delta(a->iowait, b->iowait);
        uint64_t busy = mode_delta(a->user, b->user) + mode_delta(a->nice, b->nice) +
                        mode_delta(a->system, b->system) + mode_delta(a->irq, b->irq) +
                        mode_delta(a->softirq, b->softirq) + mode_delta(a->steal, b->steal);

        if (busy + idle == 0)
                return 0.0;
        return 100.0 * (double) busy / (double) (busy + idle);
}

bool sample_top_qualifies(const struct sample_process *top, size_t n, size_t max, uint64_t rss) {
        return max > 0 && (n < max || rss > top[n - 1].rss);
}

void sample_top_insert(struct sample_process *top, size_t *n, size_t max, const struct sample_process *p) {
        size_t i;

        if (!sample_top_qualifies(top, *n, max, p->rss))
                return;
        i = *n < max ? (*n)++ : max - 1;
        for (; i > 0 && top[i - 1].rss < p->rss; i--)
                top[i] = top[i - 1];
        top[i] = *p;
}

/* ---- reading ------------------------------------------------------------ */

static int file_open(struct sampler *s, enum file f) {
        int r = procfile_open(&s->files[f], s->proc_fd, file_info[f].path);

        if (r > 0 && f == FILE_MOUNTINFO) {
                struct statfs sf;

                /* Only the real file tells of mount table changes; a copy
                 * in a test tree is read every time. */
                s->mountinfo_pollable = fstatfs(s->files[f].fd, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
                s->mounts_known = false;
        }
        return r;
}

/* The whole file, NUL-terminated, in s->files[f].data. */
static ssize_t file_read(struct sampler *s, enum file f) {
        int r = file_open(s, f);

        return r < 0 ? r : procfile_read(&s->files[f]);
}

static void source_failed(struct sampler *s, enum source src, int r) {
        if (s->warned & (1u << src))
                return;
        s->warned |= 1u << src;
        log_warning_errno(r, "Cannot read %s%s%s, its fields stay at zero: %m", source_name[src],
                          s->root[0] ? " under " : "", s->root);
}

static void source_ok(struct sampler *s, enum source src) {
        if (s->warned & (1u << src)) {
                s->warned &= ~(1u << src);
                log_info("Reading %s works again", source_name[src]);
        }
}

/* ---- one reading -------------------------------------------------------- */

static const struct sample_cpu *cpu_find(const struct sample *prev, size_t *hint, unsigned id) {
        /* Both lists are in ascending CPU order, so a moving hint makes the
         * match linear overall even when CPUs come and go. */
        for (; *hint < prev->cpu.n_cpu; (*hint)++) {
                if (prev->cpu.per_cpu[*hint].id == id)
                        return &prev->cpu.per_cpu[*hint];
                if (prev->cpu.per_cpu[*hint].id > id)
                        break;
        }
        return NULL;
}

static int read_cpu(struct sampler *s, struct slot *cur, const struct sample *prev) {
        struct sample *x = &cur->s;
        const char *p;
        struct stat_cpu c;
        size_t hint = 0;
        ssize_t n;
        int r;

        s->forks_known = false;
        n = file_read(s, FILE_STAT);
        if (n < 0)
                return (int) n;
        if (s->partial_ok) {
                struct stat_counters sc = { 0 };

                s->forks_known = procfs_parse_stat_counters(s->files[FILE_STAT].data, &sc) >= 0;
                s->forks = sc.processes;
        }
        p = s->files[FILE_STAT].data;
        while ((r = procfs_stat_next_cpu(&p, &c)) != 0) {
                if (r < 0)
                        continue;
                if (c.cpu == PROCFS_CPU_ALL) {
                        x->cpu.times = c.t;
                        if (prev)
                                x->cpu.usage_percent = cpu_busy_percent(&prev->cpu.times, &c.t);
                        continue;
                }
                if (GROW(x->cpu.per_cpu, cur->cpu_cap, x->cpu.n_cpu + 1, 8) < 0)
                        return -ENOMEM;
                struct sample_cpu *sc = &x->cpu.per_cpu[x->cpu.n_cpu++];
                const struct sample_cpu *pc = prev ? cpu_find(prev, &hint, c.cpu) : NULL;
                /* A CPU that just came online has nothing to compare with. */
                *sc = (struct sample_cpu){
                        .id = c.cpu,
                        .times = c.t,
                        .usage_percent = pc ? cpu_busy_percent(&pc->times, &c.t) : 0.0,
                };
        }
        return 0;
}

static int read_loadavg(struct sampler *s, struct sample *x) {
        ssize_t n = file_read(s, FILE_LOADAVG);

        if (n < 0)
                return (int) n;
        return procfs_parse_loadavg(s->files[FILE_LOADAVG].data, &x->cpu.load);
}

static int read_memory(struct sampler *s, struct sample *x) {
        ssize_t n = file_read(s, FILE_MEMINFO);

        if (n < 0)
                return (int) n;
        return procfs_parse_meminfo(s->files[FILE_MEMINFO].data, &x->memory);
}

static void read_frequency(struct sampler *s, struct sample *x) {
        /* /proc/cpuinfo costs about 15 µs per CPU to produce: fine every
         * now and then, not on every tick of a large machine. */
        if (s->cpuinfo_read_usec == 0 || x->monotonic_usec - s->cpuinfo_read_usec >= CPUINFO_EVERY_USEC) {
                double mhz;

                s->cpuinfo_read_usec = x->monotonic_usec;
                if (file_read(s, FILE_CPUINFO) >= 0 &&
                    procfs_parse_cpuinfo_mhz(s->files[FILE_CPUINFO].data, &mhz) >= 0)
                        s->frequency_mhz = mhz;
                else
                        s->frequency_mhz = 0.0;
        }
        x->cpu.frequency_mhz = s->frequency_mhz;
}

/* Whole physical disks only: partitions have no /sys/block entry, and
 * loop, ram, zram, device-mapper and md devices have no "device" behind
 * them (summing dm-0 with the disk under it would count its I/O twice).
 * The answer is cached: it takes a system call and hardly ever changes. */
static bool disk_counted(struct sampler *s, const struct diskstat *d) {
        char name[PROCFS_DISK_NAME_MAX], path[PROCFS_DISK_NAME_MAX + 32];
        struct disk_class *c;

        for (size_t i = 0; i < s->n_disks; i++) {
                c = &s->disks[i];
                if (c->major == d->major && c->minor == d->minor && streq(c->name, d->name))
                        return c->counted;
        }
        if (s->n_disks < DISKS_CACHED)
                c = &s->disks[s->n_disks++];
        else
                c = &s->disks[s->next_disk++ % DISKS_CACHED];
        *c = (struct disk_class){ .major = d->major, .minor = d->minor };
        snprintf(c->name, sizeof c->name, "%s", d->name);
        /* "cciss/c0d0" in diskstats is "cciss!c0d0" in sysfs. */
        snprintf(name, sizeof name, "%s", d->name);
        for (char *q = name; *q; q++)
                if (*q == '/')
                        *q = '!';
        snprintf(path, sizeof path, "block/%s/device", name);
        c->counted = faccessat(s->sys_fd, path, F_OK, 0) == 0;
        return c->counted;
}

static int read_disks(struct sampler *s, struct slot *cur, const struct sample *prev, double window) {
        struct sample *x = &cur->s;
        uint64_t rd = 0, wr = 0, rops = 0, wops = 0;
        struct diskstat d;
        const char *p;
        ssize_t n;
        int r;

        n = file_read(s, FILE_DISKSTATS);
        if (n < 0)
                return (int) n;
        if (s->sys_fd < 0)
                source_failed(s, SOURCE_SYS, -ENOENT);
        p = s->files[FILE_DISKSTATS].data;
        while ((r = procfs_diskstats_next(&p, &d)) != 0) {
                if (r < 0 || s->sys_fd < 0 || !disk_counted(s, &d))
                        continue;
                if (GROW(x->disk.disks, cur->disk_cap, x->disk.n_disks + 1, 8) < 0)
                        return -ENOMEM;
                size_t i = x->disk.n_disks++;
                struct sample_disk *sd = &x->disk.disks[i];
                memcpy(sd->name, d.name, sizeof sd->name); /* arrays of one size */
                sd->read_bytes = d.sectors_read * DISKSTAT_SECTOR;
                sd->written_bytes = d.sectors_written * DISKSTAT_SECTOR;
                sd->reads = d.reads;
                sd->writes = d.writes;
                if (!prev)
                        continue;
                /* Same position first: the order hardly ever changes. A disk
                 * that was not there before adds nothing yet. */
                for (size_t k = 0; k < prev->disk.n_disks; k++) {
                        const struct sample_disk *pd = &prev->disk.disks[(i + k) % prev->disk.n_disks];
                        if (streq(pd->name, sd->name)) {
                                rd += counter_delta(pd->read_bytes, sd->read_bytes);
                                wr += counter_delta(pd->written_bytes, sd->written_bytes);
                                rops += counter_delta(pd->reads, sd->reads);
                                wops += counter_delta(pd->writes, sd->writes);
                                break;
                        }
                }
        }
        if (window > 0) {
                x->disk.read_bytes_per_sec = (double) rd / window;
                x->disk.write_bytes_per_sec = (double) wr / window;
                x->disk.reads_per_sec = (double) rops / window;
                x->disk.writes_per_sec = (double) wops / window;
        }
        return 0;
}

static int read_network(struct sampler *s, struct slot *cur, const struct sample *prev, double window) {
        struct sample *x = &cur->s;
        uint64_t rx = 0, tx = 0;
        struct netdev d;
        const char *p;
        ssize_t n;
        int r;

        n = file_read(s, FILE_NETDEV);
        if (n < 0)
                return (int) n;
        p = s->files[FILE_NETDEV].data;
        while ((r = procfs_netdev_next(&p, &d)) != 0) {
                /* Every network namespace names its loopback "lo". */
                if (r < 0 || streq(d.name, "lo"))
                        continue;
                if (GROW(x->network.ifaces, cur->iface_cap, x->network.n_ifaces + 1, 8) < 0)
                        return -ENOMEM;
                size_t i = x->network.n_ifaces++;
                x->network.ifaces[i] = d;
                x->network.rx_packets += d.rx_packets;
                x->network.tx_packets += d.tx_packets;
                if (!prev)
                        continue;
                for (size_t k = 0; k < prev->network.n_ifaces; k++) {
                        const struct netdev *pd = &prev->network.ifaces[(i + k) % prev->network.n_ifaces];
                        if (streq(pd->name, d.name)) {
                                rx += counter_delta(pd->rx_bytes, d.rx_bytes);
                                tx += counter_delta(pd->tx_bytes, d.tx_bytes);
                                break;
                        }
                }
        }
        if (window > 0) {
                x->network.rx_bytes_per_sec = (double) rx / window;
                x->network.tx_bytes_per_sec = (double) tx / window;
        }
        return 0;
}

static int read_connections(struct sampler *s, struct sample *x) {
        ssize_t n = file_read(s, FILE_SNMP);

        if (n < 0)
                return (int) n;
        /* The TCP MIB is one per network namespace and IPv6 sockets count
         * in it too: /proc/net/snmp6 has no Tcp lines at all. */
        return procfs_parse_snmp(s->files[FILE_SNMP].data, "Tcp", "CurrEstab", &x->network.active_connections);
}

/* Read-only images (snap packages, live media) are always full and say
 * nothing about capacity; df-like tools leave them out as well. */
static bool fs_is_image(const char *fstype) {
        return streq(fstype, "squashfs") || streq(fstype, "erofs") || streq(fstype, "iso9660");
}

static bool mount_wanted(const struct sampler *s, const struct mountinfo *m) {
        if (streq(m->mount_point, "/"))
                return true;
        return !fs_is_image(m->fstype) && procfs_fs_requires_device(s->files[FILE_FILESYSTEMS].data, m->fstype);
}

/* Where m goes in the list: a new entry, one it replaces, or NULL when it
 * is not reported. A filesystem mounted twice (bind mounts) is reported
 * once: under "/" if that is one of its mount points, else where its own
 * root is mounted, else where it was mounted first. A mount on top of an
 * earlier one at the same place hides it, so the later one replaces it.
 * The list has room for one more entry. */
static struct mountinfo *mount_place(struct sampler *s, const struct mountinfo *m) {
        for (size_t i = 0; i < s->n_mounts; i++) {
                struct mountinfo *o = &s->mounts[i];

                if (streq(o->mount_point, m->mount_point))
                        return o;
                if (o->major != m->major || o->minor != m->minor)
                        continue;
                if (streq(o->mount_point, "/"))
                        return NULL;
                if (streq(m->mount_point, "/") || (!streq(o->root, "/") && streq(m->root, "/")))
                        return o;
                return NULL;
        }
        return &s->mounts[s->n_mounts++];
}

static bool mounts_changed(struct sampler *s) {
        struct pollfd p = { .fd = s->files[FILE_MOUNTINFO].fd, .events = POLLPRI };

        if (!s->mounts_known || !s->mountinfo_pollable)
                return true;
        return poll(&p, 1, 0) > 0 && (p.revents & (POLLPRI | POLLERR));
}

static int choose_mounts(struct sampler *s) {
        struct mountinfo m;
        char *p;
        ssize_t n;
        int r;

        s->mounts_known = false;
        s->n_mounts = 0;
        /* A new filesystem type comes with a module loaded before a mount
         * of it, so this only needs reading again when the mounts change. */
        n = file_read(s, FILE_FILESYSTEMS);
        if (n < 0)
                return (int) n;
        n = file_read(s, FILE_MOUNTINFO);
        if (n < 0)
                return (int) n;
        p = s->files[FILE_MOUNTINFO].data;
        while ((r = procfs_mountinfo_next(&p, &m)) != 0) {
                struct mountinfo *o;

                if (r < 0 || !mount_wanted(s, &m))
                        continue;
                if (GROW(s->mounts, s->mounts_cap, s->n_mounts + 1, 8) < 0)
                        return -ENOMEM;
                o = mount_place(s, &m);
                if (o)
                        *o = m;
        }
        s->mounts_known = true;
        return 0;
}

static int read_mounts(struct sampler *s, struct slot *cur) {
        struct sample *x = &cur->s;
        int r;

        r = file_open(s, FILE_MOUNTINFO);
        if (r < 0)
                return r;
        if (mounts_changed(s)) {
                r = choose_mounts(s);
                if (r < 0)
                        return r;
        }
        if (GROW(x->disk.mounts, cur->mount_cap, s->n_mounts, 8) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_mounts; i++) {
                const struct mountinfo *m = &s->mounts[i];
                struct sample_mount *o = &x->disk.mounts[x->disk.n_mounts];
                char path[PATH_MAX];
                struct statvfs v;

                if (snprintf(path, sizeof path, "%s%s", s->root, m->mount_point) >= (int) sizeof path)
                        continue;
                /* A mount point that is gone or hidden from us is skipped,
                 * not reported as an empty disk. */
                if (statvfs(path, &v) < 0 || v.f_blocks == 0)
                        continue;
                x->disk.n_mounts++;
                *o = (struct sample_mount){
                        .mount_point = m->mount_point,
                        .root = m->root,
                        .device = m->source,
                        .fstype = m->fstype,
                        .major = m->major,
                        .minor = m->minor,
                        .total = (uint64_t) v.f_blocks * v.f_frsize,
                        .free = (uint64_t) v.f_bfree * v.f_frsize,
                        .avail = (uint64_t) v.f_bavail * v.f_frsize,
                };
                o->used = o->total > o->free ? o->total - o->free : 0;
                o->usage_percent = o->used + o->avail > 0 ? 100.0 * (double) o->used / (double) (o->used + o->avail)
                                                          : 0.0;
        }
        return 0;
}

static void lookup_user(struct sampler *s, struct sample_process *p) {
        char buf[4096];
        struct passwd pw, *res = NULL;
        struct user *u;

        for (size_t i = 0; i < s->n_users; i++)
                if (s->users[i].uid == p->uid) {
                        memcpy(p->username, s->users[i].name, sizeof p->username);
                        return;
                }
        /* Only new owners reach NSS, which may be slow (LDAP, sssd). */
        u = s->n_users < USERS_CACHED ? &s->users[s->n_users++] : &s->users[s->next_user++ % USERS_CACHED];
        u->uid = p->uid;
        if (getpwuid_r(p->uid, &pw, buf, sizeof buf, &res) == 0 && res && strlen(res->pw_name) < sizeof u->name)
                snprintf(u->name, sizeof u->name, "%s", res->pw_name);
        else
                snprintf(u->name, sizeof u->name, "%u", (unsigned) p->uid);
        memcpy(p->username, u->name, sizeof p->username);
}

static bool parse_pid(const char *name, pid_t *ret) {
        long v = 0;

        if (!*name)
                return false;
        for (const char *c = name; *c; c++) {
                if (*c < '0' || *c > '9' || v > 100000000)
                        return false;
                v = v * 10 + (*c - '0');
        }
        if (v <= 0)
                return false;
        *ret = (pid_t) v;
        return true;
}

/* A top process's CPU, from its stat st read just now: its utime + stime
 * since the last tick it was read (docs/telemetry-stream.md, "Fields"); the
 * first time, since it started, as ps counts it. Only the processes that
 * have been among the top ones are read, so the scan of all the others
 * stays at one statm each. */
static double process_cpu_percent(struct sampler *s, struct proc_entry *e, const struct pid_stat *st) {
        long hz = s->clk_tck;
        uint64_t now = now_usec(CLOCK_BOOTTIME), ticks = st->utime + st->stime;
        double pct;

        if (hz <= 0)
                return NAN;
        if (e && e->has_cpu)
                pct = proccache_cpu_percent(e->cpu_ticks, e->cpu_usec, ticks, now, hz);
        else
                pct = proccache_cpu_percent(0, st->starttime * 1000000ULL / (uint64_t) hz, ticks, now, hz);
        if (e) {
                e->has_cpu = true;
                e->cpu_ticks = ticks;
                e->cpu_usec = now;
        }
        return pct;
}

/* p's stat into st, naming and timing p from it. */
static int read_stat(struct sampler *s, struct proc_entry *e, struct sample_process *p, struct pid_stat *st) {
        char buf[1024];

        if (proccache_read(&s->procs, e, p->pid, PROC_FILE_STAT, s->proc_fd, buf, sizeof buf) < 0 ||
            procfs_parse_pid_stat(buf, st) < 0)
                return -ESRCH;
        memcpy(p->name, st->comm, sizeof p->name);
        p->cpu_percent = process_cpu_percent(s, e, st);
        return 0;
}

/* A process whose stat is kept open made the top ones at some sample and
 * was still among the candidates at the last (struct proc_entry): the scan
 * reads that instead of its statm. */
static bool stat_kept(const struct proc_entry *e) {
        return e && e->stat_fd >= 0;
}

/* pid's memory into p and *size (its address space, 0 for none): from its
 * statm, or from its stat when one is kept open, which also names and
 * times it. */
static int read_memory_of(struct sampler *s, struct proc_entry *e, struct sample_process *p, uint64_t *size) {
        if (stat_kept(e)) {
                struct pid_stat st;

                if (read_stat(s, e, p, &st) < 0)
                        return -ESRCH;
                *size = st.vsize;
                p->rss = st.rss * (uint64_t) s->page_size;
        } else {
                struct statm m;
                char buf[256];

                if (proccache_read(&s->procs, e, p->pid, PROC_FILE_STATM, s->proc_fd, buf, sizeof buf) < 0 ||
                    procfs_parse_statm(buf, &m) < 0)
                        return -ESRCH;
                *size = m.size;
                p->rss = m.resident * (uint64_t) s->page_size;
        }
        return 0;
}

/* listed: the listing of /proc showed it; else it is one the cache knew,
 * which may have gone since (proccache_listing_from()). false when it could
 * not be remembered, which makes the next scan list everything. */
static bool scan_process(struct sampler *s, struct sample *x, pid_t pid, uint64_t ino, bool listed) {
        struct proc_entry *e = proccache_visit(&s->procs, pid, ino);
        struct sample_process p = { .pid = pid };
        uint64_t size;

        if (e && e->empty) {
                /* Asked only when its pidfd did not say it runs: the
                 * cheapest question about a pid (no audit, unlike
                 * kill(pid, 0)). A zombie still answers. */
                if (!listed && e->exited && getpgid(pid) < 0 && errno == ESRCH) {
                        proccache_drop_last(&s->procs);
                        return true;
                }
                x->processes.count++;
                return true;
        }
        /* A process that exits between readdir and here is simply not
         * counted: ENOENT before the open, ESRCH after it. */
        if (read_memory_of(s, e, &p, &size) < 0) {
                if (e)
                        proccache_drop_last(&s->procs);
                return e != NULL;
        }
        x->processes.count++;
        if (size == 0) {
                if (e)
                        proccache_set_empty(&s->procs, e, s->partial_ok);
                return e != NULL;
        }
        sample_top_insert(s->candidates, &s->n_candidates, TOP_CANDIDATES, &p);
        return e != NULL;
}

/* Names, times and owners only for those that made the list: one read of
 * stat gives the name and the times, unless the scan read it already. The
 * owner, the process's effective uid, is /proc/<pid>'s, which the kernel
 * refreshes when the path is looked up, not for a file kept open. One that
 * has exited since its statm was read cannot be named and gives its place
 * up. Those that fell below the candidates go back to their statm. */
static void name_top(struct sampler *s, struct sample *x) {
        pid_t keep[TOP_CANDIDATES];

        for (size_t i = 0; i < s->n_candidates && x->processes.n_top < SAMPLE_TOP_PROCESSES; i++) {
                struct sample_process *p = &s->candidates[i];
                struct proc_entry *e = proccache_lookup(&s->procs, p->pid);
                struct pid_stat ps;
                char dir[16];
                struct stat st;

                /* A stat kept open was read by the scan just now. */
                if (!stat_kept(e) && read_stat(s, e, p, &ps) < 0)
                        continue;
                snprintf(dir, sizeof dir, "%d", (int) p->pid);
                if (fstatat(s->proc_fd, dir, &st, 0) < 0)
                        continue;
                p->uid = st.st_uid;
                p->memory_percent = x->memory.total ? 100.0 * (double) p->rss / (double) x->memory.total : 0.0;
                lookup_user(s, p);
                x->processes.top[x->processes.n_top++] = *p;
        }
        /* The candidates below the top keep a stat they have: two
         * processes trading the last place every tick would otherwise
         * open a stat and a statm again each time. */
        for (size_t i = 0; i < s->n_candidates; i++)
                keep[i] = s->candidates[i].pid;
        proccache_close_stat_except(&s->procs, keep, s->n_candidates);
}

/* The kept descriptors take at most a quarter of the open-file limit,
 * leaving the rest to the server we run in. The limit can be lowered under
 * us (prlimit): it is looked at on each scan that lists every process, at
 * least every PROCCACHE_FULL_LISTING_EVERY scans, and running out of
 * descriptors in between lowers the cap at once (proccache_read()). */
static void cap_kept_fds(struct sampler *s) {
        struct rlimit rl;
        size_t max = STATM_FDS_KEPT;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur / 4 < max)
                max = (size_t) (rl.rlim_cur / 4);
        proccache_set_max(&s->procs, max);
}

/* This tick's reading of the pid counters (/proc/stat and /proc/loadavg,
 * read before the scan), and the lowest pid the scan must list (0: all),
 * with proccache_listing_from(). */
static pid_t listing_from(struct sampler *s, const struct sample *x, struct proc_reading *now) {
        pid_t from;

        if (!s->partial_ok || !s->forks_known || x->cpu.load.last_pid == 0 || x->cpu.load.last_pid > INT32_MAX) {
                s->n_readings = 0;
                return 0;
        }
        *now = (struct proc_reading){
                .forks = s->forks,
                .last_pid = (pid_t) x->cpu.load.last_pid,
                .threads = x->cpu.load.total,
        };
        if (s->n_readings < 2 || s->pid_offset < 0) /* unknown or none */
                return 0;
        from = proccache_listing_from((const struct proc_reading[]){ s->readings[0], s->readings[1], *now },
                                      s->partial_in_a_row);
        return from;
}

static int read_processes(struct sampler *s, struct sample *x) {
        struct proc_reading now = { 0 };
        pid_t from, prev_pid = 0;
        off_t prev_off = -1;
        bool complete = true;
        int r = 0;

        s->n_candidates = 0;
        from = listing_from(s, x, &now);
        if (from == 0)
                cap_kept_fds(s);
        if (from != PROCCACHE_LIST_NONE && lseek(s->proc_fd, from > 0 ? s->pid_offset + from : 0, SEEK_SET) < 0)
                return negative_errno();
        s->scans++;
        if (from > 0)
                s->partial_in_a_row++;
        else {
                s->partial_in_a_row = 0;
                s->full_scans++;
        }
        proccache_begin(&s->procs);
        /* from > 0: listing_from() had the readings of the last two scans. */
        if (from > 0 && proccache_none_reaped((const struct proc_reading[]){ s->readings[1], now }))
                proccache_keep_empty(&s->procs, from);
        else if (from > 0)
                proccache_poll_empty(&s->procs, from);
        /* Those the listing will not show, in pid order like the listing:
         * proccache_visit() moves each out of cur, which stays in place. */
        for (size_t i = 0; i < s->procs.n_cur && s->procs.cur[i].pid < from; i++)
                complete &= scan_process(s, x, s->procs.cur[i].pid, s->procs.cur[i].ino, false);
        while (from != PROCCACHE_LIST_NONE) {
                ssize_t n = getdents64(s->proc_fd, s->dents.data, sizeof s->dents.data);

                if (n < 0) {
                        r = negative_errno();
                        break;
                }
                if (n == 0)
                        break;
                for (ssize_t off = 0; off < n;) {
                        struct dirent64 *d = (struct dirent64 *) (s->dents.data + off);
                        pid_t pid;

                        off += d->d_reclen;
                        if (!parse_pid(d->d_name, &pid)) {
                                prev_pid = 0;
                                continue;
                        }
                        /* Learnt from a whole listing: every pair of pids
                         * in a row must agree on it, or it is never used. */
                        if (from == 0 && prev_pid > 0 && s->pid_offset != PID_OFFSET_NONE) {
                                off_t o = prev_off - pid;

                                if (o < 0 || (s->pid_offset >= 0 && s->pid_offset != o))
                                        s->pid_offset = PID_OFFSET_NONE;
                                else
                                        s->pid_offset = o;
                        }
                        prev_pid = pid;
                        prev_off = d->d_off;
                        /* A seek that lands lower would count some twice. */
                        if (pid < from)
                                continue;
                        complete &= scan_process(s, x, pid, d->d_ino, true);
                }
        }
        /* After a failed listing too: the processes not seen are opened
         * again next time, none is leaked. */
        proccache_end(&s->procs);
        if (r < 0 || !complete || now.last_pid == 0)
                s->n_readings = 0;
        else {
                s->readings[0] = s->readings[1];
                s->readings[1] = now;
                if (s->n_readings < 2)
                        s->n_readings++;
        }
        if (r < 0)
                return r;
        name_top(s, x);
        return 0;
}

unsigned sampler_full_listings(const struct sampler *s, unsigned *scans) {
        if (scans)
                *scans = s->scans;
        return s->full_scans;
}

static void collect(struct sampler *s, struct slot *cur) {
        const struct sample *prev = s->have_reading ? &s->slots[s->cur].s : NULL;
        struct sample *x = &cur->s;
        double window = 0.0;
        int r;

        /* Keep the arrays, forget the values. */
        *x = (struct sample){
                .cpu.per_cpu = x->cpu.per_cpu,
                .disk.mounts = x->disk.mounts,
                .disk.disks = x->disk.disks,
                .network.ifaces = x->network.ifaces,
        };
        x->monotonic_usec = now_usec(CLOCK_MONOTONIC);
        x->realtime_usec = now_usec(CLOCK_REALTIME);
        if (prev && x->monotonic_usec > prev->monotonic_usec) {
                x->window_usec = x->monotonic_usec - prev->monotonic_usec;
                window = (double) x->window_usec / USEC_PER_SEC;
        } else
                prev = NULL;

#define SOURCE(src, call)                                 \
        do {                                              \
                r = (call);                               \
                if (r < 0)                                \
                        source_failed(s, (src), r);       \
                else                                      \
                        source_ok(s, (src));              \
        } while (0)

        SOURCE(SOURCE_STAT, read_cpu(s, cur, prev));
        read_frequency(s, x);
        SOURCE(SOURCE_LOADAVG, read_loadavg(s, x));
        SOURCE(SOURCE_MEMINFO, read_memory(s, x));
        SOURCE(SOURCE_DISKSTATS, read_disks(s, cur, prev, window));
        SOURCE(SOURCE_MOUNTINFO, read_mounts(s, cur));
        SOURCE(SOURCE_NETDEV, read_network(s, cur, prev, window));
        SOURCE(SOURCE_SNMP, read_connections(s, x));
        SOURCE(SOURCE_PROCESSES, read_processes(s, x));
#undef SOURCE

        x->duration_usec = now_usec(CLOCK_MONOTONIC) - x->monotonic_usec;
}

int sampler_prime(struct sampler *s) {
        collect(s, &s->slots[s->cur ^ 1]);
        s->cur ^= 1;
        s->have_reading = true;
        return 0;
}

int sampler_take(struct sampler *s, const struct sample **ret) {
        sampler_prime(s);
        s->slots[s->cur].s.seq = ++s->seq;
        *ret = &s->slots[s->cur].s;
        return 0;
}

int sampler_peek(struct sampler *s, const struct sample **ret) {
        collect(s, &s->slots[SLOT_ASIDE]);
        s->slots[SLOT_ASIDE].s.seq = s->seq;
        *ret = &s->slots[SLOT_ASIDE].s;
        return 0;
}

/* Listing only the new processes needs the real /proc of our own pid
 * namespace (the last pid in /proc/loadavg is the reader's), and a pid_max
 * far above the forks after which everything is listed. */
static bool proc_is_ours(int proc_fd) {
        char self[16], want[16], buf[32];
        struct statfs sf;
        int64_t pid_max;
        ssize_t n;

        if (fstatfs(proc_fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
                return false;
        n = readlinkat(proc_fd, "self", self, sizeof self - 1);
        if (n < 0)
                return false;
        self[n] = '\0';
        snprintf(want, sizeof want, "%d", (int) getpid());
        if (!streq(self, want))
                return false;
        if (read_once_at(proc_fd, "sys/kernel/pid_max", buf, sizeof buf) < 0 ||
            procfs_parse_numbers(buf, &pid_max, 1) < 0)
                return false;
        return pid_max > 16 * PROCCACHE_PARTIAL_FORKS_MAX;
}

int sampler_new(const char *root, struct sampler **ret) {
        _cleanup_free_ struct sampler *s = NULL;
        char path[PATH_MAX];

        if (!root || streq(root, "/"))
                root = "";
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        snprintf(s->root, sizeof s->root, "%s", root);
        s->page_size = sysconf(_SC_PAGESIZE);
        s->clk_tck = sysconf(_SC_CLK_TCK);
        s->sys_fd = -1;
        for (size_t i = 0; i < ELEMENTSOF(s->files); i++) {
                s->files[i] = PROCFILE_NULL;
                s->files[i].record_max = file_info[i].record_max;
        }

        snprintf(path, sizeof path, "%s/proc", root);
        s->proc_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->proc_fd < 0)
                return negative_errno();
        s->pid_offset = PID_OFFSET_UNKNOWN;
        s->partial_ok = !root[0] && proc_is_ours(s->proc_fd);
        snprintf(path, sizeof path, "%s/sys", root);
        /* Without /sys (some containers) disks cannot be told from
         * partitions; that only costs disk_io, so it is not fatal. */
        s->sys_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        /* Room for the kept descriptors to be a quarter of the
         * limit (cap_kept_fds()). */
        fd_limit_reserve(4 * STATM_FDS_KEPT);
        proccache_init(&s->procs, 0);
        *ret = TAKE_PTR(s);
        return 0;
}

void sampler_free(struct sampler *s) {
        if (!s)
                return;
        for (size_t i = 0; i < ELEMENTSOF(s->slots); i++) {
                struct slot *sl = &s->slots[i];
                free(sl->s.cpu.per_cpu);
                free(sl->s.disk.mounts);
                free(sl->s.disk.disks);
                free(sl->s.network.ifaces);
        }
        for (size_t i = 0; i < ELEMENTSOF(s->files); i++)
                procfile_close(&s->files[i]);
        free(s->mounts);
        proccache_done(&s->procs);
        safe_close(s->proc_fd);
        safe_close(s->sys_fd);
        free(s);
}
