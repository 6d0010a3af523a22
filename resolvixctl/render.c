/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "ctl.h"
#include "jsonutil.h"
#include "term.h"

/* Samples and /status as text, from their JSON: the one-shot commands,
 * watch and status print the very shape the wire carries, so what the
 * terminal shows is what every other client gets. Pure: JSON in, text out;
 * a field that is missing prints as "-" rather than stopping the show. */

#define GIB (1024.0 * 1024.0 * 1024.0)
#define METER_INDENT 6 /* "Swap  [" */


/* ---- JSON access ----------------------------------------------------------- */

static const cJSON *get(const cJSON *o, const char *key) {
        return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* Short names for the renderers' many reads (jsonutil.h). */
static double num(const cJSON *o, const char *key) {
        return json_number(o, key);
}

static const char *str(const cJSON *o, const char *key) {
        return json_string(o, key);
}


/* ---- number formats -------------------------------------------------------- */

/* v with that many decimals, "-" when it is missing. */
static const char *fmt_num(char *buf, size_t size, int decimals, double v) {
        if (isnan(v))
                snprintf(buf, size, "-");
        else
                snprintf(buf, size, "%.*f", decimals, v);
        return buf;
}

/* Bytes the way df -h and top show them: 1 decimal below 10 of a unit. */
static const char *fmt_bytes(char *buf, size_t size, double bytes) {
        static const char units[] = "BKMGTPE";
        size_t u = 0;

        if (isnan(bytes) || bytes < 0) {
                snprintf(buf, size, "-");
                return buf;
        }
        while (bytes >= 1024.0 && u < sizeof units - 2) {
                bytes /= 1024.0;
                u++;
        }
        if (u == 0)
                snprintf(buf, size, "%.0fB", bytes);
        else
                snprintf(buf, size, bytes < 10.0 ? "%.1f%c" : "%.0f%c", bytes, units[u]);
        return buf;
}

static const char *fmt_count(char *buf, size_t size, double v) {
        return fmt_num(buf, size, 0, v);
}

/* ---- sections -------------------------------------------------------------- */

const char *ctl_section_key(enum ctl_section s) {
        static const char *const keys[] = {
                [CTL_SECTION_CPU] = "cpu",         [CTL_SECTION_MEMORY] = "memory",
                [CTL_SECTION_PROCESSES] = "processes", [CTL_SECTION_DISKS] = "disk",
                [CTL_SECTION_NETWORK] = "network",
        };
        return keys[s];
}

static void out_label(struct out *o, const char *text, unsigned width) {
        unsigned at = o->cols;

        out_sgr(o, SGR_TITLE);
        out_text(o, text);
        out_sgr(o, SGR_RESET);
        out_pad(o, at + width);
}

static void cpu_section(struct out *o, const cJSON *cpu) {
        const cJSON *cores = get(cpu, "cpu_per_core_percent"), *core;
        char a[32], b[32], c[32], mhz[32];
        struct table t;
        unsigned i = 0;

        out_label(o, "usage", 11);
        out_printf(o, "%s %%", fmt_num(a, sizeof a, 2, num(cpu, "cpu_usage_percent")));
        out_end(o);
        out_label(o, "cores", 11);
        out_printf(o, "%s", fmt_count(a, sizeof a, num(cpu, "count")));
        if (!isnan(num(cpu, "frequency_mhz")))
                out_printf(o, " at %s MHz", fmt_num(mhz, sizeof mhz, 0, num(cpu, "frequency_mhz")));
        out_end(o);
        out_label(o, "load", 11);
        out_printf(o, "%s %s %s  (1, 5, 15 min)", fmt_num(a, sizeof a, 2, num(cpu, "load_avg_1min")),
                   fmt_num(b, sizeof b, 2, num(cpu, "load_avg_5min")),
                   fmt_num(c, sizeof c, 2, num(cpu, "load_avg_15min")));
        out_end(o);
        out_end(o);

        table_init(&t, 3, (const char *const[]){ ">CORE", ">USAGE", "%" });
        t.bar_width = 32;
        cJSON_ArrayForEach(core, cores) {
                struct row *r = table_row(&t);
                double v = cJSON_IsNumber(core) ? core->valuedouble : NAN;

                table_cell(r, 0, NULL, "%u", i++);
                table_cell(r, 1, NULL, "%s%%", fmt_num(a, sizeof a, 1, v));
                table_cell_bar(r, 2, v);
        }
        table_print(o, &t);
        table_free(&t);
}

static void memory_section(struct out *o, const cJSON *m) {
        double total = num(m, "memory_total_gb"), used = num(m, "memory_used_gb");
        double swap_total = num(m, "swap_total_gb"), swap_used = num(m, "swap_used_gb");
        char a[32], b[32], c[32], d[32];
        struct table t;
        struct row *r;

        table_init(&t, 6, (const char *const[]){ "", ">TOTAL", ">USED", ">AVAILABLE", ">USE%", "%" });
        r = table_row(&t);
        table_cell(r, 0, SGR_TITLE, "memory");
        table_cell(r, 1, NULL, "%s", fmt_bytes(a, sizeof a, total * GIB));
        table_cell(r, 2, NULL, "%s", fmt_bytes(b, sizeof b, used * GIB));
        table_cell(r, 3, NULL, "%s", fmt_bytes(c, sizeof c, num(m, "memory_available_gb") * GIB));
        table_cell(r, 4, NULL, "%s%%", fmt_num(d, sizeof d, 1, num(m, "memory_usage_percent")));
        table_cell_bar(r, 5, num(m, "memory_usage_percent"));
        r = table_row(&t);
        table_cell(r, 0, SGR_TITLE, "swap");
        table_cell(r, 1, NULL, "%s", fmt_bytes(a, sizeof a, swap_total * GIB));
        table_cell(r, 2, NULL, "%s", fmt_bytes(b, sizeof b, swap_used * GIB));
        table_cell(r, 3, NULL, "%s", fmt_bytes(c, sizeof c, (swap_total - swap_used) * GIB));
        table_cell(r, 4, NULL, "%s%%", fmt_num(d, sizeof d, 1, num(m, "swap_usage_percent")));
        table_cell_bar(r, 5, num(m, "swap_usage_percent"));
        t.bar_width = 24;
        table_print(o, &t);
        table_free(&t);
}

static void processes_table(struct out *o, const cJSON *p) {
        const cJSON *proc;
        struct table t;
        char a[32];

        /* CPU% as top shows it: of one CPU (docs/telemetry-stream.md). */
        table_init(&t, 5, (const char *const[]){ ">PID", "USER", ">CPU%", ">MEM%", "NAME" });
        cJSON_ArrayForEach(proc, get(p, "top_memory_processes")) {
                struct row *r = table_row(&t);

                table_cell(r, 0, NULL, "%s", fmt_count(a, sizeof a, num(proc, "pid")));
                table_cell(r, 1, NULL, "%s", str(proc, "username") ?: "-");
                table_cell(r, 2, NULL, "%s", fmt_num(a, sizeof a, 1, num(proc, "cpu_percent")));
                table_cell(r, 3, NULL, "%s", fmt_num(a, sizeof a, 1, num(proc, "memory_percent")));
                table_cell(r, 4, SGR_BOLD, "%s", str(proc, "name") ?: "-");
        }
        table_print(o, &t);
        table_free(&t);
}

static void processes_section(struct out *o, const cJSON *p) {
        char a[32];

        out_label(o, "processes", 11);
        out_printf(o, "%s", fmt_count(a, sizeof a, num(p, "process_count")));
        out_end(o);
        out_end(o);
        processes_table(o, p);
}

static void disks_table(struct out *o, const cJSON *disk) {
        const cJSON *m;
        struct table t;
        char a[32], b[32], c[32], d[32];

        table_init(&t, 8,
                   (const char *const[]){ "MOUNT", "DEVICE", "TYPE", ">SIZE", ">USED", ">AVAIL", ">USE%", "%" });
        cJSON_ArrayForEach(m, get(disk, "disk_usage")) {
                struct row *r = table_row(&t);
                double pct = num(m, "usage_percent");

                table_cell(r, 0, SGR_BOLD, "%s", m->string ?: "-");
                table_cell(r, 1, NULL, "%s", str(m, "device") ?: "-");
                table_cell(r, 2, NULL, "%s", str(m, "file_system") ?: "-");
                table_cell(r, 3, NULL, "%s", fmt_bytes(a, sizeof a, num(m, "total_gb") * GIB));
                table_cell(r, 4, NULL, "%s", fmt_bytes(b, sizeof b, num(m, "used_gb") * GIB));
                table_cell(r, 5, NULL, "%s", fmt_bytes(c, sizeof c, num(m, "free_gb") * GIB));
                table_cell(r, 6, pct >= 90 ? SGR_BAD : NULL, "%s%%", fmt_num(d, sizeof d, 1, pct));
                table_cell_bar(r, 7, pct);
        }
        table_print(o, &t);
        table_free(&t);
}

static void io_line(struct out *o, const cJSON *disk) {
        const cJSON *io = get(disk, "disk_io");
        char a[32], b[32];

        out_label(o, "disk I/O", 11);
        out_printf(o, "read %s MiB/s   write %s MiB/s", fmt_num(a, sizeof a, 2, num(io, "read_mb_per_sec")),
                   fmt_num(b, sizeof b, 2, num(io, "write_mb_per_sec")));
        out_end(o);
}

static void net_line(struct out *o, const cJSON *n) {
        char a[32], b[32], c[32], d[32], e[32];

        out_label(o, "network", 11);
        out_printf(o, "recv %s MiB/s   sent %s MiB/s   packets %s in / %s out   %s TCP connections",
                   fmt_num(a, sizeof a, 2, num(n, "bytes_recv_mb_per_sec")),
                   fmt_num(b, sizeof b, 2, num(n, "bytes_sent_mb_per_sec")),
                   fmt_count(c, sizeof c, num(n, "packets_recv")), fmt_count(d, sizeof d, num(n, "packets_sent")),
                   fmt_count(e, sizeof e, num(n, "active_connections")));
        out_end(o);
}

static void disks_section(struct out *o, const cJSON *disk) {
        disks_table(o, disk);
        out_end(o);
        io_line(o, disk);
}

static void network_section(struct out *o, const cJSON *n) {
        const cJSON *i;
        struct table t;
        char a[32], b[32], c[32], d[32];

        net_line(o, n);
        out_end(o);
        table_init(&t, 7, (const char *const[]){ "INTERFACE", ">RECEIVED", ">SENT", ">PACKETS IN", ">PACKETS OUT",
                                                 ">ERRORS IN/OUT", ">DROPS IN/OUT" });
        cJSON_ArrayForEach(i, get(n, "interfaces")) {
                struct row *r = table_row(&t);

                table_cell(r, 0, SGR_BOLD, "%s", i->string ?: "-");
                table_cell(r, 1, NULL, "%s", fmt_bytes(a, sizeof a, num(i, "bytes_recv")));
                table_cell(r, 2, NULL, "%s", fmt_bytes(b, sizeof b, num(i, "bytes_sent")));
                table_cell(r, 3, NULL, "%s", fmt_count(c, sizeof c, num(i, "packets_recv")));
                table_cell(r, 4, NULL, "%s", fmt_count(d, sizeof d, num(i, "packets_sent")));
                table_cell(r, 5, NULL, "%s/%s", fmt_count(a, sizeof a, num(i, "errin")), fmt_count(b, sizeof b, num(i, "errout")));
                table_cell(r, 6, NULL, "%s/%s", fmt_count(a, sizeof a, num(i, "dropin")),
                     fmt_count(b, sizeof b, num(i, "dropout")));
        }
        table_print(o, &t);
        table_free(&t);
}

void ctl_render_section(FILE *f, const cJSON *metrics, enum ctl_section s, const struct ctl_render *opts) {
        struct out o = { .f = f, .o = opts };
        const cJSON *sec = get(metrics, ctl_section_key(s));

        switch (s) {
        case CTL_SECTION_CPU:
                cpu_section(&o, sec);
                break;
        case CTL_SECTION_MEMORY:
                memory_section(&o, sec);
                break;
        case CTL_SECTION_PROCESSES:
                processes_section(&o, sec);
                break;
        case CTL_SECTION_DISKS:
                disks_section(&o, sec);
                break;
        case CTL_SECTION_NETWORK:
                network_section(&o, sec);
                break;
        }
}

/* ---- watch ----------------------------------------------------------------- */

/* "2024-01-15T10:30:45Z" -> "2024-01-15 10:30:45 UTC" */
static const char *fmt_time(char *buf, size_t size, const char *iso) {
        size_t n;

        if (!iso) {
                snprintf(buf, size, "-");
                return buf;
        }
        n = strlen(iso);
        if (n == 20 && iso[10] == 'T' && iso[19] == 'Z')
                snprintf(buf, size, "%.10s %.8s UTC", iso, iso + 11);
        else
                snprintf(buf, size, "%s", iso);
        return buf;
}

static void header_line(struct out *o, const cJSON *s) {
        char when[64], a[32];
        double interval = num(s, "interval");

        out_sgr(o, SGR_REVERSE);
        out_sgr(o, SGR_BOLD);
        out_text(o, " resolvix ");
        out_sgr(o, SGR_RESET);
        out_sgr(o, SGR_REVERSE);
        out_printf(o, " %s   %s", str(s, "node_id") ?: "-", fmt_time(when, sizeof when, str(s, "timestamp")));
        if (!isnan(interval))
                out_printf(o, "   every %s s", fmt_count(a, sizeof a, interval));
        if (!isnan(num(s, "seq")))
                out_printf(o, "   sample %s", fmt_count(a, sizeof a, num(s, "seq")));
        out_pad(o, o->o->width);
        out_sgr(o, SGR_RESET);
        out_end(o);
}

/* The per-core bars in as many columns as the width allows, filled
 * column by column as top and htop do; at most max_rows rows. */
static void cores_block(struct out *o, const cJSON *cores, unsigned max_rows) {
        unsigned n = (unsigned) cJSON_GetArraySize(cores), ncols, rows, digits = 1, cell_w, indent;
        unsigned width = o->o->width ? o->o->width : 80;

        if (n == 0)
                return;
        for (unsigned v = n - 1; v >= 10; v /= 10)
                digits++;
        /* The numbers end where the CPU meter's bracket starts. */
        indent = digits + 1 < METER_INDENT ? METER_INDENT - digits - 1 : 0;
        width = width > indent ? width - indent : 1;
        ncols = width / 36 ? width / 36 : 1;
        if (ncols > 4)
                ncols = 4;
        rows = (n + ncols - 1) / ncols;
        /* Many cores, few lines: narrower columns before giving up cores. */
        while (max_rows && rows > max_rows && width / (ncols + 1) >= digits + 14) {
                ncols++;
                rows = (n + ncols - 1) / ncols;
        }
        if (max_rows && rows > max_rows)
                rows = max_rows;
        cell_w = width / ncols;

        for (unsigned row = 0; row < rows; row++) {
                out_pad(o, indent);
                for (unsigned col = 0; col < ncols; col++) {
                        unsigned i = col * rows + row, at = o->cols;
                        const cJSON *v = cJSON_GetArrayItem(cores, (int) i);

                        if (i >= n)
                                break;
                        if (row == rows - 1 && col == ncols - 1 && i + 1 < n) {
                                out_printf(o, "+%u more", n - i);
                                break;
                        }
                        out_sgr(o, SGR_TITLE);
                        out_printf(o, "%*u ", (int) digits, i);
                        out_sgr(o, SGR_RESET);
                        out_percent_bar(o, cell_w - digits - 3, cJSON_IsNumber(v) ? v->valuedouble : NAN);
                        out_pad(o, at + cell_w);
                }
                out_end(o);
        }
}

static unsigned meter_width(const struct out *o) {
        unsigned w = o->o->width ? o->o->width : 100;
        unsigned bar = w > 6 ? w - 6 : 0;

        /* Leave room on the right for the figures. */
        bar = bar > 46 ? bar - 46 : bar / 2;
        return bar < 12 ? 12 : bar > 70 ? 70 : bar;
}

static void meters(struct out *o, const cJSON *metrics, unsigned core_rows) {
        const cJSON *cpu = get(metrics, "cpu"), *mem = get(metrics, "memory");
        unsigned bw = meter_width(o);
        char a[32], b[32], c[32];

        out_label(o, "CPU", METER_INDENT);
        out_percent_bar(o, bw, num(cpu, "cpu_usage_percent"));
        out_printf(o, "  load %s %s %s", fmt_num(a, sizeof a, 2, num(cpu, "load_avg_1min")),
                   fmt_num(b, sizeof b, 2, num(cpu, "load_avg_5min")),
                   fmt_num(c, sizeof c, 2, num(cpu, "load_avg_15min")));
        if (!isnan(num(cpu, "count")))
                out_printf(o, "   %s cores", fmt_count(a, sizeof a, num(cpu, "count")));
        if (!isnan(num(cpu, "frequency_mhz")))
                out_printf(o, " %s MHz", fmt_num(a, sizeof a, 0, num(cpu, "frequency_mhz")));
        out_end(o);
        cores_block(o, get(cpu, "cpu_per_core_percent"), core_rows);

        out_label(o, "Mem", METER_INDENT);
        out_percent_bar(o, bw, num(mem, "memory_usage_percent"));
        out_printf(o, "  %s / %s used, %s available", fmt_bytes(a, sizeof a, num(mem, "memory_used_gb") * GIB),
                   fmt_bytes(b, sizeof b, num(mem, "memory_total_gb") * GIB),
                   fmt_bytes(c, sizeof c, num(mem, "memory_available_gb") * GIB));
        out_end(o);
        out_label(o, "Swap", METER_INDENT);
        out_percent_bar(o, bw, num(mem, "swap_usage_percent"));
        out_printf(o, "  %s / %s used", fmt_bytes(a, sizeof a, num(mem, "swap_used_gb") * GIB),
                   fmt_bytes(b, sizeof b, num(mem, "swap_total_gb") * GIB));
        out_end(o);
}

void ctl_render_watch(FILE *f, const cJSON *sample, const char *status, const struct ctl_render *opts) {
        struct out o = { .f = f, .o = opts };
        const cJSON *metrics = get(sample, "metrics");
        const cJSON *disk = get(metrics, "disk"), *procs = get(metrics, "processes");
        unsigned n_mounts = (unsigned) cJSON_GetArraySize(get(disk, "disk_usage"));
        unsigned n_procs = (unsigned) cJSON_GetArraySize(get(procs, "top_memory_processes"));
        unsigned core_rows = 0;
        bool has_history = opts->history && opts->history->n > 0;
        char a[32];

        /* The last line is the status line. */
        if (opts->height)
                o.max_lines = opts->height > 1 ? opts->height - 1 : 1;
        if (o.max_lines) {
                /* Everything but the cores: header, CPU, Mem, Swap, blank,
                 * I/O, net, blank, mounts + heading, blank, count,
                 * processes + heading. What is left goes to the cores, at
                 * least one row. */
                unsigned fixed = 11 + n_mounts + 2 + n_procs + (has_history ? CTL_HISTORY_SERIES + 1 : 0);
                core_rows = o.max_lines > fixed ? o.max_lines - fixed : 1;
        }

        if (!sample) {
                out_sgr(&o, SGR_REVERSE);
                out_text(&o, " resolvix ");
                out_pad(&o, opts->width);
                out_sgr(&o, SGR_RESET);
                out_end(&o);
                out_end(&o);
                out_text(&o, "  waiting for the first sample...");
                out_end(&o);
        } else {
                header_line(&o, sample);
                meters(&o, metrics, core_rows);
                out_end(&o);
                if (has_history) {
                        ctl_history_render(&o, opts->history);
                        out_end(&o);
                }
                io_line(&o, disk);
                net_line(&o, get(metrics, "network"));
                out_end(&o);
                disks_table(&o, disk);
                out_end(&o);
                out_label(&o, "processes", 11);
                out_printf(&o, "%s running; top by resident memory:", fmt_count(a, sizeof a, num(procs, "process_count")));
                out_end(&o);
                processes_table(&o, procs);
        }

        if (opts->screen) {
                /* Clear below, then the status line on the terminal's last row. */
                fputs("\x1b[J", f);
                if (opts->height)
                        fprintf(f, "\x1b[%u;1H", opts->height);
        }
        if (status) {
                o.max_lines = 0;
                out_sgr(&o, SGR_REVERSE);
                out_printf(&o, " %s", status);
                out_pad(&o, opts->width);
                out_sgr(&o, SGR_RESET);
                if (opts->screen) {
                        /* No newline on the last row: it would scroll. */
                        if (o.colored)
                                out_sgr(&o, SGR_RESET);
                        fwrite(o.buf, 1, o.len, f);
                        fputs("\x1b[K", f);
                } else
                        out_end(&o);
        }
}

void ctl_render_line(FILE *f, const cJSON *sample) {
        const cJSON *m = get(sample, "metrics");
        const cJSON *cpu = get(m, "cpu"), *mem = get(m, "memory"), *disk = get(m, "disk"), *net = get(m, "network");
        const cJSON *io = get(disk, "disk_io");
        char v[12][32];

        fprintf(f, "%s %s cpu %s%% load %s mem %s%% swap %s%% disk_read %s disk_write %s MiB/s net_recv %s net_sent %s "
                   "MiB/s conns %s procs %s\n",
                str(sample, "timestamp") ?: "-", str(sample, "node_id") ?: "-",
                fmt_num(v[0], 32, 1, num(cpu, "cpu_usage_percent")), fmt_num(v[1], 32, 2, num(cpu, "load_avg_1min")),
                fmt_num(v[2], 32, 1, num(mem, "memory_usage_percent")),
                fmt_num(v[3], 32, 1, num(mem, "swap_usage_percent")), fmt_num(v[4], 32, 2, num(io, "read_mb_per_sec")),
                fmt_num(v[5], 32, 2, num(io, "write_mb_per_sec")),
                fmt_num(v[6], 32, 2, num(net, "bytes_recv_mb_per_sec")),
                fmt_num(v[7], 32, 2, num(net, "bytes_sent_mb_per_sec")),
                fmt_count(v[8], 32, num(net, "active_connections")),
                fmt_count(v[9], 32, num(get(m, "processes"), "process_count")));
}

/* ---- status ---------------------------------------------------------------- */

static const char *state_sgr(const char *state) {
        if (!state)
                return NULL;
        if (streq(state, "running"))
                return SGR_OK;
        if (streq(state, "failed") || streq(state, "backoff"))
                return SGR_BAD;
        if (streq(state, "starting") || streq(state, "stopping"))
                return SGR_WARN;
        return NULL;
}

static const char *fmt_uptime(char *buf, size_t size, double s) {
        unsigned long v = isnan(s) || s < 0 ? 0 : (unsigned long) s;

        if (isnan(s))
                snprintf(buf, size, "-");
        else if (v >= 86400)
                snprintf(buf, size, "%lud %luh", v / 86400, v % 86400 / 3600);
        else if (v >= 3600)
                snprintf(buf, size, "%luh %lum", v / 3600, v % 3600 / 60);
        else if (v >= 60)
                snprintf(buf, size, "%lum %lus", v / 60, v % 60);
        else
                snprintf(buf, size, "%lus", v);
        return buf;
}

static void status_row(struct table *t, const char *name, const cJSON *w, bool telemetry) {
        struct row *r = table_row(t);
        const cJSON *exit = get(w, "last_exit");
        const char *state = str(w, "state");
        char a[32];

        if (!state)
                state = cJSON_IsTrue(get(w, "running")) ? "running" : "stopped";
        table_cell(r, 0, SGR_BOLD, "%s", name);
        table_cell(r, 1, state_sgr(state), "%s", state);
        table_cell(r, 2, NULL, "%s", fmt_count(a, sizeof a, num(w, "pid")));
        table_cell(r, 3, NULL, "%s", fmt_count(a, sizeof a, num(w, "ws_port")));
        if (telemetry)
                table_cell(r, 4, NULL, "every %s s", fmt_count(a, sizeof a, num(w, "interval")));
        else if (str(w, "hub_url"))
                /* pushd: where it pushes, and what waits for the hub. */
                table_cell(r, 4, NULL, "%s, %s spooled", str(w, "hub_url"), fmt_count(a, sizeof a, num(w, "spooled")));
        else
                table_cell(r, 4, NULL, "%s", str(w, "log_file") ?: "-");
        table_cell(r, 5, NULL, "%s", fmt_time(a, sizeof a, str(w, "started_at")));
        table_cell(r, 6, NULL, "%s", fmt_count(a, sizeof a, num(w, "restarts")));
        if (cJSON_IsString(get(exit, "signal")))
                table_cell(r, 7, SGR_BAD, "%s", get(exit, "signal")->valuestring);
        else if (!isnan(num(exit, "code")))
                table_cell(r, 7, num(exit, "code") != 0 ? SGR_BAD : NULL, "code %.0f", num(exit, "code"));
        else
                table_cell(r, 7, NULL, "-");
}

void ctl_render_status(FILE *f, const cJSON *status, const struct ctl_render *opts) {
        struct out o = { .f = f, .o = opts };
        struct table t;
        char up[32];

        out_sgr(&o, SGR_BOLD);
        out_printf(&o, "resolvix on %s", str(status, "node_id") ?: "-");
        out_sgr(&o, SGR_RESET);
        if (str(status, "version"))
                out_printf(&o, "   version %s", str(status, "version"));
        if (!isnan(num(status, "uptime_s")))
                out_printf(&o, "   up %s", fmt_uptime(up, sizeof up, num(status, "uptime_s")));
        out_end(&o);
        out_end(&o);

        table_init(&t, 8, (const char *const[]){ "WORKER", "STATE", ">PID", ">PORT", "SERVES", "SINCE", ">RESTARTS",
                                                 "LAST EXIT" });
        status_row(&t, "telemetry", get(status, "telemetry"), true);
        status_row(&t, "livelogs", get(status, "livelogs"), false);
        if (get(status, "push"))
                status_row(&t, "push", get(status, "push"), false);
        table_print(&o, &t);
        table_free(&t);
}
