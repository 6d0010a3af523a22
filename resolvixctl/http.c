/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include <curl/curl.h>

#include "ctl.h"
#include "grow.h"
#include "net.h"

static void curl_cleanupp(CURL **c) {
        if (*c)
                curl_easy_cleanup(*c);
}

static void slist_freep(struct curl_slist **l) {
        curl_slist_free_all(*l);
}

struct sink {
        struct ctl_reply *reply;
        size_t cap;
        bool too_large;
        char tls_error[CURL_ERROR_SIZE];
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata) {
        struct sink *s = userdata;
        struct ctl_reply *r = s->reply;
        size_t n = size * nmemb;

        if (r->len + n > CTL_REPLY_MAX) {
                s->too_large = true;
                return 0; /* curl stops with CURLE_WRITE_ERROR */
        }
        if (GROW(r->body, s->cap, r->len + n + 1, 4096) < 0)
                return 0;
        memcpy(r->body + r->len, data, n);
        r->len += n;
        r->body[r->len] = '\0';
        return n;
}

void ctl_reply_done(struct ctl_reply *r) {
        free(r->body);
        *r = (struct ctl_reply){ 0 };
}

/* The peer's address as the user would type it, for messages. */
static void describe_peer(const char *url, char *buf, size_t size) {
        struct ctl_address a;
        char err[64];

        if (ctl_parse_address(url, &a, err, sizeof err) < 0 || a.port == 0)
                snprintf(buf, size, "%s", url);
        else
                format_host_port(a.host, (uint16_t) a.port, buf, size);
}

static int transport_error(CURL *curl, CURLcode code, const char *url, const char *what, const struct sink *sink) {
        char peer[CTL_HOST_MAX + 16];
        long os_errno = 0;

        describe_peer(url, peer, sizeof peer);
        (void) curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
        switch (code) {
        case CURLE_COULDNT_CONNECT:
                if (os_errno == ECONNREFUSED || os_errno == 0) {
                        ctl_error("cannot connect to %s: connection refused — is %s running? try: %s", peer, what,
                                  streq(what, "resolvix")       ? "systemctl status resolvix"
                                  : streq(what, "resolvix-hub") ? "systemctl status resolvix-hub, or --hub URL"
                                                                : "resolvixctl status");
                        return -ECONNREFUSED;
                }
                ctl_error("cannot connect to %s: %s", peer, strerror((int) os_errno));
                return -(int) os_errno;
        case CURLE_COULDNT_RESOLVE_HOST:
                ctl_error("cannot connect to %s: the host name does not resolve", peer);
                return -ENXIO;
        case CURLE_OPERATION_TIMEDOUT:
                ctl_error("no answer from %s in time (--timeout)", peer);
                return -ETIMEDOUT;
        case CURLE_WRITE_ERROR:
                if (sink->too_large) {
                        ctl_error("the answer from %s is over %u MiB; not reading it", peer, CTL_REPLY_MAX >> 20);
                        return -EFBIG;
                }
                ctl_error("out of memory reading the answer from %s", peer);
                return -ENOMEM;
        case CURLE_PEER_FAILED_VERIFICATION:
                ctl_error("the certificate of %s is not trusted (%s): pass --ca-file FILE, set RESOLVIX_CA_FILE "
                          "or [push] ca_file",
                          peer, sink->tls_error[0] ? sink->tls_error : curl_easy_strerror(code));
                return -EPROTO;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CACERT_BADFILE:
                ctl_error("no TLS connection with %s: %s", peer,
                          sink->tls_error[0] ? sink->tls_error : curl_easy_strerror(code));
                return -EPROTO;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
                ctl_error("%s at %s closed the connection without an answer", what, peer);
                return -ECONNRESET;
        default:
                ctl_error("cannot talk to %s at %s: %s", what, peer, curl_easy_strerror(code));
                return -EIO;
        }
}

int ctl_http(const struct ctl *c, const char *url, const char *token, const char *json_body, const char *what,
             struct ctl_reply *ret) {
        _cleanup_(curl_cleanupp) CURL *curl = NULL;
        _cleanup_(slist_freep) struct curl_slist *headers = NULL;
        struct ctl_reply reply = { 0 };
        struct sink sink = { .reply = &reply };
        char auth[CTL_URL_MAX];
        CURLcode code;

        curl = curl_easy_init();
        if (!curl) {
                ctl_error("cannot set up an HTTP client (libcurl)");
                return -ENOMEM;
        }
        headers = curl_slist_append(headers, "Accept: application/json");
        if (json_body)
                headers = curl_slist_append(headers, "Content-Type: application/json");
        if (token && token[0]) {
                snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
                headers = curl_slist_append(headers, auth);
        }
        if (!headers) {
                ctl_error("out of memory");
                return -ENOMEM;
        }
        (void) curl_easy_setopt(curl, CURLOPT_URL, url);
        (void) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        (void) curl_easy_setopt(curl, CURLOPT_USERAGENT, "resolvixctl");
        (void) curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
        (void) curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long) c->timeout_s);
        /* Only the schemes resolvixctl speaks; never follow a redirect
         * elsewhere with the token. */
        (void) curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
        (void) curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
        (void) curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
        (void) curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
        (void) curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, sink.tls_error);
        /* https:// is checked against --ca-file (docs/tls.md): the chain
         * and the host name, unless --insecure says not to. */
        if (c->ca_file)
                (void) curl_easy_setopt(curl, CURLOPT_CAINFO, c->ca_file);
        if (c->insecure) {
                (void) curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
                (void) curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        (void) curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
        if (json_body) {
                (void) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json_body);
                (void) curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) strlen(json_body));
        }

        code = curl_easy_perform(curl);
        if (code != CURLE_OK) {
                ctl_reply_done(&reply);
                return transport_error(curl, code, url, what, &sink);
        }
        (void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
        if (!reply.body) {
                reply.body = strdup("");
                if (!reply.body) {
                        ctl_error("out of memory");
                        return -ENOMEM;
                }
        }
        *ret = reply;
        return 0;
}

int ctl_reply_check(const struct ctl *c, const struct ctl_reply *r, const char *what) {
        cJSON *j;
        const cJSON *message;

        if (r->status >= 200 && r->status < 300)
                return 0;
        if (r->status == 401) {
                ctl_error("%s refused the request: missing or wrong token (401); pass --token TOKEN, set "
                          "RESOLVIX_TOKEN, or set [control] token in %s",
                          what, ctl_config_name(c));
                return -EACCES;
        }
        j = cJSON_ParseWithLength(r->body, r->len);
        message = cJSON_GetObjectItemCaseSensitive(j, "message");
        if (cJSON_IsString(message))
                ctl_error("%s answered %ld: %s", what, r->status, message->valuestring);
        else
                ctl_error("%s answered %ld%s%.200s", what, r->status, r->len ? ": " : "", r->body);
        cJSON_Delete(j);
        return r->status == 403 ? -EACCES : -EIO;
}
