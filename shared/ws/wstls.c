/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "errors.h"
#include "log.h"
#include "macro.h"
#include "notify.h"
#include "wstls.h"

/* Mozilla's "intermediate" choice for TLS 1.2: forward secrecy and AEAD
 * only. TLS 1.3 keeps OpenSSL's own (all of them modern). */
#define CIPHERS_TLS12                                                                                                  \
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                    \
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct pair {
        X509 *cert;
        STACK_OF(X509) *chain; /* the intermediates after the leaf */
        EVP_PKEY *key;
};

static void pair_done(struct pair *p) {
        X509_free(p->cert);
        sk_X509_pop_free(p->chain, X509_free);
        EVP_PKEY_free(p->key);
        *p = (struct pair){ 0 };
}

static int pair_load(const char *cert, const char *key, struct pair *ret, char *err, size_t errsz) {
        _cleanup_fclose_ FILE *fc = NULL, *fk = NULL;
        struct pair p = { 0 };
        X509 *x;

        if (!cert || !cert[0] || !key || !key[0])
                return fail_with(err, errsz, "tls_cert and tls_key must be set together");
        fc = fopen(cert, "re");
        if (!fc) {
                int e = errno;

                (void) fail_with(err, errsz, "cannot read the TLS certificate %s: %s", cert, strerror(e));
                return -e;
        }
        fk = fopen(key, "re");
        if (!fk) {
                int e = errno;

                (void) fail_with(err, errsz, "cannot read the TLS key %s: %s", key, strerror(e));
                return -e;
        }

        p.cert = PEM_read_X509(fc, NULL, NULL, NULL);
        if (!p.cert) {
                ERR_clear_error();
                return fail_with(err, errsz, "the TLS certificate %s holds no PEM certificate", cert);
        }
        p.chain = sk_X509_new_null();
        while (p.chain && (x = PEM_read_X509(fc, NULL, NULL, NULL)))
                if (!sk_X509_push(p.chain, x)) {
                        X509_free(x);
                        break;
                }
        ERR_clear_error(); /* the end of the file reads as "no start line" */
        p.key = PEM_read_PrivateKey(fk, NULL, NULL, NULL);
        if (!p.key) {
                ERR_clear_error();
                pair_done(&p);
                return fail_with(err, errsz, "the TLS key %s holds no PEM private key (or one with a passphrase)",
                                 key);
        }
        if (X509_check_private_key(p.cert, p.key) != 1) {
                ERR_clear_error();
                pair_done(&p);
                return fail_with(err, errsz, "the TLS key %s does not match the certificate %s", key, cert);
        }
        *ret = p;
        return 0;
}

int ws_tls_check(const char *cert, const char *key, char *err, size_t errsz) {
        struct pair p;
        int r = pair_load(cert, key, &p, err, errsz);

        if (r < 0)
                return r;
        pair_done(&p);
        return 0;
}

void ws_tls_vhost_info(const struct ws_tls *t, struct lws_context_creation_info *info) {
        if (!ws_tls_on(t))
                return;
        /* lws reads this bit from the vhost's info too: without it the
         * vhost silently stays plain. */
        info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info->ssl_cert_filepath = t->cert;
        info->ssl_private_key_filepath = t->key;
        info->ssl_cipher_list = CIPHERS_TLS12;
        info->ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_COMPRESSION |
                                SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE;
        if (t->client_ca && t->client_ca[0]) {
                info->ssl_ca_filepath = t->client_ca;
                info->options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
        }
}

bool ws_tls_callback_reason(enum lws_callback_reasons reason) {
        return reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS ||
               reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS ||
               reason == LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION;
}

int ws_tls_callback(struct ws_tls *t, enum lws_callback_reasons reason, void *user, size_t len) {
        if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS) {
                /* The one moment lws shows the vhost's SSL_CTX: kept for
                 * SIGHUP, and the protocol floor set on it as well, since
                 * option bits alone leave a later OpenSSL default open. */
                t->ctx = user;
                if (SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) != 1)
                        return 1;
                return 0;
        }
        if (reason != LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION)
                return 0; /* no client side here */
        /* lws takes 0 as "accept", whatever OpenSSL concluded: hand back
         * OpenSSL's verdict (len is its preverify_ok). */
        return len ? 0 : 1;
}

int ws_tls_reload(struct ws_tls *t) {
        char err[PATH_MAX * 2 + 128];
        struct pair p;
        int r;

        if (!ws_tls_on(t) || !t->ctx)
                return 0;
        r = pair_load(t->cert, t->key, &p, err, sizeof err);
        if (r < 0) {
                log_error("Keeping the TLS certificate in use: %s", err);
                return r;
        }
        /* All three at once, or nothing changes; SSL objects already made
         * from the context hold their own copies. */
        if (SSL_CTX_use_cert_and_key(t->ctx, p.cert, p.key, p.chain, 1) != 1) {
                ERR_clear_error();
                pair_done(&p);
                log_error("Keeping the TLS certificate in use: OpenSSL refused %s", t->cert);
                return -EINVAL;
        }
        log_info("TLS certificate reloaded from %s", t->cert);
        pair_done(&p);
        return 0;
}

/* An HTTP/2 request (curl's choice over https) is a stream wsi without
 * TLS of its own: the connection's wsi holds the session. */
static SSL *peer_ssl(struct lws *wsi) {
        return lws_get_ssl(lws_get_network_wsi(wsi));
}

int ws_tls_peer_subject(struct lws *wsi, char *buf, size_t size) {
        SSL *ssl = peer_ssl(wsi);
        X509 *peer;
        BIO *bio;
        int n;

        if (size == 0)
                return -EINVAL;
        buf[0] = '\0';
        if (!ssl)
                return 0;
        peer = SSL_get1_peer_certificate(ssl);
        if (!peer)
                return 0;
        bio = BIO_new(BIO_s_mem());
        if (!bio) {
                X509_free(peer);
                return -ENOMEM;
        }
        (void) X509_NAME_print_ex(bio, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
        n = BIO_read(bio, buf, (int) size - 1);
        buf[n > 0 ? n : 0] = '\0';
        BIO_free(bio);
        X509_free(peer);
        return 0;
}

int ws_tls_peer_cn(struct lws *wsi, char *buf, size_t size) {
        SSL *ssl = peer_ssl(wsi);
        X509 *peer;
        int n;

        if (size == 0)
                return -EINVAL;
        buf[0] = '\0';
        if (!ssl || SSL_get_verify_result(ssl) != X509_V_OK)
                return 0;
        peer = SSL_get1_peer_certificate(ssl);
        if (!peer)
                return 0;
        n = X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, (int) size);
        /* A CN cut short, or with a NUL inside, names no one. */
        if (n < 0 || (size_t) n >= size - 1 || strlen(buf) != (size_t) n)
                buf[0] = '\0';
        X509_free(peer);
        return 0;
}

int ws_tls_check_listener(const struct conf_stream *stream, const char *client_ca, bool notify) {
        char err[2 * PATH_MAX + 128];
        int r;

        if (!stream->tls_cert[0] && !stream->tls_key[0] && !(client_ca && client_ca[0]))
                return 0;
        if (!stream->tls_cert[0] && !stream->tls_key[0])
                r = fail_with(err, sizeof err, "tls_client_ca needs tls_cert and tls_key");
        else
                r = ws_tls_check(stream->tls_cert, stream->tls_key, err, sizeof err);
        if (r >= 0 && client_ca && client_ca[0] && access(client_ca, R_OK) < 0) {
                r = -errno;
                snprintf(err, sizeof err, "cannot read the TLS client CA %s: %s", client_ca, strerror(errno));
        }
        if (r >= 0)
                return 0;
        err[0] = (char) toupper((unsigned char) err[0]);
        if (notify)
                return notify_failure(r, ERROR_TLS_UNUSABLE, "%s", err);
        log_error("%s", err);
        return r;
}
