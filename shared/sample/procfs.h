/* SPDX-License-Identifier: MIT */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pure parsers for the /proc files a telemetry sample is made of: a
 * NUL-terminated buffer in, a struct out, no I/O, no allocation. Reading the
 * files and turning counters into rates is sample.c's job.
 *
 * Files that list one entry per line (/proc/stat cpu lines, diskstats,
 * net/dev, mountinfo) are walked with a cursor: set it to the buffer, call
 * the _next() function until it returns 0. A line that does not have the
 * expected shape yields -EBADMSG with the cursor already past it, so a caller
 * may skip it and go on; kernels add columns over time, so extra columns are
 * ignored and missing trailing ones read as 0.
 *
 * Memory sizes come out in bytes, everything else in the file's own unit. */

/* Jiffies (USER_HZ) per mode, in /proc/stat column order. guest and
 * guest_nice are already included in user and nice. */
struct cpu_times {
        uint64_t user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice;
};

#define PROCFS_CPU_ALL UINT_MAX

struct stat_cpu {
        unsigned cpu; /* N of a "cpuN" line, PROCFS_CPU_ALL for the "cpu" total */
        struct cpu_times t;
};

/* The "cpu" and "cpuN" lines of /proc/stat, in file order. Only online CPUs
 * have a cpuN line, so the numbers may have gaps. */
int procfs_stat_next_cpu(const char **cursor, struct stat_cpu *ret);

struct meminfo {
        uint64_t total, free, available, buffers, cached, sreclaimable, shmem;
        uint64_t swap_total, swap_free;
        uint64_t active, inactive, slab;
        bool has_available; /* false: kernel < 3.14, available is estimated */
};

/* The /proc/meminfo keys struct meminfo holds, in its order (MemTotal
 * first, MemAvailable third): what the parser reads and what /metrics
 * exports under node_exporter's node_memory_<key>_bytes. */
struct meminfo_key {
        const char *key;
        size_t offset;
};
extern const struct meminfo_key meminfo_keys[];
extern const size_t meminfo_keys_count;

/* -EBADMSG when MemTotal is missing. available is clamped to total. */
int procfs_parse_meminfo(const char *buf, struct meminfo *ret);

struct loadavg {
        double load1, load5, load15;
        unsigned running, total; /* scheduling entities (threads), not processes */
        unsigned last_pid;       /* the last pid handed out in our namespace; 0 when not there */
};

int procfs_parse_loadavg(const char *buf, struct loadavg *ret);

#define PROCFS_DISK_NAME_MAX 32 /* the kernel's DISK_NAME_LEN */

struct diskstat {
        unsigned major, minor;
        char name[PROCFS_DISK_NAME_MAX];
        /* Sectors of 512 bytes, always; times in milliseconds. */
        uint64_t reads, reads_merged, sectors_read, read_ms;
        uint64_t writes, writes_merged, sectors_written, write_ms;
        uint64_t in_flight, io_ms, weighted_io_ms;
        uint64_t discards, discards_merged, sectors_discarded, discard_ms; /* 4.18 */
        uint64_t flushes, flush_ms;                                        /* 5.5 */
        unsigned columns; /* counters the line had: 4 (an old partition), 11, 15 or 17 */
};

int procfs_diskstats_next(const char **cursor, struct diskstat *ret);

#define PROCFS_IFNAME_MAX 16 /* IFNAMSIZ */

struct netdev {
        char name[PROCFS_IFNAME_MAX];
        uint64_t rx_bytes, rx_packets, rx_errs, rx_drop, rx_fifo, rx_frame, rx_compressed, rx_multicast;
        uint64_t tx_bytes, tx_packets, tx_errs, tx_drop, tx_fifo, tx_colls, tx_carrier, tx_compressed;
};

/* The interface lines of /proc/net/dev; the two header lines are skipped. */
int procfs_netdev_next(const char **cursor, struct netdev *ret);

/* One counter of /proc/net/snmp (or netstat), found by protocol and column
 * name, e.g. ("Tcp", "CurrEstab"): the file pairs a header line naming the
 * columns with a value line. -ENOENT if the protocol or column is absent. */
int procfs_parse_snmp(const char *buf, const char *proto, const char *field, int64_t *ret);

struct mountinfo {
        unsigned id, parent, major, minor;
        const char *root, *mount_point, *options, *fstype, *source, *super_options;
};

/* /proc/<pid>/mountinfo. Unlike the other walkers this one splits the buffer
 * in place: fields are NUL-terminated where they stand and the octal escapes
 * the kernel writes for space, tab, newline and backslash (\040 \011 \012
 * \134) are decoded, so the strings stay valid until the buffer is reused. */
int procfs_mountinfo_next(char **cursor, struct mountinfo *ret);

/* Whether /proc/filesystems lists fstype as needing a block device (no
 * "nodev" mark): ext4, xfs, btrfs, fuseblk... but not tmpfs or overlay. */
bool procfs_fs_requires_device(const char *filesystems, const char *fstype);

struct statm {
        uint64_t size, resident, shared, text, data; /* pages */
};

int procfs_parse_statm(const char *buf, struct statm *ret);

/* Longer than TASK_COMM_LEN: kernel worker threads show "kworker/0:1-events". */
#define PROCFS_COMM_MAX 64

/* The mean of the "cpu MHz" lines of /proc/cpuinfo; -ENOENT when there are
 * none (most ARM kernels do not print one). */
int procfs_parse_cpuinfo_mhz(const char *buf, double *ret);

/* ---- what /metrics exposes beyond a sample (docs/telemetry-stream.md) ---- */

/* The counters of /proc/stat besides the cpu lines. */
struct stat_counters {
        uint64_t intr;  /* interrupts serviced, the first number of "intr" */
        uint64_t ctxt;  /* context switches */
        uint64_t btime; /* boot time, seconds since the epoch */
        uint64_t processes; /* forks since boot */
        uint64_t procs_running, procs_blocked;
};

/* -EBADMSG when there is no btime line (every kernel writes one). */
int procfs_parse_stat_counters(const char *buf, struct stat_counters *ret);

/* One line of /proc/meminfo. key is the name as written ("Active(anon)");
 * value is in bytes when the line gave a kB unit (has_unit), else as is
 * (HugePages_Total counts pages). */
struct meminfo_field {
        char key[32];
        uint64_t value;
        bool has_unit;
};

int procfs_meminfo_next(const char **cursor, struct meminfo_field *ret);

/* A counter named by protocol and field: a column of /proc/net/snmp or
 * /proc/net/netstat, a line of /proc/net/snmp6 (proto "Ip6", name
 * "InReceives" from "Ip6InReceives"), or a pair of /proc/net/sockstat
 * (proto "TCP", name "inuse"). */
struct proto_counter {
        char proto[16];
        char name[48];
        int64_t value;
};

/* /proc/net/snmp and /proc/net/netstat pair a line naming the columns with
 * a line of values, both starting with "<proto>:". A pair whose lines do not
 * match up yields -EBADMSG once and is skipped. Start with cursor = buf. */
struct netstat_cursor {
        const char *next;           /* the line after the current pair */
        const char *names, *values; /* the next column of each line; NULL between pairs */
        const char *names_end, *values_end;
        char proto[16];
};

void procfs_netstat_init(struct netstat_cursor *c, const char *buf);
int procfs_netstat_next(struct netstat_cursor *c, struct proto_counter *ret);

/* /proc/net/snmp6: one "<Proto6><Name> <value>" per line; the protocol
 * ends at its "6" ("Ip6", "Icmp6", "Udp6", "UdpLite6"). Lines without a
 * "6" in the name (there are none today) yield -EBADMSG. */
int procfs_snmp6_next(const char **cursor, struct proto_counter *ret);

/* /proc/net/sockstat and sockstat6: "<PROTO>: <name> <value> ..." lines,
 * one counter per call ("sockets: used 27" gives proto "sockets"). */
struct sockstat_cursor {
        const char *next, *pos, *end; /* pos: the next pair on the current line, NULL between lines */
        char proto[16];
};

void procfs_sockstat_init(struct sockstat_cursor *c, const char *buf);
int procfs_sockstat_next(struct sockstat_cursor *c, struct proto_counter *ret);

/* /proc/vmstat: "<name> <value>" lines. */
struct vmstat_field {
        char name[64];
        uint64_t value;
};

int procfs_vmstat_next(const char **cursor, struct vmstat_field *ret);

/* A file that holds numbers and nothing else: /proc/sys/fs/file-nr (three),
 * entropy_avail, nf_conntrack_count, a sysfs attribute such as mtu or speed
 * (-1 when a driver does not know). Returns how many of the n were there
 * (at least one), or -EBADMSG. */
int procfs_parse_numbers(const char *buf, int64_t *v, size_t n);

/* /proc/pressure/{cpu,memory,io}: the total stall time of the "some" and
 * "full" lines, in microseconds. cpu had no "full" line before 5.13. */
struct pressure {
        uint64_t some_us, full_us;
        bool has_some, has_full;
};

int procfs_parse_pressure(const char *buf, struct pressure *ret);

/* /proc/net/softnet_stat: one line of hexadecimal counters per CPU, in CPU
 * order. */
struct softnet {
        uint64_t processed, dropped, time_squeeze;
};

int procfs_softnet_next(const char **cursor, struct softnet *ret);

/* /proc/net/arp: the device of each entry (the header line is skipped). */
int procfs_arp_next(const char **cursor, char ret[static PROCFS_IFNAME_MAX]);

/* /proc/schedstat (version 15): the cpuN lines; the other lines are skipped. */
struct schedstat_cpu {
        unsigned cpu;
        uint64_t running_ns, waiting_ns, timeslices;
};

int procfs_schedstat_next(const char **cursor, struct schedstat_cpu *ret);

/* /proc/<pid>/stat: what the process_* metrics need. The command name may
 * hold spaces and parentheses: the fields start after the last ')'. */
/* /proc/<pid>/stat. The name (comm) is every byte between the first '('
 * and the last ')': one set with prctl() may itself hold spaces,
 * parentheses or newlines. Its bytes are copied as they are, truncated to
 * fit; making them valid UTF-8 is the printer's job. */
struct pid_stat {
        char comm[PROCFS_COMM_MAX];
        uint64_t utime, stime; /* clock ticks */
        uint64_t starttime;    /* clock ticks after boot */
        uint64_t vsize;        /* bytes */
        uint64_t rss;          /* pages */
};

int procfs_parse_pid_stat(const char *buf, struct pid_stat *ret);

/* Whether a mount's options ("rw,relatime", or the superblock's) say "ro". */
bool procfs_options_read_only(const char *options);
