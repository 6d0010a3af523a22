/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "command.h"
#include "errors.h"
#include "jsonutil.h"
#include "utf8.h"

static const struct {
        const char *name;
        enum command_verb verb;
        enum worker_kind target;
} commands[] = {
        { "start_telemetry", VERB_START, KIND_TELEMETRY },   { "stop_telemetry", VERB_STOP, KIND_TELEMETRY },
        { "restart_telemetry", VERB_RESTART, KIND_TELEMETRY }, { "start_livelogs", VERB_START, KIND_LIVELOGS },
        { "stop_livelogs", VERB_STOP, KIND_LIVELOGS },         { "restart_livelogs", VERB_RESTART, KIND_LIVELOGS },
        { "start_push", VERB_START, KIND_PUSH },               { "stop_push", VERB_STOP, KIND_PUSH },
        { "restart_push", VERB_RESTART, KIND_PUSH },
};

_printf_(3, 4) static int fail(struct command_error *err, const char *detail, const char *fmt, ...) {
        va_list ap;

        err->detail = detail;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

bool content_type_is_json(const char *value) {
        size_t n;

        if (!value)
                return false;
        while (*value == ' ')
                value++;
        n = strcspn(value, "; ");
        return n == strlen("application/json") && strncasecmp(value, "application/json", n) == 0;
}

/* Bytes the client chose, fit to quote in a message: at most QUOTED_MAX of
 * them, invalid UTF-8 (a sequence cut short included) replaced by U+FFFD.
 * Control characters need nothing: cJSON escapes them. */
#define QUOTED_MAX 48
static const char *quotable(const char *text, char buf[static 3 * QUOTED_MAX + 1]) {
        char cut[QUOTED_MAX + 1];

        snprintf(cut, sizeof cut, "%s", text);
        if (utf8_repair_str(cut, buf, 3 * QUOTED_MAX + 1) == cut)
                memcpy(buf, cut, sizeof cut);
        return buf;
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* A field the object holds twice, as *ret (NULL: none). Sorted rather than
 * compared pairwise: a 64 KiB body holds some ten thousand fields. */
static int find_duplicate(const cJSON *root, const char **ret) {
        _cleanup_free_ const char **names = NULL;
        const cJSON *item;
        size_t n = 0;

        *ret = NULL;
        cJSON_ArrayForEach(item, root)
                n++;
        if (n < 2)
                return 0;
        names = malloc(n * sizeof *names);
        if (!names)
                return -ENOMEM;
        n = 0;
        cJSON_ArrayForEach(item, root)
                names[n++] = item->string;
        qsort(names, n, sizeof *names, compare_names);
        for (size_t i = 1; i < n; i++)
                if (streq(names[i - 1], names[i])) {
                        *ret = names[i];
                        return 0;
                }
        return 0;
}

int command_parse(const char *body, size_t len, struct command *ret, struct command_error *err) {
        _cleanup_json_ cJSON *root = NULL;
        const cJSON *cmd, *item;
        struct command c = { 0 };
        const char *end = NULL, *twice;
        char quoted[3 * QUOTED_MAX + 1];
        size_t i;
        int r;

        if (len == 0)
                return fail(err, ERROR_MALFORMED_JSON, "the request body is empty; send {\"command\": \"...\"}");
        root = cJSON_ParseWithLengthOpts(body, len, &end, false);
        /* cJSON stops at the end of the first value: what follows must be
         * blank, or the body was not one JSON document. */
        while (root && end < body + len && strchr(" \t\r\n", *end) && *end)
                end++;
        if (!root || end != body + len)
                return fail(err, ERROR_MALFORMED_JSON, "the request body is not valid JSON");
        if (!cJSON_IsObject(root))
                return fail(err, ERROR_MALFORMED_JSON, "the request body must be a JSON object");
        r = find_duplicate(root, &twice);
        if (r < 0)
                return r;
        if (twice)
                return fail(err, ERROR_DUPLICATE_FIELD, "the field \"%s\" is given more than once",
                            quotable(twice, quoted));

        cmd = cJSON_GetObjectItemCaseSensitive(root, "command");
        if (!cmd)
                return fail(err, ERROR_MISSING_COMMAND, "the request has no \"command\" field");
        if (!cJSON_IsString(cmd))
                return fail(err, ERROR_BAD_FIELD, "\"command\" must be a string");
        for (i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(cmd->valuestring, commands[i].name))
                        break;
        if (i == ELEMENTSOF(commands))
                return fail(err, ERROR_UNKNOWN_COMMAND,
                            "unknown command; expected one of start_telemetry, stop_telemetry, restart_telemetry, "
                            "start_livelogs, stop_livelogs, restart_livelogs, start_push, stop_push, restart_push");
        c.verb = commands[i].verb;
        c.target = commands[i].target;
        c.name = commands[i].name;

        cJSON_ArrayForEach(item, root) {
                if (streq(item->string, "command"))
                        continue;
                if (streq(item->string, "interval") && c.target == KIND_TELEMETRY && c.verb != VERB_STOP) {
                        double v = item->valuedouble;
                        if (!cJSON_IsNumber(item) || v < 1 || v > 86400 || v != (double) (unsigned) v)
                                return fail(err, ERROR_BAD_FIELD, "\"interval\" must be a whole number of seconds, 1..86400");
                        c.has_interval = true;
                        c.interval = (unsigned) v;
                        continue;
                }
                return fail(err, ERROR_UNKNOWN_FIELD, "%s takes no field \"%s\"", c.name, quotable(item->string, quoted));
        }
        *ret = c;
        return 0;
}
