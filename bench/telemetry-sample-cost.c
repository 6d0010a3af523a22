/* SPDX-License-Identifier: MIT */
/* CPU time of one full telemetry sample, as telemetryd takes it: read and
 * parse /proc, compute rates, write the JSON into the frame
 * buffer. Samples are spaced like ticks (caches go cold in between).
 * Besides each sample's own thread time, process_us is the whole process's
 * user + system time over each sample (getrusage()).
 * With "serve", it takes a sample, or a tick of the floor, each time stdin
 * says "sample" or "floor" (a line), answers with an empty line, and prints
 * the figures at the end of input, the floor's in "floor": a bench can then
 * put its peers' work in between, so that all of them see the same state
 * of a noisy machine. The floor makes only the system calls a sample
 * cannot do without, through descriptors kept open, with nothing parsed
 * (floor.h): the least any sampler of the same fields can cost with every
 * process's memory.
 * Usage: telemetry-sample-cost COUNT SPACING_MS
 *        telemetry-sample-cost serve
 * Prints one JSON line. */
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

/* One kind of work the driver times. */
struct job {
        const char *name;
        void (*one)(void *);
        void *arg;
        double *cost; /* each call's own thread time; sorted when printed */
        size_t n, size;
        double process_usec;
};

/* Calls job->one once: false when there is no room to keep its cost. */
static bool job_run(struct job *job) {
        double p0, t0;

        if (job->n == job->size) {
                size_t size = job->size ? 2 * job->size : 256;
                double *cost = realloc(job->cost, size * sizeof *cost);

                if (!cost)
                        return false;
                job->cost = cost;
                job->size = size;
        }
        p0 = process_cpu_usec();
        t0 = thread_cpu_usec();
        job->one(job->arg);
        job->cost[job->n++] = thread_cpu_usec() - t0;
        job->process_usec += process_cpu_usec() - p0;
        return true;
}

/* The job's figures, the first fields of a JSON object. */
static void print_costs(struct job *job) {
        double sum = 0;

        qsort(job->cost, job->n, sizeof *job->cost, cmp);
        for (size_t i = 0; i < job->n; i++)
                sum += job->cost[i];
        printf("{\"median_us\": %.1f, \"mean_us\": %.1f, \"p90_us\": %.1f, \"process_us\": %.1f",
               job->n ? job->cost[job->n / 2] : 0, job->n ? sum / job->n : 0, job->n ? job->cost[job->n * 9 / 10] : 0,
               job->n ? job->process_usec / job->n : 0);
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

/* Each line on stdin names a job, done once and answered with an empty
 * line, until the end of input: false on a word it does not know. */
static bool serve(struct job *jobs, size_t n_jobs) {
        char line[64];

        while (fgets(line, sizeof line, stdin)) {
                size_t j = 0;

                line[strcspn(line, "\n")] = '\0';
                while (j < n_jobs && strcmp(line, jobs[j].name) != 0)
                        j++;
                if (j == n_jobs || !job_run(&jobs[j]))
                        return false;
                printf("\n");
                fflush(stdout);
        }
        return true;
}

int main(int argc, char **argv) {
        bool served = argc > 1 && strcmp(argv[1], "serve") == 0;
        int count = argc > 1 ? atoi(argv[1]) : 200, spacing = argc > 2 ? atoi(argv[2]) : 50;
        static struct floor_proc procs[1 << 16];
        static struct sampling g;
        char *mounts[64];
        size_t n_mounts = 0;
        struct floor_reads r;
        struct job jobs[2] = {
                { .name = "sample", .one = take_and_write, .arg = &g },
                { .name = "floor", .one = floor_take, .arg = &r },
        };
        unsigned full, scans;

        if ((!served && count < 1) || sampler_new(NULL, &g.s) < 0)
                return 1;
        sampler_prime(g.s);
        sampler_take(g.s, &g.x);
        if (served) {
                /* The same mounts as the sample's, for statfs(). */
                for (size_t i = 0; i < g.x->disk.n_mounts && n_mounts < 64; i++)
                        mounts[n_mounts++] = strdup(g.x->disk.mounts[i].mount_point);
                if (floor_reads_open(&r, procs, sizeof procs / sizeof *procs, mounts, n_mounts) < 0 ||
                    !serve(jobs, 2))
                        return 1;
        } else
                /* Each sample spacing ms after the one before, like ticks. */
                for (int i = 0; i < count; i++) {
                        usleep((useconds_t) spacing * 1000);
                        if (!job_run(&jobs[0]))
                                return 1;
                }
        if (g.failed)
                return 1;
        full = sampler_full_listings(g.s, &scans);
        print_costs(&jobs[0]);
        printf(", \"processes\": %u, \"frame_bytes\": %zu, \"full_listings\": %u, \"scans\": %u", g.x->processes.count,
               strlen(g.frame), full, scans);
        if (served) {
                printf(", \"floor\": ");
                print_costs(&jobs[1]);
                printf(", \"with_memory\": %zu}", r.n_procs);
        }
        printf("}\n");
        sampler_free(g.s);
        while (n_mounts)
                free(mounts[--n_mounts]);
        free(jobs[0].cost);
        free(jobs[1].cost);
        return 0;
}
