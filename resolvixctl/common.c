/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "build-config.h"
#include "conf.h"
#include "ctl.h"
#include "net.h"

/* While watch owns the terminal's alternate screen, what would be printed
 * there would vanish with it: messages wait until it is left. */
static bool deferring;
static char deferred[4096];
static size_t deferred_len;

void ctl_error(const char *fmt, ...) {
        char msg[2048];
        va_list ap;
        int n;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (deferring) {
                n = snprintf(deferred + deferred_len, sizeof deferred - deferred_len, "resolvixctl: %s\n", msg);
                if (n > 0)
                        deferred_len += (size_t) n < sizeof deferred - deferred_len ? (size_t) n
                                                                                      : sizeof deferred - deferred_len - 1;
                return;
        }
        fprintf(stderr, "resolvixctl: %s\n", msg);
}

void ctl_error_defer(bool defer) {
        deferring = defer;
        if (!defer && deferred_len > 0) {
                fputs(deferred, stderr);
                deferred_len = 0;
                deferred[0] = '\0';
        }
}

const char *ctl_config_name(const struct ctl *c) {
        return c->config_path ?: CONF_DEFAULT_PATH;
}

int ctl_exit_status(int r) {
        switch (r) {
        case 0:
                return CTL_EXIT_OK;
        case -EINVAL:
                return CTL_EXIT_USAGE;
        case -ECONNREFUSED:
        case -EHOSTUNREACH:
        case -ENETUNREACH:
        case -EHOSTDOWN:
        case -ETIMEDOUT:
        case -ENXIO: /* the name does not resolve */
        case -ENOTCONN: /* the worker asked for is not running */
                return CTL_EXIT_UNREACHABLE;
        case -EACCES:
        case -EPERM:
                return CTL_EXIT_REFUSED;
        default:
                return CTL_EXIT_FAILED;
        }
}

int ctl_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *ret) {
        unsigned long v;
        char *end;

        if (!s || s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (*end != '\0')
                return -EINVAL;
        if (errno == ERANGE || v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int parse_port(const char *s, size_t len, unsigned *ret) {
        char buf[8];
        unsigned long v;

        if (len == 0 || len >= sizeof buf)
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (ctl_parse_uint(buf, 1, 65535, &v) < 0)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

int ctl_parse_address(const char *s, struct ctl_address *ret, char *err, size_t errsz) {
        static const char *const schemes[] = { "http", "https", "ws", "wss" };
        struct ctl_address a = { 0 };
        const char *p = s, *sep, *host_end, *colon = NULL;
        size_t host_len;

        sep = strstr(s, "://");
        if (sep) {
                bool known = false;

                for (size_t i = 0; i < ELEMENTSOF(schemes); i++)
                        if ((size_t) (sep - s) == strlen(schemes[i]) && strncasecmp(s, schemes[i], (size_t) (sep - s)) == 0) {
                                snprintf(a.scheme, sizeof a.scheme, "%s", schemes[i]);
                                known = true;
                        }
                if (!known) {
                        snprintf(err, errsz, "unknown scheme in \"%s\": use http://, ws:// or wss://", s);
                        return -EINVAL;
                }
                p = sep + 3;
        }

        host_end = p + strcspn(p, "/?#");
        if (*p == '[') {
                const char *close = memchr(p, ']', (size_t) (host_end - p));

                if (!close) {
                        snprintf(err, errsz, "unterminated [ in \"%s\"", s);
                        return -EINVAL;
                }
                host_len = (size_t) (close - p - 1);
                memcpy(a.host, p + 1, host_len < sizeof a.host ? host_len : 0);
                if (close + 1 < host_end) {
                        if (close[1] != ':') {
                                snprintf(err, errsz, "expected :PORT after ] in \"%s\"", s);
                                return -EINVAL;
                        }
                        colon = close + 1;
                }
        } else {
                const char *c = memchr(p, ':', (size_t) (host_end - p));

                /* Two colons and no brackets: a bare IPv6 address, no port. */
                if (c && !memchr(c + 1, ':', (size_t) (host_end - c - 1)))
                        colon = c;
                host_len = (size_t) ((colon ?: host_end) - p);
                memcpy(a.host, p, host_len < sizeof a.host ? host_len : 0);
        }
        if (host_len == 0 || host_len >= sizeof a.host) {
                snprintf(err, errsz, "%s host name in \"%s\"", host_len == 0 ? "no" : "too long a", s);
                return -EINVAL;
        }
        a.host[host_len] = '\0';
        if (colon && parse_port(colon + 1, (size_t) (host_end - colon - 1), &a.port) < 0) {
                snprintf(err, errsz, "bad port in \"%s\": the port must be a number from 1 to 65535", s);
                return -EINVAL;
        }
        if (*host_end) {
                int n = snprintf(a.path, sizeof a.path, "%s%s", *host_end == '/' ? "" : "/", host_end);

                if (n < 0 || (size_t) n >= sizeof a.path) {
                        snprintf(err, errsz, "the address is too long");
                        return -EINVAL;
                }
        }
        *ret = a;
        return 0;
}

void ctl_url_encode(const char *s, char *buf, size_t size) {
        static const char hex[] = "0123456789ABCDEF";
        size_t w = 0;

        if (size == 0)
                return;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                             strchr("-._~", *p);

                if (w + (plain ? 1 : 3) >= size)
                        break;
                if (plain)
                        buf[w++] = (char) *p;
                else {
                        buf[w++] = '%';
                        buf[w++] = hex[*p >> 4];
                        buf[w++] = hex[*p & 15];
                }
        }
        buf[w] = '\0';
}


int ctl_parse_duration(const char *s, unsigned long long *ret) {
        unsigned long long v, unit = 1;
        char *end;

        if (!s || s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0)
                return -EINVAL;
        if (streq(end, "") || streq(end, "s"))
                unit = 1;
        else if (streq(end, "m"))
                unit = 60;
        else if (streq(end, "h"))
                unit = 3600;
        else if (streq(end, "d"))
                unit = 86400;
        else if (streq(end, "w"))
                unit = 7 * 86400;
        else
                return -EINVAL;
        /* Ten years: beyond any retention, and far from overflowing. */
        if (v == 0 || v > 10ULL * 366 * 86400 / unit)
                return -ERANGE;
        *ret = v * unit;
        return 0;
}
