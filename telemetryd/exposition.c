/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <string.h>

#include "exposition.h"
#include "utf8.h"

void expo_family(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void expo_label(FILE *f, const char *value) {
        char buf[3 * PATH_MAX + 1];

        if (strlen(value) > PATH_MAX)
                value = "(too long)";
        for (const char *p = utf8_repair_str(value, buf, sizeof buf); *p; p++) {
                if (*p == '\\' || *p == '"')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", f);
                else
                        fputc(*p, f);
        }
}

void expo_sample1(FILE *f, const char *name, const char *label, const char *value) {
        fprintf(f, "%s{%s=\"", name, label);
        expo_label(f, value);
        fputs("\"}", f);
}

void expo_fixed(FILE *f, uint64_t n, unsigned decimals) {
        uint64_t p = 1;

        for (unsigned i = 0; i < decimals; i++)
                p *= 10;
        if (decimals == 0)
                fprintf(f, "%llu", (unsigned long long) n);
        else
                fprintf(f, "%llu.%0*llu", (unsigned long long) (n / p), (int) decimals, (unsigned long long) (n % p));
}

void expo_ratio(FILE *f, uint64_t n, uint64_t per) {
        uint64_t p = 1;
        unsigned decimals = 0;

        /* USER_HZ is 100 wherever Linux runs: exact. */
        while (p < per && decimals < 19) {
                p *= 10;
                decimals++;
        }
        if (p == per)
                expo_fixed(f, n, decimals);
        else
                fprintf(f, "%.17g", (double) n / (double) per);
}
