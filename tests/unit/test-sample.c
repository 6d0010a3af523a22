/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <malloc.h>
#include <math.h>
#include <pwd.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "jsonutil.h"
#include "macro.h"
#include "proccache.h"
#include "procfile.h"
#include "sample-json.h"
#include "sample.h"

/* tests/data/sample/root is a small machine: 4 CPUs, 16 GiB with 4 GiB of
 * swap, disks vda (with a partition), sda, dm-0, loop0, zram0, interfaces
 * lo, eth0, eth1, wg0, and processes chosen for the top-5 edge cases. The
 * next/ and back/ files replace some of its files to make a second and
 * third reading: cpu1 goes offline and comes back, counters wrap or reset,
 * devices come and go. */

/* ---- pure helpers ------------------------------------------------------- */

Test(sample, counter_delta_wrap_and_reset) {
        static const struct {
                uint64_t prev, cur, delta;
        } cases[] = {
                { 0, 0, 0 },
                { 5, 10, 5 },
                { 4294967000ULL, 1000, 1296 },                        /* 32-bit wrap */
                { UINT32_MAX, 0, 1 },                                 /* 32-bit wrap to zero */
                { 3000000000ULL, 100, 4294967296ULL - 3000000000ULL + 100 }, /* wrap */
                { 1000, 10, 10 },                                     /* reset: far from the top */
                { 1000000000000ULL, 500, 500 },                       /* 64-bit counter reset */
                { UINT64_MAX - 1, UINT64_MAX, 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                cr_assert_eq(counter_delta(cases[i].prev, cases[i].cur), cases[i].delta, "case %zu", i);
}

Test(sample, cpu_busy_percent_cases) {
        struct cpu_times a = { .user = 100, .system = 100, .idle = 800, .iowait = 10, .guest = 50 };
        struct cpu_times b = a;

        cr_assert_float_eq(cpu_busy_percent(&a, &b), 0.0, 1e-9); /* nothing elapsed */
        b.user += 50;
        b.idle += 50;
        cr_assert_float_eq(cpu_busy_percent(&a, &b), 50.0, 1e-9);
        b.guest += 50; /* already inside user: must not count twice */
        cr_assert_float_eq(cpu_busy_percent(&a, &b), 50.0, 1e-9);
        b.iowait = 0; /* went backwards: counts as zero, not as a huge number */
        cr_assert_float_eq(cpu_busy_percent(&a, &b), 50.0, 1e-9);
        b.iowait = 110; /* iowait is idle time */
        cr_assert_float_eq(cpu_busy_percent(&a, &b), 25.0, 1e-9);
        b = a;
        b.steal += 10;
        b.irq += 10;
        b.softirq += 10;
        b.nice += 10;
        cr_assert_float_eq(cpu_busy_percent(&a, &b), 100.0, 1e-9);
}

static struct sample_process proc(pid_t pid, uint64_t rss) {
        return (struct sample_process){ .pid = pid, .rss = rss };
}

Test(sample, top_insert_keeps_largest_in_order) {
        struct sample_process top[3] = { 0 };
        size_t n = 0;
        static const struct {
                pid_t pid;
                uint64_t rss;
        } in[] = { { 1, 10 }, { 2, 30 }, { 3, 20 }, { 4, 30 }, { 5, 5 }, { 6, 25 }, { 7, 20 } };

        cr_assert(sample_top_qualifies(top, 0, 3, 0));
        cr_assert_not(sample_top_qualifies(top, 0, 0, 100));
        for (size_t i = 0; i < ELEMENTSOF(in); i++) {
                struct sample_process p = proc(in[i].pid, in[i].rss);
                sample_top_insert(top, &n, 3, &p);
        }
        cr_assert_eq(n, 3);
        /* ties keep scan order: pid 2 came before pid 4 */
        cr_assert_eq(top[0].pid, 2);
        cr_assert_eq(top[1].pid, 4);
        cr_assert_eq(top[2].pid, 6);
        cr_assert_not(sample_top_qualifies(top, n, 3, 25));
        cr_assert(sample_top_qualifies(top, n, 3, 26));
}

Test(sample, top_insert_fewer_than_max) {
        struct sample_process top[5] = { 0 }, a = proc(1, 1), b = proc(2, 2);
        size_t n = 0;

        sample_top_insert(top, &n, 5, &a);
        sample_top_insert(top, &n, 5, &b);
        cr_assert_eq(n, 2);
        cr_assert_eq(top[0].pid, 2);
        cr_assert_eq(top[1].pid, 1);
}

/* ---- a sampler on the fixture machine ----------------------------------- */

static char root[64];

static void make_root(void) {
        char cmd[512];

        snprintf(root, sizeof root, "/tmp/resolvix-test-sample-XXXXXX");
        cr_assert_not_null(mkdtemp(root));
        snprintf(cmd, sizeof cmd, "cp -a '%s/sample/root/.' '%s/'", TEST_DATA_DIR, root);
        cr_assert_eq(system(cmd), 0);
}

static void drop_root(void) {
        char cmd[128];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        (void) !system(cmd);
}

/* Replace root/<path> with tests/data/sample/<from>. */
static void overlay(const char *from, const char *path) {
        char cmd[512];

        snprintf(cmd, sizeof cmd, "cp '%s/sample/%s' '%s/%s'", TEST_DATA_DIR, from, root, path);
        cr_assert_eq(system(cmd), 0);
}

static void next_reading(void) {
        overlay("next/stat", "proc/stat");
        overlay("next/diskstats", "proc/diskstats");
        overlay("next/dev", "proc/net/dev");
}

static const struct sample_mount *mount_at(const struct sample *x, const char *where) {
        for (size_t i = 0; i < x->disk.n_mounts; i++)
                if (streq(x->disk.mounts[i].mount_point, where))
                        return &x->disk.mounts[i];
        return NULL;
}

TestSuite(sampler, .init = make_root, .fini = drop_root);

Test(sampler, first_sample_without_prime_has_no_rates) {
        _cleanup_sampler_ struct sampler *s = NULL;
        const struct sample *x;

        cr_assert_eq(sampler_new(root, &s), 0);
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_eq(x->seq, 1);
        cr_assert_eq(x->window_usec, 0);
        cr_assert_eq(x->cpu.n_cpu, 4);
        cr_assert_float_eq(x->cpu.usage_percent, 0.0, 1e-9);
        cr_assert_float_eq(x->disk.read_bytes_per_sec, 0.0, 1e-9);
        cr_assert_float_eq(x->network.rx_bytes_per_sec, 0.0, 1e-9);
        /* cumulative values do not need a previous reading */
        cr_assert_eq(x->network.rx_packets, 10 + 30 + 5);
        cr_assert_eq(x->network.tx_packets, 20 + 40 + 6);
        cr_assert_eq(x->network.active_connections, 45);
        cr_assert_float_eq(x->cpu.load.load1, 2.5, 1e-9);
        cr_assert_float_eq(x->cpu.frequency_mhz, 2445.406, 1e-6);
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_eq(x->seq, 2);
}

Test(sampler, rates_and_percents_against_the_previous_reading) {
        _cleanup_sampler_ struct sampler *s = NULL;
        const struct sample *x;
        double window;

        cr_assert_eq(sampler_new(root, &s), 0);
        cr_assert_eq(sampler_prime(s), 0);
        next_reading();
        usleep(20000);
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_eq(x->seq, 1, "priming is not a sample");
        cr_assert_gt(x->window_usec, 10000);
        window = (double) x->window_usec / 1e6;

        /* cpu1 went offline: three entries, each compared with its own CPU */
        cr_assert_eq(x->cpu.n_cpu, 3);
        cr_assert_eq(x->cpu.per_cpu[0].id, 0);
        cr_assert_eq(x->cpu.per_cpu[1].id, 2);
        cr_assert_eq(x->cpu.per_cpu[2].id, 3);
        cr_assert_float_eq(x->cpu.per_cpu[0].usage_percent, 50.0, 1e-9);
        cr_assert_float_eq(x->cpu.per_cpu[1].usage_percent, 25.0, 1e-9);
        cr_assert_float_eq(x->cpu.per_cpu[2].usage_percent, 90.0, 1e-9); /* iowait went backwards */
        cr_assert_float_eq(x->cpu.usage_percent, 55.0, 1e-9);

        /* whole physical disks: vda and sda; nvme0n1 is new and adds
         * nothing yet; the partition, dm-0, loop0 and zram0 never count */
        cr_assert_eq(x->disk.n_disks, 3);
        cr_assert_float_eq(x->disk.read_bytes_per_sec * window, 2.0 * 1048576, 1e-3);
        cr_assert_float_eq(x->disk.write_bytes_per_sec * window, 2.0 * 1048576, 1e-3);

        /* eth0 receive +1 MiB, transmit wrapped at 32 bits (+1296), eth1
         * was re-created (its counter restarted at 500), veth1 is new,
         * loopback never counts */
        cr_assert_float_eq(x->network.rx_bytes_per_sec * window, 1048576.0 + 500, 1e-3);
        cr_assert_float_eq(x->network.tx_bytes_per_sec * window, 1296.0, 1e-3);
        cr_assert_eq(x->network.rx_packets, 110 + 3 + 7);
        cr_assert_eq(x->network.tx_packets, 120 + 4 + 8);
        cr_assert_eq(x->network.n_ifaces, 3);

        /* cpu1 is back: nothing to compare it with yet */
        overlay("back/stat", "proc/stat");
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_eq(x->cpu.n_cpu, 4);
        cr_assert_eq(x->cpu.per_cpu[1].id, 1);
        cr_assert_float_eq(x->cpu.per_cpu[1].usage_percent, 0.0, 1e-9);
        cr_assert_float_eq(x->cpu.per_cpu[0].usage_percent, 10.0, 1e-9);
        cr_assert_float_eq(x->cpu.per_cpu[3].usage_percent, 0.0, 1e-9);
}

/* A reading someone asked for between two ticks keeps the last tick's
 * number and is not what the next tick is compared with. */
Test(sampler, peek_is_neither_numbered_nor_a_base) {
        _cleanup_sampler_ struct sampler *s = NULL;
        const struct sample *peeked, *x;

        cr_assert_eq(sampler_new(root, &s), 0);
        cr_assert_eq(sampler_prime(s), 0);
        next_reading();
        cr_assert_eq(sampler_peek(s, &peeked), 0);
        cr_assert_eq(peeked->seq, 0, "before the first tick");
        cr_assert_float_eq(peeked->cpu.usage_percent, 55.0, 1e-9);
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_eq(x->seq, 1);
        /* Against the priming reading: had it been against the peek, with
         * the same files, the CPUs would read idle. */
        cr_assert_float_eq(x->cpu.usage_percent, 55.0, 1e-9);
        cr_assert_eq(peeked->seq, 0, "a tick leaves the peeked sample alone");
        cr_assert_eq(sampler_peek(s, &peeked), 0);
        cr_assert_eq(peeked->seq, 1);
        cr_assert_float_eq(peeked->cpu.usage_percent, 0.0, 1e-9);
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_eq(x->seq, 2);
}

Test(sampler, processes_vanishing_mid_scan_and_odd_names) {
        _cleanup_sampler_ struct sampler *s = NULL;
        const struct sample *x;
        const struct passwd *pw = getpwuid(getuid());
        long page = sysconf(_SC_PAGESIZE);

        cr_assert_eq(sampler_new(root, &s), 0);
        cr_assert_eq(sampler_take(s, &x), 0);
        /* 300 was gone before its statm could be read: not counted. 301
         * went between statm and stat: counted, but cannot be named, so
         * it is not in the top list. */
        cr_assert_eq(x->processes.count, 9);
        cr_assert_eq(x->processes.n_top, 5);
        cr_assert_eq(x->processes.top[0].pid, 100);
        cr_assert_str_eq(x->processes.top[0].name, "tmux: server (x)");
        cr_assert_eq(x->processes.top[0].rss, 50000ULL * page);
        cr_assert_float_eq(x->processes.top[0].memory_percent, 100.0 * 50000 * page / (16.0 * (1 << 30)), 1e-9);
        cr_assert_eq(x->processes.top[1].pid, 200);
        cr_assert_str_eq(x->processes.top[1].name, "\xff\xfe" "bad");
        cr_assert_eq(x->processes.top[2].pid, 400);
        cr_assert_eq(x->processes.top[3].pid, 401);
        cr_assert_str_eq(x->processes.top[3].name, "web (worker)");
        cr_assert_eq(x->processes.top[4].pid, 600);
        cr_assert_str_eq(x->processes.top[4].username, pw ? pw->pw_name : "");
}

Test(sampler, processes_without_memory_are_not_read_again) {
        _cleanup_sampler_ struct sampler *s = NULL;
        const struct sample *x;
        char cmd[512];

        cr_assert_eq(sampler_new(root, &s), 0);
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_eq(x->processes.count, 9);
        /* kthreadd (42) has no address space: still counted, not read */
        snprintf(cmd, sizeof cmd, "rm '%s/proc/42/statm'", root);
        cr_assert_eq(system(cmd), 0);
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_eq(x->processes.count, 9);
        /* The pid reused by a process with memory: a new directory, made
         * before the old one goes so that it cannot get its inode. */
        snprintf(cmd, sizeof cmd,
                 "cd '%s/proc' && mkdir new && echo '90000 80000 1 1 0 1 0' > new/statm"
                 " && echo '42 (reused) S 1 42 42 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 9 1 1' > new/stat"
                 " && rm -r 42 && mv new 42",
                 root);
        cr_assert_eq(system(cmd), 0);
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_eq(x->processes.count, 9);
        cr_assert_eq(x->processes.top[0].pid, 42);
        cr_assert_str_eq(x->processes.top[0].name, "reused");
}

__attribute__((format(printf, 1, 2))) static void shell(const char *fmt, ...) {
        char cmd[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof cmd, fmt, ap);
        va_end(ap);
        cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* A process among the top is read through its stat alone, which has its
 * memory too; once out of the top, through its statm again. */
Test(sampler, top_processes_read_through_their_stat_alone) {
        _cleanup_sampler_ struct sampler *s = NULL;
        const struct sample *x;
        long page = sysconf(_SC_PAGESIZE);

        cr_assert_eq(sampler_new(root, &s), 0);
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_eq(x->processes.top[0].pid, 100);

        shell("mv '%s/proc/100/statm' '%s/statm-100'", root, root);
        shell("echo '100 (tmux: server (x)) S 1 100 100 0 -1 4194560 1 0 0 0 9 4 0 0 20 0 1 0 55 368640000 70000' "
              "> '%s/proc/100/stat'", root);
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_eq(x->processes.count, 9);
        cr_assert_eq(x->processes.top[0].pid, 100);
        cr_assert_str_eq(x->processes.top[0].name, "tmux: server (x)");
        cr_assert_eq(x->processes.top[0].rss, 70000ULL * page);
        cr_assert_gt(x->processes.top[0].cpu_percent, 0.0, "3 ticks more than the first reading");

        /* Out of the top: its stat says so, and stays open while it is
         * one of the candidates next in line, so that two processes
         * trading the last place do not open files each time. */
        shell("echo '100 (tmux: server (x)) S 1 100 100 0 -1 4194560 1 0 0 0 9 4 0 0 20 0 1 0 55 368640000 1' "
              "> '%s/proc/100/stat'", root);
        cr_assert_eq(sampler_take(s, &x), 0);
        for (size_t i = 0; i < x->processes.n_top; i++)
                cr_assert_neq(x->processes.top[i].pid, 100);
        shell("mv '%s/statm-100' '%s/proc/100/statm'", root, root);
        cr_assert_eq(sampler_take(s, &x), 0);
        for (size_t i = 0; i < x->processes.n_top; i++)
                cr_assert_neq(x->processes.top[i].pid, 100, "its kept stat is read, not its statm");

        /* Below the candidates, its stat is closed; then its statm is read. */
        for (int pid = 700; pid < 704; pid++)
                shell("mkdir '%s/proc/%d' && echo '9000 6000 100 10 0 4000 0' > '%s/proc/%d/statm' && "
                      "echo '%d (big) S 1 %d %d 0 -1 4194560 1 0 0 0 7 3 0 0 20 0 1 0 55 36864000 6000' "
                      "> '%s/proc/%d/stat'",
                      root, pid, root, pid, pid, pid, pid, root, pid);
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_eq(x->processes.top[0].pid, 100);
        cr_assert_eq(x->processes.top[0].rss, 50000ULL * page, "from the statm");
}

/* ---- a /proc file read whole ----------------------------------------------- */

/* path through a procfile said to be made as record_max says, read twice
 * (the first read grows its buffer), against read() to the end. */
static void check_read_whole(const char *path, size_t record_max, size_t at_least) {
        struct procfile pf = PROCFILE_NULL;
        static char want[1 << 20];
        size_t len = 0;
        ssize_t n;
        int fd;

        pf.record_max = record_max;
        cr_assert_geq(procfile_open(&pf, AT_FDCWD, path), 0);
        cr_assert_geq(procfile_read(&pf), 0);
        cr_assert_geq(procfile_read(&pf), 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        while ((n = read(fd, want + len, sizeof want - 1 - len)) > 0)
                len += (size_t) n;
        close(fd);
        want[len] = '\0';
        cr_assert_geq(len, at_least, "%s is too small to make the point", path);
        cr_assert_str_eq(pf.data, want, "%s, records of at most %zu bytes", path, record_max);
        procfile_close(&pf);
}

/* A short read ends the file only where the kernel could not have stopped
 * early: here a file of many pages made a line at a time, whose reads come
 * back short of what was asked while more is to come. */
Test(procfile, short_reads_of_lines_past_a_page_are_read_on) {
        enum { REGIONS = 300 };
        long page = sysconf(_SC_PAGESIZE);
        char *base = mmap(NULL, 2 * REGIONS * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        cr_assert_neq(base, MAP_FAILED);
        /* Every other page writable: 600 mappings the kernel cannot merge,
         * about 30 KiB of /proc/self/maps. */
        for (size_t i = 0; i < REGIONS; i++)
                cr_assert_eq(mprotect(base + 2 * i * page, page, PROT_READ | PROT_WRITE), 0);
        check_read_whole("/proc/self/maps", 512, 8 * 4096);
        check_read_whole("/proc/self/maps", 0, 8 * 4096);
        munmap(base, 2 * REGIONS * page);
}

Test(procfile, whole_file_ends_at_its_short_read) {
        char path[] = "/tmp/resolvix-procfile-XXXXXX";
        int fd = mkstemp(path);

        cr_assert_geq(fd, 0);
        /* More than the first read asks for, and not a multiple of it. */
        for (int i = 0; i < 1000; i++)
                cr_assert_gt(dprintf(fd, "line %d of a file made in one piece\n", i), 0);
        close(fd);
        check_read_whole(path, PROCFILE_WHOLE, 30000);
        unlink(path);
}

/* ---- the per-process cache on the fixture machine ------------------------ */

static int proc_dir;

static void open_proc_dir(void) {
        char path[128];

        make_root();
        snprintf(path, sizeof path, "%s/proc", root);
        proc_dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(proc_dir, 0);
}

static void close_proc_dir(void) {
        close(proc_dir);
        drop_root();
}

static uint64_t proc_ino(pid_t pid) {
        struct stat st;
        char path[128];

        snprintf(path, sizeof path, "%s/proc/%d", root, (int) pid);
        cr_assert_eq(stat(path, &st), 0);
        return st.st_ino;
}

/* One scan over pids, each read as the sampler does (its stat when that is
 * kept, else its statm); returns how many could be read, and the first
 * line of each in out[] when out is not NULL. */
static size_t scan(struct proccache *c, const pid_t *pids, size_t n, char (*out)[64]) {
        size_t ok = 0;

        proccache_begin(c);
        for (size_t i = 0; i < n; i++) {
                struct proc_entry *e = proccache_visit(c, pids[i], proc_ino(pids[i]));
                char buf[256];

                cr_assert_not_null(e);
                if (proccache_read(c, e, e->pid, e->stat_fd >= 0 ? PROC_FILE_STAT : PROC_FILE_STATM, proc_dir, buf,
                                   sizeof buf) < 0) {
                        proccache_drop_last(c);
                        continue;
                }
                ok++;
                if (out)
                        snprintf(out[i], sizeof out[i], "%s", buf);
        }
        proccache_end(c);
        return ok;
}

static int kept_fd(const struct proccache *c, pid_t pid) {
        for (size_t i = 0; i < c->n_cur; i++)
                if (c->cur[i].pid == pid)
                        return c->cur[i].statm_fd;
        return -2;
}

static bool fd_open(int fd) {
        return fd >= 0 && fcntl(fd, F_GETFD) >= 0;
}

TestSuite(proccache, .init = open_proc_dir, .fini = close_proc_dir);

Test(proccache, kept_file_is_read_again_from_the_start) {
        struct proccache c;
        static const pid_t pids[] = { 100, 200 };
        char out[2][64];
        int fd;

        proccache_init(&c, 16);
        cr_assert_eq(scan(&c, pids, 2, out), 2);
        cr_assert_eq(c.n_fds, 2);
        cr_assert_str_eq(out[0], "90000 50000 1000 10 0 60000 0\n");
        fd = kept_fd(&c, 100);
        cr_assert(fd_open(fd));
        /* rewritten in place (the same inode, as /proc makes it afresh) */
        shell("echo '91000 51000 1 1 0 1 0' > '%s/proc/100/statm'", root);
        cr_assert_eq(scan(&c, pids, 2, out), 2);
        cr_assert_eq(kept_fd(&c, 100), fd, "the same descriptor, not a new open");
        cr_assert_str_eq(out[0], "91000 51000 1 1 0 1 0\n");
        proccache_done(&c);
        cr_assert_not(fd_open(fd));
}

Test(proccache, process_that_exits_is_closed) {
        struct proccache c;
        static const pid_t both[] = { 100, 200 }, one[] = { 100 };
        int fd;

        proccache_init(&c, 16);
        cr_assert_eq(scan(&c, both, 2, NULL), 2);
        fd = kept_fd(&c, 200);
        cr_assert(fd_open(fd));
        /* 200 is no longer listed */
        shell("rm -r '%s/proc/200'", root);
        cr_assert_eq(scan(&c, one, 1, NULL), 1);
        cr_assert_eq(c.n_fds, 1);
        cr_assert_eq(c.n_cur, 1);
        cr_assert_not(fd_open(fd));
        cr_assert(fd_open(kept_fd(&c, 100)));
        proccache_done(&c);
        cr_assert_eq(c.n_fds, 0);
}

Test(proccache, reused_pid_with_a_new_inode_is_read_afresh) {
        struct proccache c;
        static const pid_t pids[] = { 100 };
        char out[1][64];
        int fd;

        proccache_init(&c, 16);
        cr_assert_eq(scan(&c, pids, 1, out), 1);
        fd = kept_fd(&c, 100);
        /* A new process under the same pid: a new directory, made before
         * the old one goes so that it cannot get its inode. The old file
         * stays readable through the kept descriptor, so only the inode
         * check tells them apart. */
        shell("cd '%s/proc' && mkdir new && echo '7000 6000 1 1 0 1 0' > new/statm && rm -r 100 && mv new 100", root);
        cr_assert_eq(scan(&c, pids, 1, out), 1);
        cr_assert_str_eq(out[0], "7000 6000 1 1 0 1 0\n");
        cr_assert_not(fd_open(fd));
        cr_assert_eq(c.n_fds, 1);
        proccache_done(&c);
}

Test(proccache, past_the_cap_files_are_opened_each_time) {
        struct proccache c;
        static const pid_t pids[] = { 100, 200, 400 };
        char out[3][64];

        proccache_init(&c, 2);
        cr_assert_eq(scan(&c, pids, 3, out), 3);
        cr_assert_eq(c.n_fds, 2);
        cr_assert(fd_open(kept_fd(&c, 100)));
        cr_assert(fd_open(kept_fd(&c, 200)));
        cr_assert_eq(kept_fd(&c, 400), -1);
        cr_assert_str_eq(out[2], "20000 10000 1000 10 0 9000 0\n");
        /* Unlinked files: a kept one still reads, the one over the cap
         * does not, so it was never held open. */
        shell("rm '%s/proc/200/statm' '%s/proc/400/statm'", root, root);
        cr_assert_eq(scan(&c, pids, 3, out), 2);
        cr_assert_eq(c.n_fds, 2);
        cr_assert_eq(c.n_cur, 2, "the unreadable one is forgotten");
        /* 200 goes: its descriptor is closed once the scan is over, and
         * the next scan gives the free place to 400. */
        shell("rm -r '%s/proc/200'", root);
        shell("echo '1 1 1 1 0 1 0' > '%s/proc/400/statm'", root);
        static const pid_t rest[] = { 100, 400 };
        cr_assert_eq(scan(&c, rest, 2, NULL), 2);
        cr_assert_eq(c.n_fds, 1);
        cr_assert_eq(kept_fd(&c, 400), -1);
        cr_assert_eq(scan(&c, rest, 2, NULL), 2);
        cr_assert_eq(c.n_fds, 2);
        cr_assert(fd_open(kept_fd(&c, 400)));
        proccache_done(&c);
}

Test(proccache, lowered_cap_closes_what_is_over_it) {
        struct proccache c;
        static const pid_t pids[] = { 100, 200, 400 };
        int fd;

        proccache_init(&c, 16);
        cr_assert_eq(scan(&c, pids, 3, NULL), 3);
        cr_assert_eq(c.n_fds, 3);
        fd = kept_fd(&c, 400);
        proccache_set_max(&c, 2);
        cr_assert_eq(c.n_fds, 2);
        cr_assert_not(fd_open(fd));
        cr_assert_eq(scan(&c, pids, 3, NULL), 3, "still read, the plain way");
        cr_assert_eq(c.n_fds, 2);
        proccache_done(&c);
}

Test(proccache, empty_process_keeps_no_descriptor) {
        struct proccache c;
        struct proc_entry *e;
        char buf[256];

        proccache_init(&c, 16);
        proccache_begin(&c);
        e = proccache_visit(&c, 42, proc_ino(42));
        cr_assert_geq(proccache_read(&c, e, e->pid, PROC_FILE_STATM, proc_dir, buf, sizeof buf), 0);
        cr_assert_eq(c.n_fds, 1);
        proccache_set_empty(&c, e, false);
        cr_assert_eq(c.n_fds, 0);
        proccache_end(&c);
        proccache_begin(&c);
        e = proccache_visit(&c, 42, proc_ino(42));
        cr_assert(e->empty);
        proccache_end(&c);
        proccache_done(&c);
}

/* A top process's stat stays open in place of its statm, is read afresh,
 * and closes when it goes or leaves the top. */
Test(proccache, top_process_files_kept_and_closed_with_it) {
        struct proccache c;
        static const pid_t both[] = { 100, 200 }, one[] = { 100 };
        struct proc_entry *e;
        char buf[256], out[2][64];
        int stat_fd;

        proccache_init(&c, 1);
        cr_assert_eq(scan(&c, both, 2, NULL), 2);
        cr_assert_eq(c.n_fds, 1, "200's statm past the cap");
        e = proccache_lookup(&c, 100);
        cr_assert_gt(proccache_read(&c, e, e->pid, PROC_FILE_STAT, proc_dir, buf, sizeof buf), 0);
        cr_assert(strneq(buf, "100 (tmux", 9));
        stat_fd = e->stat_fd;
        cr_assert(fd_open(stat_fd));
        cr_assert_eq(e->statm_fd, -1, "the stat replaces the statm");
        cr_assert_eq(c.n_fds, 1);
        e = proccache_lookup(&c, 200);
        cr_assert_gt(proccache_read(&c, e, e->pid, PROC_FILE_STAT, proc_dir, buf, sizeof buf), 0);
        cr_assert(strneq(buf, "200 (\xff\xfe" "bad)", 10));
        cr_assert_eq(e->stat_fd, -1, "past the cap: read by path");

        shell("echo '100 (renamed) S 1 100 100 0 -1 4194560 1 0 0 0 7 3 0 0 20 0 1 0 55 1 1' > '%s/proc/100/stat'",
              root);
        cr_assert_eq(scan(&c, both, 2, out), 2);
        cr_assert(strneq(out[0], "100 (renamed)", 13), "the scan reads the stat kept");
        e = proccache_lookup(&c, 100);
        cr_assert_eq(e->stat_fd, stat_fd, "kept across scans");
        cr_assert_eq(e->statm_fd, -1);

        /* Still among the top: kept. */
        proccache_close_stat_except(&c, one, 1);
        cr_assert(fd_open(stat_fd));
        /* Out of it: closed, and the statm is read again. */
        proccache_close_stat_except(&c, NULL, 0);
        cr_assert_not(fd_open(stat_fd));
        cr_assert_eq(c.n_fds, 0);
        cr_assert_eq(scan(&c, both, 2, out), 2);
        cr_assert_str_eq(out[0], "90000 50000 1000 10 0 60000 0\n");
        cr_assert_eq(c.n_fds, 1);

        /* Gone: closed with it. */
        e = proccache_lookup(&c, 100);
        cr_assert_gt(proccache_read(&c, e, e->pid, PROC_FILE_STAT, proc_dir, buf, sizeof buf), 0);
        stat_fd = e->stat_fd;
        cr_assert(fd_open(stat_fd));
        shell("rm -r '%s/proc/100'", root);
        cr_assert_eq(scan(&c, both + 1, 1, NULL), 1);
        cr_assert_not(fd_open(stat_fd));
        proccache_done(&c);
        cr_assert_eq(c.n_fds, 0);
}

/* On this machine's pids: a real child stands for a process without
 * memory (the cache takes the caller's word for it). */
Test(proccache, empty_process_watched_through_a_pidfd) {
        struct proccache c;
        struct proc_entry *e;
        struct stat st;
        char path[64];
        pid_t child = fork();
        int fd;

        cr_assert_geq(child, 0);
        if (child == 0) {
                pause();
                _exit(0);
        }
        snprintf(path, sizeof path, "/proc/%d", (int) child);
        cr_assert_eq(stat(path, &st), 0);
        proccache_init(&c, 16);
        proccache_begin(&c);
        e = proccache_visit(&c, child, st.st_ino);
        proccache_set_empty(&c, e, true);
        if (e->pid_fd < 0)
                cr_skip_test("no pidfd_open() here: %m");
        fd = e->pid_fd;
        cr_assert_eq(c.n_fds, 1);
        proccache_end(&c);

        proccache_begin(&c);
        proccache_poll_empty(&c, child + 1);
        e = proccache_visit(&c, child, st.st_ino);
        cr_assert_not(e->exited, "running");
        cr_assert_eq(e->pid_fd, fd, "kept across scans");
        proccache_end(&c);

        kill(child, SIGKILL);
        cr_assert_eq(waitpid(child, NULL, 0), child);
        proccache_begin(&c);
        proccache_poll_empty(&c, child + 1);
        e = proccache_visit(&c, child, st.st_ino);
        cr_assert(e->exited);
        proccache_drop_last(&c); /* what the scan does once getpgid() says ESRCH */
        cr_assert_eq(c.n_fds, 0);
        cr_assert_not(fd_open(fd), "closed with the process");
        proccache_end(&c);
        proccache_done(&c);
}

/* At the cap, no pidfd: it is then asked with getpgid() each time a task
 * may have been reaped. */
Test(proccache, empty_process_past_the_cap_has_no_pidfd) {
        struct proccache c;
        struct proc_entry *e;

        proccache_init(&c, 0);
        proccache_begin(&c);
        e = proccache_visit(&c, getpid(), 1);
        proccache_set_empty(&c, e, true);
        cr_assert_eq(e->pid_fd, -1);
        cr_assert_eq(c.n_fds, 0);
        proccache_end(&c);
        proccache_begin(&c);
        proccache_poll_empty(&c, getpid() + 1);
        e = proccache_visit(&c, getpid(), 1);
        cr_assert(e->exited, "unknown, so asked");
        proccache_end(&c);
        /* When none can have been reaped, it is neither polled nor asked,
         * whatever the last poll said. */
        proccache_begin(&c);
        proccache_keep_empty(&c, getpid() + 1);
        e = proccache_visit(&c, getpid(), 1);
        cr_assert_not(e->exited, "none reaped: not asked");
        proccache_end(&c);
        proccache_done(&c);
}

Test(sampler, mounts_block_filesystems_once_each) {
        _cleanup_sampler_ struct sampler *s = NULL;
        const struct sample *x;
        const struct sample_mount *m;

        cr_assert_eq(sampler_new(root, &s), 0);
        cr_assert_eq(sampler_take(s, &x), 0);
        for (size_t i = 0; i < x->disk.n_mounts; i++)
                cr_log_info("mount %s", x->disk.mounts[i].mount_point);
        /* /, the disk with a space in its mount point (where its own root
         * is mounted, not the bind of a subdirectory seen first, nor its
         * second mount), the btrfs subvolume, and the xfs that hides the
         * ext4 at /data. Not: proc, tmpfs, squashfs, the bind of / at
         * /var/lib/x, a mount point that is gone. */
        cr_assert_eq(x->disk.n_mounts, 4);
        cr_assert_not_null(m = mount_at(x, "/"));
        cr_assert_str_eq(m->device, "/dev/sda2");
        cr_assert_str_eq(m->fstype, "ext4");
        cr_assert_gt(m->total, 0);
        cr_assert_eq(m->used, m->total - m->free);
        cr_assert_float_eq(m->usage_percent, 100.0 * m->used / (m->used + m->avail), 1e-9);
        cr_assert_not_null(m = mount_at(x, "/mnt/my disk"));
        cr_assert_str_eq(m->root, "/");
        cr_assert_str_eq(m->device, "/dev/sdb1");
        cr_assert_not_null(m = mount_at(x, "/home"));
        cr_assert_str_eq(m->fstype, "btrfs");
        cr_assert_not_null(m = mount_at(x, "/data"));
        cr_assert_str_eq(m->fstype, "xfs");
        cr_assert_str_eq(m->device, "/dev/sde1");
}

Test(sampler, mount_table_read_again_when_it_changes) {
        _cleanup_sampler_ struct sampler *s = NULL;
        const struct sample *x;
        char cmd[512];

        cr_assert_eq(sampler_new(root, &s), 0);
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_not_null(mount_at(x, "/home"));
        /* A copy of mountinfo cannot signal changes: it is read each time.
         * Rewritten in place, as the sampler keeps it open. */
        snprintf(cmd, sizeof cmd, "f='%s/proc/self/mountinfo'; sed '/@home/d' \"$f\" > \"$f.new\" && cat \"$f.new\" > \"$f\"",
                 root);
        cr_assert_eq(system(cmd), 0);
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_null(mount_at(x, "/home"));
        cr_assert_eq(x->disk.n_mounts, 3);
}

Test(sampler, missing_sources_leave_zeros) {
        _cleanup_sampler_ struct sampler *s = NULL;
        const struct sample *x;
        char path[128];

        snprintf(path, sizeof path, "%s/proc/net/snmp", root);
        cr_assert_eq(unlink(path), 0);
        snprintf(path, sizeof path, "%s/proc/meminfo", root);
        cr_assert_eq(unlink(path), 0);
        cr_assert_eq(sampler_new(root, &s), 0);
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_eq(x->network.active_connections, 0);
        cr_assert_eq(x->memory.total, 0);
        cr_assert_eq(x->cpu.n_cpu, 4, "the other sources are still read");
        cr_assert_eq(sampler_new("/nonexistent", &s), -ENOENT);
}

Test(sampler, steady_state_allocates_nothing) {
        _cleanup_sampler_ struct sampler *s = NULL;
        const struct sample *x;
        size_t before;

        cr_assert_eq(sampler_new(root, &s), 0);
        for (int i = 0; i < 3; i++)
                cr_assert_eq(sampler_take(s, &x), 0);
        before = mallinfo2().uordblks;
        for (int i = 0; i < 50; i++)
                cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_eq(mallinfo2().uordblks, before);
}

/* ---- the wire format ---------------------------------------------------- */

enum kind { NUM, INT, STR, OBJ, ARR };

/* The keys docs/telemetry-stream.md names at fixed paths, with their types. */
static const struct {
        const char *path;
        enum kind kind;
} spec_keys[] = {
        { "timestamp", STR },
        { "node_id", STR },
        { "seq", INT },
        { "interval", INT },
        { "metrics", OBJ },
        { "metrics.cpu", OBJ },
        { "metrics.cpu.cpu_usage_percent", NUM },
        { "metrics.cpu.cpu_per_core_percent", ARR },
        { "metrics.cpu.load_avg_1min", NUM },
        { "metrics.cpu.load_avg_5min", NUM },
        { "metrics.cpu.load_avg_15min", NUM },
        { "metrics.cpu.count", INT },
        { "metrics.cpu.frequency_mhz", NUM },
        { "metrics.memory", OBJ },
        { "metrics.memory.memory_total_gb", NUM },
        { "metrics.memory.memory_used_gb", NUM },
        { "metrics.memory.memory_available_gb", NUM },
        { "metrics.memory.memory_usage_percent", NUM },
        { "metrics.memory.swap_total_gb", NUM },
        { "metrics.memory.swap_used_gb", NUM },
        { "metrics.memory.swap_usage_percent", NUM },
        { "metrics.disk", OBJ },
        { "metrics.disk.disk_usage", OBJ },
        { "metrics.disk.disk_io", OBJ },
        { "metrics.disk.disk_io.read_mb_per_sec", NUM },
        { "metrics.disk.disk_io.write_mb_per_sec", NUM },
        { "metrics.network", OBJ },
        { "metrics.network.bytes_sent_mb_per_sec", NUM },
        { "metrics.network.bytes_recv_mb_per_sec", NUM },
        { "metrics.network.packets_sent", INT },
        { "metrics.network.packets_recv", INT },
        { "metrics.network.active_connections", INT },
        { "metrics.network.interfaces", OBJ },
        { "metrics.processes", OBJ },
        { "metrics.processes.process_count", INT },
        { "metrics.processes.top_memory_processes", ARR },
};

static const cJSON *at(const cJSON *j, const char *path) {
        char buf[128], *save = NULL;

        snprintf(buf, sizeof buf, "%s", path);
        for (char *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
                j = cJSON_GetObjectItemCaseSensitive(j, k);
        return j;
}

static bool is_kind(const cJSON *j, enum kind kind) {
        switch (kind) {
        case NUM:
                return cJSON_IsNumber(j) && isfinite(j->valuedouble);
        case INT:
                return cJSON_IsNumber(j) && j->valuedouble == floor(j->valuedouble) && j->valuedouble >= 0;
        case STR:
                return cJSON_IsString(j);
        case OBJ:
                return cJSON_IsObject(j);
        case ARR:
                return cJSON_IsArray(j);
        }
        return false;
}

static bool two_decimals(double v) {
        double c = v * 100.0;
        return fabs(c - round(c)) < 1e-6;
}

static void check_object_keys(const cJSON *o, const char *const *keys, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
                cr_assert(v, "missing %s", keys[i]);
                if (cJSON_IsNumber(v))
                        cr_assert(two_decimals(v->valuedouble), "%s = %g", keys[i], v->valuedouble);
        }
}

static double num(const cJSON *j, const char *path) {
        const cJSON *v = at(j, path);
        cr_assert(cJSON_IsNumber(v), "%s is not a number", path);
        return v->valuedouble;
}

/* Serialise as telemetryd does, parse back, and check the text against
 * docs/telemetry-stream.md. The tree form prints the same bytes. */
static cJSON *wire(const struct sample *x, unsigned interval) {
        _cleanup_json_ cJSON *tree = sample_to_json(x, "192.168.1.100", interval, NULL);
        _cleanup_free_ char *printed = NULL;
        struct json_writer w;
        char text[16384];

        json_writer_into(&w, text, sizeof text);
        cr_assert_gt(sample_write_json(&w, x, "192.168.1.100", interval, NULL), 0);
        cr_assert_not_null(tree);
        printed = cJSON_PrintUnformatted(tree);
        cr_assert_str_eq(printed, text);
        return cJSON_Parse(text);
}

Test(sampler, json_matches_spec_section_4) {
        _cleanup_sampler_ struct sampler *s = NULL;
        _cleanup_json_ cJSON *j = NULL;
        const struct sample *x;
        const cJSON *cores, *usage, *m, *top, *ifaces;
        regex_t ts;
        size_t n;
        static const char *const mount_keys[] = { "total_gb", "used_gb", "free_gb", "usage_percent", "device", "file_system" };
        static const char *const iface_keys[] = { "bytes_sent", "bytes_recv", "packets_sent", "packets_recv",
                                                  "errin",      "errout",     "dropin",       "dropout" };

        cr_assert_eq(sampler_new(root, &s), 0);
        cr_assert_eq(sampler_prime(s), 0);
        next_reading();
        usleep(10000);
        cr_assert_eq(sampler_take(s, &x), 0);
        j = wire(x, 60);
        cr_assert_not_null(j, "the serialised sample is not valid JSON");

        for (size_t i = 0; i < ELEMENTSOF(spec_keys); i++) {
                const cJSON *v = at(j, spec_keys[i].path);
                cr_assert(v, "missing %s", spec_keys[i].path);
                cr_assert(is_kind(v, spec_keys[i].kind), "%s has the wrong type", spec_keys[i].path);
                if (spec_keys[i].kind == NUM)
                        cr_assert(two_decimals(v->valuedouble), "%s = %.17g is not rounded", spec_keys[i].path,
                                  v->valuedouble);
        }

        cr_assert_eq(regcomp(&ts, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$", REG_EXTENDED), 0);
        cr_assert_eq(regexec(&ts, at(j, "timestamp")->valuestring, 0, NULL, 0), 0);
        regfree(&ts);
        cr_assert_str_eq(at(j, "node_id")->valuestring, "192.168.1.100");
        cr_assert_eq(num(j, "interval"), 60);

        /* the example memory block of docs/telemetry-stream.md, from a
         * meminfo made to match it */
        cr_assert_eq(num(j, "metrics.memory.memory_total_gb"), 16.0);
        cr_assert_eq(num(j, "metrics.memory.memory_used_gb"), 8.5);
        cr_assert_eq(num(j, "metrics.memory.memory_available_gb"), 7.5);
        cr_assert_eq(num(j, "metrics.memory.memory_usage_percent"), 53.13);
        cr_assert_eq(num(j, "metrics.memory.swap_total_gb"), 4.0);
        cr_assert_eq(num(j, "metrics.memory.swap_used_gb"), 0.5);
        cr_assert_eq(num(j, "metrics.memory.swap_usage_percent"), 12.5);
        cr_assert_eq(num(j, "metrics.cpu.load_avg_1min"), 2.5);
        cr_assert_eq(num(j, "metrics.cpu.load_avg_5min"), 2.1);
        cr_assert_eq(num(j, "metrics.cpu.load_avg_15min"), 1.8);
        cr_assert_eq(num(j, "metrics.cpu.cpu_usage_percent"), 55.0);
        cr_assert_eq(num(j, "metrics.cpu.count"), 3);
        cr_assert_eq(num(j, "metrics.network.active_connections"), 45);
        cr_assert_eq(num(j, "metrics.processes.process_count"), 9);

        cores = at(j, "metrics.cpu.cpu_per_core_percent");
        cr_assert_eq(cJSON_GetArraySize(cores), 3);
        cr_assert_eq(cJSON_GetArrayItem(cores, 0)->valuedouble, 50.0);
        cr_assert_eq(cJSON_GetArrayItem(cores, 1)->valuedouble, 25.0);
        cr_assert_eq(cJSON_GetArrayItem(cores, 2)->valuedouble, 90.0);

        usage = at(j, "metrics.disk.disk_usage");
        cr_assert_eq(cJSON_GetArraySize(usage), 4);
        cr_assert_not_null(m = cJSON_GetObjectItemCaseSensitive(usage, "/"));
        check_object_keys(m, mount_keys, ELEMENTSOF(mount_keys));
        cr_assert_not_null(m = cJSON_GetObjectItemCaseSensitive(usage, "/mnt/my disk"));
        cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(m, "file_system")->valuestring, "ext4");
        check_object_keys(m, mount_keys, ELEMENTSOF(mount_keys));

        ifaces = at(j, "metrics.network.interfaces");
        cr_assert_eq(cJSON_GetArraySize(ifaces), 3);
        cr_assert_null(cJSON_GetObjectItemCaseSensitive(ifaces, "lo"));
        cr_assert_not_null(m = cJSON_GetObjectItemCaseSensitive(ifaces, "eth0"));
        check_object_keys(m, iface_keys, ELEMENTSOF(iface_keys));
        cr_assert_eq(num(m, "bytes_recv"), 1049576);
        cr_assert_eq(num(m, "packets_sent"), 120);

        top = at(j, "metrics.processes.top_memory_processes");
        n = (size_t) cJSON_GetArraySize(top);
        cr_assert_eq(n, 5);
        for (size_t i = 0; i < n; i++) {
                const cJSON *p = cJSON_GetArrayItem(top, (int) i);
                cr_assert(is_kind(cJSON_GetObjectItemCaseSensitive(p, "pid"), INT));
                cr_assert(is_kind(cJSON_GetObjectItemCaseSensitive(p, "name"), STR));
                cr_assert(is_kind(cJSON_GetObjectItemCaseSensitive(p, "memory_percent"), NUM));
                cr_assert(is_kind(cJSON_GetObjectItemCaseSensitive(p, "username"), STR));
                cr_assert(two_decimals(num(p, "memory_percent")));
        }
        cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(top, 0), "name")->valuestring,
                         "tmux: server (x)");
        /* bytes that are not UTF-8 must not make the frame invalid text */
        cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(top, 1), "name")->valuestring,
                         "\xef\xbf\xbd\xef\xbf\xbd" "bad");
}

Test(sampler, json_without_interval_or_swap) {
        _cleanup_sampler_ struct sampler *s = NULL;
        _cleanup_json_ cJSON *j = NULL;
        const struct sample *x;

        overlay("../procfs/meminfo-noswap", "proc/meminfo");
        overlay("../procfs/stat-1cpu", "proc/stat");
        cr_assert_eq(sampler_new(root, &s), 0);
        cr_assert_eq(sampler_take(s, &x), 0);
        j = wire(x, 0);
        cr_assert_null(at(j, "interval"));
        cr_assert_eq(num(j, "metrics.memory.swap_total_gb"), 0.0);
        cr_assert_eq(num(j, "metrics.memory.swap_usage_percent"), 0.0);
        cr_assert_eq(num(j, "metrics.memory.memory_total_gb"), round2(24683656.0 / 1048576));
        cr_assert_eq(cJSON_GetArraySize(at(j, "metrics.cpu.cpu_per_core_percent")), 1);
        cr_assert_eq(num(j, "metrics.cpu.count"), 1);
}

/* ---- this machine ------------------------------------------------------- */

Test(live, one_entry_per_online_cpu_and_a_root_mount) {
        _cleanup_sampler_ struct sampler *s = NULL;
        const struct sample *x;
        char buf[1 << 16];
        const char *p;
        struct stat_cpu c;
        size_t lines = 0;

        cr_assert_eq(sampler_new(NULL, &s), 0);
        cr_assert_eq(sampler_prime(s), 0);
        usleep(100000);
        cr_assert_eq(sampler_take(s, &x), 0);
        cr_assert_geq(read_file("/proc/stat", buf, sizeof buf), 0);
        for (p = buf; procfs_stat_next_cpu(&p, &c) > 0;)
                if (c.cpu != PROCFS_CPU_ALL)
                        lines++;
        cr_assert_eq(x->cpu.n_cpu, lines);
        cr_assert_eq(x->cpu.n_cpu, (size_t) sysconf(_SC_NPROCESSORS_ONLN));
        cr_assert_gt(x->memory.total, 0);
        cr_assert_gt(x->processes.count, 0);
        cr_assert_eq(x->processes.n_top, SAMPLE_TOP_PROCESSES);
        cr_assert_not_null(mount_at(x, "/"));
        for (size_t i = 0; i < x->cpu.n_cpu; i++)
                cr_assert(x->cpu.per_cpu[i].usage_percent >= 0 && x->cpu.per_cpu[i].usage_percent <= 100);
}

Test(live, processes_exiting_during_scans) {
        _cleanup_sampler_ struct sampler *s = NULL;
        const struct sample *x;
        pid_t child;

        cr_assert_eq(sampler_new(NULL, &s), 0);
        child = fork();
        cr_assert_geq(child, 0);
        if (child == 0) {
                /* keep processes appearing and vanishing under the scan */
                for (int i = 0; i < 300; i++) {
                        pid_t g = fork();
                        if (g == 0)
                                _exit(0);
                        if (g > 0)
                                waitpid(g, NULL, 0);
                }
                _exit(0);
        }
        for (int i = 0; i < 30; i++) {
                cr_assert_eq(sampler_take(s, &x), 0);
                cr_assert_gt(x->processes.count, 0);
                cr_assert_eq(x->processes.n_top, SAMPLE_TOP_PROCESSES);
        }
        waitpid(child, NULL, 0);
}

/* A private pid namespace with its own /proc: the only processes are this
 * test's, so every count is exact. Run in pid 1 of it; what it returns is
 * its exit status (0, or 1 when a check failed, which says which). */
static int in_own_pid_namespace(int (*body)(void)) {
        pid_t init;
        int status;

        if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0 &&
            unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS) < 0)
                cr_skip_test("no pid namespace for this user: %m");
        init = fork();
        cr_assert_geq(init, 0);
        if (init == 0) {
                if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                        _exit(200);
                _exit(body());
        }
        cr_assert_eq(waitpid(init, &status, 0), init);
        cr_assert(WIFEXITED(status), "status %d", status);
        return WEXITSTATUS(status);
}

/* cr_assert() belongs to the test's own process, not to its children. */
#define CHECK(cond)                                                              \
        do {                                                                     \
                if (!(cond)) {                                                   \
                        fprintf(stderr, "line %d: %s failed\n", __LINE__, #cond); \
                        return 1;                                                \
                }                                                                \
        } while (0)

static unsigned listed_in_proc(void) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        unsigned n = 0;

        while (d && (de = readdir(d)))
                n += de->d_name[0] >= '1' && de->d_name[0] <= '9';
        if (d)
                closedir(d);
        return n;
}

/* Takes n samples; each must count what /proc lists. */
static bool counts(struct sampler *s, unsigned n, unsigned want) {
        const struct sample *x;

        for (unsigned i = 0; i < n; i++)
                if (sampler_take(s, &x) < 0 || x->processes.count != want || listed_in_proc() != want)
                        return false;
        return true;
}

static pid_t spawn_sleeper(void) {
        pid_t p = fork();

        if (p == 0) {
                pause();
                _exit(0);
        }
        return p;
}

static int only_new_pids_listed(void) {
        _cleanup_sampler_ struct sampler *s = NULL;
        pid_t kids[5], zombie;
        unsigned scans, full, full_before;

        CHECK(sampler_new(NULL, &s) == 0);
        CHECK(counts(s, 3, 1));
        for (size_t i = 0; i < ELEMENTSOF(kids); i++)
                CHECK((kids[i] = spawn_sleeper()) > 0);
        CHECK(counts(s, 4, 6));
        full = sampler_full_listings(s, &scans);
        CHECK(full < scans); /* the last ones listed only new pids */

        /* Gone while only the cache knew them: their statm fails. */
        kill(kids[1], SIGKILL);
        kill(kids[3], SIGKILL);
        CHECK(waitpid(kids[1], NULL, 0) == kids[1] && waitpid(kids[3], NULL, 0) == kids[3]);
        CHECK(counts(s, 3, 4));

        /* A zombie has no memory: counted while it is there, which only
         * getpgid() tells once it is not listed; then reaped. */
        zombie = fork();
        CHECK(zombie >= 0);
        if (zombie == 0)
                _exit(0);
        while (waitid(P_PID, (id_t) zombie, &(siginfo_t){ 0 }, WEXITED | WNOWAIT) < 0)
                ;
        CHECK(counts(s, 4, 5));
        CHECK(waitpid(zombie, NULL, 0) == zombie);
        CHECK(counts(s, 3, 4));

        /* New ones between partial scans are listed. */
        CHECK((kids[1] = spawn_sleeper()) > 0);
        CHECK(counts(s, 1, 5));
        full = sampler_full_listings(s, &scans);
        CHECK(counts(s, 2, 5));
        CHECK(sampler_full_listings(s, NULL) == full);

        /* So many forks that the counter might have gone round: all listed. */
        for (unsigned i = 0; i < PROCCACHE_PARTIAL_FORKS_MAX; i++) {
                pid_t p = fork();

                if (p == 0)
                        _exit(0);
                CHECK(p > 0 && waitpid(p, NULL, 0) == p);
        }
        full_before = sampler_full_listings(s, NULL);
        CHECK(counts(s, 1, 5));
        CHECK(sampler_full_listings(s, NULL) == full_before + 1);

        /* And every PROCCACHE_FULL_LISTING_EVERY scans whatever happens. */
        full_before = sampler_full_listings(s, NULL);
        CHECK(counts(s, PROCCACHE_FULL_LISTING_EVERY, 5));
        CHECK(sampler_full_listings(s, NULL) == full_before + 1);

        for (size_t i = 0; i < ELEMENTSOF(kids); i++)
                kill(kids[i], SIGKILL);
        return 0;
}

Test(live, only_new_pids_listed_yet_every_process_counted) {
        cr_assert_eq(in_own_pid_namespace(only_new_pids_listed), 0, "a check failed (its line is in the output)");
}

Test(proccache, listing_from_the_pid_counter) {
        static const struct {
                struct proc_reading r[3];
                unsigned in_a_row;
                pid_t want;
        } cases[] = {
                { { { 1000, 500, 90 }, { 1003, 510, 90 }, { 1004, 512, 90 } }, 0, 501 },  /* from the reading before last */
                { { { 1000, 500, 90 }, { 1000, 500, 90 }, { 1000, 500, 90 } }, 5, PROCCACHE_LIST_NONE }, /* nothing forked */
                { { { 1000, 500, 90 }, { 1003, 510, 90 }, { 1003, 510, 90 } }, 0, 501 },  /* forked before the last scan only */
                { { { 1000, 500, 90 }, { 1000, 500, 90 }, { 1001, 501, 90 } }, 0, 501 },  /* forked since the last scan */
                { { { 1000, 500, 90 }, { 1003, 510, 90 }, { 1004, 305, 90 } }, 0, 0 },    /* the counter wrapped */
                { { { 1000, 500, 90 }, { 1003, 490, 90 }, { 1004, 512, 90 } }, 0, 0 },    /* went back, then on */
                { { { 1000, 500, 90 }, { 1000 + PROCCACHE_PARTIAL_FORKS_MAX - 1, 510, 90 }, { 1000 + PROCCACHE_PARTIAL_FORKS_MAX - 1, 520, 90 } },
                  0, 501 },                                                   /* just under the forks cap */
                { { { 1000, 500, 90 }, { 1003, 510, 90 }, { 1000 + PROCCACHE_PARTIAL_FORKS_MAX, 520, 90 } },
                  0, 0 },                                                     /* at it: it might have gone round */
                { { { 1000, 500, 90 }, { 1003, 510, 90 }, { 999, 512, 90 } }, 0, 0 },     /* forks went back: another boot's */
                { { { 1000, 500, 90 }, { 1003, 510, 90 }, { 1004, 512, 90 } }, PROCCACHE_FULL_LISTING_EVERY - 2, 501 },
                { { { 1000, 500, 90 }, { 1003, 510, 90 }, { 1004, 512, 90 } }, PROCCACHE_FULL_LISTING_EVERY - 1, 0 },
                { { { 1000, 0, 90 }, { 1003, 510, 90 }, { 1004, 512, 90 } }, 0, 0 },      /* no reading */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                cr_assert_eq(proccache_listing_from(cases[i].r, cases[i].in_a_row), cases[i].want, "case %zu", i);
}

Test(proccache, none_reaped_between_two_readings) {
        static const struct {
                struct proc_reading r[2];
                bool want;
        } cases[] = {
                { { { 1000, 500, 90 }, { 1000, 500, 90 } }, true },  /* nothing came or went */
                { { { 1000, 500, 90 }, { 1000, 500, 89 } }, false }, /* one was reaped */
                { { { 1000, 500, 90 }, { 1001, 501, 91 } }, false }, /* one was forked */
                { { { 1000, 500, 90 }, { 1001, 501, 90 } }, false }, /* one forked, one reaped */
                { { { 1000, 500, 90 }, { 1000, 500, 91 } }, false }, /* forked after /proc/stat was read */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                cr_assert_eq(proccache_none_reaped(cases[i].r), cases[i].want, "case %zu", i);
}

/* ---- process CPU % ---------------------------------------------------------- */

Test(proccache, cpu_percent_from_ticks) {
        static const struct {
                uint64_t ticks_prev, usec_prev, ticks_now, usec_now;
                long hz;
                double want; /* NAN: none */
        } cases[] = {
                { 100, 1000000, 150, 2000000, 100, 50.0 },    /* half a CPU over a second */
                { 0, 0, 400, 2000000, 100, 200.0 },           /* two CPUs busy: top's 200 % */
                { 500, 5000000, 500, 15000000, 100, 0.0 },    /* idle */
                { 0, 9000000, 30, 10000000, 100, 30.0 },      /* since its start, as ps counts */
                { 10, 1000000, 35, 1500000, 250, 20.0 },      /* another tick rate */
                { 100, 2000000, 150, 2000000, 100, NAN },     /* no window */
                { 100, 3000000, 150, 2000000, 100, NAN },     /* time went back */
                { 150, 1000000, 100, 2000000, 100, NAN },     /* ticks went back: another process */
                { 100, 1000000, 150, 2000000, 0, NAN },       /* no tick rate */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                double got = proccache_cpu_percent(cases[i].ticks_prev, cases[i].usec_prev, cases[i].ticks_now,
                                                   cases[i].usec_now, cases[i].hz);

                if (isnan(cases[i].want))
                        cr_assert(isnan(got), "case %zu: %g", i, got);
                else
                        cr_assert_float_eq(got, cases[i].want, 1e-9, "case %zu: %g", i, got);
        }
}

Test(proccache, lookup_after_the_scan_keeps_cpu_readings) {
        struct proccache c;
        struct proc_entry *e;

        proccache_init(&c, 16);
        proccache_begin(&c);
        (void) proccache_visit(&c, 42, proc_ino(42));
        proccache_end(&c);
        cr_assert_null(proccache_lookup(&c, 41));
        e = proccache_lookup(&c, 42);
        cr_assert_not_null(e);
        cr_assert(!e->has_cpu);
        e->has_cpu = true;
        e->cpu_ticks = 77;
        e->cpu_usec = 123;
        /* The next scan carries the reading over to the same process. */
        proccache_begin(&c);
        e = proccache_visit(&c, 42, proc_ino(42));
        cr_assert(e->has_cpu && e->cpu_ticks == 77 && e->cpu_usec == 123);
        proccache_end(&c);
        /* A new process under the same pid starts without one. */
        proccache_begin(&c);
        e = proccache_visit(&c, 42, proc_ino(42) + 1);
        cr_assert(!e->has_cpu);
        proccache_end(&c);
        proccache_done(&c);
}
