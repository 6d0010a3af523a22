/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <libwebsockets.h>

#include "conf.h"

/* TLS on a WebSocket listener (docs/tls.md): with [section] tls_cert and
 * tls_key the vhost speaks only TLS 1.2 or later, SIGHUP swaps in the
 * files' new contents for the handshakes that follow (connections already
 * up keep theirs), and with a client CA every peer must present a
 * certificate it signed. OpenSSL, as libwebsockets is built with on
 * Debian. */

struct ws_tls {
        const char *cert, *key, *client_ca; /* "" or NULL = none; owned by the caller */
        SSL_CTX *ctx;                        /* the vhost's, learnt while lws makes it */
};

static inline bool ws_tls_on(const struct ws_tls *t) {
        return t->cert && t->cert[0] != '\0';
}

/* Whether cert (a PEM chain) and key (PEM) can be read and belong together.
 * 0, or -errno with the reason, naming the file, in err. Only one of the
 * pair set is an error too. */
int ws_tls_check(const char *cert, const char *key, char *err, size_t errsz);

/* Fill the vhost's TLS fields and options. */
void ws_tls_vhost_info(const struct ws_tls *t, struct lws_context_creation_info *info);

/* lws' OpenSSL callbacks (LOAD_EXTRA_SERVER_VERIFY_CERTS,
 * PERFORM_CLIENT_CERT_VERIFICATION), answered: user is OpenSSL's there. */
bool ws_tls_callback_reason(enum lws_callback_reasons reason);
int ws_tls_callback(struct ws_tls *t, enum lws_callback_reasons reason, void *user, size_t len);

/* Re-read the files (SIGHUP). A pair that does not load or match is
 * logged and the one in use is kept. */
int ws_tls_reload(struct ws_tls *t);

/* The subject of the certificate the peer presented (RFC 2253 form), ""
 * when it presented none. */
int ws_tls_peer_subject(struct lws *wsi, char *buf, size_t size);

/* The subject's common name (CN) of the certificate the peer presented,
 * when OpenSSL verified it against the client CA; "" otherwise (none,
 * unverified, no CN, or one that does not fit in buf). */
int ws_tls_peer_cn(struct lws *wsi, char *buf, size_t size);

/* Whether the listener's TLS files (stream->tls_cert, tls_key, and
 * client_ca when not NULL) can be used: 0, or -errno after an error that
 * names the file, logged, or with notify reported to the supervisor
 * (tls_unusable) as well. Nothing to check is 0. ws_server_new() runs it;
 * --check runs it through a program's validate callback. docs/tls.md */
int ws_tls_check_listener(const struct conf_stream *stream, const char *client_ca, bool notify);
