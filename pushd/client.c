/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include <zlib.h>

#include "build-config.h"
#include "fileio.h"
#include "grow.h"
#include "jsonutil.h"
#include "log.h"
#include "macro.h"
#include "pushd.h"
#include "sysmon.h"
#include "timeutil.h"

/* The hub's answers and what pushd does about them (docs/fleet.md, "Native
 * protocol"): the answer a request expects is success; 401 to a push means
 * the hub forgot our token; other 4xx are final for that batch, except 408
 * and 429, which like 503 are the hub asking for time. */
enum pushd_verdict pushd_classify(enum pushd_request req, long status) {
        switch (req) {
        case REQ_ENROLL:
                if (status == 201)
                        return VERDICT_DONE;
                break;
        case REQ_CHECK_URL:
                if (status == 202)
                        return VERDICT_DONE;
                break;
        case REQ_CHECK_ID:
                if (status == 200 || status == 204)
                        return VERDICT_DONE;
                break;
        case REQ_PUSH:
                if (status == 200)
                        return VERDICT_DONE;
                break;
        case REQ_NONE:
                return VERDICT_BACKOFF;
        }
        if (status == 429 || status == 503)
                return VERDICT_RETRY_AFTER;
        if (req == REQ_PUSH && status == 401)
                return VERDICT_REENROLL;
        if (req == REQ_PUSH && status >= 400 && status < 500 && status != 408)
                return VERDICT_FINAL;
        return VERDICT_BACKOFF;
}

/* Between half the ceiling and the ceiling, so that nodes cut off together
 * do not come back together. */
uint64_t pushd_backoff_delay(uint64_t ceiling, uint32_t rnd) {
        return ceiling / 2 + (uint64_t) ((double) (ceiling / 2) * ((double) rnd / 4294967296.0));
}

static uint32_t random32(void) {
        uint32_t v = 0;

        if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v)
                v = (uint32_t) now_usec(CLOCK_MONOTONIC);
        return v;
}

int pushd_client_init(struct pushd *p) {
        char buf[CONF_TOKEN_MAX + 2];
        ssize_t n;

        http_client_init(&p->http, &(struct http_tls_settings){ .ca_file = p->conf.push.ca_file,
                                                                .cert_file = p->conf.push.tls_cert,
                                                                .key_file = p->conf.push.tls_key,
                                                                .insecure = p->conf.push.insecure });
        p->backoff = PUSHD_BACKOFF_MIN_USEC;
        snprintf(p->token_path, sizeof p->token_path, "%s/push.token", p->conf.control.state_dir);
        n = read_file(p->token_path, buf, sizeof buf);
        if (n > 0) {
                buf[strcspn(buf, "\r\n")] = '\0';
                snprintf(p->token, sizeof p->token, "%s", buf);
        } else if (n < 0 && n != -ENOENT)
                log_warning_errno((int) n, "Cannot read the node token %s, enrolling again: %m", p->token_path);
        if (p->conf.push.insecure)
                log_warning("[push] insecure = true: the hub's TLS certificate is not verified");
        return 0;
}

void pushd_client_done(struct pushd *p) {
        http_client_done(&p->http);
        free(p->batch);
        free(p->body);
        free(p->gz);
        free(p->head);
}

static void set_error(struct pushd *p, const char *fmt, ...) _printf_(2, 3);
static void set_error(struct pushd *p, const char *fmt, ...) {
        va_list ap;
        char text[sizeof p->last_error];

        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        /* It travels as one notify field: a newline would end it early. */
        for (char *c = text; *c; c++)
                if (*c == '\n' || *c == '\r')
                        *c = ' ';
        if (!streq(text, p->last_error)) {
                snprintf(p->last_error, sizeof p->last_error, "%s", text);
                p->figures_changed = true;
        }
}

static void set_connected(struct pushd *p, bool connected) {
        if (connected != p->connected) {
                p->connected = connected;
                p->figures_changed = true;
                if (connected)
                        log_info("Connected to %s", p->urls[p->url_i]);
        }
}

static int body_append(struct pushd *p, const void *data, size_t len) {
        if (GROW(p->body, p->body_cap, p->body_len + len + 1, 64 * 1024) < 0)
                return -ENOMEM;
        memcpy(p->body + p->body_len, data, len);
        p->body_len += len;
        p->body[p->body_len] = '\0';
        return 0;
}

static void finish(struct pushd *p, int result);

static int gzip_body(struct pushd *p, size_t *ret_len) {
        z_stream z = { 0 };
        size_t bound;
        int r;

        if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return -ENOMEM;
        bound = deflateBound(&z, (uLong) p->body_len);
        if (GROW(p->gz, p->gz_cap, bound, 16 * 1024) < 0) {
                deflateEnd(&z);
                return -ENOMEM;
        }
        z.next_in = (Bytef *) p->body;
        z.avail_in = (uInt) p->body_len;
        z.next_out = p->gz;
        z.avail_out = (uInt) p->gz_cap;
        r = deflate(&z, Z_FINISH);
        *ret_len = z.total_out;
        deflateEnd(&z);
        return r == Z_STREAM_END ? 0 : -EIO;
}

/* The request head, in p->head: the hub URL's path prefix, then path. */
static int format_head(struct pushd *p, const struct http_url *url, const char *path, const char *content_type,
                       bool gz, const char *bearer, size_t len) {
        const char *target = url->path[0] || path[0] ? url->path : "/";
        int n;

        for (;;) {
                n = snprintf(p->head, p->head_cap,
                             "POST %s%s HTTP/1.1\r\n"
                             "Host: %s\r\n"
                             "User-Agent: resolvix-pushd/" RESOLVIX_VERSION "\r\n"
                             "Accept: */*\r\n"
                             "Content-Type: %s\r\n"
                             "%s"
                             "%s%s%s"
                             "Content-Length: %zu\r\n"
                             "\r\n",
                             target, path, url->authority, content_type, gz ? "Content-Encoding: gzip\r\n" : "",
                             bearer && *bearer ? "Authorization: Bearer " : "", bearer && *bearer ? bearer : "",
                             bearer && *bearer ? "\r\n" : "", len);
                if (n < 0)
                        return -ENOMEM;
                if ((size_t) n < p->head_cap)
                        break;
                if (GROW(p->head, p->head_cap, (size_t) n + 1, 512) < 0)
                        return -ENOMEM;
        }
        p->head_len = (size_t) n;
        return 0;
}

/* Send the request now in p->body, over the connection kept from the last
 * one when it is to the same hub. */
static int start_request(struct pushd *p, enum pushd_request req, const char *path, const char *content_type,
                         const char *bearer) {
        const void *data = p->body;
        size_t len = p->body_len;
        const struct http_url *url = &p->hubs[p->url_i];
        bool gz = false;
        int r;

        if (req == REQ_PUSH && !p->sysmon && p->body_len > PUSHD_GZIP_MIN) {
                if (gzip_body(p, &len) < 0)
                        return log_error_errno(ENOMEM, "Cannot gzip a batch");
                data = p->gz;
                gz = true;
        }
        r = format_head(p, url, path, content_type, gz, bearer, len);
        if (r < 0)
                return log_error_errno(r, "Cannot start a request: %m");
        r = http_client_start(&p->http, url, p->head, p->head_len, data, len, p->response, PUSHD_RESPONSE_MAX,
                              now_usec(CLOCK_MONOTONIC));
        p->req = req;
        log_debug("POST %s%s%s (%zu bytes%s)", url->authority, url->path, path, len, gz ? ", gzip" : "");
        if (r < 0)
                /* Nothing on the wire yet: it fails as a request does. */
                finish(p, r);
        return 0;
}

static int start_json(struct pushd *p, enum pushd_request req, const char *path, cJSON *body, const char *bearer) {
        _cleanup_free_ char *text = body ? json_print(body) : NULL;

        cJSON_Delete(body);
        if (!text)
                return -ENOMEM;
        p->body_len = 0;
        if (body_append(p, text, strlen(text)) < 0)
                return -ENOMEM;
        return start_request(p, req, path, "application/json", bearer);
}

static int start_enroll(struct pushd *p) {
        cJSON *o = cJSON_CreateObject();

        if (!o || !cJSON_AddStringToObject(o, "node_id", p->node_id) ||
            !cJSON_AddStringToObject(o, "hostname", p->hostname) ||
            !cJSON_AddStringToObject(o, "machine_id", p->machine_id)) {
                cJSON_Delete(o);
                return -ENOMEM;
        }
        return start_json(p, REQ_ENROLL, "/api/v1/enroll", o, p->conf.push.enroll_token);
}

static int start_check(struct pushd *p, enum pushd_request req) {
        cJSON *o = sysmon_envelope(req == REQ_CHECK_URL ? "check_url" : "check_system_id", p->system_id,
                                   p->urls[p->url_i], p->conf.push.interval, now_usec(CLOCK_REALTIME) / USEC_PER_SEC);

        return start_json(p, req, "", o, NULL);
}

struct batch_fill {
        struct pushd *p;
        int error;
};

static bool take_record(const struct spool_record *rec, void *userdata) {
        struct batch_fill *f = userdata;
        struct pushd *p = f->p;

        if (GROW(p->batch, p->cap_batch, p->n_batch + 1, 64) < 0 || body_append(p, rec->payload, rec->len) < 0 ||
            (!p->sysmon && body_append(p, "\n", 1) < 0)) {
                f->error = -ENOMEM;
                return false;
        }
        p->batch[p->n_batch++] = rec->seq;
        return true;
}

/* Which samples go next: the newest first whenever older ones wait (the
 * hub's live view is current at once), then the backlog oldest first at
 * backfill_rate (docs/fleet.md, "The spool"). */
static int start_push(struct pushd *p, uint64_t now, uint64_t *wake) {
        struct spool_figures f;
        struct batch_fill fill = { .p = p };
        uint64_t newest, from, want, cap;
        double rate = p->conf.push.backfill_rate;
        int r;

        spool_get_figures(p->spool, &f);
        if (f.pending == 0)
                return 0;
        newest = f.next_seq - 1;
        cap = p->sysmon ? 1 : PUSHD_BATCH_MAX;
        if (cap > p->conf.push.backfill_rate)
                cap = p->conf.push.backfill_rate;

        /* The budget refills at backfill_rate, up to one batch. */
        p->tokens += rate * (double) (now - p->tokens_at) / (double) USEC_PER_SEC;
        if (p->tokens > (double) cap)
                p->tokens = (double) cap;
        p->tokens_at = now;

        if (spool_is_pending(p->spool, newest) && f.pending > 1) {
                from = newest;
                want = 1;
        } else if (f.pending == 1) {
                from = f.done + 1;
                want = 1;
        } else {
                want = f.pending < cap ? f.pending : cap;
                if (p->tokens < (double) want) {
                        *wake = now + (uint64_t) (((double) want - p->tokens) / rate * (double) USEC_PER_SEC) + 1000;
                        return 0;
                }
                p->tokens -= (double) want;
                from = f.done + 1;
        }
        p->n_batch = 0;
        p->body_len = 0;
        r = spool_read(p->spool, from, (size_t) want, take_record, &fill);
        if (r < 0)
                return r;
        if (fill.error < 0)
                return fill.error;
        if (p->n_batch == 0)
                return 0;
        if (p->sysmon)
                return start_request(p, REQ_PUSH, "", "application/json", NULL);
        return start_request(p, REQ_PUSH, "/api/v1/push", "application/x-ndjson", p->token);
}

void pushd_client_kick(struct pushd *p, uint64_t now, uint64_t *wake) {
        int r = 0;

        if (p->req != REQ_NONE)
                return;
        if (now < p->next_attempt) {
                *wake = p->next_attempt;
                return;
        }
        if (p->sysmon && p->checked < 2)
                r = start_check(p, p->checked == 0 ? REQ_CHECK_URL : REQ_CHECK_ID);
        else if (!p->sysmon && !p->token[0]) {
                if (!p->conf.push.enroll_token[0]) {
                        set_error(p, "no node token in %s and no [push] enroll_token to enrol with", p->token_path);
                        p->next_attempt = now + PUSHD_BACKOFF_MAX_USEC;
                        *wake = p->next_attempt;
                        return;
                }
                r = start_enroll(p);
        } else
                r = start_push(p, now, wake);
        if (r < 0) {
                log_error_errno(r, "Cannot start a request: %m");
                p->next_attempt = now + PUSHD_BACKOFF_MIN_USEC;
                *wake = p->next_attempt;
        }
}

/* The hub's own words for a refusal: its "message" field, else the body. */
static void hub_message(const struct pushd *p, char *buf, size_t size) {
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(p->response, p->http.response.body_len);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");

        if (cJSON_IsString(m))
                snprintf(buf, size, "%s", m->valuestring);
        else
                snprintf(buf, size, "%.*s", (int) strcspn(p->response, "\r\n"), p->response);
}

static void back_off(struct pushd *p, uint64_t now, const char *why) {
        uint64_t delay = pushd_backoff_delay(p->backoff, random32());

        set_error(p, "%s", why);
        log_warning("%s: %s; retrying in %.1f s", p->urls[p->url_i], why, (double) delay / USEC_PER_SEC);
        p->next_attempt = now + delay;
        p->backoff = p->backoff * 2 > PUSHD_BACKOFF_MAX_USEC ? PUSHD_BACKOFF_MAX_USEC : p->backoff * 2;
        /* Several hubs: the next one is tried on the next attempt. */
        if (p->n_urls > 1)
                p->url_i = (p->url_i + 1) % p->n_urls;
}

static void save_token(struct pushd *p) {
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(p->response, p->http.response.body_len);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "token");
        char text[CONF_TOKEN_MAX + 2];
        int r;

        if (!cJSON_IsString(t) || !t->valuestring[0] || strlen(t->valuestring) >= sizeof p->token ||
            strpbrk(t->valuestring, "\r\n")) {
                set_error(p, "the hub answered the enrolment without a token");
                return;
        }
        snprintf(p->token, sizeof p->token, "%s", t->valuestring);
        snprintf(text, sizeof text, "%s\n", p->token);
        r = write_file_atomic_mode(p->token_path, text, strlen(text), 0600);
        if (r < 0)
                log_error_errno(r, "Cannot keep the node token in %s; enrolling again at the next start: %m",
                                p->token_path);
        log_info("Enrolled with %s as node %s", p->urls[p->url_i], p->node_id);
}

/* result: 1 with the answer in p->http.response, else the negative errno
 * of a failure p->http.error tells. */
static void finish(struct pushd *p, int result) {
        enum pushd_request req = p->req;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        long status;
        char why[512], msg[300];
        enum pushd_verdict v;

        p->req = REQ_NONE;
        if (result < 0) {
                set_connected(p, false);
                snprintf(why, sizeof why, "%s", p->http.error);
                back_off(p, now, why);
                return;
        }
        status = p->http.response.status;
        set_connected(p, status < 500);
        v = pushd_classify(req, status);
        hub_message(p, msg, sizeof msg);

        switch (v) {
        case VERDICT_DONE:
                p->backoff = PUSHD_BACKOFF_MIN_USEC;
                if (p->last_error[0])
                        set_error(p, "%s", "");
                if (req == REQ_ENROLL)
                        save_token(p);
                else if (req == REQ_CHECK_URL || req == REQ_CHECK_ID) {
                        p->checked++;
                        if (p->checked == 2)
                                log_info("%s answered check_url and check_system_id (%ld)", p->urls[p->url_i], status);
                } else {
                        for (size_t i = 0; i < p->n_batch; i++)
                                (void) spool_ack(p->spool, p->batch[i]);
                        (void) spool_save(p->spool);
                        p->figures_changed = true;
                        log_debug("Acknowledged %zu samples: %.*s", p->n_batch, (int) p->http.response.body_len, p->response);
                }
                return;
        case VERDICT_FINAL:
                log_warning("%s refused %zu samples (seq %llu..) for good with %ld: %s; dropped", p->urls[p->url_i],
                            p->n_batch, (unsigned long long) (p->n_batch ? p->batch[0] : 0), status, msg);
                for (size_t i = 0; i < p->n_batch; i++)
                        (void) spool_drop(p->spool, p->batch[i]);
                (void) spool_save(p->spool);
                set_error(p, "HTTP %ld: %s", status, msg);
                p->figures_changed = true;
                return;
        case VERDICT_REENROLL:
                log_warning("%s no longer knows this node's token (%s): enrolling again", p->urls[p->url_i], msg);
                p->token[0] = '\0';
                (void) unlink(p->token_path);
                set_error(p, "HTTP %ld: %s", status, msg);
                return;
        case VERDICT_RETRY_AFTER:
                if (p->http.response.retry_after >= 0) {
                        set_error(p, "HTTP %ld: %s", status, msg);
                        log_warning("%s answered %ld: retrying after %ld s as asked", p->urls[p->url_i], status,
                                    p->http.response.retry_after);
                        p->next_attempt = now + (uint64_t) p->http.response.retry_after * USEC_PER_SEC;
                        return;
                }
                break;
        case VERDICT_BACKOFF:
                break;
        }
        snprintf(why, sizeof why, "HTTP %ld to %s: %s", status,
                 req == REQ_ENROLL      ? "enroll"
                 : req == REQ_CHECK_URL ? "check_url"
                 : req == REQ_CHECK_ID  ? "check_system_id"
                                        : "push",
                 msg);
        back_off(p, now, why);
}

int pushd_client_poll(const struct pushd *p, short *events, uint64_t *deadline) {
        return http_client_poll(&p->http, events, deadline);
}

void pushd_client_step(struct pushd *p, uint64_t now) {
        int r = http_client_step(&p->http, now);

        if (p->req != REQ_NONE && r != 0)
                finish(p, r);
}
