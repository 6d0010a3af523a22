/* SPDX-License-Identifier: MIT */
/* CPU time of one full telemetry sample, as telemetryd takes it: read and
 * parse /proc, compute rates, write the JSON into the frame
 * buffer. Samples are spaced like ticks (caches go cold in between).
 * With "bare", only read the same files the plainest way (open, read,
 * close; statm of every process, stat of five), parse nothing: the floor.
 * Besides each sample's own thread time, process_us is the whole process's
 * user + system time over all samples divided by their number (getrusage()),
 * so that nothing spent outside the timed calls is missed.
 * Usage: telemetry-sample-cost COUNT SPACING_MS [bare]; prints one JSON line. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "jsonutil.h"
#include "sample-json.h"
#include "sample.h"

static double thread_cpu_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void slurp(int dirfd, const char *path) {
        static char buf[1 << 16];
        int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return;
        while (read(fd, buf, sizeof buf) > 0)
                ;
        close(fd);
}

static unsigned bare_read(int proc) {
        static const char *const files[] = { "stat",     "meminfo",  "loadavg",       "diskstats",
                                             "net/dev",  "net/snmp", "self/mountinfo" };
        static char dents[16384];
        unsigned n = 0;
        ssize_t len;

        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
                slurp(proc, files[i]);
        lseek(proc, 0, SEEK_SET);
        while ((len = getdents64(proc, dents, sizeof dents)) > 0)
                for (ssize_t off = 0; off < len;) {
                        struct dirent64 *d = (struct dirent64 *) (dents + off);
                        char path[300];

                        off += d->d_reclen;
                        if (d->d_name[0] < '1' || d->d_name[0] > '9')
                                continue;
                        snprintf(path, sizeof path, "%s/statm", d->d_name);
                        slurp(proc, path);
                        if (n++ < 5) {
                                snprintf(path, sizeof path, "%s/stat", d->d_name);
                                slurp(proc, path);
                        }
                }
        return n;
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

int main(int argc, char **argv) {
        int count = argc > 1 ? atoi(argv[1]) : 200, spacing = argc > 2 ? atoi(argv[2]) : 50;
        static char frame[1 << 20];
        double *cost = calloc((size_t) count, sizeof *cost), sum = 0, p0;
        struct sampler *s;
        const struct sample *x;
        unsigned procs = 0, full, scans;
        size_t bytes = 0;

        if (!cost)
                return 1;
        if (argc > 3 && strcmp(argv[3], "bare") == 0) {
                int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                p0 = process_cpu_usec();
                for (int i = 0; i < count; i++) {
                        double t0;

                        usleep((useconds_t) spacing * 1000);
                        t0 = thread_cpu_usec();
                        procs = bare_read(proc);
                        cost[i] = thread_cpu_usec() - t0;
                        sum += cost[i];
                }
                p0 = (process_cpu_usec() - p0) / count;
                qsort(cost, (size_t) count, sizeof *cost, cmp);
                printf("{\"median_us\": %.1f, \"mean_us\": %.1f, \"p90_us\": %.1f, \"process_us\": %.1f, "
                       "\"processes\": %u}\n",
                       cost[count / 2], sum / count, cost[count * 9 / 10], p0, procs);
                free(cost);
                return 0;
        }
        if (sampler_new(NULL, &s) < 0)
                return 1;
        sampler_prime(s);
        p0 = process_cpu_usec();
        for (int i = 0; i < count; i++) {
                struct json_writer w;
                double t0;

                usleep((useconds_t) spacing * 1000);
                t0 = thread_cpu_usec();
                sampler_take(s, &x);
                json_writer_into(&w, frame, sizeof frame);
                if (sample_write_json(&w, x, "192.168.1.100", 1, NULL) < 0)
                        return 1;
                cost[i] = thread_cpu_usec() - t0;
                sum += cost[i];
                procs = x->processes.count;
                bytes = strlen(frame);
        }
        p0 = (process_cpu_usec() - p0) / count;
        qsort(cost, (size_t) count, sizeof *cost, cmp);
        full = sampler_full_listings(s, &scans);
        printf("{\"median_us\": %.1f, \"mean_us\": %.1f, \"p90_us\": %.1f, \"process_us\": %.1f, \"processes\": %u, "
               "\"frame_bytes\": %zu, \"full_listings\": %u, \"scans\": %u}\n",
               cost[count / 2], sum / count, cost[count * 9 / 10], p0, procs, bytes, full, scans);
        sampler_free(s);
        free(cost);
        return 0;
}
