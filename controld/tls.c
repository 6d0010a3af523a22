/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "errors.h"
#include "log.h"
#include "macro.h"
#include "tls.h"

/* TLS 1.2 and 1.3 only, forward-secret key exchange and AEAD ciphers only,
 * the server's order first. */
const char control_tls_priorities[] = "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:"
                                      "+AES-256-GCM:+CHACHA20-POLY1305:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:"
                                      "%SERVER_PRECEDENCE";

#define CHAIN_MAX 16

/* One loaded pair. GnuTLS keeps pointing at the pair a session was given
 * for as long as the session lives, so a replaced pair is kept until
 * controld exits (one per SIGHUP that changed the files: a few bytes). */
struct pair {
        gnutls_pcert_st pcert[CHAIN_MAX];
        unsigned n;
        gnutls_privkey_t key;
        struct pair *older;
};

struct control_tls {
        struct pair *current;
};

static struct control_tls *bound;

static void pair_free(struct pair *p) {
        while (p) {
                struct pair *older = p->older;

                for (unsigned i = 0; i < p->n; i++)
                        gnutls_pcert_deinit(&p->pcert[i]);
                if (p->key)
                        gnutls_privkey_deinit(p->key);
                free(p);
                p = older;
        }
}

static int load_file(const char *what, const char *path, gnutls_datum_t *d, char *err, size_t errsz) {
        int r = gnutls_load_file(path, d);

        if (r < 0) {
                /* gnutls_load_file() leaves errno as the failed open() or read() set it. */
                int e = errno ?: EIO;

                (void) fail_with(err, errsz, "cannot read the TLS %s %s: %s", what, path, strerror(e));
                return -e;
        }
        return 0;
}

static int pair_load(const char *cert, const char *key, struct pair **ret, char *err, size_t errsz) {
        gnutls_datum_t dc = { 0 }, dk = { 0 };
        gnutls_certificate_credentials_t check = NULL;
        struct pair *p = NULL;
        int r, g;

        if (!cert || !cert[0] || !key || !key[0])
                return fail_with(err, errsz, "tls_cert and tls_key must be set together");
        errno = 0;
        r = load_file("certificate", cert, &dc, err, errsz);
        if (r < 0)
                goto out;
        errno = 0;
        r = load_file("key", key, &dk, err, errsz);
        if (r < 0)
                goto out;

        p = calloc(1, sizeof *p);
        if (!p) {
                r = fail_with(err, errsz, "out of memory");
                goto out;
        }
        p->n = CHAIN_MAX;
        g = gnutls_pcert_list_import_x509_raw(p->pcert, &p->n, &dc, GNUTLS_X509_FMT_PEM, 0);
        if (g < 0 || p->n == 0) {
                p->n = 0;
                r = fail_with(err, errsz, "the TLS certificate %s holds no PEM certificate (%s)", cert,
                              gnutls_strerror(g));
                goto out;
        }
        if (gnutls_privkey_init(&p->key) < 0 ||
            gnutls_privkey_import_x509_raw(p->key, &dk, GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
                r = fail_with(err, errsz, "the TLS key %s holds no PEM private key (or one with a passphrase)",
                              key);
                goto out;
        }
        /* GnuTLS' own test of whether the key is the certificate's. */
        if (gnutls_certificate_allocate_credentials(&check) < 0) {
                r = fail_with(err, errsz, "out of memory");
                goto out;
        }
        g = gnutls_certificate_set_x509_key_mem2(check, &dc, &dk, GNUTLS_X509_FMT_PEM, NULL, 0);
        if (g < 0) {
                r = fail_with(err, errsz, g == GNUTLS_E_CERTIFICATE_KEY_MISMATCH
                                                  ? "the TLS key %s does not match the certificate %s"
                                                  : "the TLS key %s and certificate %s cannot be used together",
                              key, cert);
                goto out;
        }
        *ret = TAKE_PTR(p);
        r = 0;
out:
        if (check)
                gnutls_certificate_free_credentials(check);
        gnutls_free(dc.data);
        gnutls_free(dk.data);
        pair_free(p);
        return r;
}

int control_tls_check(const char *cert, const char *key, char *err, size_t errsz) {
        struct pair *p = NULL;
        int r = pair_load(cert, key, &p, err, errsz);

        pair_free(p);
        return r;
}

static int fail_log(int r, char *err) {
        err[0] = (char) (err[0] >= 'a' && err[0] <= 'z' ? err[0] - 'a' + 'A' : err[0]);
        log_error("%s", err);
        return r;
}

int control_tls_new(const char *cert, const char *key, struct control_tls **ret) {
        char err[2 * PATH_MAX + 128];
        struct control_tls *t;
        int r;

        t = calloc(1, sizeof *t);
        if (!t)
                return log_error_errno(ENOMEM, "Out of memory");
        r = pair_load(cert, key, &t->current, err, sizeof err);
        if (r < 0) {
                free(t);
                return fail_log(r, err);
        }
        *ret = t;
        return 0;
}

void control_tls_free(struct control_tls *t) {
        if (!t)
                return;
        if (bound == t)
                bound = NULL;
        pair_free(t->current);
        free(t);
}

int control_tls_reload(struct control_tls *t, const char *cert, const char *key) {
        char err[2 * PATH_MAX + 128];
        struct pair *p = NULL;
        int r;

        r = pair_load(cert, key, &p, err, sizeof err);
        if (r < 0) {
                log_error("Keeping the TLS certificate in use: %s", err);
                return r;
        }
        p->older = t->current;
        t->current = p;
        log_info("TLS certificate reloaded from %s", cert);
        return 0;
}

void control_tls_bind(struct control_tls *t) {
        bound = t;
}

int control_tls_cert_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                              const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                              unsigned int *pcert_length, gnutls_privkey_t *privkey) {
        if (!bound || !bound->current)
                return -1;
        *pcert = bound->current->pcert;
        *pcert_length = bound->current->n;
        *privkey = bound->current->key;
        return 0;
}
