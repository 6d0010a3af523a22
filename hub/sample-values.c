/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "sample-values.h"

struct walk {
        struct sample_values *out;
        char path[STORE_METRIC_MAX + 1];
        size_t len;
};

static void emit(struct walk *w, double v) {
        struct sample_values *o = w->out;

        if (o->n >= STORE_VALUES_MAX || !isfinite(v) || o->names_used + w->len + 1 > sizeof(o->names)) {
                o->skipped++;
                return;
        }
        memcpy(o->names + o->names_used, w->path, w->len + 1);
        o->v[o->n++] = (struct store_value){ .path = o->names + o->names_used, .value = v };
        o->names_used += w->len + 1;
}

/* Append ".component" (no dot at the start), escaping '.' and '\'. Returns
 * false, leaving the path as it was, when it would be too long. */
static bool push(struct walk *w, const char *component) {
        size_t len = w->len;

        /* An empty key names nothing a query could ask for. */
        if (!*component)
                return false;
        if (len > 0) {
                if (len + 1 > STORE_METRIC_MAX)
                        return false;
                w->path[len++] = '.';
        }
        for (const char *c = component; *c; c++) {
                if (len + (*c == '.' || *c == '\\') + 1 > STORE_METRIC_MAX) {
                        w->path[w->len] = 0;
                        return false;
                }
                if (*c == '.' || *c == '\\')
                        w->path[len++] = '\\';
                w->path[len++] = *c;
        }
        w->path[len] = 0;
        w->len = len;
        return true;
}

static void pop(struct walk *w, size_t len) {
        w->len = len;
        w->path[len] = 0;
}

/* Values a subtree would have produced, for counting what a bound cut off. */
static size_t count_numbers(const cJSON *j) {
        size_t n = 0;

        if (cJSON_IsNumber(j))
                return 1;
        if (cJSON_IsObject(j) || cJSON_IsArray(j))
                for (const cJSON *c = j->child; c; c = c->next)
                        n += count_numbers(c);
        return n;
}

static bool earlier_sibling_named(const cJSON *obj, const cJSON *item) {
        for (const cJSON *c = obj->child; c && c != item; c = c->next)
                if (c->string && item->string && streq(c->string, item->string))
                        return true;
        return false;
}

static void walk_value(struct walk *w, const cJSON *j, unsigned depth);

static void walk_children(struct walk *w, const cJSON *j, unsigned depth) {
        if (cJSON_IsObject(j)) {
                for (const cJSON *c = j->child; c; c = c->next) {
                        size_t saved = w->len;

                        if (!c->string || earlier_sibling_named(j, c))
                                continue;
                        if (!push(w, c->string)) {
                                w->out->skipped += count_numbers(c);
                                continue;
                        }
                        walk_value(w, c, depth);
                        pop(w, saved);
                }
                return;
        }

        /* An array: only an array of numbers is a set of series. */
        for (const cJSON *c = j->child; c; c = c->next)
                if (!cJSON_IsNumber(c))
                        return;
        size_t i = 0;
        for (const cJSON *c = j->child; c; c = c->next, i++) {
                char index[24];
                size_t saved = w->len;

                snprintf(index, sizeof(index), "%zu", i);
                if (!push(w, index)) {
                        w->out->skipped++;
                        continue;
                }
                emit(w, c->valuedouble);
                pop(w, saved);
        }
}

static void walk_value(struct walk *w, const cJSON *j, unsigned depth) {
        if (cJSON_IsNumber(j)) {
                emit(w, j->valuedouble);
                return;
        }
        if (!cJSON_IsObject(j) && !cJSON_IsArray(j))
                return;
        if (depth >= SAMPLE_VALUES_DEPTH_MAX) {
                w->out->skipped += count_numbers(j);
                return;
        }
        walk_children(w, j, depth + 1);
}

/* A record of the collection server's client API (docs/fleet.md, "Flask
 * system-monitor API"): the three figures its reports carry, under the names
 * the report uses ("cpu", "mem", "storage"); its clients post "cpu_load". */
static void walk_client_record(struct walk *w, const cJSON *j) {
        static const struct {
                const char *name, *alias;
        } fields[] = {
                { "cpu", "cpu_load" },
                { "mem", NULL },
                { "storage", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, fields[i].name);

                if (!cJSON_IsNumber(v) && fields[i].alias)
                        v = cJSON_GetObjectItemCaseSensitive(j, fields[i].alias);
                if (!cJSON_IsNumber(v))
                        continue;
                push(w, fields[i].name);
                emit(w, v->valuedouble);
                pop(w, 0);
        }
}

int sample_values_flatten(const cJSON *sample, struct sample_values *out) {
        struct walk w = { .out = out };
        const cJSON *inner;

        if (!cJSON_IsObject(sample))
                return -EINVAL;
        out->n = out->skipped = out->names_used = 0;

        inner = cJSON_GetObjectItemCaseSensitive(sample, "metrics");
        if (!cJSON_IsObject(inner))
                inner = cJSON_GetObjectItemCaseSensitive(sample, "stats");
        if (cJSON_IsObject(inner))
                walk_children(&w, inner, 1);
        else
                walk_client_record(&w, sample);
        return (int) out->n;
}
