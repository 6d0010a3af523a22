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
};

int procfs_parse_loadavg(const char *buf, struct loadavg *ret);

#define PROCFS_DISK_NAME_MAX 32 /* the kernel's DISK_NAME_LEN */

struct diskstat {
        unsigned major, minor;
        char name[PROCFS_DISK_NAME_MAX];
        uint64_t reads, sectors_read, writes, sectors_written; /* sectors of 512 bytes, always */
};

int procfs_diskstats_next(const char **cursor, struct diskstat *ret);

#define PROCFS_IFNAME_MAX 16 /* IFNAMSIZ */

struct netdev {
        char name[PROCFS_IFNAME_MAX];
        uint64_t rx_bytes, rx_packets, rx_errs, rx_drop;
        uint64_t tx_bytes, tx_packets, tx_errs, tx_drop;
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

/* /proc/<pid>/comm: the name is every byte but the final newline (a name set
 * with prctl() may itself contain spaces, parentheses or newlines). The bytes
 * are copied as they are; making them valid UTF-8 is the printer's job.
 * Truncated to fit. */
void procfs_parse_comm(const char *buf, size_t len, char ret[static PROCFS_COMM_MAX]);

/* The mean of the "cpu MHz" lines of /proc/cpuinfo; -ENOENT when there are
 * none (most ARM kernels do not print one). */
int procfs_parse_cpuinfo_mhz(const char *buf, double *ret);
