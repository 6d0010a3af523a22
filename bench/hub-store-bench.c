/* SPDX-License-Identifier: MIT */
/* The hub's storage measured through its interface (hub/store.h), for
 * bench/hub-store, which runs it next to its peers and prints the figures.
 *
 *   hub-store-bench gen FILE SAMPLES NODES RUN
 *       realistic samples as NDJSON (the resolvix sample of tests/data/hub
 *       with every number varied), 10 s apart, RUN consecutive samples of
 *       one node at a time, the NODES in turn (RUN 100: each push a batch
 *       of one node's backlog; RUN 1: every sample another node's)
 *   hub-store-bench ingest DATABASE STATE_DIR FILE BATCH
 *       durable ingest of FILE in batches of BATCH: samples/s and values/s
 *       counted over store_batch_add() + store_batch_commit() only
 *   hub-store-bench history DATABASE STATE_DIR DAYS RUNS
 *       DAYS of one node at 10 s, rolled up, then RUNS queries of the whole
 *       range at ~1,000 points: milliseconds per query
 *   hub-store-bench latest DATABASE STATE_DIR NODES RUNS
 *       one sample for each of NODES nodes, then RUNS store_latest_each()
 *   hub-store-bench bytes FILE
 *       stored body bytes per sample: JSON, zstd alone, zstd with the
 *       built-in dictionary
 *   hub-store-bench values FILE
 *       naming each line's values as a push does: sample_scan() against
 *       cJSON's tree and sample_values_flatten(), the path it replaced;
 *       nanoseconds per line, the best of 5 passes over FILE
 *   hub-store-bench dictionary SAMPLES
 *       prints hub/store-dictionary-v2.c, made from SAMPLES gen samples
 *
 * Every mode prints one JSON object on stdout. DATABASE "" is SQLite in
 * STATE_DIR. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zdict.h>
#include <zstd.h>

#include "jsonutil.h"
#include "macro.h"
#include "sample-values.h"
#include "store-codec.h"
#include "store-dictionary.h"
#include "store.h"

#define FIXTURE BENCH_DATA_DIR "/hub/resolvix-sample.json"
/* 2024-01-01T00:00:00Z */
#define BASE_MS INT64_C(1704067200000)
#define STEP_MS INT64_C(10000)

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static _noreturn_ void die(const char *what, int r) {
        fprintf(stderr, "hub-store-bench: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(1);
}

static uint64_t rng = 88172645463325252ULL;
static double rnd(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (double) (rng >> 11) / 9007199254740992.0;
}

static cJSON *fixture(void) {
        static char buf[65536];
        FILE *f = fopen(FIXTURE, "re");
        size_t n;
        cJSON *j;

        if (!f)
                die(FIXTURE, errno);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        j = cJSON_Parse(buf);
        if (!j)
                die("the fixture is not JSON", EINVAL);
        return j;
}

/* Every number moves the way telemetry moves: big integers are counters
 * and grow, zeros (idle interfaces, no swap) mostly stay zero, the rest
 * wander around where they were, two decimals. */
static void vary(cJSON *j, const cJSON *orig) {
        for (cJSON *c = j->child, *o = orig->child; c && o; c = c->next, o = o->next) {
                if (cJSON_IsNumber(c)) {
                        double v = o->valuedouble;
                        if (v == floor(v) && v > 1000)
                                v = c->valuedouble + floor(rnd() * 5000);
                        else if (v == 0 && rnd() < 0.9)
                                v = 0;
                        else
                                v = round2(v * (0.5 + rnd()) + rnd());
                        cJSON_SetNumberValue(c, v);
                } else if (cJSON_IsObject(c) || cJSON_IsArray(c))
                        vary(c, o);
        }
}

static void sample_text(cJSON *s, const cJSON *orig, const char *node, int64_t seq, int64_t ts, char **ret) {
        char stamp[32], id[64];
        time_t t = (time_t) (ts / 1000);
        struct tm tm;

        vary(cJSON_GetObjectItem(s, "metrics"), cJSON_GetObjectItem(orig, "metrics"));
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        cJSON_SetValuestring(cJSON_GetObjectItem(s, "timestamp"), stamp);
        snprintf(id, sizeof(id), "%s", node);
        cJSON_ReplaceItemInObject(s, "node_id", cJSON_CreateString(id));
        cJSON_SetNumberValue(cJSON_GetObjectItem(s, "seq"), (double) seq);
        cJSON_SetNumberValue(cJSON_GetObjectItem(s, "interval"), 10);
        *ret = json_print(s);
}

static void gen(FILE *f, long n, long nodes, long run) {
        _cleanup_json_ cJSON *orig = fixture();
        _cleanup_json_ cJSON *s = cJSON_Duplicate(orig, true);

        for (long i = 0; i < n; i++) {
                long block = i / run;
                char node[32], *text;
                int64_t seq = block / nodes * run + i % run;

                snprintf(node, sizeof(node), "node-%04ld", block % nodes);
                sample_text(s, orig, node, seq, BASE_MS + seq * STEP_MS, &text);
                fprintf(f, "%s\n", text);
                free(text);
        }
}

static int mode_gen(int argc, char **argv) {
        long n = atol(argv[1]), nodes = atol(argv[2]), run = atol(argv[3]);
        FILE *f = fopen(argv[0], "we");

        if (!f || n <= 0 || nodes <= 0 || run <= 0)
                die("gen FILE SAMPLES NODES RUN", EINVAL);
        gen(f, n, nodes, run);
        if (fclose(f) != 0)
                die("writing", errno);
        printf("{\"samples\": %ld, \"nodes\": %ld, \"run\": %ld}\n", n, nodes, run);
        return 0;
}

/* The source of hub/store-dictionary-v2.c: version 1's content with, in
 * front, the entropy tables of SAMPLES generated samples (gen, 50 nodes,
 * runs of 100) compressed against it at the hub's level, 1. */
static int mode_dictionary(int argc, char **argv) {
        enum { DICT_MAX = 16384 };
        long n = atol(argv[0]);
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ size_t *sizes = NULL;
        _cleanup_free_ uint8_t *dict = malloc(DICT_MAX);
        size_t text_len = 0, k = 0, size;
        FILE *f;

        if (n <= 0 || !dict || !(sizes = calloc((size_t) n, sizeof(*sizes))) ||
            !(f = open_memstream(&text, &text_len)))
                die("dictionary SAMPLES", EINVAL);
        gen(f, n, 50, 100);
        if (fclose(f) != 0)
                die("generating", errno);
        /* One sample per line, trained on without its newline, as the hub
         * stores it. */
        for (char *p = text, *w = text, *end = text + text_len, *nl; (nl = memchr(p, '\n', (size_t) (end - p)));
             p = nl + 1) {
                sizes[k] = (size_t) (nl - p);
                memmove(w, p, sizes[k]);
                w += sizes[k++];
        }
        size = ZDICT_finalizeDictionary(dict, DICT_MAX, body_dictionary_v1, body_dictionary_v1_size, text, sizes,
                                        (unsigned) k,
                                        (ZDICT_params_t){ .compressionLevel = 1, .notificationLevel = 0 });
        if (ZDICT_isError(size)) {
                fprintf(stderr, "hub-store-bench: ZDICT_finalizeDictionary: %s\n", ZDICT_getErrorName(size));
                return 1;
        }
        printf("/* SPDX-License-Identifier: MIT */\n"
               "/* Generated: hub-store-bench dictionary %ld (bench/hub-store-bench.c). The\n"
               " * stored format: never regenerate it in place (store-dictionary.h). */\n"
               "#include \"store-dictionary.h\"\n\n"
               "const unsigned char body_dictionary_v2[] = {",
               n);
        for (size_t i = 0; i < size; i++)
                printf("%s0x%02x,", i % 12 ? " " : "\n        ", dict[i]);
        printf("\n};\n\nconst size_t body_dictionary_v2_size = sizeof(body_dictionary_v2);\n");
        return 0;
}

static struct store *open_store(const char *database, const char *state_dir) {
        struct store *s;
        int r = store_open(database, state_dir, &s);

        if (r < 0)
                die("store_open", r);
        return s;
}

static void node_put(struct store *s, const char *id) {
        struct store_node n = { .kind = STORE_NODE_RESOLVIX, .first_seen = BASE_MS, .last_seen = BASE_MS };
        int r;

        snprintf(n.node_id, sizeof(n.node_id), "%s", id);
        snprintf(n.hostname, sizeof(n.hostname), "%s.example", id);
        r = store_node_upsert(s, &n);
        if (r < 0)
                die("store_node_upsert", r);
}

static uint64_t commit(struct store_batch *b) {
        struct store_batch_result res;
        int r = store_batch_commit(b, &res);

        if (r < 0)
                die("store_batch_commit", r);
        return res.acked;
}

/* Generate the node's sample seq (10 s apart) and add it. */
static void add_generated(struct store_batch *b, cJSON *j, const cJSON *orig, struct sample_values *vals,
                          const char *node, int64_t seq) {
        _cleanup_json_ cJSON *parsed = NULL;
        int64_t ts = BASE_MS + seq * STEP_MS;
        char *text;
        int r;

        sample_text(j, orig, node, seq, ts, &text);
        parsed = cJSON_Parse(text);
        if (!parsed || sample_values_flatten(parsed, vals) < 0)
                die("a generated sample", EINVAL);
        struct store_sample x = { .node_id = node, .stream = "boot", .seq = seq, .ts = ts, .json = text,
                                  .json_len = strlen(text), .values = vals->v, .n_values = vals->n };
        r = store_batch_add(b, &x);
        free(text);
        if (r < 0)
                die("store_batch_add", r);
}

/* A sample of the file ready to add: what the API layer does per line. */
struct prepared {
        cJSON *j;
        struct sample_values *vals;
        struct store_sample x;
        char node[64];
};

static void prepare(struct prepared *p, const char *line, size_t len, const char *stream) {
        const cJSON *seq;
        int r;

        cJSON_Delete(p->j);
        p->j = cJSON_ParseWithLength(line, len);
        if (!p->j)
                die("a line is not JSON", EINVAL);
        r = sample_values_flatten(p->j, p->vals);
        if (r < 0)
                die("flatten", r);
        snprintf(p->node, sizeof(p->node), "%s", cJSON_GetStringValue(cJSON_GetObjectItem(p->j, "node_id")));
        seq = cJSON_GetObjectItem(p->j, "seq");
        p->x = (struct store_sample){
                .node_id = p->node,
                .stream = stream,
                .seq = (int64_t) seq->valuedouble,
                .ts = BASE_MS + (int64_t) seq->valuedouble * STEP_MS,
                .json = line,
                .json_len = len,
                .values = p->vals->v,
                .n_values = p->vals->n,
        };
}

static int mode_ingest(int argc, char **argv) {
        struct store *s = open_store(argv[0], argv[1]);
        FILE *f = fopen(argv[2], "re");
        long batch_size = atol(argv[3]);
        struct prepared p = { .vals = malloc(sizeof(struct sample_values)) };
        struct store_batch *b;
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        double spent = 0, t, add_s = 0, cpu0 = cpu_s();
        uint64_t samples = 0, values = 0, json_bytes = 0, acked = 0, size;
        int r;

        if (!f || batch_size <= 0 || !p.vals)
                die("ingest DATABASE STATE_DIR FILE BATCH", EINVAL);
        r = store_batch_begin(s, &b);
        if (r < 0)
                die("store_batch_begin", r);
        while ((len = getline(&line, &cap, f)) > 0) {
                if (line[len - 1] == '\n')
                        line[--len] = 0;
                prepare(&p, line, (size_t) len, "bench");
                if (p.x.seq == 0)
                        node_put(s, p.node); /* enrolment, not ingest: not timed */
                t = now_s();
                r = store_batch_add(b, &p.x);
                if (r < 0)
                        die("store_batch_add", r);
                add_s += now_s() - t;
                samples++;
                values += p.x.n_values;
                json_bytes += (uint64_t) len;
                if (store_batch_count(b) == (size_t) batch_size)
                        acked += commit(b);
                spent += now_s() - t;
        }
        t = now_s();
        acked += commit(b);
        spent += now_s() - t;
        r = store_size_bytes(s, &size);
        if (r < 0)
                die("store_size_bytes", r);
        printf("{\"backend\": \"%s\", \"samples\": %" PRIu64 ", \"acked\": %" PRIu64 ", \"values\": %" PRIu64
               ", \"seconds\": %.3f, \"add_seconds\": %.3f,"
               " \"process_cpu_seconds\": %.3f, \"samples_per_s\": %.0f,"
               " \"values_per_s\": %.0f, \"db_bytes_per_sample\": %.0f, \"json_bytes_per_sample\": %.0f}\n",
               store_backend(s), samples, acked, values, spent, add_s, cpu_s() - cpu0,
               (double) samples / spent,
               (double) values / spent, (double) size / (double) samples, (double) json_bytes / (double) samples);
        store_batch_free(b);
        cJSON_Delete(p.j);
        free(p.vals);
        free(line);
        fclose(f);
        store_close(s);
        return 0;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

struct count {
        size_t series, points;
};

static int count_series(const char *node_id, const struct store_point *p, size_t n, void *u) {
        struct count *c = u;
        c->series++;
        c->points += n;
        return 0;
}

static double median_ms(struct store *s, const struct store_query *q, int runs, struct count *c, double *p95) {
        double *ms = calloc((size_t) runs, sizeof(double)), m;

        for (int i = 0; i < runs; i++) {
                double t = now_s();
                int r;

                *c = (struct count){ 0 };
                r = store_query(s, q, NULL, count_series, c);
                if (r < 0)
                        die("store_query", r);
                ms[i] = (now_s() - t) * 1000;
        }
        qsort(ms, (size_t) runs, sizeof(double), cmp_double);
        m = ms[runs / 2];
        *p95 = ms[(runs * 95) / 100 < runs ? (runs * 95) / 100 : runs - 1];
        free(ms);
        return m;
}

static int mode_history(int argc, char **argv) {
        struct store *s = open_store(argv[0], argv[1]);
        long days = atol(argv[2]);
        int runs = atoi(argv[3]);
        _cleanup_json_ cJSON *orig = fixture();
        _cleanup_json_ cJSON *j = cJSON_Duplicate(orig, true);
        struct sample_values *vals = malloc(sizeof(*vals));
        struct store_batch *b;
        int64_t n = days * 86400 / 10, end = BASE_MS + (n - 1) * STEP_MS;
        double t0, ingest_s, maintain_s;
        struct store_retention keep = { 0, 0 };
        int r;

        if (days <= 0 || runs <= 0 || !vals)
                die("history DATABASE STATE_DIR DAYS RUNS", EINVAL);
        node_put(s, "history");
        r = store_batch_begin(s, &b);
        if (r < 0)
                die("store_batch_begin", r);
        t0 = now_s();
        for (int64_t seq = 0; seq < n; seq++) {
                add_generated(b, j, orig, vals, "history", seq);
                if (store_batch_count(b) == 500)
                        commit(b);
        }
        if ((r = store_batch_commit(b, NULL)) < 0)
                die("store_batch_commit", r);
        ingest_s = now_s() - t0;
        t0 = now_s();
        while ((r = store_maintain(s, end + 2 * 86400000, &keep)) > 0)
                ;
        if (r < 0)
                die("store_maintain", r);
        maintain_s = now_s() - t0;

        /* The dashboard's question: the whole range at ~1,000 points. */
        struct store_query q = { "history", "cpu.cpu_usage_percent", BASE_MS, end, (end - BASE_MS) / 1000,
                                 STORE_AGG_AVG, STORE_SOURCE_AUTO };
        struct count c, craw;
        double p95, p95_raw, hour_p95;
        int64_t step;
        double med = median_ms(s, &q, runs, &c, &p95);
        r = store_query(s, &q, &step, count_series, &(struct count){ 0 });
        if (r < 0)
                die("store_query", r);
        q.source = STORE_SOURCE_RAW;
        double med_raw = median_ms(s, &q, runs > 5 ? 5 : runs, &craw, &p95_raw);
        /* The last hour at every sample (step 0), as a node page opens. */
        struct store_query qh = { "history", "memory.memory_usage_percent", end - 3600000, end, 0, STORE_AGG_AVG,
                                  STORE_SOURCE_AUTO };
        struct count ch;
        double hour = median_ms(s, &qh, runs, &ch, &hour_p95);

        printf("{\"backend\": \"%s\", \"samples\": %" PRIi64 ", \"ingest_s\": %.1f, \"maintain_s\": %.1f,"
               " \"step_ms\": %" PRIi64 ", \"points\": %zu, \"query_ms_median\": %.2f, \"query_ms_p95\": %.2f,"
               " \"raw_points\": %zu, \"raw_query_ms_median\": %.1f, \"hour_points\": %zu, \"hour_query_ms_median\": %.2f}\n",
               store_backend(s), n, ingest_s, maintain_s, step, c.points, med, p95, craw.points, med_raw, ch.points,
               hour);
        store_batch_free(b);
        free(vals);
        store_close(s);
        return 0;
}

static int latest_count(const char *node_id, int64_t ts, const char *json, size_t len, void *u) {
        (*(size_t *) u)++;
        return 0;
}

static int mode_latest(int argc, char **argv) {
        struct store *s = open_store(argv[0], argv[1]);
        long nodes = atol(argv[2]);
        int runs = atoi(argv[3]);
        _cleanup_json_ cJSON *orig = fixture();
        _cleanup_json_ cJSON *j = cJSON_Duplicate(orig, true);
        struct sample_values *vals = malloc(sizeof(*vals));
        struct store_batch *b;
        double *ms = calloc((size_t) runs, sizeof(double));
        size_t seen = 0;
        int r;

        if (nodes <= 0 || runs <= 0 || !vals || !ms)
                die("latest DATABASE STATE_DIR NODES RUNS", EINVAL);
        r = store_batch_begin(s, &b);
        if (r < 0)
                die("store_batch_begin", r);
        for (long i = 0; i < nodes; i++) {
                char node[32];

                snprintf(node, sizeof(node), "node-%05ld", i);
                node_put(s, node);
                add_generated(b, j, orig, vals, node, 1);
        }
        if ((r = store_batch_commit(b, NULL)) < 0)
                die("store_batch_commit", r);
        for (int i = 0; i < runs; i++) {
                double t = now_s();

                seen = 0;
                r = store_latest_each(s, latest_count, &seen);
                if (r < 0)
                        die("store_latest_each", r);
                ms[i] = (now_s() - t) * 1000;
        }
        qsort(ms, (size_t) runs, sizeof(double), cmp_double);
        printf("{\"backend\": \"%s\", \"nodes\": %zu, \"latest_ms_median\": %.2f, \"latest_ms_p95\": %.2f}\n",
               store_backend(s), seen, ms[runs / 2], ms[(runs * 95) / 100 < runs ? (runs * 95) / 100 : runs - 1]);
        store_batch_free(b);
        free(vals);
        free(ms);
        store_close(s);
        return 0;
}

static int mode_bytes(int argc, char **argv) {
        FILE *f = fopen(argv[0], "re");
        struct body_codec *codec;
        struct bytes out = { 0 };
        char *line = NULL, *plain = NULL;
        size_t cap = 0, plain_cap = 0;
        ssize_t len;
        uint64_t n = 0, json = 0, zstd_plain = 0, zstd_dict = 0;
        double t_plain = 0, t_dict = 0, t;
        int r;

        if (!f)
                die("bytes FILE", errno);
        r = body_codec_new(&codec);
        if (r < 0)
                die("body_codec_new", r);
        while ((len = getline(&line, &cap, f)) > 0) {
                size_t bound = ZSTD_compressBound((size_t) len), z;

                if (plain_cap < bound && !(plain = realloc(plain, plain_cap = bound)))
                        die("realloc", ENOMEM);
                t = now_s();
                z = ZSTD_compress(plain, bound, line, (size_t) len - 1, 3);
                t_plain += now_s() - t;
                if (ZSTD_isError(z))
                        die("ZSTD_compress", EIO);
                out.len = 0;
                t = now_s();
                r = body_compress(codec, line, (size_t) len - 1, &out);
                t_dict += now_s() - t;
                if (r < 0)
                        die("body_compress", r);
                n++;
                json += (uint64_t) len - 1;
                zstd_plain += z;
                zstd_dict += out.len;
        }
        printf("{\"samples\": %" PRIu64 ", \"json_bytes\": %.0f, \"zstd_bytes\": %.0f, \"zstd_dict_bytes\": %.0f,"
               " \"zstd_us\": %.2f, \"zstd_dict_us\": %.2f}\n",
               n, (double) json / (double) n, (double) zstd_plain / (double) n, (double) zstd_dict / (double) n,
               t_plain * 1e6 / (double) n, t_dict * 1e6 / (double) n);
        body_codec_free(codec);
        bytes_done(&out);
        free(line);
        free(plain);
        fclose(f);
        return 0;
}

/* One pass over the lines through either path: nanoseconds per line. */
static double values_pass(char **lines, const size_t *lens, size_t n, bool scan, struct sample_values *vals) {
        struct sample_scan sc;
        double t = now_s();

        for (size_t i = 0; i < n; i++) {
                int r;

                if (scan)
                        r = sample_scan(lines[i], lens[i], vals, &sc);
                else {
                        cJSON *j = cJSON_ParseWithLength(lines[i], lens[i]);

                        r = sample_values_flatten(j, vals);
                        cJSON_Delete(j);
                }
                if (r <= 0)
                        die(scan ? "sample_scan() did not take a line" : "a line without values", EINVAL);
        }
        return (now_s() - t) * 1e9 / (double) n;
}

static int mode_values(int argc, char **argv) {
        _cleanup_free_ struct sample_values *vals = malloc(sizeof(*vals));
        FILE *f = fopen(argv[0], "re");
        char **lines = NULL, *line = NULL;
        size_t *lens = NULL, n = 0, cap = 0;
        double best[2] = { INFINITY, INFINITY };
        ssize_t len;

        if (!f || !vals)
                die("values FILE", f ? ENOMEM : errno);
        while ((len = getline(&line, &cap, f)) > 1) {
                if (!(lines = realloc(lines, (n + 1) * sizeof(*lines))) || !(lens = realloc(lens, (n + 1) * sizeof(*lens))))
                        die("realloc", ENOMEM);
                lens[n] = (size_t) len - 1;
                lines[n++] = TAKE_PTR(line);
                cap = 0;
        }
        fclose(f);
        if (n == 0)
                die("values FILE: no lines", EINVAL);
        /* Alternated, so that both see the same machine. */
        for (int pass = 0; pass < 5; pass++)
                for (int scan = 0; scan < 2; scan++)
                        best[scan] = fmin(best[scan], values_pass(lines, lens, n, scan, vals));
        printf("{\"lines\": %zu, \"values\": %zu, \"scan_ns\": %.0f, \"tree_ns\": %.0f}\n", n, vals->n, best[1],
               best[0]);
        for (size_t i = 0; i < n; i++)
                free(lines[i]);
        free(lines);
        free(lens);
        free(line);
        return 0;
}

int main(int argc, char **argv) {
        static const struct {
                const char *name;
                int args;
                int (*run)(int argc, char **argv);
        } modes[] = {
                { "gen", 4, mode_gen },         { "ingest", 4, mode_ingest }, { "history", 4, mode_history },
                { "latest", 4, mode_latest },   { "bytes", 1, mode_bytes },   { "dictionary", 1, mode_dictionary },
                { "values", 1, mode_values },
        };

        for (size_t i = 0; argc >= 2 && i < ELEMENTSOF(modes); i++)
                if (streq(argv[1], modes[i].name)) {
                        if (argc - 2 != modes[i].args)
                                break;
                        return modes[i].run(argc - 2, argv + 2);
                }
        fprintf(stderr, "usage: hub-store-bench gen|ingest|history|latest|bytes|values|dictionary ... (see the source)\n");
        return 2;
}
