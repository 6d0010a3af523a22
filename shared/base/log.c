/* SPDX-License-Identifier: MIT */
#include <endian.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static const char *log_ident = "resolvix";
static const char *log_worker;
static int log_max_level = LOG_INFO;
static enum log_target log_target = LOG_TARGET_CONSOLE;

static bool stderr_is_journal_stream(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == dev && st.st_ino == ino;
}

void log_open(const char *ident, const char *worker) {
        log_ident = ident;
        log_worker = worker;

        if (stderr_is_journal_stream())
                log_target = LOG_TARGET_JOURNAL;
        else if (!isatty(STDERR_FILENO) && getenv("INVOCATION_ID"))
                log_target = LOG_TARGET_PREFIX;
        else
                log_target = LOG_TARGET_CONSOLE;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

enum log_target log_get_target(void) {
        return log_target;
}

static void write_stderr(int level, const char *message, bool prefix) {
        /* One write per line keeps lines whole when several processes share
         * the same stderr (controld and its workers do). */
        char buf[2048];
        int n;

        if (prefix)
                n = snprintf(buf, sizeof buf, "<%d>%s: %s\n", level, log_ident, message);
        else
                n = snprintf(buf, sizeof buf, "%s: %s\n", log_ident, message);
        if (n < 0)
                return;
        if ((size_t) n >= sizeof buf) {
                n = sizeof buf - 1;
                buf[n - 1] = '\n';
        }
        (void) !write(STDERR_FILENO, buf, (size_t) n);
}

/* journald's native protocol: one datagram of fields, each "KEY=value\n",
 * or "KEY\n" + little-endian 64-bit length + value + "\n" when the value
 * holds a newline. Spoken directly so that the base library needs nothing
 * but libc (docs/architecture.md); an entry the socket refuses is written
 * to stderr by the caller, never lost. */
static size_t journal_field(char *buf, size_t size, size_t at, const char *key, const char *value) {
        size_t klen = strlen(key), vlen = strlen(value);

        if (at + klen + 1 + 8 + vlen + 1 > size)
                return size + 1; /* does not fit: the caller gives up on the datagram */
        memcpy(buf + at, key, klen);
        at += klen;
        if (!memchr(value, '\n', vlen)) {
                buf[at++] = '=';
        } else {
                uint64_t le = htole64((uint64_t) vlen);

                buf[at++] = '\n';
                memcpy(buf + at, &le, sizeof le);
                at += sizeof le;
        }
        memcpy(buf + at, value, vlen);
        at += vlen;
        buf[at++] = '\n';
        return at;
}

static int write_journal(int level, int error, const char *file, int line, const char *func,
                         const char *message) {
        static const struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET };
        static int fd = -1;
        char buf[4096], num[32];
        size_t n = 0;

        if (fd < 0) {
                fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return negative_errno();
        }
        snprintf(num, sizeof num, "%d", level);
        n = journal_field(buf, sizeof buf, n, "PRIORITY", num);
        n = journal_field(buf, sizeof buf, n, "MESSAGE", message);
        n = journal_field(buf, sizeof buf, n, "SYSLOG_IDENTIFIER", log_ident);
        if (log_worker)
                n = journal_field(buf, sizeof buf, n, "RESOLVIX_WORKER", log_worker);
        n = journal_field(buf, sizeof buf, n, "CODE_FILE", file);
        snprintf(num, sizeof num, "%d", line);
        n = journal_field(buf, sizeof buf, n, "CODE_LINE", num);
        n = journal_field(buf, sizeof buf, n, "CODE_FUNC", func);
        if (error != 0) {
                snprintf(num, sizeof num, "%d", error);
                n = journal_field(buf, sizeof buf, n, "ERRNO", num);
        }
        if (n > sizeof buf)
                return -EMSGSIZE;
        if (sendto(fd, buf, n, MSG_NOSIGNAL, (const struct sockaddr *) &sa, sizeof sa) < 0)
                return negative_errno();
        return 0;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        char message[1800];
        va_list ap;
        int saved_errno = errno;

        if (error < 0)
                error = -error;
        if (LOG_PRI(level) > log_max_level)
                return -error;

        /* "%m" expands to strerror(errno): give it the error we were handed. */
        errno = error;
        va_start(ap, format);
        vsnprintf(message, sizeof message, format, ap);
        va_end(ap);

        switch (log_target) {
        case LOG_TARGET_JOURNAL:
                if (write_journal(level, error, file, line, func, message) >= 0)
                        break;
                write_stderr(level, message, true);
                break;
        case LOG_TARGET_PREFIX:
                write_stderr(level, message, true);
                break;
        case LOG_TARGET_CONSOLE:
                write_stderr(level, message, false);
                break;
        }

        errno = saved_errno;
        return -error;
}
