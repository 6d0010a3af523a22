/* SPDX-License-Identifier: MIT */
/* CPU time of one full telemetry sample, as telemetryd takes it: read and
 * parse /proc, compute rates, write the JSON into the frame
 * buffer. Samples are spaced like ticks (caches go cold in between).
 * With "floor", only make the system calls a sample cannot do without,
 * through descriptors kept open, and parse nothing (floor.h): the least any
 * sampler of the same fields can cost, with every process's memory.
 * Besides each sample's own thread time, process_us is the whole process's
 * user + system time over all samples divided by their number (getrusage()),
 * so that nothing spent outside the timed calls is missed.
 * Usage: telemetry-sample-cost COUNT SPACING_MS [floor]; prints one JSON line. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"
#include "jsonutil.h"
#include "sample-json.h"
#include "sample.h"

static double thread_cpu_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double process_cpu_usec(void) {
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static int cmp(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

/* Calls one(arg) count times, spacing ms apart, like ticks: each call's
 * own thread time in cost[], sorted. Prints the first fields of the JSON
 * line: the median, mean and p90 of those, and the whole process's user +
 * system time over all calls divided by their number. */
static void run_spaced(int count, int spacing, double *cost, void (*one)(void *), void *arg) {
        double sum = 0, p0 = process_cpu_usec();

        for (int i = 0; i < count; i++) {
                double t0;

                usleep((useconds_t) spacing * 1000);
                t0 = thread_cpu_usec();
                one(arg);
                cost[i] = thread_cpu_usec() - t0;
                sum += cost[i];
        }
        p0 = (process_cpu_usec() - p0) / count;
        qsort(cost, (size_t) count, sizeof *cost, cmp);
        printf("{\"median_us\": %.1f, \"mean_us\": %.1f, \"p90_us\": %.1f, \"process_us\": %.1f", cost[count / 2],
               sum / count, cost[count * 9 / 10], p0);
}

struct sampling {
        struct sampler *s;
        const struct sample *x;
        char frame[1 << 20];
        bool failed;
};

static void take_and_write(void *arg) {
        struct sampling *g = arg;
        struct json_writer w;

        sampler_take(g->s, &g->x);
        json_writer_into(&w, g->frame, sizeof g->frame);
        g->failed |= sample_write_json(&w, g->x, "192.168.1.100", 1, NULL) < 0;
}

static void floor_take(void *arg) {
        floor_reads_take(arg);
}

int main(int argc, char **argv) {
        int count = argc > 1 ? atoi(argv[1]) : 200, spacing = argc > 2 ? atoi(argv[2]) : 50;
        static struct floor_proc procs[1 << 16];
        static struct sampling g;
        double *cost = calloc((size_t) count > 0 ? (size_t) count : 1, sizeof *cost);
        unsigned full, scans;

        if (!cost || count < 1 || sampler_new(NULL, &g.s) < 0)
                return 1;
        sampler_prime(g.s);
        sampler_take(g.s, &g.x);
        if (argc > 3 && strcmp(argv[3], "floor") == 0) {
                /* The same mounts as the sample's, for statfs(). */
                char *mounts[64];
                size_t n_mounts = 0;
                struct floor_reads r;

                for (size_t i = 0; i < g.x->disk.n_mounts && n_mounts < 64; i++)
                        mounts[n_mounts++] = (char *) g.x->disk.mounts[i].mount_point;
                if (floor_reads_open(&r, procs, sizeof procs / sizeof *procs, mounts, n_mounts) < 0)
                        return 1;
                run_spaced(count, spacing, cost, floor_take, &r);
                printf(", \"processes\": %u, \"with_memory\": %zu}\n", g.x->processes.count, r.n_procs);
        } else {
                run_spaced(count, spacing, cost, take_and_write, &g);
                if (g.failed)
                        return 1;
                full = sampler_full_listings(g.s, &scans);
                printf(", \"processes\": %u, \"frame_bytes\": %zu, \"full_listings\": %u, \"scans\": %u}\n",
                       g.x->processes.count, strlen(g.frame), full, scans);
        }
        sampler_free(g.s);
        free(cost);
        return 0;
}
