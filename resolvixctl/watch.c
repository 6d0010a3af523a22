/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "ctl.h"
#include "jsonutil.h"
#include "net.h"
#include "timeutil.h"

/* watch: the telemetry stream as a top-like screen on a terminal, one line
 * per sample on a pipe, or the samples themselves with --json. */

#define ALT_SCREEN_ON "\x1b[?1049h\x1b[?25l"
#define ALT_SCREEN_OFF "\x1b[?25h\x1b[?1049l"
#define CTRL_L 0x0c

struct watch {
        const struct ctl *c;
        struct ctl_address address;
        cJSON *last;
        struct ctl_history history;
        unsigned long frames;
        uint64_t last_usec, tick_usec; /* CLOCK_MONOTONIC of the newest sample; the delay */
        bool screen;       /* drawing full-screen on a terminal */
        bool keyboard;     /* stdin is a terminal we put in raw mode */
        struct termios saved;
        char status[256];
};

static int write_all(const char *buf, size_t len) {
        while (len > 0) {
                ssize_t n = write(STDOUT_FILENO, buf, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

static void terminal_size(unsigned *width, unsigned *height) {
        struct winsize ws;

        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
                *width = ws.ws_col;
                *height = ws.ws_row;
        } else {
                *width = 80;
                *height = 24;
        }
}

/* The whole frame in one write, from the top-left corner: no flicker. */
static int redraw(struct watch *w) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        struct ctl_render o = { .color = w->c->color, .screen = true, .history = &w->history };
        size_t len = 0;

        terminal_size(&o.width, &o.height);
        f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        fputs("\x1b[H", f);
        ctl_render_watch(f, w->last, w->status, &o);
        if (fclose(TAKE_PTR(f)) != 0)
                return -ENOMEM;
        return write_all(buf, len);
}

static void on_open(struct ctl_stream *s, void *userdata) {
        struct watch *w = userdata;
        char hp[CTL_HOST_MAX + 16];

        format_host_port(w->address.host, (uint16_t) w->address.port, hp, sizeof hp);
        if (w->c->delay_s > 0)
                snprintf(w->status, sizeof w->status, "q: quit   %s://%s   live, a sample at least every %g s",
                         w->address.scheme[0] ? w->address.scheme : "ws", hp, w->c->delay_s);
        else
                snprintf(w->status, sizeof w->status, "q: quit   %s://%s   live, at the stream's interval",
                         w->address.scheme[0] ? w->address.scheme : "ws", hp);
        /* The charts start full: the last hour telemetryd kept. */
        if (w->screen)
                (void) ctl_stream_send(s, "{\"command\":\"get_history\"}");
        if (w->screen)
                (void) redraw(w);
}

static int on_message(struct ctl_stream *s, void *userdata, const char *msg, size_t len) {
        struct watch *w = userdata;
        cJSON *j = cJSON_ParseWithLength(msg, len);
        int r = 0;

        const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");

        if (w->screen && cJSON_IsString(type) && streq(type->valuestring, "history")) {
                /* An older telemetryd answers get_history with an error:
                 * the sparklines then start with the first sample. */
                if (ctl_history_from_json(&w->history, j) == 0 && w->last)
                        (void) ctl_history_add_sample(&w->history, w->last);
                cJSON_Delete(j);
                return redraw(w) < 0 ? -EPIPE : 0;
        }
        /* Replies to our get_metrics are samples too; a pong or an error
         * reply has no metrics and draws nothing. */
        if (!j || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "metrics"))) {
                cJSON_Delete(j);
                return 0;
        }
        cJSON_Delete(w->last);
        w->last = j;
        w->frames++;
        w->last_usec = now_usec(CLOCK_MONOTONIC);

        if (w->c->json) {
                _cleanup_free_ char *text = json_print(j);

                if (!text)
                        return -ENOMEM;
                puts(text);
        } else if (w->screen) {
                (void) ctl_history_add_sample(&w->history, j);
                r = redraw(w);
        }
        else
                ctl_render_line(stdout, j);
        if (fflush(stdout) != 0 || r < 0)
                return -EPIPE;
        if (w->c->has_n && w->frames >= w->c->n)
                return 1;
        return 0;
}

static void on_resize(struct ctl_stream *s, void *userdata) {
        struct watch *w = userdata;

        if (w->screen)
                (void) redraw(w);
}

static int on_input(struct ctl_stream *s, void *userdata) {
        struct watch *w = userdata;
        char buf[64];
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);

        if (n == 0)
                return 1;
        for (ssize_t i = 0; i < n; i++) {
                if (buf[i] == 'q' || buf[i] == 'Q')
                        return 1;
                if (buf[i] == CTRL_L && w->screen)
                        (void) write_all("\x1b[2J", 4), (void) redraw(w);
                if (buf[i] == ' ')
                        (void) ctl_stream_send(s, "{\"command\":\"get_metrics\"}");
        }
        return 0;
}

static void on_tick(struct ctl_stream *s, void *userdata) {
        struct watch *w = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        /* A stream that samples at least as often needs no asking. */
        if (now - w->last_usec >= w->tick_usec - w->tick_usec / 10)
                (void) ctl_stream_send(s, "{\"command\":\"get_metrics\"}");
}

static void terminal_enter(struct watch *w) {
        struct termios raw;

        if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &w->saved) == 0) {
                raw = w->saved;
                /* Keys arrive one by one and unechoed; ^C still signals. */
                raw.c_lflag &= ~(tcflag_t) (ICANON | ECHO);
                raw.c_cc[VMIN] = 1;
                raw.c_cc[VTIME] = 0;
                w->keyboard = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
        }
        (void) write_all(ALT_SCREEN_ON, strlen(ALT_SCREEN_ON));
        ctl_error_defer(true);
}

static void terminal_leave(struct watch *w) {
        (void) write_all(ALT_SCREEN_OFF, strlen(ALT_SCREEN_OFF));
        if (w->keyboard)
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &w->saved);
        ctl_error_defer(false);
}

int ctl_cmd_watch(struct ctl *c) {
        static const struct ctl_stream_ops ops = {
                .open = on_open,
                .message = on_message,
                .resize = on_resize,
                .input = on_input,
                .tick = on_tick,
        };
        struct watch w = { .c = c };
        struct ctl_stream_params p;
        sigset_t mask, old;
        int r;

        r = ctl_stream_address(c, "telemetry", &w.address);
        if (r < 0)
                return r;
        w.screen = !c->json && isatty(STDOUT_FILENO);

        w.tick_usec = c->delay_s > 0 ? (uint64_t) llround(c->delay_s * 1e6) : 0;
        p = (struct ctl_stream_params){
                .address = &w.address,
                .token = c->telemetry_token,
                .what = "telemetryd",
                .userdata = &w,
                .tick_usec = w.tick_usec,
                .ca_file = c->ca_file,
                .insecure = c->insecure,
        };
        if (w.screen) {
                /* From the first byte on the alternate screen, ^C must reach
                 * the loop (which restores the terminal), not kill us: the
                 * stream's signalfd takes what arrives meanwhile. */
                sigemptyset(&mask);
                sigaddset(&mask, SIGINT);
                sigaddset(&mask, SIGTERM);
                sigaddset(&mask, SIGHUP);
                (void) sigprocmask(SIG_BLOCK, &mask, &old);
                terminal_enter(&w);
                p.watch_stdin = w.keyboard;
                snprintf(w.status, sizeof w.status, "q: quit   connecting...");
                (void) redraw(&w);
        }
        r = ctl_stream_run(&ops, &p);
        if (w.screen) {
                terminal_leave(&w);
                (void) sigprocmask(SIG_SETMASK, &old, NULL);
        }
        cJSON_Delete(w.last);
        ctl_history_free(&w.history);
        return r;
}
