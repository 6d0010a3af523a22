/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "clientid.h"
#include "monitor.h"
#include "pyjson.h"

static char *print(cJSON *j) {
        char *s = pyjson_print_alloc(j, NULL);
        cJSON_Delete(j);
        return s;
}

Test(clients, forms) {
        const char *form = "username=wood&password=1%2B2+3&pass=x&username=other";
        cJSON *f = form_parse(form, strlen(form));
        char *s;

        cr_assert_not_null(f);
        s = print(f);
        cr_assert_str_eq(s, "{\"username\": \"wood\", \"password\": \"1+2 3\", \"pass\": \"x\"}");
        free(s);
        cr_assert_null(form_parse("", 0));
        cr_assert_null(form_parse("just text", 9));
        cr_assert_null(form_parse("a=%zz", 5));
        cr_assert_null(form_parse("a=%4", 4));
        cr_assert_null(form_parse("a=%00", 5));
        cr_assert_null(form_parse("=v", 2));
}

Test(clients, bodies) {
        static const struct {
                const char *body, *type, *want; /* want NULL: refused */
        } cases[] = {
                { "{\"cpu_load\": 25.9, \"mem\": 6172}", NULL, "{\"cpu_load\": 25.9, \"mem\": 6172}" },
                { "  {\"a\":1}", "text/plain", "{\"a\": 1}" },
                { "cpu_load=25.9&mem=6172", "application/x-www-form-urlencoded",
                  "{\"cpu_load\": \"25.9\", \"mem\": \"6172\"}" },
                { "cpu_load=1", NULL, "{\"cpu_load\": \"1\"}" },
                { "[1, 2]", "application/json", NULL },
                { "{\"a\":", NULL, NULL },
                { "cpu_load=1", "application/json", NULL },
                { "", NULL, NULL },
                { "   \n", NULL, NULL },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                cJSON *j = body_parse_object(cases[i].body, strlen(cases[i].body), cases[i].type);
                char *s;

                if (!cases[i].want) {
                        cr_assert_null(j, "%s", cases[i].body);
                        continue;
                }
                cr_assert_not_null(j, "%s", cases[i].body);
                s = print(j);
                cr_assert_str_eq(s, cases[i].want);
                free(s);
        }
}

Test(clients, numbers) {
        static const struct {
                const char *json;
                int ok, is_float;
                double v;
        } cases[] = {
                { "25.9", 1, 1, 25.9 },   { "6172", 1, 0, 6172 },   { "\"25.9\"", 1, 1, 25.9 },
                { "\" 7 \"", 1, 0, 7 },   { "\"1e3\"", 1, 1, 1000 }, { "\"-.5\"", 1, 1, -0.5 },
                { "\"abc\"", 0, 0, 0 },   { "\"0x10\"", 0, 0, 0 },   { "\"nan\"", 0, 0, 0 },
                { "\"inf\"", 0, 0, 0 },   { "\"12abc\"", 0, 0, 0 },  { "\"\"", 0, 0, 0 },
                { "null", 0, 0, 0 },      { "true", 0, 0, 0 },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                cJSON *j = pyjson_parse(cases[i].json, strlen(cases[i].json));
                double v = -1;
                int f = -1;

                cr_assert_not_null(j);
                if (cases[i].ok) {
                        cr_assert_eq(body_number(j, &v, &f), 0, "%s", cases[i].json);
                        cr_assert_float_eq(v, cases[i].v, 1e-9, "%s", cases[i].json);
                        cr_assert_eq(f, cases[i].is_float, "%s", cases[i].json);
                } else
                        cr_assert_eq(body_number(j, &v, &f), -EINVAL, "%s", cases[i].json);
                cJSON_Delete(j);
        }
}

Test(clients, python_ints) {
        long long v;

        cr_assert_eq(parse_python_int("1651155333", &v), 0);
        cr_assert_eq(v, 1651155333);
        cr_assert_eq(parse_python_int(" -12 ", &v), 0);
        cr_assert_eq(v, -12);
        cr_assert_eq(parse_python_int("+5", &v), 0);
        cr_assert_eq(v, 5);
        cr_assert_eq(parse_python_int("12.5", &v), -EINVAL);
        cr_assert_eq(parse_python_int("abc", &v), -EINVAL);
        cr_assert_eq(parse_python_int("", &v), -EINVAL);
        cr_assert_eq(parse_python_int("99999999999999999999", &v), -ERANGE);
}

Test(clients, usernames) {
        static const struct {
                const char *name;
                bool ok;
        } cases[] = {
                { "wood", true },     { "a", true },          { "node-1.eu_2", true }, { "x123", true },
                { "123", false },     { "", false },          { "wo od", false },      { "wood!", false },
                { "_-.", false },     { "caf\xc3\xa9", false }, { "a/b", false },
                { "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl", true },
                { "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklm", false },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                cr_assert_eq(client_username_valid(cases[i].name), cases[i].ok, "%s", cases[i].name);
}

/* base64.b64encode(b"wood:123") is the id the Flask server's README shows. */
Test(clients, client_ids) {
        char *id = client_id_make("wood", "123"), *u, *p;

        cr_assert_str_eq(id, "d29vZDoxMjM=");
        cr_assert_eq(client_id_parse("d29vZDoxMjM=", &u, &p), 0);
        cr_assert_str_eq(u, "wood");
        cr_assert_str_eq(p, "123");
        free(u);
        free(p);
        cr_assert_eq(client_id_parse("Basic d29vZDoxMjM=", &u, &p), 0);
        free(u);
        free(p);
        /* A password may hold a colon: only the first one splits. */
        free(id);
        id = client_id_make("wood", "a:b");
        cr_assert_eq(client_id_parse(id, &u, &p), 0);
        cr_assert_str_eq(p, "a:b");
        free(u);
        free(p);
        free(id);
        cr_assert_eq(client_id_parse("", &u, &p), -EINVAL);
        cr_assert_eq(client_id_parse("d29vZA==", &u, &p), -EINVAL); /* "wood": no colon */
        cr_assert_eq(client_id_parse("d29v!ZDoxMjM=", &u, &p), -EINVAL);
        cr_assert_eq(client_id_parse("Bearer d29vZDoxMjM=", &u, &p), -EINVAL);
}

Test(clients, cache) {
        struct client_cache *c;

        cr_assert_eq(client_cache_new(64, &c), 0);
        cr_assert_not(client_cache_check(c, "wood", "123"));
        client_cache_put(c, "wood", "123");
        cr_assert(client_cache_check(c, "wood", "123"));
        cr_assert_not(client_cache_check(c, "wood", "1234"));
        cr_assert_not(client_cache_check(c, "wooden", "123"));
        client_cache_forget(c, "wood");
        cr_assert_not(client_cache_check(c, "wood", "123"));
        /* More ids than slots: bounded, and every check still exact. */
        for (int i = 0; i < 1000; i++) {
                char name[16];
                snprintf(name, sizeof name, "u%d", i);
                client_cache_put(c, name, "pw");
        }
        cr_assert(client_cache_check(c, "u999", "pw"));
        cr_assert_not(client_cache_check(c, "u999", "pw2"));
        client_cache_free(c);
}

Test(clients, yescrypt) {
        void *data = NULL;
        int size = 0;
        char *h;

        cr_assert_eq(client_password_hash("123", &data, &size, &h), 0);
        cr_assert(strncmp(h, "$y$", 3) == 0, "%s", h);
        cr_assert_eq(client_password_verify("123", h, &data, &size), 0);
        cr_assert_eq(client_password_verify("124", h, &data, &size), -EACCES);
        free(h);
        free(data);
}

Test(clients, monitor) {
        const char *units;
        unsigned shift;
        struct meminfo m = {
                .total = 24002ULL << 20, .free = 12969ULL << 20, .available = 17820ULL << 20,
                .buffers = 284ULL << 20, .cached = 5000ULL << 20, .sreclaimable = 148ULL << 20,
                .shmem = 203ULL << 20, .active = 1965ULL << 20, .inactive = 8335ULL << 20, .slab = 431ULL << 20,
        };
        struct fs_usage fs = { .total = 223357ULL << 20, .free = 130349ULL << 20, .used = 81594ULL << 20 };
        char *s;

        cr_assert_eq(monitor_units(NULL, &shift, &units), 0);
        cr_assert_eq(shift, 20);
        cr_assert_str_eq(units, "MB");
        cr_assert_eq(monitor_units("TB", &shift, &units), 0);
        cr_assert_eq(shift, 40);
        cr_assert_eq(monitor_units("B", &shift, &units), 0);
        cr_assert_eq(shift, 0);
        cr_assert_eq(monitor_units("mb", &shift, &units), -EINVAL);
        cr_assert_eq(monitor_units("PB", &shift, &units), -EINVAL);

        s = print(monitor_memory_json(&m, 20));
        cr_assert_str_eq(s, "{\"active\": 1965, \"available\": 17820, \"buffers\": 284, \"cached\": 5148, \"free\": "
                            "12969, \"inactive\": 8335, \"percent\": 25.8, \"shared\": 203, \"slab\": 431, \"total\": "
                            "24002, \"used\": 5601}");
        free(s);
        s = print(monitor_storage_json(&fs, 20, "MB"));
        cr_assert_str_eq(s, "{\"free\": 130349, \"percent\": 38.5, \"total\": 223357, \"units\": \"MB\", \"used\": 81594}");
        free(s);
}
