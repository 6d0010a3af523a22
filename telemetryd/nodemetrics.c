/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "exposition.h"
#include "fileio.h"
#include "grow.h"
#include "log.h"
#include "macro.h"
#include "nodemetrics.h"
#include "procfile.h"
#include "procfs.h"
#include "timeutil.h"

#define DISKSTAT_SECTOR 512
/* Interfaces whose sysfs attributes stay open between scrapes; a machine
 * with more (a container host's veths) opens the rest at each scrape. */
#define IFACES_KEPT 32

/* node_exporter's netdev collector leaves out "lo" (Debian's default
 * --collector.netdev.device-exclude), which netclass (node_network_up,
 * _info, _mtu_bytes...) keeps. */
#define NETDEV_EXCLUDE "lo"

enum file {
        F_STAT,
        F_MEMINFO,
        F_LOADAVG,
        F_DISKSTATS,
        F_NETDEV,
        F_NETSTAT,
        F_SNMP,
        F_SNMP6,
        F_SOCKSTAT,
        F_SOCKSTAT6,
        F_VMSTAT,
        F_FILE_NR,
        F_ENTROPY,
        F_POOLSIZE,
        F_CONNTRACK_COUNT,
        F_CONNTRACK_MAX,
        F_PRESSURE_CPU,
        F_PRESSURE_MEMORY,
        F_PRESSURE_IO,
        F_SOFTNET,
        F_ARP,
        F_SCHEDSTAT,
        F_SELF_STAT,
        F_MOUNTINFO,
        _F_MAX,
};

/* Relative to /proc. An optional file is one a kernel may lack (no IPv6,
 * no conntrack module, PSI or schedstats not built in): its families are
 * left out without a word, as node_exporter does. */
static const struct {
        const char *path;
        bool optional;
} files[_F_MAX] = {
        [F_STAT] = { "stat" },
        [F_MEMINFO] = { "meminfo" },
        [F_LOADAVG] = { "loadavg" },
        [F_DISKSTATS] = { "diskstats" },
        [F_NETDEV] = { "net/dev" },
        [F_NETSTAT] = { "net/netstat" },
        [F_SNMP] = { "net/snmp" },
        [F_SNMP6] = { "net/snmp6", true },
        [F_SOCKSTAT] = { "net/sockstat" },
        [F_SOCKSTAT6] = { "net/sockstat6", true },
        [F_VMSTAT] = { "vmstat" },
        [F_FILE_NR] = { "sys/fs/file-nr" },
        [F_ENTROPY] = { "sys/kernel/random/entropy_avail" },
        [F_POOLSIZE] = { "sys/kernel/random/poolsize" },
        [F_CONNTRACK_COUNT] = { "sys/net/netfilter/nf_conntrack_count", true },
        [F_CONNTRACK_MAX] = { "sys/net/netfilter/nf_conntrack_max", true },
        [F_PRESSURE_CPU] = { "pressure/cpu", true },
        [F_PRESSURE_MEMORY] = { "pressure/memory", true },
        [F_PRESSURE_IO] = { "pressure/io", true },
        [F_SOFTNET] = { "net/softnet_stat" },
        [F_ARP] = { "net/arp" },
        [F_SCHEDSTAT] = { "schedstat", true },
        [F_SELF_STAT] = { "self/stat" },
        [F_MOUNTINFO] = { "1/mountinfo" },
};

enum attr {
        A_OPERSTATE,
        A_CARRIER,
        A_MTU,
        A_SPEED,
        A_TX_QUEUE_LEN,
        A_ADDRESS,
        A_BROADCAST,
        A_DUPLEX,
        A_IFALIAS,
        _A_MAX,
};

static const char *const attr_name[_A_MAX] = {
        [A_OPERSTATE] = "operstate", [A_CARRIER] = "carrier",     [A_MTU] = "mtu",
        [A_SPEED] = "speed",         [A_TX_QUEUE_LEN] = "tx_queue_len", [A_ADDRESS] = "address",
        [A_BROADCAST] = "broadcast", [A_DUPLEX] = "duplex",       [A_IFALIAS] = "ifalias",
};

/* An interface's /sys/class/net/<name>/ attributes, kept open. */
struct iface_files {
        char name[PROCFS_IFNAME_MAX];
        int fd[_A_MAX];
};

/* A filesystem node_exporter would report; the strings point into the
 * mountinfo buffer, which is only read again when the mounts change. */
struct fs_mount {
        const char *device, *fstype, *mount_point;
        bool read_only;
};

struct fs_stat {
        uint64_t size, free, avail, files, files_free;
        bool error;
};

struct arp_count {
        char device[PROCFS_IFNAME_MAX];
        unsigned entries;
};

struct node_metrics {
        int proc_fd, net_class_fd, self_fd_fd;
        long page_size, hz;
        struct procfile files[_F_MAX];
        uint64_t warned; /* bit per file: its failure was logged */

        struct stat_cpu *cpus;
        size_t n_cpus, cpus_cap;
        struct diskstat *disks;
        size_t n_disks, disks_cap;
        struct netdev *ifaces;
        size_t n_ifaces, ifaces_cap;
        struct iface_files kept[IFACES_KEPT];
        size_t n_kept;
        struct fs_mount *mounts;
        size_t n_mounts, mounts_cap;
        struct fs_stat *fs;
        size_t fs_cap;
        bool mounts_known, mountinfo_pollable;
        struct softnet *softnet;
        size_t n_softnet, softnet_cap;
        struct schedstat_cpu *sched;
        size_t n_sched, sched_cap;
        struct arp_count *arp;
        size_t n_arp, arp_cap;
};

/* ---- which series: node_exporter's defaults ------------------------------
 * What it leaves out by default (its --collector.* flags, as Debian's
 * prometheus-node-exporter sets them), so that the same series exist. Its
 * patterns are matched by hand: compiled, they would take 130 KiB. */

static bool prefixed(const char *s, const char *prefix) {
        return strneq(s, prefix, strlen(prefix));
}

/* One or more digits and nothing after them. */
static bool digits(const char *s) {
        return *s && strspn(s, "0123456789") == strlen(s);
}

/* --collector.diskstats.device-exclude, ^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$:
 * partitions of the usual disks; RAM, loop and floppy devices. */
static bool disk_excluded(const char *name) {
        const char *p = NULL;

        if (prefixed(name, "ram") || prefixed(name, "loop") || prefixed(name, "fd"))
                return digits(name + (name[0] == 'l' ? 4 : name[0] == 'r' ? 3 : 2));
        if (prefixed(name, "xv"))
                p = name + 2;
        else if (name[0] == 'h' || name[0] == 's' || name[0] == 'v')
                p = name + 1;
        if (p && p[0] == 'd' && p[1] >= 'a' && p[1] <= 'z')
                return digits(p + 2);
        if (!prefixed(name, "nvme"))
                return false;
        /* nvme<digits>n<digits>p<digits> */
        p = name + 4;
        for (const char *sep = "np"; *sep; sep++) {
                size_t n = strspn(p, "0123456789");

                if (n == 0 || p[n] != *sep)
                        return false;
                p += n + 1;
        }
        return digits(p);
}

/* --collector.filesystem.mount-points-exclude,
 * ^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/) */
static bool mount_point_excluded(const char *mp) {
        static const char *const trees[] = { "/dev", "/proc", "/run", "/sys", "/mnt", "/media" };
        static const char *const below[] = { "/var/lib/docker/", "/var/lib/containers/storage/" };

        for (size_t i = 0; i < ELEMENTSOF(trees); i++) {
                size_t l = strlen(trees[i]);

                if (strneq(mp, trees[i], l) && (mp[l] == '\0' || mp[l] == '/'))
                        return true;
        }
        for (size_t i = 0; i < ELEMENTSOF(below); i++)
                if (prefixed(mp, below[i]) && mp[strlen(below[i])] != '\0')
                        return true;
        return false;
}

/* --collector.filesystem.fs-types-exclude: pseudo filesystems. */
static bool fstype_excluded(const char *fstype) {
        static const char *const pseudo[] = {
                "autofs",     "binfmt_misc", "bpf",      "cgroup",    "cgroup2",  "configfs",
                "debugfs",    "devpts",      "devtmpfs", "fusectl",   "hugetlbfs", "iso9660",
                "mqueue",     "nsfs",        "overlay",  "proc",      "procfs",   "pstore",
                "rpc_pipefs", "securityfs",  "selinuxfs", "squashfs", "sysfs",    "tracefs",
        };

        for (size_t i = 0; i < ELEMENTSOF(pseudo); i++)
                if (streq(fstype, pseudo[i]))
                        return true;
        return false;
}

/* ---- reading ------------------------------------------------------------ */

static bool absent(int r) {
        return r == -ENOENT || r == -ENODEV || r == -EOPNOTSUPP;
}

/* The whole file, or NULL when it cannot be read: logged once, unless it
 * is an optional file this kernel does not have. */
static const char *file_read(struct node_metrics *m, enum file f) {
        struct procfile *pf = &m->files[f];
        ssize_t n;
        int r;

        r = procfile_open(pf, m->proc_fd, files[f].path);
        /* The mounts as the system sees them, like node_exporter: ours may
         * be a sandbox's (systemd's ProtectSystem= shows every filesystem
         * read-only). Where /proc hides other processes, our own. */
        if (f == F_MOUNTINFO && (r == -EACCES || r == -EPERM || r == -ENOENT))
                r = procfile_open(pf, m->proc_fd, "self/mountinfo");
        if (r > 0 && f == F_MOUNTINFO) {
                struct statfs sf;

                m->mountinfo_pollable = fstatfs(pf->fd, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
                m->mounts_known = false;
        }
        n = r < 0 ? r : procfile_read(pf);
        if (n >= 0) {
                if (m->warned & (UINT64_C(1) << f)) {
                        m->warned &= ~(UINT64_C(1) << f);
                        log_info("Reading /proc/%s for /metrics works again", files[f].path);
                }
                return pf->data;
        }
        if (!(files[f].optional && absent((int) n)) && !(m->warned & (UINT64_C(1) << f))) {
                m->warned |= UINT64_C(1) << f;
                log_warning_errno((int) n, "Cannot read /proc/%s, /metrics goes without what it holds: %m",
                                  files[f].path);
        }
        return NULL;
}

/* One number file (entropy_avail, nf_conntrack_max...). */
static bool file_number(struct node_metrics *m, enum file f, int64_t *ret) {
        const char *buf = file_read(m, f);

        return buf && procfs_parse_numbers(buf, ret, 1) == 1;
}

/* ---- /proc/stat: cpu, stat ---------------------------------------------- */

static void cpu(struct node_metrics *m, FILE *f, const char *buf) {
        static const struct {
                const char *mode;
                size_t offset;
        } modes[] = {
                { "idle", offsetof(struct cpu_times, idle) },       { "iowait", offsetof(struct cpu_times, iowait) },
                { "irq", offsetof(struct cpu_times, irq) },         { "nice", offsetof(struct cpu_times, nice) },
                { "softirq", offsetof(struct cpu_times, softirq) }, { "steal", offsetof(struct cpu_times, steal) },
                { "system", offsetof(struct cpu_times, system) },   { "user", offsetof(struct cpu_times, user) },
        }, guest[] = {
                { "nice", offsetof(struct cpu_times, guest_nice) },
                { "user", offsetof(struct cpu_times, guest) },
        };
        const char *p = buf;
        struct stat_cpu c;
        int r;

        m->n_cpus = 0;
        while ((r = procfs_stat_next_cpu(&p, &c)) != 0) {
                if (r < 0 || c.cpu == PROCFS_CPU_ALL)
                        continue;
                if (GROW(m->cpus, m->cpus_cap, m->n_cpus + 1, 8) < 0)
                        break;
                m->cpus[m->n_cpus++] = c;
        }

        /* user and nice include the guest time, as the kernel counts it. */
        expo_family(f, "node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.");
        for (size_t i = 0; i < m->n_cpus; i++)
                for (size_t k = 0; k < ELEMENTSOF(modes); k++) {
                        fprintf(f, "node_cpu_seconds_total{cpu=\"%u\",mode=\"%s\"} ", m->cpus[i].cpu, modes[k].mode);
                        expo_ratio(f, *(const uint64_t *) ((const char *) &m->cpus[i].t + modes[k].offset),
                                   (uint64_t) m->hz);
                        fputc('\n', f);
                }
        expo_family(f, "node_cpu_guest_seconds_total", "counter",
                    "Seconds the CPUs spent in guests (VMs) for each mode.");
        for (size_t i = 0; i < m->n_cpus; i++)
                for (size_t k = 0; k < ELEMENTSOF(guest); k++) {
                        fprintf(f, "node_cpu_guest_seconds_total{cpu=\"%u\",mode=\"%s\"} ", m->cpus[i].cpu,
                                guest[k].mode);
                        expo_ratio(f, *(const uint64_t *) ((const char *) &m->cpus[i].t + guest[k].offset),
                                   (uint64_t) m->hz);
                        fputc('\n', f);
                }
}

static void stat_counters(FILE *f, const struct stat_counters *c) {
        expo_family(f, "node_boot_time_seconds", "gauge", "Node boot time, in unixtime.");
        fprintf(f, "node_boot_time_seconds %llu\n", (unsigned long long) c->btime);
        expo_family(f, "node_context_switches_total", "counter", "Total number of context switches.");
        fprintf(f, "node_context_switches_total %llu\n", (unsigned long long) c->ctxt);
        expo_family(f, "node_forks_total", "counter", "Total number of forks.");
        fprintf(f, "node_forks_total %llu\n", (unsigned long long) c->processes);
        expo_family(f, "node_intr_total", "counter", "Total number of interrupts serviced.");
        fprintf(f, "node_intr_total %llu\n", (unsigned long long) c->intr);
        expo_family(f, "node_procs_blocked", "gauge", "Number of processes blocked waiting for I/O to complete.");
        fprintf(f, "node_procs_blocked %llu\n", (unsigned long long) c->procs_blocked);
        expo_family(f, "node_procs_running", "gauge", "Number of processes in runnable state.");
        fprintf(f, "node_procs_running %llu\n", (unsigned long long) c->procs_running);
}

/* ---- loadavg, meminfo, vmstat ------------------------------------------- */

static void loadavg(FILE *f, const char *buf) {
        struct loadavg l;

        if (procfs_parse_loadavg(buf, &l) < 0)
                return;
        expo_family(f, "node_load1", "gauge", "1m load average.");
        fprintf(f, "node_load1 %.2f\n", l.load1);
        expo_family(f, "node_load5", "gauge", "5m load average.");
        fprintf(f, "node_load5 %.2f\n", l.load5);
        expo_family(f, "node_load15", "gauge", "15m load average.");
        fprintf(f, "node_load15 %.2f\n", l.load15);
}

static void meminfo(FILE *f, const char *buf) {
        const char *p = buf;
        struct meminfo_field mf;
        int r;

        while ((r = procfs_meminfo_next(&p, &mf)) != 0) {
                char key[sizeof mf.key], name[sizeof mf.key + 32], help[sizeof name + 32];
                size_t k = 0;

                if (r < 0)
                        continue;
                /* "Active(anon)" is node_memory_Active_anon_bytes. */
                for (const char *c = mf.key; *c; c++)
                        if (*c == '(')
                                key[k++] = '_';
                        else if (*c != ')')
                                key[k++] = *c;
                key[k] = '\0';
                snprintf(name, sizeof name, "node_memory_%s%s", key, mf.has_unit ? "_bytes" : "");
                snprintf(help, sizeof help, "Memory information field %s%s.", key, mf.has_unit ? "_bytes" : "");
                expo_family(f, name, "gauge", help);
                fprintf(f, "%s %llu\n", name, (unsigned long long) mf.value);
        }
}

/* node_exporter's default --collector.vmstat.fields,
 * ^(oom_kill|pgpg|pswp|pg.*fault).* */
static bool vmstat_wanted(const char *name) {
        return prefixed(name, "oom_kill") || prefixed(name, "pgpg") || prefixed(name, "pswp") ||
               (prefixed(name, "pg") && strstr(name + 2, "fault"));
}

static void vmstat(FILE *f, const char *buf) {
        const char *p = buf;
        struct vmstat_field v;
        int r;

        while ((r = procfs_vmstat_next(&p, &v)) != 0) {
                char name[sizeof v.name + 16], help[sizeof v.name + 48];

                if (r < 0 || !vmstat_wanted(v.name))
                        continue;
                snprintf(name, sizeof name, "node_vmstat_%s", v.name);
                snprintf(help, sizeof help, "/proc/vmstat information field %s.", v.name);
                expo_family(f, name, "untyped", help);
                fprintf(f, "%s %llu\n", name, (unsigned long long) v.value);
        }
}

/* ---- diskstats ---------------------------------------------------------- */

enum unit { U_COUNT, U_SECTORS, U_MS };

static void disks(struct node_metrics *m, FILE *f, const char *buf) {
        static const struct {
                const char *name, *type, *help;
                size_t offset;
                enum unit unit;
                unsigned columns; /* the line must have this many */
        } fields[] = {
#define D(field) offsetof(struct diskstat, field)
                { "reads_completed_total", "counter", "The total number of reads completed successfully.", D(reads),
                  U_COUNT, 11 },
                { "reads_merged_total", "counter", "The total number of reads merged.", D(reads_merged), U_COUNT, 11 },
                { "read_bytes_total", "counter", "The total number of bytes read successfully.", D(sectors_read),
                  U_SECTORS, 11 },
                { "read_time_seconds_total", "counter", "The total number of seconds spent by all reads.", D(read_ms),
                  U_MS, 11 },
                { "writes_completed_total", "counter", "The total number of writes completed successfully.",
                  D(writes), U_COUNT, 11 },
                { "writes_merged_total", "counter", "The number of writes merged.", D(writes_merged), U_COUNT, 11 },
                { "written_bytes_total", "counter", "The total number of bytes written successfully.",
                  D(sectors_written), U_SECTORS, 11 },
                { "write_time_seconds_total", "counter", "This is the total number of seconds spent by all writes.",
                  D(write_ms), U_MS, 11 },
                { "io_now", "gauge", "The number of I/Os currently in progress.", D(in_flight), U_COUNT, 11 },
                { "io_time_seconds_total", "counter", "Total seconds spent doing I/Os.", D(io_ms), U_MS, 11 },
                { "io_time_weighted_seconds_total", "counter", "The weighted # of seconds spent doing I/Os.",
                  D(weighted_io_ms), U_MS, 11 },
                { "discards_completed_total", "counter", "The total number of discards completed successfully.",
                  D(discards), U_COUNT, 15 },
                { "discards_merged_total", "counter", "The total number of discards merged.", D(discards_merged),
                  U_COUNT, 15 },
                { "discarded_sectors_total", "counter", "The total number of sectors discarded successfully.",
                  D(sectors_discarded), U_COUNT, 15 },
                { "discard_time_seconds_total", "counter",
                  "This is the total number of seconds spent by all discards.", D(discard_ms), U_MS, 15 },
                { "flush_requests_total", "counter", "The total number of flush requests completed successfully",
                  D(flushes), U_COUNT, 17 },
                { "flush_requests_time_seconds_total", "counter",
                  "This is the total number of seconds spent by all flush requests.", D(flush_ms), U_MS, 17 },
#undef D
        };
        const char *p = buf;
        struct diskstat d;
        int r;

        m->n_disks = 0;
        while ((r = procfs_diskstats_next(&p, &d)) != 0) {
                if (r < 0 || d.columns < 11 || disk_excluded(d.name))
                        continue;
                if (GROW(m->disks, m->disks_cap, m->n_disks + 1, 8) < 0)
                        break;
                m->disks[m->n_disks++] = d;
        }
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                char name[64];

                snprintf(name, sizeof name, "node_disk_%s", fields[i].name);
                expo_family(f, name, fields[i].type, fields[i].help);
                for (size_t k = 0; k < m->n_disks; k++) {
                        const struct diskstat *ds = &m->disks[k];
                        uint64_t v = *(const uint64_t *) ((const char *) ds + fields[i].offset);

                        if (ds->columns < fields[i].columns)
                                continue;
                        expo_sample1(f, name, "device", ds->name);
                        fputc(' ', f);
                        if (fields[i].unit == U_MS)
                                expo_fixed(f, v, 3);
                        else
                                fprintf(f, "%llu",
                                        (unsigned long long) (fields[i].unit == U_SECTORS ? v * DISKSTAT_SECTOR : v));
                        fputc('\n', f);
                }
        }
}

/* ---- filesystems -------------------------------------------------------- */

static bool mounts_changed(struct node_metrics *m) {
        struct pollfd p = { .fd = m->files[F_MOUNTINFO].fd, .events = POLLPRI };

        /* The kernel flags a mount table change with POLLPRI|POLLERR on an
         * open mountinfo; a copy elsewhere cannot tell, so is read anew. */
        if (!m->mounts_known || !m->mountinfo_pollable || p.fd < 0)
                return true;
        return poll(&p, 1, 0) > 0 && (p.revents & (POLLPRI | POLLERR));
}

static bool mount_seen(const struct node_metrics *m, const struct mountinfo *mi) {
        for (size_t i = 0; i < m->n_mounts; i++)
                if (streq(m->mounts[i].mount_point, mi->mount_point) && streq(m->mounts[i].device, mi->source) &&
                    streq(m->mounts[i].fstype, mi->fstype))
                        return true;
        return false;
}

static int choose_mounts(struct node_metrics *m) {
        struct mountinfo mi;
        const char *buf;
        char *p;
        int r;

        m->mounts_known = false;
        m->n_mounts = 0;
        buf = file_read(m, F_MOUNTINFO);
        if (!buf)
                return -EIO;
        p = m->files[F_MOUNTINFO].data;
        while ((r = procfs_mountinfo_next(&p, &mi)) != 0) {
                /* A filesystem mounted twice at one place is one series. */
                if (r < 0 || mount_point_excluded(mi.mount_point) || fstype_excluded(mi.fstype) || mount_seen(m, &mi))
                        continue;
                if (GROW(m->mounts, m->mounts_cap, m->n_mounts + 1, 8) < 0 ||
                    GROW(m->fs, m->fs_cap, m->n_mounts + 1, 8) < 0)
                        return -ENOMEM;
                m->mounts[m->n_mounts++] = (struct fs_mount){
                        .device = mi.source,
                        .fstype = mi.fstype,
                        .mount_point = mi.mount_point,
                        .read_only = procfs_options_read_only(mi.options) || procfs_options_read_only(mi.super_options),
                };
        }
        m->mounts_known = true;
        return 0;
}

static void filesystems(struct node_metrics *m, FILE *f) {
        static const struct {
                const char *name, *help;
                size_t offset;
        } fields[] = {
                { "node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.",
                  offsetof(struct fs_stat, avail) },
                { "node_filesystem_files", "Filesystem total file nodes.", offsetof(struct fs_stat, files) },
                { "node_filesystem_files_free", "Filesystem total free file nodes.",
                  offsetof(struct fs_stat, files_free) },
                { "node_filesystem_free_bytes", "Filesystem free space in bytes.", offsetof(struct fs_stat, free) },
                { "node_filesystem_size_bytes", "Filesystem size in bytes.", offsetof(struct fs_stat, size) },
        };

        if (mounts_changed(m) && choose_mounts(m) < 0)
                return;
        for (size_t i = 0; i < m->n_mounts; i++) {
                struct statvfs v;

                /* What the mount point shows now; a mount that hangs (a
                 * dead NFS server) holds the scrape up like any stat(). */
                if (statvfs(m->mounts[i].mount_point, &v) < 0) {
                        m->fs[i] = (struct fs_stat){ .error = true };
                        continue;
                }
                m->fs[i] = (struct fs_stat){
                        .size = (uint64_t) v.f_blocks * v.f_frsize,
                        .free = (uint64_t) v.f_bfree * v.f_frsize,
                        .avail = (uint64_t) v.f_bavail * v.f_frsize,
                        .files = v.f_files,
                        .files_free = v.f_ffree,
                };
        }

#define LABELS(mt)                                    \
        do {                                          \
                fputs("{device=\"", f);               \
                expo_label(f, (mt)->device);          \
                fputs("\",fstype=\"", f);             \
                expo_label(f, (mt)->fstype);          \
                fputs("\",mountpoint=\"", f);         \
                expo_label(f, (mt)->mount_point);     \
                fputs("\"}", f);                      \
        } while (0)

        expo_family(f, "node_filesystem_device_error", "gauge",
                    "Whether an error occurred while getting statistics for the given device.");
        for (size_t i = 0; i < m->n_mounts; i++) {
                fputs("node_filesystem_device_error", f);
                LABELS(&m->mounts[i]);
                fprintf(f, " %d\n", m->fs[i].error);
        }
        expo_family(f, "node_filesystem_readonly", "gauge", "Filesystem read-only status.");
        for (size_t i = 0; i < m->n_mounts; i++) {
                fputs("node_filesystem_readonly", f);
                LABELS(&m->mounts[i]);
                fprintf(f, " %d\n", m->mounts[i].read_only);
        }
        for (size_t k = 0; k < ELEMENTSOF(fields); k++) {
                expo_family(f, fields[k].name, "gauge", fields[k].help);
                for (size_t i = 0; i < m->n_mounts; i++) {
                        if (m->fs[i].error)
                                continue;
                        fputs(fields[k].name, f);
                        LABELS(&m->mounts[i]);
                        fprintf(f, " %llu\n",
                                (unsigned long long) *(const uint64_t *) ((const char *) &m->fs[i] + fields[k].offset));
                }
        }
#undef LABELS
}

/* ---- network: net/dev, /sys/class/net, arp, softnet -------------------- */

static void netdev(struct node_metrics *m, FILE *f, const char *buf) {
        static const struct {
                const char *name;
                size_t offset;
        } fields[] = {
#define N(field) offsetof(struct netdev, field)
                { "receive_bytes", N(rx_bytes) },          { "receive_compressed", N(rx_compressed) },
                { "receive_drop", N(rx_drop) },            { "receive_errs", N(rx_errs) },
                { "receive_fifo", N(rx_fifo) },            { "receive_frame", N(rx_frame) },
                { "receive_multicast", N(rx_multicast) },  { "receive_packets", N(rx_packets) },
                { "transmit_bytes", N(tx_bytes) },         { "transmit_carrier", N(tx_carrier) },
                { "transmit_colls", N(tx_colls) },         { "transmit_compressed", N(tx_compressed) },
                { "transmit_drop", N(tx_drop) },           { "transmit_errs", N(tx_errs) },
                { "transmit_fifo", N(tx_fifo) },           { "transmit_packets", N(tx_packets) },
#undef N
        };
        const char *p = buf;
        struct netdev d;
        int r;

        m->n_ifaces = 0;
        while ((r = procfs_netdev_next(&p, &d)) != 0) {
                if (r < 0)
                        continue;
                if (GROW(m->ifaces, m->ifaces_cap, m->n_ifaces + 1, 8) < 0)
                        break;
                m->ifaces[m->n_ifaces++] = d;
        }
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                char name[64], help[64];

                snprintf(name, sizeof name, "node_network_%s_total", fields[i].name);
                snprintf(help, sizeof help, "Network device statistic %s.", fields[i].name);
                expo_family(f, name, "counter", help);
                for (size_t k = 0; k < m->n_ifaces; k++) {
                        if (streq(m->ifaces[k].name, NETDEV_EXCLUDE))
                                continue;
                        expo_sample1(f, name, "device", m->ifaces[k].name);
                        fprintf(f, " %llu\n",
                                (unsigned long long) *(const uint64_t *) ((const char *) &m->ifaces[k] +
                                                                          fields[i].offset));
                }
        }
}

static void iface_files_close(struct iface_files *k) {
        for (size_t a = 0; a < _A_MAX; a++)
                k->fd[a] = safe_close(k->fd[a]);
}

/* Forget the open attributes of interfaces that are gone. */
static void ifaces_prune(struct node_metrics *m) {
        for (size_t i = 0; i < m->n_kept;) {
                bool present = false;

                for (size_t k = 0; k < m->n_ifaces && !present; k++)
                        present = streq(m->kept[i].name, m->ifaces[k].name);
                if (present) {
                        i++;
                        continue;
                }
                iface_files_close(&m->kept[i]);
                m->kept[i] = m->kept[--m->n_kept];
        }
}

static struct iface_files *iface_kept(struct node_metrics *m, const char *name) {
        struct iface_files *k;

        for (size_t i = 0; i < m->n_kept; i++)
                if (streq(m->kept[i].name, name))
                        return &m->kept[i];
        if (m->n_kept >= IFACES_KEPT)
                return NULL;
        k = &m->kept[m->n_kept++];
        snprintf(k->name, sizeof k->name, "%s", name);
        for (size_t a = 0; a < _A_MAX; a++)
                k->fd[a] = -1;
        return k;
}

static ssize_t pread_text(int fd, char *buf, size_t size) {
        ssize_t n;

        do
                n = pread(fd, buf, size - 1, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        buf[n] = '\0';
        return n;
}

/* One attribute of /sys/class/net/<name>/, its newline cut. */
static int iface_attr(struct node_metrics *m, const char *name, enum attr a, char *buf, size_t size) {
        struct iface_files *k = iface_kept(m, name);
        char path[PROCFS_IFNAME_MAX + 32];
        _cleanup_close_ int once = -1;
        int *fd = k ? &k->fd[a] : &once;
        ssize_t n;

        if (m->net_class_fd < 0)
                return -ENOENT;
        if (*fd >= 0) {
                n = pread_text(*fd, buf, size);
                /* An attribute that cannot be answered now (the carrier of
                 * an interface that is down: EINVAL) stays open; one whose
                 * interface went away is opened again, in case another of
                 * the same name has come. */
                if (n != -ENODEV)
                        goto done;
                *fd = safe_close(*fd);
        }
        snprintf(path, sizeof path, "%s/%s", name, attr_name[a]);
        *fd = openat(m->net_class_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (*fd < 0)
                return negative_errno();
        n = pread_text(*fd, buf, size);
done:
        if (n < 0)
                return (int) n;
        buf[strcspn(buf, "\n")] = '\0';
        return 0;
}

static int iface_number(struct node_metrics *m, const char *name, enum attr a, int64_t *ret) {
        char buf[64];
        int r = iface_attr(m, name, a, buf, sizeof buf);

        if (r < 0)
                return r;
        return procfs_parse_numbers(buf, ret, 1) == 1 ? 0 : -EBADMSG;
}

static void netclass(struct node_metrics *m, FILE *f) {
        static const struct {
                const char *name, *help;
                enum attr attr;
                int64_t scale;
        } numbers[] = {
                { "node_network_carrier", "Network device property: carrier", A_CARRIER, 1 },
                { "node_network_mtu_bytes", "Network device property: mtu_bytes", A_MTU, 1 },
                /* Mbit/s; a driver that does not know says -1, which node_exporter
                 * passes on as -125000. */
                { "node_network_speed_bytes", "Network device property: speed_bytes", A_SPEED, 1000 * 1000 / 8 },
                { "node_network_transmit_queue_length", "Network device property: transmit_queue_length",
                  A_TX_QUEUE_LEN, 1 },
        };
        static const enum attr info[] = { A_ADDRESS, A_BROADCAST, A_DUPLEX, A_IFALIAS, A_OPERSTATE };
        char buf[512];

        ifaces_prune(m);
        expo_family(f, "node_network_up", "gauge", "Value is 1 if operstate is 'up', 0 otherwise.");
        for (size_t k = 0; k < m->n_ifaces; k++) {
                bool up = iface_attr(m, m->ifaces[k].name, A_OPERSTATE, buf, sizeof buf) >= 0 && streq(buf, "up");

                expo_sample1(f, "node_network_up", "device", m->ifaces[k].name);
                fprintf(f, " %d\n", up);
        }
        expo_family(f, "node_network_info", "gauge",
                    "Non-numeric data from /sys/class/net/<iface>, value is always 1.");
        for (size_t k = 0; k < m->n_ifaces; k++) {
                const char *dev = m->ifaces[k].name;

                /* Labels in node_exporter's (sorted) order; an attribute
                 * that cannot be read is an empty value. */
                fputs("node_network_info{", f);
                for (size_t i = 0; i < ELEMENTSOF(info); i++) {
                        if (iface_attr(m, dev, info[i], buf, sizeof buf) < 0)
                                buf[0] = '\0';
                        fprintf(f, "%s%s=\"", i > 0 ? "\"," : "", attr_name[info[i]]);
                        expo_label(f, buf);
                        if (info[i] == A_BROADCAST) {
                                fputs("\",device=\"", f);
                                expo_label(f, dev);
                        }
                }
                fputs("\"} 1\n", f);
        }
        for (size_t i = 0; i < ELEMENTSOF(numbers); i++) {
                expo_family(f, numbers[i].name, "gauge", numbers[i].help);
                for (size_t k = 0; k < m->n_ifaces; k++) {
                        int64_t v;

                        /* An attribute the device does not have, or cannot
                         * answer now (carrier of an interface that is down),
                         * has no sample, as with node_exporter. */
                        if (iface_number(m, m->ifaces[k].name, numbers[i].attr, &v) < 0)
                                continue;
                        expo_sample1(f, numbers[i].name, "device", m->ifaces[k].name);
                        fprintf(f, " %lld\n", (long long) (v * numbers[i].scale));
                }
        }
}

static void arp(struct node_metrics *m, FILE *f, const char *buf) {
        const char *p = buf;
        char dev[PROCFS_IFNAME_MAX];
        int r;

        m->n_arp = 0;
        while ((r = procfs_arp_next(&p, dev)) != 0) {
                size_t i;

                if (r < 0)
                        continue;
                for (i = 0; i < m->n_arp && !streq(m->arp[i].device, dev); i++)
                        ;
                if (i == m->n_arp) {
                        if (GROW(m->arp, m->arp_cap, m->n_arp + 1, 4) < 0)
                                break;
                        m->arp[m->n_arp++] = (struct arp_count){ 0 };
                        memcpy(m->arp[i].device, dev, sizeof dev);
                }
                m->arp[i].entries++;
        }
        expo_family(f, "node_arp_entries", "gauge", "ARP entries by device");
        for (size_t i = 0; i < m->n_arp; i++) {
                expo_sample1(f, "node_arp_entries", "device", m->arp[i].device);
                fprintf(f, " %u\n", m->arp[i].entries);
        }
}

static void softnet(struct node_metrics *m, FILE *f, const char *buf) {
        static const struct {
                const char *name, *help;
                size_t offset;
        } fields[] = {
                { "node_softnet_dropped_total", "Number of dropped packets", offsetof(struct softnet, dropped) },
                { "node_softnet_processed_total", "Number of processed packets", offsetof(struct softnet, processed) },
                { "node_softnet_times_squeezed_total", "Number of times processing packets ran out of quota",
                  offsetof(struct softnet, time_squeeze) },
        };
        const char *p = buf;
        struct softnet s;
        int r;

        m->n_softnet = 0;
        while ((r = procfs_softnet_next(&p, &s)) != 0) {
                if (r < 0)
                        continue;
                if (GROW(m->softnet, m->softnet_cap, m->n_softnet + 1, 8) < 0)
                        break;
                m->softnet[m->n_softnet++] = s;
        }
        /* One line per CPU; node_exporter numbers them by line. */
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                expo_family(f, fields[i].name, "counter", fields[i].help);
                for (size_t k = 0; k < m->n_softnet; k++)
                        fprintf(f, "%s{cpu=\"%zu\"} %llu\n", fields[i].name, k,
                                (unsigned long long) *(const uint64_t *) ((const char *) &m->softnet[k] +
                                                                          fields[i].offset));
        }
}

/* node_exporter's default --collector.netstat.fields:
 * ^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|
 *   TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|
 *   Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|
 *   Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$ */
static bool netstat_wanted(const struct proto_counter *c) {
        const char *p = c->proto, *n = c->name;

        if (streq(n, "InErrors") || streq(n, "InErrs"))
                return true;
        if (streq(p, "Ip"))
                return streq(n, "Forwarding");
        if (streq(p, "Ip6") || streq(p, "IpExt"))
                return streq(n, "InOctets") || streq(n, "OutOctets");
        if (streq(p, "Icmp") || streq(p, "Icmp6"))
                return streq(n, "InMsgs") || streq(n, "OutMsgs");
        if (streq(p, "TcpExt"))
                return prefixed(n, "Listen") || prefixed(n, "Syncookies") || streq(n, "TCPSynRetrans") ||
                       streq(n, "TCPTimeouts");
        if (streq(p, "Tcp"))
                return streq(n, "ActiveOpens") || streq(n, "InSegs") || streq(n, "OutSegs") || streq(n, "OutRsts") ||
                       streq(n, "PassiveOpens") || streq(n, "RetransSegs") || streq(n, "CurrEstab");
        if (streq(p, "Udp") || streq(p, "Udp6"))
                return streq(n, "InDatagrams") || streq(n, "OutDatagrams") || streq(n, "NoPorts") ||
                       streq(n, "RcvbufErrors") || streq(n, "SndbufErrors");
        return false;
}

static void netstat_one(FILE *f, const struct proto_counter *c) {
        char name[sizeof c->proto + sizeof c->name + 16], help[sizeof name + 16];

        if (!netstat_wanted(c))
                return;
        snprintf(name, sizeof name, "node_netstat_%s_%s", c->proto, c->name);
        snprintf(help, sizeof help, "Statistic %s%s.", c->proto, c->name);
        expo_family(f, name, "untyped", help);
        fprintf(f, "%s %lld\n", name, (long long) c->value);
}

static void netstat(struct node_metrics *m, FILE *f) {
        static const enum file paired[] = { F_NETSTAT, F_SNMP };
        struct proto_counter c;
        const char *buf;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(paired); i++) {
                struct netstat_cursor nc;

                buf = file_read(m, paired[i]);
                if (!buf)
                        continue;
                procfs_netstat_init(&nc, buf);
                while ((r = procfs_netstat_next(&nc, &c)) != 0)
                        if (r > 0)
                                netstat_one(f, &c);
        }
        buf = file_read(m, F_SNMP6);
        if (buf)
                while ((r = procfs_snmp6_next(&buf, &c)) != 0)
                        if (r > 0)
                                netstat_one(f, &c);
}

static void sockstat(struct node_metrics *m, FILE *f) {
        /* The fields node_exporter knows, so that a new one does not
         * become a series under a name it never had. */
        static const char *const known[] = { "inuse", "orphan", "tw", "alloc", "mem", "memory" };
        static const enum file sources[] = { F_SOCKSTAT, F_SOCKSTAT6 };

        for (size_t i = 0; i < ELEMENTSOF(sources); i++) {
                const char *buf = file_read(m, sources[i]);
                struct sockstat_cursor sc;
                struct proto_counter c;
                int r;

                if (!buf)
                        continue;
                procfs_sockstat_init(&sc, buf);
                while ((r = procfs_sockstat_next(&sc, &c)) != 0) {
                        char name[sizeof c.proto + sizeof c.name + 32], help[sizeof name + 48];
                        bool wanted = false;

                        if (r < 0)
                                continue;
                        if (streq(c.proto, "sockets") && streq(c.name, "used")) {
                                expo_family(f, "node_sockstat_sockets_used", "gauge", "Number of IPv4 sockets in use.");
                                fprintf(f, "node_sockstat_sockets_used %lld\n", (long long) c.value);
                                continue;
                        }
                        for (size_t k = 0; k < ELEMENTSOF(known) && !wanted; k++)
                                wanted = streq(c.name, known[k]);
                        if (!wanted)
                                continue;
                        snprintf(name, sizeof name, "node_sockstat_%s_%s", c.proto, c.name);
                        snprintf(help, sizeof help, "Number of %s sockets in state %s.", c.proto, c.name);
                        expo_family(f, name, "gauge", help);
                        fprintf(f, "%s %lld\n", name, (long long) c.value);
                        /* mem counts pages */
                        if (streq(c.name, "mem")) {
                                snprintf(name, sizeof name, "node_sockstat_%s_mem_bytes", c.proto);
                                snprintf(help, sizeof help, "Number of %s sockets in state mem_bytes.", c.proto);
                                expo_family(f, name, "gauge", help);
                                fprintf(f, "%s %lld\n", name, (long long) c.value * m->page_size);
                        }
                }
        }
}

static void conntrack(struct node_metrics *m, FILE *f) {
        int64_t count, max;

        if (!file_number(m, F_CONNTRACK_COUNT, &count) || !file_number(m, F_CONNTRACK_MAX, &max))
                return;
        expo_family(f, "node_nf_conntrack_entries", "gauge",
                    "Number of currently allocated flow entries for connection tracking.");
        fprintf(f, "node_nf_conntrack_entries %lld\n", (long long) count);
        expo_family(f, "node_nf_conntrack_entries_limit", "gauge", "Maximum size of connection tracking table.");
        fprintf(f, "node_nf_conntrack_entries_limit %lld\n", (long long) max);
}

/* ---- pressure, schedstat, entropy, filefd, time, uname ------------------ */

static void pressure(struct node_metrics *m, FILE *f) {
        static const struct {
                enum file file;
                const char *name, *help;
                bool full;
        } fields[] = {
                { F_PRESSURE_CPU, "node_pressure_cpu_waiting_seconds_total",
                  "Total time in seconds that processes have waited for CPU time", false },
                { F_PRESSURE_IO, "node_pressure_io_stalled_seconds_total",
                  "Total time in seconds no process could make progress due to IO congestion", true },
                { F_PRESSURE_IO, "node_pressure_io_waiting_seconds_total",
                  "Total time in seconds that processes have waited due to IO congestion", false },
                { F_PRESSURE_MEMORY, "node_pressure_memory_stalled_seconds_total",
                  "Total time in seconds no process could make progress due to memory congestion", true },
                { F_PRESSURE_MEMORY, "node_pressure_memory_waiting_seconds_total",
                  "Total time in seconds that processes have waited for memory", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                const char *buf = file_read(m, fields[i].file);
                struct pressure pr;

                if (!buf || procfs_parse_pressure(buf, &pr) < 0 || (fields[i].full && !pr.has_full))
                        continue;
                expo_family(f, fields[i].name, "counter", fields[i].help);
                fprintf(f, "%s ", fields[i].name);
                expo_fixed(f, fields[i].full ? pr.full_us : pr.some_us, 6);
                fputc('\n', f);
        }
}

static void schedstat(struct node_metrics *m, FILE *f) {
        static const struct {
                const char *name, *help;
                size_t offset;
                unsigned decimals;
        } fields[] = {
                { "node_schedstat_running_seconds_total", "Number of seconds CPU spent running a process.",
                  offsetof(struct schedstat_cpu, running_ns), 9 },
                { "node_schedstat_timeslices_total", "Number of timeslices executed by CPU.",
                  offsetof(struct schedstat_cpu, timeslices), 0 },
                { "node_schedstat_waiting_seconds_total", "Number of seconds spent by processing waiting for this CPU.",
                  offsetof(struct schedstat_cpu, waiting_ns), 9 },
        };
        const char *buf = file_read(m, F_SCHEDSTAT), *p = buf;
        struct schedstat_cpu c;
        int r;

        if (!buf)
                return;
        m->n_sched = 0;
        while ((r = procfs_schedstat_next(&p, &c)) != 0) {
                if (r < 0)
                        continue;
                if (GROW(m->sched, m->sched_cap, m->n_sched + 1, 8) < 0)
                        break;
                m->sched[m->n_sched++] = c;
        }
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                expo_family(f, fields[i].name, "counter", fields[i].help);
                for (size_t k = 0; k < m->n_sched; k++) {
                        fprintf(f, "%s{cpu=\"%u\"} ", fields[i].name, m->sched[k].cpu);
                        expo_fixed(f, *(const uint64_t *) ((const char *) &m->sched[k] + fields[i].offset),
                                   fields[i].decimals);
                        fputc('\n', f);
                }
        }
}

static void entropy_filefd(struct node_metrics *m, FILE *f) {
        const char *buf;
        int64_t v[3];

        if (file_number(m, F_ENTROPY, &v[0])) {
                expo_family(f, "node_entropy_available_bits", "gauge", "Bits of available entropy.");
                fprintf(f, "node_entropy_available_bits %lld\n", (long long) v[0]);
        }
        if (file_number(m, F_POOLSIZE, &v[0])) {
                expo_family(f, "node_entropy_pool_size_bits", "gauge", "Bits of entropy pool.");
                fprintf(f, "node_entropy_pool_size_bits %lld\n", (long long) v[0]);
        }
        /* allocated, free (always 0 since 2.6), maximum */
        buf = file_read(m, F_FILE_NR);
        if (buf && procfs_parse_numbers(buf, v, 3) == 3) {
                expo_family(f, "node_filefd_allocated", "gauge", "File descriptor statistics: allocated.");
                fprintf(f, "node_filefd_allocated %lld\n", (long long) v[0]);
                expo_family(f, "node_filefd_maximum", "gauge", "File descriptor statistics: maximum.");
                fprintf(f, "node_filefd_maximum %lld\n", (long long) v[2]);
        }
}

static void time_uname(FILE *f) {
        struct timespec ts;
        struct utsname u;
        struct tm tm;

        clock_gettime(CLOCK_REALTIME, &ts);
        expo_family(f, "node_time_seconds", "gauge", "System time in seconds since epoch (1970).");
        fprintf(f, "node_time_seconds %lld.%09ld\n", (long long) ts.tv_sec, ts.tv_nsec);
        if (localtime_r(&ts.tv_sec, &tm)) {
                expo_family(f, "node_time_zone_offset_seconds", "gauge", "System time zone offset in seconds.");
                expo_sample1(f, "node_time_zone_offset_seconds", "time_zone", tm.tm_zone ? tm.tm_zone : "");
                fprintf(f, " %ld\n", tm.tm_gmtoff);
        }
        if (uname(&u) == 0) {
                expo_family(f, "node_uname_info", "gauge",
                            "Labeled system information as provided by the uname system call.");
                fputs("node_uname_info{domainname=\"", f);
                expo_label(f, u.domainname);
                fputs("\",machine=\"", f);
                expo_label(f, u.machine);
                fputs("\",nodename=\"", f);
                expo_label(f, u.nodename);
                fputs("\",release=\"", f);
                expo_label(f, u.release);
                fputs("\",sysname=\"", f);
                expo_label(f, u.sysname);
                fputs("\",version=\"", f);
                expo_label(f, u.version);
                fputs("\"} 1\n", f);
        }
}

/* ---- process_*: telemetryd itself --------------------------------------- */

static int count_open_fds(struct node_metrics *m) {
        union {
                struct dirent64 align;
                char data[4096];
        } buf;
        int n = 0;

        if (m->self_fd_fd < 0 || lseek(m->self_fd_fd, 0, SEEK_SET) < 0)
                return -EBADF;
        for (;;) {
                ssize_t len = getdents64(m->self_fd_fd, buf.data, sizeof buf.data);

                if (len < 0)
                        return negative_errno();
                if (len == 0)
                        return n;
                for (ssize_t off = 0; off < len;) {
                        const struct dirent64 *d = (const struct dirent64 *) (buf.data + off);

                        off += d->d_reclen;
                        if (d->d_name[0] != '.')
                                n++;
                }
        }
}

static void process(struct node_metrics *m, FILE *f, uint64_t btime) {
        const char *buf = file_read(m, F_SELF_STAT);
        struct pid_stat st;
        struct rlimit rl;
        int fds;

        if (buf && procfs_parse_pid_stat(buf, &st) >= 0) {
                expo_family(f, "process_cpu_seconds_total", "counter",
                            "Total user and system CPU time spent in seconds.");
                fputs("process_cpu_seconds_total ", f);
                expo_ratio(f, st.utime + st.stime, (uint64_t) m->hz);
                fputc('\n', f);
                expo_family(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
                fprintf(f, "process_resident_memory_bytes %llu\n",
                        (unsigned long long) st.rss * (unsigned long long) m->page_size);
                if (btime > 0) {
                        expo_family(f, "process_start_time_seconds", "gauge",
                                    "Start time of the process since unix epoch in seconds.");
                        fprintf(f, "process_start_time_seconds ");
                        expo_ratio(f, btime * (uint64_t) m->hz + st.starttime, (uint64_t) m->hz);
                        fputc('\n', f);
                }
                expo_family(f, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
                fprintf(f, "process_virtual_memory_bytes %llu\n", (unsigned long long) st.vsize);
        }
        if (getrlimit(RLIMIT_AS, &rl) == 0) {
                expo_family(f, "process_virtual_memory_max_bytes", "gauge",
                            "Maximum amount of virtual memory available in bytes.");
                fprintf(f, "process_virtual_memory_max_bytes %llu\n", (unsigned long long) rl.rlim_cur);
        }
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                expo_family(f, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
                fprintf(f, "process_max_fds %llu\n", (unsigned long long) rl.rlim_cur);
        }
        fds = count_open_fds(m);
        if (fds >= 0) {
                expo_family(f, "process_open_fds", "gauge", "Number of open file descriptors.");
                fprintf(f, "process_open_fds %d\n", fds);
        }
}

/* ---- the whole ---------------------------------------------------------- */

int node_metrics_write(struct node_metrics *m, FILE *f) {
        struct stat_counters c = { 0 };
        const char *buf;

        buf = file_read(m, F_STAT);
        if (buf) {
                cpu(m, f, buf);
                if (procfs_parse_stat_counters(buf, &c) >= 0)
                        stat_counters(f, &c);
        }
        buf = file_read(m, F_LOADAVG);
        if (buf)
                loadavg(f, buf);
        buf = file_read(m, F_MEMINFO);
        if (buf)
                meminfo(f, buf);
        buf = file_read(m, F_VMSTAT);
        if (buf)
                vmstat(f, buf);
        buf = file_read(m, F_DISKSTATS);
        if (buf)
                disks(m, f, buf);
        filesystems(m, f);
        buf = file_read(m, F_NETDEV);
        if (buf) {
                netdev(m, f, buf);
                netclass(m, f);
        }
        buf = file_read(m, F_ARP);
        if (buf)
                arp(m, f, buf);
        buf = file_read(m, F_SOFTNET);
        if (buf)
                softnet(m, f, buf);
        netstat(m, f);
        sockstat(m, f);
        conntrack(m, f);
        pressure(m, f);
        schedstat(m, f);
        entropy_filefd(m, f);
        time_uname(f);
        process(m, f, c.btime);
        return ferror(f) ? -ENOMEM : 0;
}

int node_metrics_new(struct node_metrics **ret) {
        _cleanup_free_ struct node_metrics *m = calloc(1, sizeof *m);

        if (!m)
                return -ENOMEM;
        m->page_size = sysconf(_SC_PAGESIZE);
        m->hz = sysconf(_SC_CLK_TCK);
        m->net_class_fd = m->self_fd_fd = -1;
        for (size_t i = 0; i < _F_MAX; i++)
                m->files[i] = PROCFILE_NULL;
        /* The most this keeps open, beside what the servers reserve. */
        fd_limit_reserve(_F_MAX + IFACES_KEPT * _A_MAX + 4);
        m->proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (m->proc_fd < 0)
                return negative_errno();
        /* Without them only some families are missing. */
        m->net_class_fd = open("/sys/class/net", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        m->self_fd_fd = openat(m->proc_fd, "self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        *ret = TAKE_PTR(m);
        return 0;
}

void node_metrics_free(struct node_metrics *m) {
        if (!m)
                return;
        for (size_t i = 0; i < _F_MAX; i++)
                procfile_close(&m->files[i]);
        for (size_t i = 0; i < m->n_kept; i++)
                iface_files_close(&m->kept[i]);
        safe_close(m->proc_fd);
        safe_close(m->net_class_fd);
        safe_close(m->self_fd_fd);
        free(m->cpus);
        free(m->disks);
        free(m->ifaces);
        free(m->mounts);
        free(m->fs);
        free(m->softnet);
        free(m->sched);
        free(m->arp);
        free(m);
}
