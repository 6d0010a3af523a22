/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "grow.h"
#include "term.h"

size_t ctl_text_width(const char *s) {
        size_t w = 0;

        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if ((*p & 0xc0) != 0x80)
                        w++;
        return w;
}


bool out_full(const struct out *o) {
        return o->max_lines && o->lines >= o->max_lines;
}

/* Append text, clipped at the width. Control characters from the system
 * (a process may name itself anything) never reach the terminal. */
void out_text(struct out *o, const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                bool start = (*p & 0xc0) != 0x80;
                unsigned char c = *p < 0x20 || *p == 0x7f ? '?' : *p;

                if (start && o->o->width && o->cols >= o->o->width)
                        break;
                if (o->len + 1 >= sizeof o->buf - 16)
                        break;
                o->buf[o->len++] = (char) c;
                if (start)
                        o->cols++;
        }
}

void out_printf(struct out *o, const char *fmt, ...) {
        char text[LINE_MAX_BYTES];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        out_text(o, text);
}

void out_pad(struct out *o, unsigned to) {
        while (o->cols < to && (!o->o->width || o->cols < o->o->width))
                out_text(o, " ");
}

void out_sgr(struct out *o, const char *sgr) {
        size_t n = strlen(sgr);

        if (!o->o->color || o->len + n >= sizeof o->buf - 8)
                return;
        memcpy(o->buf + o->len, sgr, n);
        o->len += n;
        o->colored = !streq(sgr, SGR_RESET);
}

void out_end(struct out *o) {
        /* Padding is for the screen; a pipe gets no trailing blanks. */
        while (!o->o->screen && o->len > 0 && o->buf[o->len - 1] == ' ')
                o->len--;
        if (!out_full(o)) {
                if (o->colored)
                        out_sgr(o, SGR_RESET);
                fwrite(o->buf, 1, o->len, o->f);
                /* Full-screen: wipe what the previous frame left right of it. */
                fputs(o->o->screen ? "\x1b[K\n" : "\n", o->f);
                o->lines++;
        }
        o->len = 0;
        o->cols = 0;
        o->colored = false;
}

const char *level_sgr(double percent) {
        return percent >= 85.0 ? SGR_BAD : percent >= 60.0 ? SGR_WARN : SGR_OK;
}

/* [|||||||      23.4%]: width cells in all, the label inside at the right. */
void out_bar(struct out *o, unsigned width, double percent, const char *label) {
        unsigned inner = width > 2 ? width - 2 : 0, filled, label_at;
        size_t label_len = strlen(label);
        double p = isnan(percent) ? 0.0 : percent < 0 ? 0.0 : percent > 100.0 ? 100.0 : percent;

        filled = (unsigned) lround(p / 100.0 * inner);
        label_at = label_len < inner ? inner - (unsigned) label_len : inner;
        out_sgr(o, SGR_BOLD);
        out_text(o, "[");
        out_sgr(o, SGR_RESET);
        out_sgr(o, level_sgr(p));
        for (unsigned i = 0; i < label_at; i++)
                out_text(o, i < filled ? "|" : " ");
        out_sgr(o, SGR_RESET);
        if (label_at < inner) {
                out_sgr(o, SGR_DIM);
                out_text(o, label);
                out_sgr(o, SGR_RESET);
        }
        out_sgr(o, SGR_BOLD);
        out_text(o, "]");
        out_sgr(o, SGR_RESET);
}

void out_percent_bar(struct out *o, unsigned width, double percent) {
        char label[16];

        if (isnan(percent))
                snprintf(label, sizeof label, "-");
        else
                snprintf(label, sizeof label, "%.1f%%", percent);
        out_bar(o, width, percent, label);
}

/* ---- tables ---------------------------------------------------------------- */



void table_free(struct table *t) {
        free(t->rows);
}

/* Columns: "NAME" left-aligned, ">SIZE" right-aligned, "%USE" a bar. */
void table_init(struct table *t, unsigned ncols, const char *const *head) {
        *t = (struct table){ .ncols = ncols, .bar_width = 12 };
        for (unsigned i = 0; i < ncols; i++) {
                t->right[i] = head[i][0] == '>';
                t->head[i] = head[i] + (head[i][0] == '>' || head[i][0] == '%');
        }
}

struct row *table_row(struct table *t) {
        struct row *r;

        if (GROW(t->rows, t->cap, t->n + 1, 8) < 0)
                return NULL;
        r = &t->rows[t->n++];
        memset(r, 0, sizeof *r);
        for (unsigned i = 0; i < TABLE_COLS; i++)
                r->bar[i] = NAN;
        return r;
}

void table_cell(struct row *r, unsigned col, const char *sgr, const char *fmt, ...) {
        va_list ap;

        if (!r)
                return;
        va_start(ap, fmt);
        vsnprintf(r->cell[col], CELL_MAX, fmt, ap);
        va_end(ap);
        r->sgr[col] = sgr;
}

void table_cell_bar(struct row *r, unsigned col, double percent) {
        if (r)
                r->bar[col] = percent;
}

void table_print(struct out *o, const struct table *t) {
        unsigned w[TABLE_COLS] = { 0 };

        for (unsigned c = 0; c < t->ncols; c++) {
                w[c] = (unsigned) ctl_text_width(t->head[c]);
                for (size_t i = 0; i < t->n; i++) {
                        unsigned cw = isnan(t->rows[i].bar[c]) ? (unsigned) ctl_text_width(t->rows[i].cell[c])
                                                                : t->bar_width;
                        if (cw > w[c])
                                w[c] = cw;
                }
        }
        out_sgr(o, SGR_HEAD);
        for (unsigned c = 0; c < t->ncols; c++) {
                unsigned at = o->cols;

                if (t->right[c])
                        out_pad(o, at + w[c] - (unsigned) ctl_text_width(t->head[c]));
                out_text(o, t->head[c]);
                if (c + 1 < t->ncols)
                        out_pad(o, at + w[c] + 2);
        }
        if (o->o->screen)
                out_pad(o, o->o->width);
        out_sgr(o, SGR_RESET);
        out_end(o);

        for (size_t i = 0; i < t->n; i++) {
                const struct row *r = &t->rows[i];

                for (unsigned c = 0; c < t->ncols; c++) {
                        unsigned at = o->cols;

                        if (!isnan(r->bar[c]))
                                out_bar(o, t->bar_width, r->bar[c], ""); /* the figure is in its own column */
                        else {
                                if (t->right[c])
                                        out_pad(o, at + w[c] - (unsigned) ctl_text_width(r->cell[c]));
                                if (r->sgr[c])
                                        out_sgr(o, r->sgr[c]);
                                out_text(o, r->cell[c]);
                                if (r->sgr[c])
                                        out_sgr(o, SGR_RESET);
                        }
                        if (c + 1 < t->ncols)
                                out_pad(o, at + w[c] + 2);
                }
                out_end(o);
        }
}


/* Eight heights of a block: a series in one line of text, as spark(1) and
 * Netdata's terminal views draw it. */
static const char *const spark_blocks[8] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };

size_t ctl_sparkline(char *buf, size_t size, const double *v, size_t n, unsigned width, double lo, double hi) {
        size_t len = 0, cells = 0;

        if (size == 0)
                return 0;
        buf[0] = '\0';
        if (n == 0 || width == 0)
                return 0;
        if (isnan(lo) || isnan(hi)) {
                double mn = INFINITY, mx = -INFINITY;

                for (size_t i = 0; i < n; i++)
                        if (isfinite(v[i])) {
                                mn = fmin(mn, v[i]);
                                mx = fmax(mx, v[i]);
                        }
                if (!isfinite(mn))
                        return 0;
                if (isnan(lo))
                        lo = mn;
                if (isnan(hi))
                        hi = mx;
        }
        /* More points than cells: each cell the mean of its share; fewer:
         * one cell a point. */
        if (width > n)
                width = (unsigned) n;
        for (unsigned c = 0; c < width; c++) {
                size_t from = (size_t) c * n / width, to = (size_t) (c + 1) * n / width;
                double sum = 0;
                unsigned k = 0;
                const char *b = " ";

                for (size_t i = from; i < to; i++)
                        if (isfinite(v[i])) {
                                sum += v[i];
                                k++;
                        }
                if (k) {
                        double x = hi > lo ? (sum / k - lo) / (hi - lo) : 0.5;
                        int level = (int) lround(fmin(1, fmax(0, x)) * 7);

                        b = spark_blocks[level];
                }
                if (len + strlen(b) + 1 > size)
                        break;
                memcpy(buf + len, b, strlen(b));
                len += strlen(b);
                cells++;
        }
        buf[len] = '\0';
        return cells;
}
