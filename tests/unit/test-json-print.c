/* SPDX-License-Identifier: MIT */
/* json_print() against cJSON_PrintUnformatted(): the same bytes for every
 * kind of node, every byte in a string, and numbers of every shape. */
#include <criterion/criterion.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"

static void same(const cJSON *j, const char *what) {
        char *want = cJSON_PrintUnformatted(j), *got = json_print(j), buf[512];
        ssize_t n;

        cr_assert_not_null(want);
        cr_assert_not_null(got, "%s", what);
        cr_assert_str_eq(got, want, "%s", what);
        n = json_print_into(j, buf, sizeof buf);
        if (strlen(want) < sizeof buf) {
                cr_assert_eq(n, (ssize_t) strlen(want), "%s", what);
                cr_assert_str_eq(buf, want, "%s", what);
        } else
                cr_assert_eq(n, -ENOBUFS, "%s", what);
        free(want);
        free(got);
}

static void same_number(double d) {
        _cleanup_json_ cJSON *j = cJSON_CreateNumber(d);
        char what[64];

        snprintf(what, sizeof what, "%.17g", d);
        same(j, what);
}

static double bits(uint64_t v) {
        double d;
        memcpy(&d, &v, sizeof d);
        return d;
}

static uint64_t next(uint64_t *s) { /* splitmix64 */
        uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

Test(json_print, numbers_of_every_shape) {
        static const double fixed[] = {
                0, -0.0, 1, -1, 0.5, 0.05, 0.01, -0.01, 0.1, 0.29, 1.005, 12.5, 99.99, 100, 2147483647.0,
                2147483648.0, -2147483649.0, 4294967296.0, 1e11, 1e11 + 0.5, 99999999999.99, 1e13 - 0.01,
                999999999999999.0, 1e15, 1e15 + 1, 9007199254740992.0, 1e16, 1e21, 1e300, 1e-5, 1e-7,
                123456.789, 0.1 + 0.2, 1.0 / 3, 5e-324, DBL_MAX, -DBL_MAX, NAN, INFINITY, -INFINITY,
        };
        uint64_t seed = 42;

        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                same_number(fixed[i]);
        for (int i = 0; i < 200000; i++) {
                uint64_t r = next(&seed);

                switch (i % 5) {
                case 0: /* hundredths, as round2() makes them */
                        same_number(round2((double) (int64_t) (r % 20000000000000ULL - 10000000000000ULL) / 1000.0));
                        break;
                case 1: /* integers, counters */
                        same_number((double) (r >> (r % 64)));
                        break;
                case 2: /* any double at all */
                        same_number(bits(r));
                        break;
                case 3: /* ratios */
                        same_number((double) (r % 1000000) / (double) (1 + (r >> 40) % 1000));
                        break;
                default: /* near the edges of the short form */
                        same_number(round2(1e11 - (double) (r % 100000) / 100.0));
                }
        }
}

Test(json_print, every_byte_of_a_string_and_every_kind_of_node) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();
        char s[256];
        cJSON *a;

        for (int c = 1; c < 256; c++)
                s[c - 1] = (char) c;
        s[255] = '\0';
        cr_assert_not_null(cJSON_AddStringToObject(o, "all bytes", s));
        cr_assert_not_null(cJSON_AddStringToObject(o, s, "as a key"));
        cr_assert_not_null(cJSON_AddStringToObject(o, "", ""));
        cr_assert_not_null(cJSON_AddNullToObject(o, "null"));
        cr_assert_not_null(cJSON_AddTrueToObject(o, "t"));
        cr_assert_not_null(cJSON_AddFalseToObject(o, "f"));
        cr_assert_not_null(cJSON_AddRawToObject(o, "raw", "[1, 2 ,3]"));
        cr_assert_not_null(cJSON_AddObjectToObject(o, "empty object"));
        cr_assert_not_null(cJSON_AddArrayToObject(o, "empty array"));
        a = cJSON_AddArrayToObject(o, "nested");
        for (int i = 0; i < 3; i++) {
                cJSON *inner = cJSON_CreateObject();
                cJSON_AddNumberToObject(inner, "i", i + 0.25);
                cJSON_AddItemToArray(a, inner);
        }
        cJSON_AddItemToArray(a, cJSON_CreateString("x\"y\\z"));
        same(o, "object");
        same(a, "array");
}

Test(json_print, what_cannot_be_printed_and_what_does_not_fit) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();
        cJSON *raw = cJSON_CreateRaw("1");
        char buf[8], fits_not[13], fits[14];

        cr_assert_null(json_print(NULL));
        cJSON_AddStringToObject(o, "k", "value");
        cr_assert_eq(json_print_into(o, buf, sizeof buf), -ENOBUFS);
        cr_assert_eq(json_print_into(o, fits_not, 13), -ENOBUFS, "no room for the NUL");
        cr_assert_eq(json_print_into(o, fits, sizeof fits), 13);
        cr_assert_str_eq(fits, "{\"k\":\"value\"}");
        free(raw->valuestring);
        raw->valuestring = NULL;
        cJSON_AddItemToObject(o, "bad", raw);
        cr_assert_null(json_print(o));
        cr_assert_eq(json_print_into(o, fits, sizeof fits), -EINVAL);
}

/* ---- the writer ------------------------------------------------------------ */

/* The same document written as it goes and built as a tree. */
static void write_document(struct json_writer *w, const char *odd) {
        json_write_open(w, NULL, '{');
        json_write_string(w, odd, odd);
        json_write_number(w, "n", 1.0 / 3);
        json_write_round2(w, "r", 12.345);
        json_write_open(w, "empty", '{');
        json_write_close(w, '}');
        json_write_open(w, "a", '[');
        for (int i = 0; i < 3; i++) {
                json_write_open(w, NULL, '{');
                json_write_number(w, "i", i + 0.25);
                json_write_close(w, '}');
        }
        json_write_number(w, NULL, -7);
        json_write_string(w, NULL, "x\"y\\z");
        json_write_open(w, NULL, '[');
        json_write_close(w, ']');
        json_write_close(w, ']');
        json_write_number(w, "last", NAN);
        json_write_close(w, '}');
}

static cJSON *build_document(const char *odd) {
        cJSON *o = cJSON_CreateObject(), *a, *inner;

        cJSON_AddStringToObject(o, odd, odd);
        cJSON_AddNumberToObject(o, "n", 1.0 / 3);
        json_add_round2(o, "r", 12.345);
        cJSON_AddObjectToObject(o, "empty");
        a = cJSON_AddArrayToObject(o, "a");
        for (int i = 0; i < 3; i++) {
                inner = cJSON_CreateObject();
                cJSON_AddNumberToObject(inner, "i", i + 0.25);
                cJSON_AddItemToArray(a, inner);
        }
        cJSON_AddItemToArray(a, cJSON_CreateNumber(-7));
        cJSON_AddItemToArray(a, cJSON_CreateString("x\"y\\z"));
        cJSON_AddItemToArray(a, cJSON_CreateArray());
        cJSON_AddNumberToObject(o, "last", NAN);
        return o;
}

Test(json_writer, writes_the_bytes_the_tree_prints) {
        _cleanup_json_ cJSON *tree = NULL;
        _cleanup_free_ char *want = NULL;
        struct json_writer w = { 0 };
        char odd[256], buf[2048];
        ssize_t n;

        for (int c = 1; c < 256; c++)
                odd[c - 1] = (char) c;
        odd[255] = '\0';
        tree = build_document(odd);
        want = cJSON_PrintUnformatted(tree);
        cr_assert_not_null(want);

        /* grown with malloc() */
        write_document(&w, odd);
        n = json_writer_end(&w);
        cr_assert_eq(n, (ssize_t) strlen(want));
        cr_assert_str_eq(w.p, want);
        free(w.p);

        /* into the caller's buffer */
        json_writer_into(&w, buf, sizeof buf);
        write_document(&w, odd);
        cr_assert_eq(json_writer_end(&w), (ssize_t) strlen(want));
        cr_assert_str_eq(buf, want);
}

Test(json_writer, what_does_not_fit_and_what_failed) {
        struct json_writer w;
        char buf[64];
        size_t len = strlen("{\"k\":\"value\"}");

        json_writer_into(&w, buf, len); /* no room for the NUL */
        json_write_open(&w, NULL, '{');
        json_write_string(&w, "k", "value");
        json_write_close(&w, '}');
        cr_assert_eq(json_writer_end(&w), -ENOBUFS);

        json_writer_into(&w, buf, len + 1);
        json_write_open(&w, NULL, '{');
        json_write_string(&w, "k", "value");
        json_write_close(&w, '}');
        cr_assert_eq(json_writer_end(&w), (ssize_t) len);
        cr_assert_str_eq(buf, "{\"k\":\"value\"}");

        json_writer_into(&w, buf, sizeof buf);
        json_write_open(&w, NULL, '{');
        json_write_failed(&w);
        json_write_close(&w, '}');
        cr_assert_eq(json_writer_end(&w), -ENOMEM);
}
