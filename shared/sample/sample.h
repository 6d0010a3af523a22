/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


#include "procfs.h"

/* One telemetry sample: what the stream sends (docs/telemetry-stream.md),
 * what /metrics exposes and what a one-shot CLI prints. A sampler reads
 * /proc and /sys, turns counters into rates against its previous reading
 * and keeps every buffer it needs between samples, so that taking a sample
 * allocates nothing once the sizes have settled. */

#define SAMPLE_TOP_PROCESSES 5
#define SAMPLE_USERNAME_MAX 33

struct sample_cpu {
        unsigned id; /* the N of cpuN: offline CPUs leave gaps */
        double usage_percent;
        struct cpu_times times;
};

struct sample_mount {
        const char *mount_point, *root, *device, *fstype; /* root: the subtree mounted there */
        unsigned major, minor;
        uint64_t total, free, avail, used; /* bytes; free includes root's reserve, avail does not */
        double usage_percent;              /* used / (used + avail), as df prints it */
};

struct sample_disk {
        char name[PROCFS_DISK_NAME_MAX];
        uint64_t read_bytes, written_bytes; /* cumulative */
        uint64_t reads, writes;             /* completed I/Os, cumulative */
};

struct sample_process {
        pid_t pid;
        uid_t uid;
        uint64_t rss; /* bytes */
        double memory_percent;
        double cpu_percent; /* of one CPU, as top shows it; NAN when unknown */
        char name[PROCFS_COMM_MAX];
        char username[SAMPLE_USERNAME_MAX];
};

struct sample {
        uint64_t seq;            /* 1, 2, ... for each sampler_take() */
        uint64_t realtime_usec;  /* when it was taken */
        uint64_t monotonic_usec;
        uint64_t window_usec;    /* what the rates and CPU percents cover; 0 = no previous reading */
        uint64_t duration_usec;  /* how long taking it took */

        struct {
                double usage_percent;
                struct cpu_times times; /* all CPUs together */
                struct sample_cpu *per_cpu;
                size_t n_cpu;           /* online CPUs */
                double frequency_mhz;   /* 0 when the kernel does not say */
                struct loadavg load;
        } cpu;

        struct meminfo memory;

        struct {
                struct sample_mount *mounts;
                size_t n_mounts;
                struct sample_disk *disks; /* whole physical disks */
                size_t n_disks;
                double read_bytes_per_sec, write_bytes_per_sec;
                double reads_per_sec, writes_per_sec; /* IOPS, all disks */
        } disk;

        struct {
                struct netdev *ifaces; /* every interface but loopback */
                size_t n_ifaces;
                double rx_bytes_per_sec, tx_bytes_per_sec;
                uint64_t rx_packets, tx_packets;
                int64_t active_connections;
        } network;

        struct {
                unsigned count;
                struct sample_process top[SAMPLE_TOP_PROCESSES];
                size_t n_top;
        } processes;
};

struct sampler;

/* root is where /proc and /sys are found: NULL or "/" for this machine, a
 * directory of captured files in tests. */
int sampler_new(const char *root, struct sampler **ret);
void sampler_free(struct sampler *s);

static inline void sampler_freep(struct sampler **s) {
        sampler_free(*s);
}
#define _cleanup_sampler_ _cleanup_(sampler_freep)

/* Take a reading that only serves as the base of the next sample's rates and
 * CPU percents, so that the first sample sent is already meaningful. */
int sampler_prime(struct sampler *s);

/* Take a sample. *ret stays valid (and unchanged) until the next call to
 * sampler_prime() or sampler_take(). A source that cannot be read leaves its
 * fields at zero and is logged once; the sample is still taken. */
int sampler_take(struct sampler *s, const struct sample **ret);

/* Take a sample between two numbered ones, for someone who asked for current
 * values: its rates and CPU percents cover the time since the last
 * sampler_take() (or sampler_prime()), it carries that one's seq, and the
 * next sampler_take() is compared with that one as if this had not been
 * taken. *ret stays valid until the next sampler_peek(). */
int sampler_peek(struct sampler *s, const struct sample **ret);


/* How many scans of the processes listed all of /proc rather than only the
 * new pids (docs/performance.md), and in *scans, how many there were: for
 * the benches and tests. */
unsigned sampler_full_listings(const struct sampler *s, unsigned *scans);

/* The pieces above, exposed for their tests. */

/* How much a cumulative counter grew. A counter below its previous value
 * either wrapped (a 32-bit counter, as 32-bit kernels and some drivers keep:
 * the modular difference is then less than half the 32-bit range) or was
 * reset (the device was re-created): then it grew by its current value. */
uint64_t counter_delta(uint64_t prev, uint64_t cur);

/* Busy share of the time between two readings, in percent. A mode whose
 * counter went backwards counts as zero (iowait does that on NO_HZ kernels). */
double cpu_busy_percent(const struct cpu_times *prev, const struct cpu_times *cur);

/* The top-N list by resident memory, largest first; ties keep scan order. */
bool sample_top_qualifies(const struct sample_process *top, size_t n, size_t max, uint64_t rss);
void sample_top_insert(struct sample_process *top, size_t *n, size_t max, const struct sample_process *p);
