/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "macro.h"
#include "procfs.h"

/* Fixtures are captured from real machines (this one: 2 CPUs, no swap,
 * virtio disk) or written to the kernel's documented format for the cases
 * no machine here shows (CPUs offline, old kernels, odd names). */

static char *fixture(const char *name) {
        char path[512];
        char *buf = malloc(1 << 16);
        ssize_t n;

        cr_assert_not_null(buf);
        snprintf(path, sizeof path, "%s/procfs/%s", TEST_DATA_DIR, name);
        n = read_file(path, buf, 1 << 16);
        cr_assert_geq(n, 0, "cannot read fixture %s", path);
        return buf;
}

/* ---- /proc/stat --------------------------------------------------------- */

#define ALL PROCFS_CPU_ALL
#define T(field) offsetof(struct cpu_times, field)

/* Each fixture: the cpu lines it yields in order, how many it rejects, and
 * some of the values. */
static const struct {
        const char *fixture;
        unsigned cpus[5];
        size_t n_cpus;
        int errors;
        struct {
                size_t line; /* 1 for the first cpu line; 0 ends the list */
                size_t field;
                uint64_t value;
        } values[8];
} stat_cases[] = {
        /* captured here: 2 CPUs */
        { "stat-2cpu", { ALL, 0, 1 }, 3, 0,
          { { 1, T(user), 7918 }, { 1, T(system), 3135 }, { 1, T(idle), 179009 }, { 1, T(iowait), 491 },
            { 1, T(softirq), 154 }, { 1, T(steal), 14 }, { 2, T(user), 3221 }, { 3, T(idle), 88097 } } },
        { "stat-1cpu", { ALL, 0 }, 2, 0, { { 2, T(guest), 175628 }, { 2, T(guest_nice), 0 } } },
        /* cpu1 offline: its line is gone, the numbers have a gap */
        { "stat-offline", { ALL, 0, 2, 3 }, 4, 0, { { 3, T(user), 1000 }, { 4, T(iowait), 100 } } },
        /* RHEL 5's 2.6.18: no guest columns yet */
        { "stat-2.6.18", { ALL, 0, 1 }, 3, 0,
          { { 1, T(idle), 22625563 }, { 1, T(softirq), 456 }, { 1, T(guest), 0 }, { 1, T(guest_nice), 0 } } },
        /* "cpuX", and "cpu0" with two columns, are reported and skipped */
        { "stat-malformed", { ALL, 1 }, 2, 2, { { 2, T(user), 50 } } },
};

#undef T
#undef ALL

Test(procfs, stat_fixtures) {
        for (size_t i = 0; i < ELEMENTSOF(stat_cases); i++) {
                _cleanup_free_ char *buf = fixture(stat_cases[i].fixture);
                const char *p = buf, *name = stat_cases[i].fixture;
                struct stat_cpu c[8];
                size_t n = 0;
                int r, errors = 0;

                while ((r = procfs_stat_next_cpu(&p, &c[n < 7 ? n : 7])) != 0) {
                        if (r < 0)
                                errors++;
                        else
                                n++;
                }
                cr_assert_eq(n, stat_cases[i].n_cpus, "%s: %zu cpu lines", name, n);
                cr_assert_eq(errors, stat_cases[i].errors, "%s: %d rejected", name, errors);
                for (size_t k = 0; k < n; k++)
                        cr_assert_eq(c[k].cpu, stat_cases[i].cpus[k], "%s: line %zu", name, k);
                for (size_t k = 0; k < ELEMENTSOF(stat_cases[i].values) && stat_cases[i].values[k].line; k++) {
                        const struct stat_cpu *line = &c[stat_cases[i].values[k].line - 1];
                        const uint64_t *v = (const uint64_t *) ((const char *) &line->t + stat_cases[i].values[k].field);
                        cr_assert_eq(*v, stat_cases[i].values[k].value, "%s: value %zu", name, k);
                }
        }
}

Test(procfs, stat_empty_and_overflow) {
        const char *p = "";
        struct stat_cpu c;

        cr_assert_eq(procfs_stat_next_cpu(&p, &c), 0);
        p = "cpu0 99999999999999999999 0 0 0\n";
        cr_assert_eq(procfs_stat_next_cpu(&p, &c), -EBADMSG);
        cr_assert_eq(procfs_stat_next_cpu(&p, &c), 0);
}

/* ---- /proc/meminfo ------------------------------------------------------ */

Test(procfs, meminfo_no_swap_captured) {
        _cleanup_free_ char *buf = fixture("meminfo-noswap");
        struct meminfo m;

        cr_assert_eq(procfs_parse_meminfo(buf, &m), 0);
        cr_assert_eq(m.total, 24683656ULL * 1024);
        cr_assert_eq(m.available, 24151428ULL * 1024);
        cr_assert(m.has_available);
        cr_assert_eq(m.swap_total, 0);
        cr_assert_eq(m.swap_free, 0);
        cr_assert_eq(m.active, 94216ULL * 1024);
        cr_assert_eq(m.inactive, 206184ULL * 1024);
        cr_assert_eq(m.slab, 86660ULL * 1024);
}

Test(procfs, meminfo_with_swap) {
        _cleanup_free_ char *buf = fixture("meminfo-swap");
        struct meminfo m;

        cr_assert_eq(procfs_parse_meminfo(buf, &m), 0);
        cr_assert_eq(m.total, 16ULL << 30);
        cr_assert_eq(m.available, 7680ULL << 20);
        cr_assert_eq(m.swap_total, 4ULL << 30);
        cr_assert_eq(m.swap_free, 3584ULL << 20);
        cr_assert_eq(m.shmem, 512ULL << 20);
}

Test(procfs, meminfo_old_kernel_estimates_available) {
        _cleanup_free_ char *buf = fixture("meminfo-3.10");
        struct meminfo m;

        cr_assert_eq(procfs_parse_meminfo(buf, &m), 0);
        cr_assert_not(m.has_available);
        /* free + buffers + cached + reclaimable slab - shmem */
        cr_assert_eq(m.available, (1000000ULL + 200000 + 3000000 + 300000 - 500000) * 1024);
}

Test(procfs, meminfo_needs_total_and_clamps) {
        _cleanup_free_ char *buf = fixture("meminfo-no-total");
        struct meminfo m = { .total = 42 };

        cr_assert_eq(procfs_parse_meminfo(buf, &m), -EBADMSG);
        cr_assert_eq(m.total, 42, "output written on failure");
        cr_assert_eq(procfs_parse_meminfo("MemTotal: 100 kB\nMemAvailable: 200 kB\nSwapTotal: 1 kB\nSwapFree: 5 kB\n", &m), 0);
        cr_assert_eq(m.available, m.total);
        cr_assert_eq(m.swap_free, m.swap_total);
}

/* ---- /proc/loadavg ------------------------------------------------------ */

Test(procfs, loadavg) {
        _cleanup_free_ char *buf = fixture("loadavg");
        struct loadavg l;

        cr_assert_eq(procfs_parse_loadavg(buf, &l), 0);
        cr_assert_float_eq(l.load1, 0.45, 1e-9);
        cr_assert_float_eq(l.load5, 0.15, 1e-9);
        cr_assert_float_eq(l.load15, 0.05, 1e-9);
        cr_assert_eq(l.running, 2);
        cr_assert_eq(l.total, 99);
        cr_assert_eq(procfs_parse_loadavg("12.50 100.00 0.00 1/2 3\n", &l), 0);
        cr_assert_float_eq(l.load5, 100.0, 1e-9);
        cr_assert_eq(procfs_parse_loadavg("0,45 0,15 0,05 2/99 8906\n", &l), -EBADMSG);
        cr_assert_eq(procfs_parse_loadavg("", &l), -EBADMSG);
}

/* ---- /proc/diskstats ---------------------------------------------------- */

Test(procfs, diskstats_captured) {
        _cleanup_free_ char *buf = fixture("diskstats");
        const char *p = buf;
        struct diskstat d;
        size_t n = 0;
        bool vda = false;

        while (procfs_diskstats_next(&p, &d) > 0) {
                n++;
                if (streq(d.name, "vda")) {
                        vda = true;
                        cr_assert_eq(d.major, 254);
                        cr_assert_eq(d.reads, 63440);
                        cr_assert_eq(d.sectors_read, 3638274);
                        cr_assert_eq(d.writes, 14647);
                        cr_assert_eq(d.sectors_written, 1781552);
                }
        }
        cr_assert_eq(n, 10);
        cr_assert(vda);
}

Test(procfs, diskstats_all_kernel_layouts) {
        _cleanup_free_ char *buf = fixture("diskstats-mixed");
        const char *p = buf;
        struct diskstat d[16];
        size_t n = 0;
        int r;

        while ((r = procfs_diskstats_next(&p, &d[n])) != 0) {
                cr_assert_eq(r, 1);
                n++;
        }
        cr_assert_eq(n, 10);
        cr_assert_str_eq(d[0].name, "sda");
        cr_assert_eq(d[0].sectors_read, 5602178);
        cr_assert_eq(d[0].sectors_written, 36468184);
        cr_assert_str_eq(d[2].name, "nvme0n1"); /* 15 columns */
        cr_assert_eq(d[2].sectors_written, 4096);
        cr_assert_str_eq(d[8].name, "cciss/c0d0"); /* 11 columns */
        cr_assert_eq(d[8].sectors_read, 800);
        cr_assert_str_eq(d[9].name, "cciss/c0d0p1"); /* old 4-column partition */
        cr_assert_eq(d[9].reads, 40);
        cr_assert_eq(d[9].sectors_read, 320);
        cr_assert_eq(d[9].writes, 10);
        cr_assert_eq(d[9].sectors_written, 80);
}

Test(procfs, diskstats_malformed) {
        _cleanup_free_ char *buf = fixture("diskstats-malformed");
        const char *p = buf;
        struct diskstat d;

        cr_assert_eq(procfs_diskstats_next(&p, &d), -EBADMSG); /* three columns */
        cr_assert_eq(procfs_diskstats_next(&p, &d), -EBADMSG); /* major "x" */
        cr_assert_eq(procfs_diskstats_next(&p, &d), 1);
        cr_assert_str_eq(d.name, "sdb");
        cr_assert_eq(procfs_diskstats_next(&p, &d), 0);
        cr_assert_eq(procfs_diskstats_next(&p, &d), 0);
}

/* ---- /proc/net/dev ------------------------------------------------------ */

Test(procfs, netdev_captured) {
        _cleanup_free_ char *buf = fixture("netdev");
        const char *p = buf;
        struct netdev d[8];
        size_t n = 0;

        while (procfs_netdev_next(&p, &d[n]) > 0)
                n++;
        cr_assert_eq(n, 4);
        cr_assert_str_eq(d[0].name, "lo");
        cr_assert_str_eq(d[3].name, "eth0");
        cr_assert_eq(d[3].rx_bytes, 153172542);
        cr_assert_eq(d[3].rx_packets, 4550);
        cr_assert_eq(d[3].tx_bytes, 157241);
        cr_assert_eq(d[3].tx_packets, 2211);
}

Test(procfs, netdev_counter_touching_the_colon) {
        _cleanup_free_ char *buf = fixture("netdev-wide");
        const char *p = buf;
        struct netdev d[4];
        size_t n = 0;

        while (procfs_netdev_next(&p, &d[n]) > 0)
                n++;
        cr_assert_eq(n, 3);
        cr_assert_str_eq(d[1].name, "enp3s0");
        cr_assert_eq(d[1].rx_bytes, UINT64_MAX);
        cr_assert_eq(d[1].rx_packets, 7);
        cr_assert_eq(d[1].rx_errs, 1);
        cr_assert_eq(d[1].rx_drop, 2);
        cr_assert_eq(d[1].tx_bytes, 42);
        cr_assert_eq(d[1].tx_packets, 9);
        cr_assert_eq(d[1].tx_errs, 3);
        cr_assert_eq(d[1].tx_drop, 4);
        cr_assert_str_eq(d[2].name, "verylongname015");
}

Test(procfs, netdev_malformed) {
        _cleanup_free_ char *buf = fixture("netdev-malformed");
        const char *p = buf;
        struct netdev d;

        cr_assert_eq(procfs_netdev_next(&p, &d), -EBADMSG); /* three columns */
        cr_assert_eq(procfs_netdev_next(&p, &d), -EBADMSG); /* name too long */
        cr_assert_eq(procfs_netdev_next(&p, &d), 1);
        cr_assert_str_eq(d.name, "eth1");
        cr_assert_eq(d.tx_bytes, 9);
        cr_assert_eq(procfs_netdev_next(&p, &d), 0);
}

/* ---- /proc/net/snmp ----------------------------------------------------- */

Test(procfs, snmp_by_column_name) {
        _cleanup_free_ char *buf = fixture("snmp");
        int64_t v;

        cr_assert_eq(procfs_parse_snmp(buf, "Tcp", "CurrEstab", &v), 0);
        cr_assert_eq(v, 4);
        cr_assert_eq(procfs_parse_snmp(buf, "Tcp", "MaxConn", &v), 0);
        cr_assert_eq(v, -1);
        cr_assert_eq(procfs_parse_snmp(buf, "Udp", "OutDatagrams", &v), 0);
        cr_assert_eq(v, 32);
        /* "Udp" must not match the UdpLite lines, nor "Ip" IcmpMsg. */
        cr_assert_eq(procfs_parse_snmp(buf, "UdpLite", "InDatagrams", &v), 0);
        cr_assert_eq(v, 0);
        cr_assert_eq(procfs_parse_snmp(buf, "Tcp", "NoSuchColumn", &v), -ENOENT);
}

Test(procfs, snmp_missing_protocol_or_values) {
        _cleanup_free_ char *buf = fixture("snmp-no-tcp");
        int64_t v = 7;

        cr_assert_eq(procfs_parse_snmp(buf, "Tcp", "CurrEstab", &v), -ENOENT);
        cr_assert_eq(v, 7);
        cr_assert_eq(procfs_parse_snmp("Tcp: A B CurrEstab\n", "Tcp", "CurrEstab", &v), -EBADMSG);
        cr_assert_eq(procfs_parse_snmp("Tcp: A B CurrEstab\nTcp: 1 2\n", "Tcp", "CurrEstab", &v), -EBADMSG);
}

/* ---- mountinfo ---------------------------------------------------------- */

Test(procfs, mountinfo_captured) {
        _cleanup_free_ char *buf = fixture("mountinfo");
        char *p = buf;
        struct mountinfo m;
        bool root = false;
        size_t n = 0;

        while (procfs_mountinfo_next(&p, &m) > 0) {
                n++;
                if (streq(m.mount_point, "/")) {
                        root = true;
                        cr_assert_eq(m.major, 254);
                        cr_assert_eq(m.minor, 0);
                        cr_assert_str_eq(m.fstype, "ext4");
                        cr_assert_str_eq(m.source, "/dev/vda");
                        cr_assert_str_eq(m.root, "/");
                }
        }
        cr_assert_eq(n, 20);
        cr_assert(root);
}

Test(procfs, mountinfo_escapes_and_optional_fields) {
        _cleanup_free_ char *buf = fixture("mountinfo-edge");
        char *p = buf;
        struct mountinfo m[16];
        size_t n = 0;

        while (procfs_mountinfo_next(&p, &m[n]) > 0)
                n++;
        cr_assert_eq(n, 13);
        cr_assert_str_eq(m[0].options, "rw,relatime");
        cr_assert_str_eq(m[0].super_options, "rw,errors=remount-ro");
        cr_assert_str_eq(m[3].mount_point, "/mnt/my disk");
        cr_assert_eq(m[3].major, 8);
        cr_assert_eq(m[3].minor, 17);
        /* three optional fields and an unbindable mark before the "-" */
        cr_assert_str_eq(m[4].mount_point, "/mnt/tab\tand\\back");
        cr_assert_str_eq(m[4].fstype, "xfs");
        cr_assert_str_eq(m[4].source, "/dev/sdc1");
        cr_assert_str_eq(m[5].root, "/exports");
        cr_assert_str_eq(m[6].root, "/@home");
        cr_assert_str_eq(m[6].fstype, "btrfs");
        cr_assert_str_eq(m[10].fstype, "fuse.sshfs");
        cr_assert_str_eq(m[10].source, "user@host:/path with space");
        cr_assert_str_eq(m[11].mount_point, "/mnt/nl\nname");
        cr_assert_str_eq(m[12].mount_point, "/mnt/literal\\9x"); /* not an octal escape */
}

Test(procfs, mountinfo_malformed_line_is_skipped) {
        _cleanup_free_ char *buf = fixture("mountinfo-malformed");
        char *p = buf;
        struct mountinfo m;

        cr_assert_eq(procfs_mountinfo_next(&p, &m), -EBADMSG); /* no " - " separator */
        cr_assert_eq(procfs_mountinfo_next(&p, &m), -EBADMSG);
        cr_assert_eq(procfs_mountinfo_next(&p, &m), 1);
        cr_assert_str_eq(m.mount_point, "/boot");
        cr_assert_eq(procfs_mountinfo_next(&p, &m), 0);
}

Test(procfs, filesystems_requiring_a_device) {
        _cleanup_free_ char *buf = fixture("filesystems");

        cr_assert(procfs_fs_requires_device(buf, "ext4"));
        cr_assert(procfs_fs_requires_device(buf, "btrfs"));
        cr_assert(procfs_fs_requires_device(buf, "xfs"));
        cr_assert(procfs_fs_requires_device(buf, "fuseblk"));
        cr_assert_not(procfs_fs_requires_device(buf, "tmpfs"));
        cr_assert_not(procfs_fs_requires_device(buf, "overlay"));
        cr_assert_not(procfs_fs_requires_device(buf, "fuse.sshfs"));
        cr_assert_not(procfs_fs_requires_device(buf, "ext"));
        cr_assert_not(procfs_fs_requires_device(buf, "vfat")); /* module not loaded here */
}

/* ---- per process -------------------------------------------------------- */

Test(procfs, statm) {
        _cleanup_free_ char *buf = fixture("statm");
        struct statm m;

        cr_assert_eq(procfs_parse_statm(buf, &m), 0);
        cr_assert_eq(m.size, 765);
        cr_assert_eq(m.resident, 396);
        cr_assert_eq(m.shared, 368);
        cr_assert_eq(m.data, 123);
        cr_assert_eq(procfs_parse_statm("0 0 0 0 0 0 0\n", &m), 0); /* a kernel thread */
        cr_assert_eq(m.resident, 0);
        cr_assert_eq(procfs_parse_statm("", &m), -EBADMSG);
        cr_assert_eq(procfs_parse_statm("12\n", &m), -EBADMSG);
}

static void comm_of(const char *file, char out[static PROCFS_COMM_MAX]) {
        _cleanup_free_ char *buf = fixture(file);
        procfs_parse_comm(buf, strlen(buf), out);
}

Test(procfs, comm_keeps_spaces_parentheses_and_inner_newlines) {
        char name[PROCFS_COMM_MAX];

        comm_of("comm-parens", name);
        cr_assert_str_eq(name, "my (weird) proc) x");
        comm_of("comm-newline", name);
        cr_assert_str_eq(name, "a\nb");
        comm_of("comm-kworker", name);
        cr_assert_str_eq(name, "kworker/0:1-events_power_efficient");
        procfs_parse_comm("", 0, name);
        cr_assert_str_eq(name, "");
}

Test(procfs, comm_is_truncated_to_fit) {
        char name[PROCFS_COMM_MAX], in[200];

        memset(in, 'x', sizeof in);
        procfs_parse_comm(in, sizeof in, name);
        cr_assert_eq(strlen(name), PROCFS_COMM_MAX - 1);
}

Test(procfs, cpuinfo_frequency) {
        _cleanup_free_ char *x86 = fixture("cpuinfo-x86");
        _cleanup_free_ char *arm = fixture("cpuinfo-arm");
        double mhz = -1;

        cr_assert_eq(procfs_parse_cpuinfo_mhz(x86, &mhz), 0);
        cr_assert_float_eq(mhz, 2445.406, 1e-6);
        cr_assert_eq(procfs_parse_cpuinfo_mhz(arm, &mhz), -ENOENT);
        cr_assert_eq(procfs_parse_cpuinfo_mhz("cpu MHz\t\t: 1000.000\ncpu MHz\t\t: 3000.5\n", &mhz), 0);
        cr_assert_float_eq(mhz, 2000.25, 1e-9);
}
