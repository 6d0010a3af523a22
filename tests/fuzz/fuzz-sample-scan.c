/* SPDX-License-Identifier: MIT */
/* One line of a push, as any enrolled node can send it. The one-pass scan
 * is a fast path in front of cJSON: whatever it takes, cJSON must take too,
 * as the push parser checks a line (one object, then blanks), and name the
 * same values, skip as many, and find the same "stream", "seq" and
 * "timestamp" and the same root. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "macro.h"
#include "sample-values.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* m is what cJSON's tree holds under name: the same kind, string and bits. */
static void same_member(const cJSON *tree, const char *name, const struct json_member *m) {
        struct json_member want;

        json_member_of(tree, name, &want);
        if (m->kind != want.kind || (want.kind == JSON_STRING && !streq(m->string, want.string)) ||
            (want.kind == JSON_NUMBER && memcmp(&m->number, &want.number, sizeof(double)) != 0))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct sample_values scanned, flattened;
        const char *json = (const char *) data, *end = NULL;
        struct sample_scan sc;
        cJSON *tree;
        int n;

        n = sample_scan(json, size, &scanned, &sc);
        if (n == -EAGAIN)
                return 0;
        if (n < 0)
                abort();
        tree = cJSON_ParseWithLengthOpts(json, size, &end, false);
        if (!tree || !cJSON_IsObject(tree))
                abort();
        for (const char *p = end; p < json + size; p++)
                if (!isspace((unsigned char) *p))
                        abort();
        if (sample_values_flatten(tree, &flattened) != n || flattened.skipped != scanned.skipped ||
            flattened.root != scanned.root)
                abort();
        for (int i = 0; i < n; i++)
                if (!streq(scanned.v[i].path, flattened.v[i].path) ||
                    memcmp(&scanned.v[i].value, &flattened.v[i].value, sizeof(double)) != 0)
                        abort();
        same_member(tree, "stream", &sc.stream);
        same_member(tree, "seq", &sc.seq);
        same_member(tree, "timestamp", &sc.timestamp);
        cJSON_Delete(tree);
        return 0;
}
