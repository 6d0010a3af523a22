/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>

/* HTTPS on the control port (docs/tls.md): libmicrohttpd with GnuTLS, TLS
 * 1.2 or later, and the certificate handed to each handshake by a callback
 * so that SIGHUP can swap in new files while the connections already up
 * keep theirs. */

struct control_tls;

/* Whether cert (a PEM chain) and key (PEM) can be read and belong together:
 * 0, or -errno with the reason, naming the file, in err. */
int control_tls_check(const char *cert, const char *key, char *err, size_t errsz);

/* Load the pair (logging why not). */
int control_tls_new(const char *cert, const char *key, struct control_tls **ret);
void control_tls_free(struct control_tls *t);

/* Re-read the files: new handshakes get the new pair; a pair that does not
 * load or match is logged and the one in use kept. */
int control_tls_reload(struct control_tls *t, const char *cert, const char *key);

/* The GnuTLS priority string and the certificate callback, for
 * MHD_OPTION_HTTPS_PRIORITIES and MHD_OPTION_HTTPS_CERT_CALLBACK; the
 * callback finds t through control_tls_bind(). */
extern const char control_tls_priorities[];
int control_tls_cert_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                              const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                              unsigned int *pcert_length, gnutls_privkey_t *privkey);
void control_tls_bind(struct control_tls *t);
