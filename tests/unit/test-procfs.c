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
        cr_assert_eq(l.last_pid, 8906);
        cr_assert_eq(procfs_parse_loadavg("12.50 100.00 0.00 1/2 3\n", &l), 0);
        cr_assert_float_eq(l.load5, 100.0, 1e-9);
        cr_assert_eq(l.last_pid, 3);
        cr_assert_eq(procfs_parse_loadavg("0.45 0.15 0.05 2/99\n", &l), 0);
        cr_assert_eq(l.last_pid, 0);
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
                        /* 17 columns: merges, times, discards, flushes */
                        cr_assert_eq(d.columns, 17);
                        cr_assert_eq(d.reads_merged, 10672);
                        cr_assert_eq(d.read_ms, 13565);
                        cr_assert_eq(d.writes_merged, 7799);
                        cr_assert_eq(d.write_ms, 5515);
                        cr_assert_eq(d.in_flight, 0);
                        cr_assert_eq(d.io_ms, 6788);
                        cr_assert_eq(d.weighted_io_ms, 21176);
                        cr_assert_eq(d.discards, 6561);
                        cr_assert_eq(d.discards_merged, 83);
                        cr_assert_eq(d.sectors_discarded, 241064);
                        cr_assert_eq(d.discard_ms, 1114);
                        cr_assert_eq(d.flushes, 2319);
                        cr_assert_eq(d.flush_ms, 980);
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
        cr_assert_eq(d[0].columns, 17);
        cr_assert_eq(d[0].flushes, 60522);
        cr_assert_eq(d[0].flush_ms, 20900);
        cr_assert_str_eq(d[2].name, "nvme0n1"); /* 15 columns */
        cr_assert_eq(d[2].sectors_written, 4096);
        cr_assert_eq(d[2].columns, 15);
        cr_assert_eq(d[2].io_ms, 30);
        cr_assert_eq(d[5].columns, 11); /* md0 */
        cr_assert_eq(d[5].sectors_read, 40);
        cr_assert_str_eq(d[8].name, "cciss/c0d0"); /* 11 columns */
        cr_assert_eq(d[8].sectors_read, 800);
        cr_assert_str_eq(d[9].name, "cciss/c0d0p1"); /* old 4-column partition */
        cr_assert_eq(d[9].reads, 40);
        cr_assert_eq(d[9].sectors_read, 320);
        cr_assert_eq(d[9].writes, 10);
        cr_assert_eq(d[9].sectors_written, 80);
        cr_assert_eq(d[9].columns, 4);
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

Test(procfs, netdev_every_column) {
        struct netdev d;
        const char *p = "Inter-|\n face |\n  eth9: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";

        cr_assert_eq(procfs_netdev_next(&p, &d), 1);
        /* In the file's column order; the fixture's counters are 1 to 16. */
        const uint64_t cols[] = { d.rx_bytes, d.rx_packets, d.rx_errs,    d.rx_drop,       d.rx_fifo,  d.rx_frame,
                                  d.rx_compressed, d.rx_multicast, d.tx_bytes, d.tx_packets, d.tx_errs, d.tx_drop,
                                  d.tx_fifo, d.tx_colls,   d.tx_carrier, d.tx_compressed };
        for (size_t i = 0; i < ELEMENTSOF(cols); i++)
                cr_assert_eq(cols[i], i + 1, "column %zu", i + 1);
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

/* ---- what /metrics exposes beyond a sample ------------------------------ */

Test(procfs, stat_counters_captured) {
        _cleanup_free_ char *buf = fixture("stat-2cpu");
        struct stat_counters c;

        cr_assert_eq(procfs_parse_stat_counters(buf, &c), 0);
        cr_assert_eq(c.intr, 258608);
        cr_assert_eq(c.ctxt, 469182);
        cr_assert_eq(c.btime, 1795316210);
        cr_assert_eq(c.processes, 8905);
        cr_assert_eq(c.procs_running, 2);
        cr_assert_eq(c.procs_blocked, 0);
}

Test(procfs, stat_counters_need_btime) {
        struct stat_counters c = { .ctxt = 7 };

        cr_assert_eq(procfs_parse_stat_counters("cpu  1 2 3 4\nctxt 5\n", &c), -EBADMSG);
        cr_assert_eq(c.ctxt, 7, "output written on failure");
        cr_assert_eq(procfs_parse_stat_counters("btime x\n", &c), -EBADMSG);
        /* "btimes" is not "btime" */
        cr_assert_eq(procfs_parse_stat_counters("btimes 5\nbtime 6\n", &c), 0);
        cr_assert_eq(c.btime, 6);
}

Test(procfs, meminfo_every_field) {
        _cleanup_free_ char *buf = fixture("meminfo-6.18");
        const char *p = buf;
        struct meminfo_field f;
        size_t n = 0;
        bool active_file = false, huge_total = false;
        int r;

        while ((r = procfs_meminfo_next(&p, &f)) != 0) {
                cr_assert_eq(r, 1, "line %zu", n + 1);
                n++;
                if (streq(f.key, "Active(file)")) {
                        active_file = true;
                        cr_assert_eq(f.value, 1362164ULL * 1024);
                        cr_assert(f.has_unit);
                }
                if (streq(f.key, "HugePages_Total")) {
                        huge_total = true;
                        cr_assert_eq(f.value, 0);
                        cr_assert_not(f.has_unit, "a count of pages, not bytes");
                }
                if (n == 1) {
                        cr_assert_str_eq(f.key, "MemTotal");
                        cr_assert_eq(f.value, 24683744ULL * 1024);
                }
        }
        cr_assert_eq(n, 53);
        cr_assert(active_file && huge_total);
}

Test(procfs, meminfo_bad_lines) {
        const char *p = "NoColon 5 kB\nLong" "NameLongNameLongNameLongNameLong: 1 kB\nX: y\nX: 5 MB\nOk:  7\n";
        struct meminfo_field f;

        cr_assert_eq(procfs_meminfo_next(&p, &f), -EBADMSG);
        cr_assert_eq(procfs_meminfo_next(&p, &f), -EBADMSG); /* key too long */
        cr_assert_eq(procfs_meminfo_next(&p, &f), -EBADMSG); /* not a number */
        cr_assert_eq(procfs_meminfo_next(&p, &f), -EBADMSG); /* a unit other than kB */
        cr_assert_eq(procfs_meminfo_next(&p, &f), 1);
        cr_assert_str_eq(f.key, "Ok");
        cr_assert_eq(f.value, 7);
        cr_assert_eq(procfs_meminfo_next(&p, &f), 0);
}

/* Every counter of a netstat-shaped file, with some looked up. */
static size_t netstat_count(const char *buf, const char *proto, const char *name, int64_t *value, int *errors) {
        struct netstat_cursor c;
        struct proto_counter pc;
        size_t n = 0;
        int r;

        *errors = 0;
        procfs_netstat_init(&c, buf);
        while ((r = procfs_netstat_next(&c, &pc)) != 0) {
                if (r < 0) {
                        (*errors)++;
                        continue;
                }
                n++;
                if (streq(pc.proto, proto) && streq(pc.name, name))
                        *value = pc.value;
        }
        return n;
}

Test(procfs, netstat_captured) {
        static const struct {
                const char *fixture, *proto, *name;
                int64_t value;
                size_t n;
        } cases[] = {
                { "netstat", "TcpExt", "ListenOverflows", 237, 229 },
                { "netstat", "TcpExt", "TCPSynRetrans", 43, 229 },
                { "netstat", "TcpExt", "TCPTimeouts", 120, 229 },
                { "netstat", "IpExt", "OutOctets", 1551422727, 229 },
                { "snmp", "Tcp", "MaxConn", -1, 83 },
                { "snmp", "Tcp", "CurrEstab", 4, 83 },
                { "snmp", "Udp", "OutDatagrams", 32, 83 },
                { "snmp", "UdpLite", "InDatagrams", 0, 83 },
                { "snmp", "Ip", "Forwarding", 2, 83 },
                { "snmp", "IcmpMsg", "InType3", 1, 83 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *buf = fixture(cases[i].fixture);
                int64_t v = INT64_MIN;
                int errors;

                cr_assert_eq(netstat_count(buf, cases[i].proto, cases[i].name, &v, &errors), cases[i].n, "%s",
                             cases[i].fixture);
                cr_assert_eq(errors, 0);
                cr_assert_eq(v, cases[i].value, "%s %s_%s", cases[i].fixture, cases[i].proto, cases[i].name);
        }
}

Test(procfs, netstat_broken_pairs_are_skipped) {
        int64_t v = 0;
        int errors;

        /* values short of a name; a name line without values; values over:
         * none of them is trusted */
        cr_assert_eq(netstat_count("A: x y z\nA: 1 2\nB: p\nC: q\nC: 1 2\nD: r s\nD: 3 4\n", "D", "s", &v, &errors), 2);
        cr_assert_eq(errors, 3);
        cr_assert_eq(v, 4);
        cr_assert_eq(netstat_count("", "D", "s", &v, &errors), 0);
        cr_assert_eq(netstat_count("A: x\nA: -\n", "A", "x", &v, &errors), 0);
        cr_assert_eq(errors, 1);
}

Test(procfs, snmp6_captured) {
        _cleanup_free_ char *buf = fixture("snmp6");
        const char *p = buf;
        struct proto_counter c;
        size_t n = 0;
        bool octets = false, lite = false;

        while (procfs_snmp6_next(&p, &c) > 0) {
                n++;
                if (streq(c.proto, "Ip6") && streq(c.name, "InOctets")) {
                        octets = true;
                        cr_assert_eq(c.value, 2228);
                }
                if (streq(c.proto, "UdpLite6") && streq(c.name, "InErrors"))
                        lite = true;
        }
        cr_assert_eq(n, 90);
        cr_assert(octets && lite);
        p = "IpInReceives 5\nIcmp6OutMsgs x\nUdp6NoPorts 3\n";
        cr_assert_eq(procfs_snmp6_next(&p, &c), -EBADMSG); /* no "6" */
        cr_assert_eq(procfs_snmp6_next(&p, &c), -EBADMSG);
        cr_assert_eq(procfs_snmp6_next(&p, &c), 1);
        cr_assert_str_eq(c.proto, "Udp6");
        cr_assert_str_eq(c.name, "NoPorts");
        cr_assert_eq(c.value, 3);
}

Test(procfs, sockstat_captured) {
        static const struct {
                const char *fixture, *proto, *name;
                int64_t value;
                size_t n;
        } cases[] = {
                { "sockstat", "sockets", "used", 27, 12 }, { "sockstat", "TCP", "tw", 681, 12 },
                { "sockstat", "TCP", "mem", 39, 12 },      { "sockstat", "FRAG", "memory", 0, 12 },
                { "sockstat6", "TCP6", "inuse", 0, 6 },    { "sockstat6", "FRAG6", "memory", 0, 6 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *buf = fixture(cases[i].fixture);
                struct sockstat_cursor c;
                struct proto_counter pc;
                int64_t v = -1;
                size_t n = 0;

                procfs_sockstat_init(&c, buf);
                while (procfs_sockstat_next(&c, &pc) > 0) {
                        n++;
                        if (streq(pc.proto, cases[i].proto) && streq(pc.name, cases[i].name))
                                v = pc.value;
                }
                cr_assert_eq(n, cases[i].n, "%s", cases[i].fixture);
                cr_assert_eq(v, cases[i].value, "%s %s_%s", cases[i].fixture, cases[i].proto, cases[i].name);
        }
}

Test(procfs, sockstat_malformed) {
        struct sockstat_cursor c;
        struct proto_counter pc;

        procfs_sockstat_init(&c, "TCP: inuse x orphan 1\nno colon\nUDP: inuse 2\n\nRAW: inuse\n");
        cr_assert_eq(procfs_sockstat_next(&c, &pc), -EBADMSG); /* the rest of the TCP line goes */
        cr_assert_eq(procfs_sockstat_next(&c, &pc), -EBADMSG);
        cr_assert_eq(procfs_sockstat_next(&c, &pc), 1);
        cr_assert_str_eq(pc.proto, "UDP");
        cr_assert_eq(pc.value, 2);
        cr_assert_eq(procfs_sockstat_next(&c, &pc), -EBADMSG); /* a name without a value */
        cr_assert_eq(procfs_sockstat_next(&c, &pc), 0);
}

Test(procfs, vmstat_captured) {
        static const struct {
                const char *name;
                uint64_t value;
        } want[] = {
                { "pgpgin", 2918025 }, { "pgpgout", 10606764 }, { "pswpin", 0 },   { "pswpout", 0 },
                { "pgfault", 58515230 }, { "pgmajfault", 4770 }, { "oom_kill", 0 },
        };
        _cleanup_free_ char *buf = fixture("vmstat");
        const char *p = buf;
        struct vmstat_field f;
        size_t n = 0, found = 0;

        while (procfs_vmstat_next(&p, &f) > 0) {
                n++;
                for (size_t i = 0; i < ELEMENTSOF(want); i++)
                        if (streq(f.name, want[i].name)) {
                                cr_assert_eq(f.value, want[i].value, "%s", f.name);
                                found++;
                        }
        }
        cr_assert_eq(n, 192);
        cr_assert_eq(found, ELEMENTSOF(want));
        p = "nr_x\npgfault 12\n";
        cr_assert_eq(procfs_vmstat_next(&p, &f), -EBADMSG);
        cr_assert_eq(procfs_vmstat_next(&p, &f), 1);
        cr_assert_eq(f.value, 12);
}

Test(procfs, numbers) {
        static const struct {
                const char *text;
                size_t want;
                int r;
                int64_t v[3];
        } cases[] = {
                { "1500\n", 1, 1, { 1500 } },
                { "-1\n", 1, 1, { -1 } },
                { "1154\t0\t2466235\n", 3, 3, { 1154, 0, 2466235 } },
                { "1154\t0\n", 3, 2, { 1154, 0 } },
                { "7 8 9 10\n", 3, 3, { 7, 8, 9 } }, /* more than asked for: newer kernel */
                { "", 1, -EBADMSG, { 0 } },
                { "\n", 1, -EBADMSG, { 0 } },
                { "auto\n", 1, -EBADMSG, { 0 } },
                { "1500 kB\n", 2, -EBADMSG, { 0 } },
                { "12x\n", 1, -EBADMSG, { 0 } },
                { "99999999999999999999\n", 1, -EBADMSG, { 0 } },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int64_t v[3] = { 0 };
                int r = procfs_parse_numbers(cases[i].text, v, cases[i].want);

                cr_assert_eq(r, cases[i].r, "case %zu: %d", i, r);
                for (int k = 0; k < r; k++)
                        cr_assert_eq(v[k], cases[i].v[k], "case %zu, number %d", i, k);
        }
        _cleanup_free_ char *buf = fixture("file-nr");
        int64_t v[3];
        cr_assert_eq(procfs_parse_numbers(buf, v, 3), 3);
        cr_assert_eq(v[0], 1154);
        cr_assert_eq(v[2], 2466235);
}

Test(procfs, pressure) {
        static const struct {
                const char *fixture;
                uint64_t some, full;
                bool has_full;
        } cases[] = {
                { "pressure-cpu", 1822176858, 0, true },
                { "pressure-io", 55682914, 7792783, true },
                { "pressure-cpu-5.2", 1234567, 0, false }, /* cpu had no "full" line before 5.13 */
        };
        struct pressure pr;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *buf = fixture(cases[i].fixture);

                cr_assert_eq(procfs_parse_pressure(buf, &pr), 0, "%s", cases[i].fixture);
                cr_assert(pr.has_some);
                cr_assert_eq(pr.some_us, cases[i].some, "%s", cases[i].fixture);
                cr_assert_eq(pr.full_us, cases[i].full, "%s", cases[i].fixture);
                cr_assert_eq(pr.has_full, cases[i].has_full, "%s", cases[i].fixture);
        }
        cr_assert_eq(procfs_parse_pressure("", &pr), -EBADMSG);
        cr_assert_eq(procfs_parse_pressure("some avg10=0.00\n", &pr), -EBADMSG);
        cr_assert_eq(procfs_parse_pressure("some avg10=0.00 total=x\n", &pr), -EBADMSG);
}

Test(procfs, softnet) {
        static const struct {
                const char *fixture;
                size_t n;
                struct softnet last;
        } cases[] = {
                { "softnet_stat", 2, { 0xf8b34, 0, 1 } },
                { "softnet_stat-4.19", 2, { 0x10, 0, 0xffffffff } },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *buf = fixture(cases[i].fixture);
                const char *p = buf;
                struct softnet s[4];
                size_t n = 0;

                while (procfs_softnet_next(&p, &s[n]) > 0)
                        n++;
                cr_assert_eq(n, cases[i].n, "%s", cases[i].fixture);
                cr_assert_eq(s[n - 1].processed, cases[i].last.processed, "%s", cases[i].fixture);
                cr_assert_eq(s[n - 1].dropped, cases[i].last.dropped, "%s", cases[i].fixture);
                cr_assert_eq(s[n - 1].time_squeeze, cases[i].last.time_squeeze, "%s", cases[i].fixture);
        }
        const char *p = "0001e240 00000002\nzz 1 2\n0000000a 0000000b 0000000c\n";
        struct softnet s;
        cr_assert_eq(procfs_softnet_next(&p, &s), -EBADMSG);
        cr_assert_eq(procfs_softnet_next(&p, &s), -EBADMSG);
        cr_assert_eq(procfs_softnet_next(&p, &s), 1);
        cr_assert_eq(s.processed, 10);
        cr_assert_eq(s.time_squeeze, 12);
}

Test(procfs, arp_devices) {
        _cleanup_free_ char *buf = fixture("arp");
        static const char *const want[] = { "eth0", "eth0", "br-lan.10", "eth0" };
        const char *p = buf;
        char dev[PROCFS_IFNAME_MAX];
        size_t n = 0;

        while (procfs_arp_next(&p, dev) > 0) {
                cr_assert_lt(n, ELEMENTSOF(want));
                cr_assert_str_eq(dev, want[n]);
                n++;
        }
        cr_assert_eq(n, ELEMENTSOF(want));
        p = "IP address HW type Flags HW address Mask Device\n";
        cr_assert_eq(procfs_arp_next(&p, dev), 0, "a table with no entries");
        p = "10.0.0.1 0x1 0x2 aa:bb * waytoolongdevicename0\n";
        cr_assert_eq(procfs_arp_next(&p, dev), -EBADMSG);
}

Test(procfs, schedstat) {
        _cleanup_free_ char *buf = fixture("schedstat");
        const char *p = buf;
        struct schedstat_cpu c[4];
        size_t n = 0;

        while (procfs_schedstat_next(&p, &c[n]) > 0)
                n++;
        cr_assert_eq(n, 2);
        cr_assert_eq(c[0].cpu, 0);
        cr_assert_eq(c[0].running_ns, 2165441257262ULL);
        cr_assert_eq(c[0].waiting_ns, 40286217712ULL);
        cr_assert_eq(c[0].timeslices, 144193);
        cr_assert_eq(c[1].cpu, 1);
        cr_assert_eq(c[1].timeslices, 128411);
        p = "cpu0 1 2 3\n";
        cr_assert_eq(procfs_schedstat_next(&p, &c[0]), -EBADMSG);
}

Test(procfs, pid_stat) {
        static const struct {
                const char *fixture;
                struct pid_stat want;
        } cases[] = {
                /* captured: cat's own */
                { "pid-stat", { "cat", .utime = 0, .stime = 0, .starttime = 230362, .vsize = 3133440, .rss = 390 } },
                /* a name with spaces and parentheses, set by prctl() */
                { "pid-stat-parens",
                  { "a) (b c", .utime = 731, .stime = 269, .starttime = 4567, .vsize = 26562560, .rss = 1536 } },
                /* a name with a newline in it, which the line then holds */
                { "pid-stat-newline", { "a\nb", .utime = 2, .stime = 1, .starttime = 99, .vsize = 4096, .rss = 1 } },
                /* a kernel worker: its name is longer than TASK_COMM_LEN */
                { "pid-stat-kworker", { "kworker/0:1-events_power_efficient", .stime = 12, .starttime = 160 } },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *buf = fixture(cases[i].fixture);
                struct pid_stat st;

                cr_assert_eq(procfs_parse_pid_stat(buf, &st), 0, "%s", cases[i].fixture);
                cr_assert_str_eq(st.comm, cases[i].want.comm, "%s", cases[i].fixture);
                cr_assert_eq(st.utime, cases[i].want.utime, "%s", cases[i].fixture);
                cr_assert_eq(st.stime, cases[i].want.stime, "%s", cases[i].fixture);
                cr_assert_eq(st.starttime, cases[i].want.starttime, "%s", cases[i].fixture);
                cr_assert_eq(st.vsize, cases[i].want.vsize, "%s", cases[i].fixture);
                cr_assert_eq(st.rss, cases[i].want.rss, "%s", cases[i].fixture);
        }
        struct pid_stat st;
        cr_assert_eq(procfs_parse_pid_stat("42 no parens S 1 2 3", &st), -EBADMSG);
        cr_assert_eq(procfs_parse_pid_stat("42 x) (y S 1 2 3", &st), -EBADMSG, "closed before it opens");
        cr_assert_eq(procfs_parse_pid_stat("42 (x) S 1 2 3\n", &st), -EBADMSG, "cut short");
}

Test(procfs, pid_stat_name_is_truncated_to_fit) {
        char line[512];
        struct pid_stat st;

        snprintf(line, sizeof line, "7 (%0200d) S 1 7 7 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 8 9 10\n", 0);
        cr_assert_eq(procfs_parse_pid_stat(line, &st), 0);
        cr_assert_eq(strlen(st.comm), PROCFS_COMM_MAX - 1);
        cr_assert_eq(st.utime, 5);
        cr_assert_eq(st.rss, 10);
}

Test(procfs, read_only_options) {
        cr_assert(procfs_options_read_only("ro,relatime"));
        cr_assert(procfs_options_read_only("rw,nosuid,ro"));
        cr_assert_not(procfs_options_read_only("rw,relatime,errors=remount-ro"));
        cr_assert_not(procfs_options_read_only("rw,root=1"));
        cr_assert_not(procfs_options_read_only(""));
}
