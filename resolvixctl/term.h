/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ctl.h"

/* Text for a terminal: lines clipped to its width, colours when it has
 * them, percent bars, and tables whose cells may be bars. */

#define LINE_MAX_BYTES 8192
#define TABLE_COLS 9
#define CELL_MAX 160

/* ANSI SGR sequences. */
#define SGR_RESET "\x1b[0m"
#define SGR_BOLD "\x1b[1m"
#define SGR_DIM "\x1b[2m"
#define SGR_REVERSE "\x1b[7m"
#define SGR_TITLE "\x1b[1;36m"
#define SGR_HEAD "\x1b[30;46m"
#define SGR_OK "\x1b[32m"
#define SGR_WARN "\x1b[33m"
#define SGR_BAD "\x1b[31m"

/* One line at a time; out_end() writes it. */
struct out {
        FILE *f;
        const struct ctl_render *o;
        unsigned lines, max_lines; /* max_lines 0: unbounded */
        char buf[LINE_MAX_BYTES];
        size_t len;
        unsigned cols;
        bool colored; /* an SGR is in effect */
};

bool out_full(const struct out *o);
/* Append text, clipped at the width. Control characters from the system
 * (a process may name itself anything) never reach the terminal. */
void out_text(struct out *o, const char *s);
void out_printf(struct out *o, const char *fmt, ...) _printf_(2, 3);
void out_pad(struct out *o, unsigned to);
void out_sgr(struct out *o, const char *sgr);
void out_end(struct out *o);
const char *level_sgr(double percent);
/* [|||||||      23.4%]: width cells in all, the label inside at the right. */
void out_bar(struct out *o, unsigned width, double percent, const char *label);
void out_percent_bar(struct out *o, unsigned width, double percent);

struct row {
        char cell[TABLE_COLS][CELL_MAX];
        const char *sgr[TABLE_COLS];
        double bar[TABLE_COLS]; /* a percent drawn as a bar, NAN for text */
};

struct table {
        unsigned ncols;
        const char *head[TABLE_COLS];
        bool right[TABLE_COLS]; /* right-aligned (numbers) */
        unsigned bar_width;
        struct row *rows;
        size_t n, cap;
};

void table_free(struct table *t);
/* Columns: "NAME" left-aligned, ">SIZE" right-aligned, "%USE" a bar. */
void table_init(struct table *t, unsigned ncols, const char *const *head);
struct row *table_row(struct table *t);
void table_cell(struct row *r, unsigned col, const char *sgr, const char *fmt, ...) _printf_(4, 5);
void table_cell_bar(struct row *r, unsigned col, double percent);
void table_print(struct out *o, const struct table *t);

/* values as a line of block characters (▁…█), at most width cells, each
 * the mean of its share of the values; lo and hi are the bottom and top
 * (NAN: the values' own least and greatest). Non-finite values draw a
 * blank. Pure. Returns the cells written into buf (NUL-terminated). */
size_t ctl_sparkline(char *buf, size_t size, const double *v, size_t n, unsigned width, double lo, double hi);

/* The history as one sparkline per series, newest at the right. */
void ctl_history_render(struct out *o, const struct ctl_history *h);
