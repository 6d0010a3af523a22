/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <math.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>

#include "fileio.h"
#include "macro.h"
#include "monitor.h"
#include "pyjson.h"
#include "sample.h"
#include "timeutil.h"

#define CPU_MIN_WINDOW_USEC (250 * USEC_PER_MSEC)

int monitor_units(const char *units, unsigned *ret_shift, const char **ret_name) {
        static const char *const names[] = { "B", "KB", "MB", "GB", "TB" };

        if (!units || units[0] == '\0')
                units = "MB";
        for (unsigned i = 0; i < ELEMENTSOF(names); i++)
                if (streq(units, names[i])) {
                        *ret_shift = 10 * i;
                        *ret_name = names[i];
                        return 0;
                }
        return -EINVAL;
}

/* psutil rounds its percents to one decimal. */
static double percent1(uint64_t part, uint64_t whole) {
        return whole == 0 ? 0.0 : round((double) part * 1000.0 / (double) whole) / 10.0;
}

static bool add_size(cJSON *j, const char *name, uint64_t bytes, unsigned shift) {
        return cJSON_AddNumberToObject(j, name, (double) (bytes >> shift)) != NULL;
}

cJSON *monitor_memory_json(const struct meminfo *m, unsigned shift) {
        cJSON *j = cJSON_CreateObject();
        /* psutil's arithmetic: "cached" includes reclaimable slab, and
         * "used" is what is neither free nor cache nor buffers. */
        uint64_t cached = m->cached + m->sreclaimable;
        uint64_t used = m->total > m->free + cached + m->buffers ? m->total - m->free - cached - m->buffers
                                                                  : m->total - m->free;

        if (!j || !add_size(j, "active", m->active, shift) || !add_size(j, "available", m->available, shift) ||
            !add_size(j, "buffers", m->buffers, shift) || !add_size(j, "cached", cached, shift) ||
            !add_size(j, "free", m->free, shift) || !add_size(j, "inactive", m->inactive, shift) ||
            !pyjson_add_float(j, "percent", percent1(m->total - m->available, m->total)) ||
            !add_size(j, "shared", m->shmem, shift) || !add_size(j, "slab", m->slab, shift) ||
            !add_size(j, "total", m->total, shift) || !add_size(j, "used", used, shift)) {
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

cJSON *monitor_storage_json(const struct fs_usage *u, unsigned shift, const char *units) {
        cJSON *j = cJSON_CreateObject();

        if (!j || !add_size(j, "free", u->free, shift) ||
            !pyjson_add_float(j, "percent", percent1(u->used, u->used + u->free)) ||
            !add_size(j, "total", u->total, shift) || !cJSON_AddStringToObject(j, "units", units) ||
            !add_size(j, "used", u->used, shift)) {
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

/* Only the first line of /proc/stat, the total: the rest (one line per
 * CPU, every interrupt's count) can run to tens of kilobytes. */
static int read_cpu_total(struct cpu_times *ret) {
        _cleanup_fclose_ FILE *f = fopen("/proc/stat", "re");
        char line[512];
        const char *p = line;
        struct stat_cpu c;

        if (!f)
                return negative_errno();
        if (!fgets(line, sizeof line, f))
                return -EBADMSG;
        if (procfs_stat_next_cpu(&p, &c) <= 0 || c.cpu != PROCFS_CPU_ALL)
                return -EBADMSG;
        *ret = c.t;
        return 0;
}

double monitor_cpu_load(struct cpu_load *l) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        struct cpu_times t;

        if (l->primed && now - l->prev_usec < CPU_MIN_WINDOW_USEC)
                return l->last;
        if (read_cpu_total(&t) < 0)
                return l->last;
        if (l->primed)
                l->last = round(cpu_busy_percent(&l->prev, &t) * 10.0) / 10.0;
        l->prev = t;
        l->prev_usec = now;
        l->primed = true;
        return l->last;
}

int monitor_read_meminfo(struct meminfo *ret) {
        char buf[16384];
        ssize_t n = read_file("/proc/meminfo", buf, sizeof buf);

        if (n < 0)
                return (int) n;
        return procfs_parse_meminfo(buf, ret);
}

int monitor_read_fs(const char *path, struct fs_usage *ret) {
        struct statvfs st;

        if (statvfs(path, &st) < 0)
                return negative_errno();
        *ret = (struct fs_usage){
                .total = (uint64_t) st.f_blocks * st.f_frsize,
                .free = (uint64_t) st.f_bavail * st.f_frsize,
                .used = (uint64_t) (st.f_blocks - st.f_bfree) * st.f_frsize,
        };
        return 0;
}
