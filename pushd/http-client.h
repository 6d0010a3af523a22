/* SPDX-License-Identifier: MIT */
#pragma once

#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http-response.h"
#include "http-url.h"

/* pushd's HTTP/1.1 client: one request at a time over one kept-alive
 * connection, driven by the caller's poll() loop; name lookup off the
 * loop (getaddrinfo_a), TLS (1.2) through mbedTLS (docs/fleet.md, "pushd
 * on every node"). */

#define HTTP_CONNECT_TIMEOUT_USEC (5ULL * 1000000ULL)
#define HTTP_REQUEST_TIMEOUT_USEC (15ULL * 1000000ULL)

struct http_tls_settings {
        const char *ca_file;  /* "" = the system's CA certificates */
        const char *cert_file, *key_file;
        bool insecure;
};

struct http_tls;
struct mbedtls_ssl_context;

struct http_client {
        struct http_tls_settings tls;
        struct http_tls *ctx; /* made at the first https request */

        /* The connection, kept between requests. */
        int fd;
        struct mbedtls_ssl_context *ssl;
        int io_errno; /* what the socket said under TLS, for the error text */
        char conn_key[320]; /* scheme, host and port it was opened for */
        bool fresh;         /* opened for the request in flight */
        bool retried;

        /* The name lookup. */
        int efd;
        bool gai_busy; /* a lookup given up on that has not finished yet */
        struct gaicb gcb;
        struct addrinfo hints;
        struct addrinfo *addrs, *addr;
        size_t addrs_left;

        int phase;
        short want; /* POLLIN or POLLOUT, what TLS waits for */
        struct http_url url;
        char peer[64]; /* the address tried or connected: 127.0.0.1:8757 */
        const char *head;
        size_t head_len;
        const void *body;
        size_t body_len, sent;
        uint64_t deadline, connect_deadline, attempt_deadline;

        struct http_response response;
        char error[320];
};

void http_client_init(struct http_client *c, const struct http_tls_settings *tls);
void http_client_done(struct http_client *c);

/* Send head (a request head ending in an empty line) and body to url; the
 * answer's body is kept in answer (answer_max + 1 bytes). The strings are
 * the caller's until the request ends. Returns 0, or a negative errno with
 * c->error. */
int http_client_start(struct http_client *c, const struct http_url *url, const char *head, size_t head_len,
                      const void *body, size_t body_len, char *answer, size_t answer_max, uint64_t now);

/* What to poll for: the fd (-1: nothing), its events and the time to call
 * http_client_step() anyway. Between requests, the kept connection is
 * watched so that a hub closing it is noticed. */
int http_client_poll(const struct http_client *c, short *events, uint64_t *deadline);

/* Go as far as the fd allows. Returns 1 when the answer is in c->response,
 * 0 while the request goes on (or none is running), a negative errno when
 * it failed (c->error says why, for the journal and last_error). */
int http_client_step(struct http_client *c, uint64_t now);

bool http_client_busy(const struct http_client *c);
