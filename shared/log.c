/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <libwebsockets.h>
/* Our entries carry the caller's CODE_FILE/LINE/FUNC, not this file's. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "log.h"

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

static int write_journal(int level, int error, const char *file, int line, const char *func,
                         const char *message) {
        char f_prio[32], f_msg[2048], f_ident[64], f_worker[64], f_file[256], f_line[32], f_func[128],
                f_errno[32];
        struct iovec iov[8];
        size_t n = 0;

#define ADD(buf, ...)                                                              \
        do {                                                                       \
                int _l = snprintf((buf), sizeof(buf), __VA_ARGS__);                \
                if (_l < 0)                                                        \
                        return -EINVAL;                                            \
                iov[n++] = (struct iovec){ (buf), (size_t) _l < sizeof(buf) ? (size_t) _l : sizeof(buf) - 1 }; \
        } while (0)

        ADD(f_prio, "PRIORITY=%d", level);
        ADD(f_msg, "MESSAGE=%s", message);
        ADD(f_ident, "SYSLOG_IDENTIFIER=%s", log_ident);
        if (log_worker)
                ADD(f_worker, "RESOLVIX_WORKER=%s", log_worker);
        ADD(f_file, "CODE_FILE=%s", file);
        ADD(f_line, "CODE_LINE=%d", line);
        ADD(f_func, "CODE_FUNC=%s", func);
        if (error != 0)
                ADD(f_errno, "ERRNO=%d", error);
#undef ADD
        return sd_journal_sendv(iov, (int) n);
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

static void lws_emit(int lws_level, const char *line) {
        int level;
        size_t len = strlen(line);
        char buf[1024];

        switch (lws_level) {
        case LLL_ERR:
                level = LOG_ERR;
                break;
        case LLL_WARN:
                level = LOG_WARNING;
                break;
        case LLL_NOTICE:
                level = LOG_NOTICE;
                break;
        default:
                level = LOG_DEBUG;
                break;
        }
        /* lws terminates its lines with '\n'; our sinks add their own. */
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
        if (len >= sizeof buf)
                len = sizeof buf - 1;
        memcpy(buf, line, len);
        buf[len] = '\0';
        log_full(level, "lws: %s", buf);
}

void log_route_lws(void) {
        int mask = LLL_ERR | LLL_WARN;

        if (log_max_level >= LOG_DEBUG)
                mask |= LLL_NOTICE | LLL_INFO;
        lws_set_log_level(mask, lws_emit);
}
