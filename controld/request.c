/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "jsonutil.h"
#include "request.h"
#include "utf8.h"

static const struct {
        const char *name;
        enum command_verb verb;
        enum worker_kind target;
} commands[] = {
        { "start_telemetry", VERB_START, KIND_TELEMETRY },   { "stop_telemetry", VERB_STOP, KIND_TELEMETRY },
        { "restart_telemetry", VERB_RESTART, KIND_TELEMETRY }, { "start_livelogs", VERB_START, KIND_LIVELOGS },
        { "stop_livelogs", VERB_STOP, KIND_LIVELOGS },         { "restart_livelogs", VERB_RESTART, KIND_LIVELOGS },
};

_printf_(3, 4) static int fail(struct request_error *err, const char *detail, const char *fmt, ...) {
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

int command_parse(const char *body, size_t len, struct command *ret, struct request_error *err) {
        _cleanup_json_ cJSON *root = NULL;
        const cJSON *cmd, *item;
        struct command c = { 0 };
        const char *end = NULL, *twice;
        char quoted[3 * QUOTED_MAX + 1];
        size_t i;
        int r;

        if (len == 0)
                return fail(err, "malformed_json", "the request body is empty; send {\"command\": \"...\"}");
        root = cJSON_ParseWithLengthOpts(body, len, &end, false);
        /* cJSON stops at the end of the first value: what follows must be
         * blank, or the body was not one JSON document. */
        while (root && end < body + len && strchr(" \t\r\n", *end) && *end)
                end++;
        if (!root || end != body + len)
                return fail(err, "malformed_json", "the request body is not valid JSON");
        if (!cJSON_IsObject(root))
                return fail(err, "malformed_json", "the request body must be a JSON object");
        r = find_duplicate(root, &twice);
        if (r < 0)
                return r;
        if (twice)
                return fail(err, "duplicate_field", "the field \"%s\" is given more than once",
                            quotable(twice, quoted));

        cmd = cJSON_GetObjectItemCaseSensitive(root, "command");
        if (!cmd)
                return fail(err, "missing_command", "the request has no \"command\" field");
        if (!cJSON_IsString(cmd))
                return fail(err, "bad_field", "\"command\" must be a string");
        for (i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(cmd->valuestring, commands[i].name))
                        break;
        if (i == ELEMENTSOF(commands))
                return fail(err, "unknown_command",
                            "unknown command; expected one of start_telemetry, stop_telemetry, restart_telemetry, "
                            "start_livelogs, stop_livelogs, restart_livelogs");
        c.verb = commands[i].verb;
        c.target = commands[i].target;
        c.name = commands[i].name;

        cJSON_ArrayForEach(item, root) {
                if (streq(item->string, "command"))
                        continue;
                if (streq(item->string, "interval") && c.target == KIND_TELEMETRY && c.verb != VERB_STOP) {
                        double v = item->valuedouble;
                        if (!cJSON_IsNumber(item) || v < 1 || v > 86400 || v != (double) (unsigned) v)
                                return fail(err, "bad_field", "\"interval\" must be a whole number of seconds, 1..86400");
                        c.has_interval = true;
                        c.interval = (unsigned) v;
                        continue;
                }
                return fail(err, "unknown_field", "%s takes no field \"%s\"", c.name, quotable(item->string, quoted));
        }
        *ret = c;
        return 0;
}

/* ---- Host and Origin ------------------------------------------------------ */

/* A host as it appears in a Host header or an origin: a name, an IPv4
 * address, or an IPv6 address in brackets; optionally ":port". The host is
 * copied out (brackets kept); *ret_port is 0 when there is none. */
static int split_host_port(const char *value, char *host, size_t size, unsigned *ret_port) {
        const char *rest;
        size_t n;
        unsigned port = 0;

        if (value[0] == '[') {
                rest = strchr(value, ']');
                if (!rest)
                        return -EINVAL;
                rest++;
        } else
                rest = value + strcspn(value, ":");
        n = (size_t) (rest - value);
        if (n == 0 || n >= size)
                return -EINVAL;
        memcpy(host, value, n);
        host[n] = '\0';
        if (strspn(host, value[0] == '[' ? "[]0123456789abcdefABCDEF:." :
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != n)
                return -EINVAL;
        if (*rest == ':') {
                size_t digits = strspn(rest + 1, "0123456789");
                if (digits == 0 || digits > 5 || rest[1 + digits] != '\0')
                        return -EINVAL;
                port = (unsigned) strtoul(rest + 1, NULL, 10);
                if (port == 0 || port > 65535)
                        return -EINVAL;
        } else if (*rest != '\0')
                return -EINVAL;
        *ret_port = port;
        return 0;
}

struct address {
        int family; /* 0: not an address literal */
        unsigned char bytes[16];
};

/* "192.0.2.7", "[2001:db8::7]", or (as a listen address is written)
 * "2001:db8::7". */
static struct address parse_address(const char *host) {
        struct address a = { 0 };
        char inner[INET6_ADDRSTRLEN + 2];
        size_t n = strlen(host);

        if (inet_pton(AF_INET, host, a.bytes) == 1)
                a.family = AF_INET;
        else if (host[0] == '[' && n > 2 && host[n - 1] == ']' && n - 2 < sizeof inner) {
                memcpy(inner, host + 1, n - 2);
                inner[n - 2] = '\0';
                if (inet_pton(AF_INET6, inner, a.bytes) == 1)
                        a.family = AF_INET6;
        } else if (inet_pton(AF_INET6, host, a.bytes) == 1)
                a.family = AF_INET6;
        return a;
}

static bool same_host(const char *a, const char *b) {
        struct address x, y;

        if (strcasecmp(a, b) == 0)
                return true;
        x = parse_address(a);
        y = parse_address(b);
        return x.family != 0 && x.family == y.family &&
               memcmp(x.bytes, y.bytes, x.family == AF_INET ? 4 : 16) == 0;
}

static bool host_in(const char *host, const char *list) {
        char copy[CONF_ORIGINS_MAX];
        char *save = NULL;

        snprintf(copy, sizeof copy, "%s", list);
        for (char *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
                if (same_host(host, tok))
                        return true;
        return false;
}

/* The host part of a Host header, checked; port as split_host_port(). */
static bool host_served(const char *value, const struct access_rules *rules, unsigned *ret_port) {
        char host[256];
        struct address listen;

        if (split_host_port(value, host, sizeof host, ret_port) < 0)
                return false;
        if (host_in(host, "localhost 127.0.0.1 [::1]") || host_in(host, rules->allowed_hosts) ||
            same_host(host, rules->listen))
                return true;
        /* Listening on every address, it serves every address of the node;
         * and a literal address cannot have been rebound. */
        listen = parse_address(rules->listen);
        if (listen.family == 0 || memcmp(listen.bytes, (unsigned char[16]){ 0 }, 16) != 0)
                return false;
        return parse_address(host).family != 0;
}

bool host_allowed(const char *host, const struct access_rules *rules) {
        unsigned port;

        return !host || host_served(host, rules, &port);
}

bool origin_allowed(const char *origin, const char *host, const struct access_rules *rules) {
        char list[CONF_ORIGINS_MAX];
        char *save = NULL;
        unsigned port;

        if (!origin)
                return true;
        snprintf(list, sizeof list, "%s", rules->allowed_origins);
        for (char *tok = strtok_r(list, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
                if (strcasecmp(tok, origin) == 0)
                        return true;
        /* The dashboard is served over plain HTTP: its origin is
         * http://<Host it was loaded from>. */
        if (strncasecmp(origin, "http://", 7) != 0)
                return false;
        origin += 7;
        if (host && strcasecmp(origin, host) == 0 && host_allowed(host, rules))
                return true;
        return host_served(origin, rules, &port) && port == rules->port;
}
