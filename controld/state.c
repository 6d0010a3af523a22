/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "jsonutil.h"
#include "state.h"

static int get_enabled(const cJSON *root, const char *name, bool *ret) {
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(root, name);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(w, "enabled");

        if (!cJSON_IsBool(e))
                return -EINVAL;
        *ret = cJSON_IsTrue(e);
        return 0;
}

int state_parse(const char *json, struct desired_state *ret) {
        _cleanup_json_ cJSON *root = cJSON_Parse(json);
        const cJSON *interval;
        struct desired_state s;

        if (!cJSON_IsObject(root))
                return -EINVAL;
        if (get_enabled(root, "telemetry", &s.telemetry) < 0 || get_enabled(root, "livelogs", &s.livelogs) < 0)
                return -EINVAL;
        /* Saved before pushd existed: then it was not wanted. */
        if (!cJSON_HasObjectItem(root, "push"))
                s.push = false;
        else if (get_enabled(root, "push", &s.push) < 0)
                return -EINVAL;
        interval = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "telemetry"), "interval");
        if (!cJSON_IsNumber(interval) || interval->valuedouble < 1 || interval->valuedouble > 86400 ||
            interval->valuedouble != (double) (unsigned) interval->valuedouble)
                return -EINVAL;
        s.interval = (unsigned) interval->valuedouble;
        *ret = s;
        return 0;
}

char *state_format(const struct desired_state *s) {
        char *text;

        if (asprintf(&text,
                     "{\"telemetry\":{\"enabled\":%s,\"interval\":%u},\"livelogs\":{\"enabled\":%s},"
                     "\"push\":{\"enabled\":%s}}\n",
                     s->telemetry ? "true" : "false", s->interval, s->livelogs ? "true" : "false",
                     s->push ? "true" : "false") < 0)
                return NULL;
        return text;
}

int state_load(const char *dir, struct desired_state *ret) {
        char path[PATH_MAX], buf[4096];
        ssize_t n;

        snprintf(path, sizeof path, "%s/" STATE_FILE, dir);
        n = read_file(path, buf, sizeof buf);
        if (n < 0)
                return (int) n;
        return state_parse(buf, ret);
}

int state_save(const char *dir, const struct desired_state *s) {
        _cleanup_free_ char *text = state_format(s);
        char path[PATH_MAX];
        int r;

        if (!text)
                return -ENOMEM;
        r = mkdir_parents(dir, 0755);
        if (r < 0)
                return r;
        snprintf(path, sizeof path, "%s/" STATE_FILE, dir);
        return write_file_atomic(path, text, strlen(text));
}
