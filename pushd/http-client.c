/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "http-client.h"
#include "macro.h"
#include "net.h"

/* Where the system's CA certificates are when neither SSL_CERT_FILE nor
 * SSL_CERT_DIR says otherwise (docs/tls.md, "Clients: verification"). */
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

/* What every https connection shares: made at the first one, kept until
 * pushd stops. */
struct http_tls {
        mbedtls_entropy_context entropy;
        mbedtls_ctr_drbg_context drbg;
        mbedtls_ssl_config conf;
        mbedtls_x509_crt ca, cert;
        mbedtls_pk_context key;
};

enum {
        PHASE_IDLE,
        PHASE_RESOLVE,
        PHASE_CONNECT,
        PHASE_HANDSHAKE,
        PHASE_SEND,
        PHASE_RECEIVE,
};

/* What a step of a phase comes to. */
enum {
        STEP_WAIT = 0,  /* for the fd or the deadline */
        STEP_NEXT = 1,  /* on to the next phase at once */
        STEP_DONE = 2,  /* the answer is complete */
};

static int set_error(struct http_client *c, int error, const char *fmt, ...) _printf_(3, 4);
static int set_error(struct http_client *c, int error, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(c->error, sizeof c->error, fmt, ap);
        va_end(ap);
        return error;
}

void http_client_init(struct http_client *c, const struct http_tls_settings *tls) {
        *c = (struct http_client){ .tls = *tls, .fd = -1, .efd = -1 };
}

static void close_connection(struct http_client *c) {
        if (c->ssl) {
                /* A close_notify if the socket takes it now; no waiting. */
                (void) mbedtls_ssl_close_notify(c->ssl);
                mbedtls_ssl_free(c->ssl);
                free(c->ssl);
                c->ssl = NULL;
        }
        c->fd = safe_close(c->fd);
}

static void tls_free(struct http_tls *t) {
        if (!t)
                return;
        mbedtls_ssl_config_free(&t->conf);
        mbedtls_x509_crt_free(&t->ca);
        mbedtls_x509_crt_free(&t->cert);
        mbedtls_pk_free(&t->key);
        mbedtls_ctr_drbg_free(&t->drbg);
        mbedtls_entropy_free(&t->entropy);
        free(t);
}

static void free_addrs(struct http_client *c) {
        if (c->addrs)
                freeaddrinfo(c->addrs);
        c->addrs = c->addr = NULL;
}

/* A lookup given up on cannot be freed before glibc is done with it. */
static void abandon_lookup(struct http_client *c) {
        if (c->phase != PHASE_RESOLVE)
                return;
        if (gai_cancel(&c->gcb) == EAI_NOTCANCELED)
                c->gai_busy = true;
        else if (c->gcb.ar_result) {
                freeaddrinfo(c->gcb.ar_result);
                c->gcb.ar_result = NULL;
        }
}

void http_client_done(struct http_client *c) {
        abandon_lookup(c);
        close_connection(c);
        free_addrs(c);
        c->efd = safe_close(c->efd);
        tls_free(c->ctx);
        c->ctx = NULL;
        c->phase = PHASE_IDLE;
}

bool http_client_busy(const struct http_client *c) {
        return c->phase != PHASE_IDLE;
}

static int fail(struct http_client *c, int error) {
        abandon_lookup(c);
        close_connection(c);
        free_addrs(c);
        c->phase = PHASE_IDLE;
        return error;
}

/* mbedTLS's reason for a failure r, for an error text: the certificate's
 * faults when verifying it failed, the socket's error when it failed. */
static const char *tls_reason(struct http_client *c, int r) {
        static char buf[300];
        uint32_t flags = c->ssl ? mbedtls_ssl_get_verify_result(c->ssl) : 0;

        if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 && flags != UINT32_MAX) {
                size_t n = (size_t) snprintf(buf, sizeof buf, "certificate verify failed: ");
                char *p;

                /* One line for each fault: joined on one, as last_error is. */
                (void) mbedtls_x509_crt_verify_info(buf + n, sizeof buf - n, "", flags);
                for (p = buf + n; (p = strchr(p, '\n'));)
                        if (p[1])
                                *p = ';';
                        else
                                *p = '\0';
                return buf;
        }
        if ((r == MBEDTLS_ERR_NET_SEND_FAILED || r == MBEDTLS_ERR_NET_RECV_FAILED) && c->io_errno != 0)
                return strerror(c->io_errno);
        if (r == MBEDTLS_ERR_NET_CONN_RESET)
                return strerror(ECONNRESET);
        if (r == MBEDTLS_ERR_SSL_CONN_EOF || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
                return "the connection closed";
        mbedtls_strerror(r, buf, sizeof buf);
        return buf;
}

static int load_error(struct http_client *c, int r, const char *what, const char *path) {
        char why[200];

        mbedtls_strerror(r, why, sizeof why);
        return set_error(c, -EINVAL, "Cannot load %s %s: %s", what, path, why);
}

/* The system's CA certificates, read only when [push] ca_file is not set:
 * mbedTLS keeps every one it reads in memory (about 0.5 MiB for Debian's
 * bundle; docs/performance.md, "pushd at idle"). SSL_CERT_FILE and
 * SSL_CERT_DIR name others, as they do for OpenSSL. */
static int load_system_cas(struct http_client *c, mbedtls_x509_crt *ca) {
        const char *file = getenv("SSL_CERT_FILE"), *dir = getenv("SSL_CERT_DIR");
        int r;

        if (file && file[0]) {
                r = mbedtls_x509_crt_parse_file(ca, file);
                if (r < 0)
                        return load_error(c, r, "the CA certificates", file);
        }
        if (dir && dir[0]) {
                /* Every file in it; the hashed names are links to the same. */
                r = mbedtls_x509_crt_parse_path(ca, dir);
                if (r < 0)
                        return load_error(c, r, "the CA certificates", dir);
        }
        if ((file && file[0]) || (dir && dir[0]))
                return 0;
        r = mbedtls_x509_crt_parse_file(ca, SYSTEM_CA_BUNDLE);
        if (r < 0)
                return load_error(c, r, "the CA certificates", SYSTEM_CA_BUNDLE);
        return 0;
}

static int load_credentials(struct http_client *c, struct http_tls *t) {
        int r;

        if (c->tls.insecure)
                mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_NONE);
        else {
                if (c->tls.ca_file && c->tls.ca_file[0]) {
                        r = mbedtls_x509_crt_parse_file(&t->ca, c->tls.ca_file);
                        if (r < 0)
                                return load_error(c, r, "the CA certificates", c->tls.ca_file);
                } else {
                        r = load_system_cas(c, &t->ca);
                        if (r < 0)
                                return r;
                }
                mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
                mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
        }
        if (!c->tls.cert_file || !c->tls.cert_file[0])
                return 0;
        r = mbedtls_x509_crt_parse_file(&t->cert, c->tls.cert_file);
        if (r != 0)
                return load_error(c, r < 0 ? r : MBEDTLS_ERR_X509_INVALID_FORMAT, "[push] tls_cert",
                                  c->tls.cert_file);
        r = mbedtls_pk_parse_keyfile(&t->key, c->tls.key_file, NULL);
        if (r == 0)
                r = mbedtls_pk_check_pair(&t->cert.pk, &t->key);
        if (r == 0)
                r = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key);
        if (r != 0)
                return load_error(c, r, "[push] tls_key", c->tls.key_file);
        return 0;
}

static int make_ctx(struct http_client *c) {
        static const char personal[] = "resolvix pushd";
        struct http_tls *t;
        char why[200];
        int r;

        if (c->ctx)
                return 0;
        t = calloc(1, sizeof *t);
        if (!t)
                return set_error(c, -ENOMEM, "Cannot set up TLS: out of memory");
        mbedtls_entropy_init(&t->entropy);
        mbedtls_ctr_drbg_init(&t->drbg);
        mbedtls_ssl_config_init(&t->conf);
        mbedtls_x509_crt_init(&t->ca);
        mbedtls_x509_crt_init(&t->cert);
        mbedtls_pk_init(&t->key);
        r = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy, (const unsigned char *) personal,
                                  sizeof personal - 1);
        if (r == 0)
                r = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                                MBEDTLS_SSL_PRESET_DEFAULT);
        if (r != 0) {
                mbedtls_strerror(r, why, sizeof why);
                set_error(c, -ENOMEM, "Cannot set up TLS: %s", why);
                tls_free(t);
                return -ENOMEM;
        }
        /* TLS 1.2, what mbedTLS 2.28 speaks and every hub accepts
         * (docs/tls.md, "Clients: verification"). */
        mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
        mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
        r = load_credentials(c, t);
        if (r < 0) {
                tls_free(t);
                return r;
        }
        c->ctx = t;
        return 0;
}

/* glibc's lookup thread says it is done: the loop hears it on the eventfd. */
static void lookup_done(union sigval v) {
        uint64_t one = 1;

        (void) !write(v.sival_int, &one, sizeof one);
}

static int start_lookup(struct http_client *c) {
        struct gaicb *list[1] = { &c->gcb };
        struct sigevent sev = {
                .sigev_notify = SIGEV_THREAD,
                .sigev_notify_function = lookup_done,
        };
        uint64_t drain;
        int r;

        if (c->gai_busy) {
                if (gai_error(&c->gcb) == EAI_INPROGRESS)
                        return set_error(c, -EBUSY, "Could not resolve %s: the last lookup has not finished",
                                         c->url.host);
                if (c->gcb.ar_result)
                        freeaddrinfo(c->gcb.ar_result);
                c->gai_busy = false;
        }
        if (c->efd < 0) {
                c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (c->efd < 0)
                        return set_error(c, -errno, "Could not resolve %s: %m", c->url.host);
        }
        (void) !read(c->efd, &drain, sizeof drain);
        sev.sigev_value.sival_int = c->efd;
        c->hints = (struct addrinfo){ .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
        c->gcb = (struct gaicb){ .ar_name = c->url.host, .ar_service = c->url.port, .ar_request = &c->hints };
        r = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev);
        if (r != 0)
                return set_error(c, -EAGAIN, "Could not resolve %s: %s", c->url.host, gai_strerror(r));
        c->phase = PHASE_RESOLVE;
        return STEP_WAIT;
}

static size_t count_addrs(const struct addrinfo *a) {
        size_t n = 0;

        for (; a; a = a->ai_next)
                n++;
        return n;
}

/* "127.0.0.1:8757", or "hub.example (10.0.0.2:8757)" for a name. */
static const char *where(const struct http_client *c, char *buf, size_t size) {
        if (c->url.literal)
                snprintf(buf, size, "%s", c->peer);
        else
                snprintf(buf, size, "%s (%s)", c->url.host, c->peer);
        return buf;
}

static int connect_failed(struct http_client *c, int error) {
        char w[400];

        set_error(c, -error, "Could not connect to %s: %s", where(c, w, sizeof w), strerror(error));
        c->fd = safe_close(c->fd);
        c->addr = c->addr->ai_next;
        c->addrs_left--;
        return 0;
}

/* Connect to the next address, in turn, until one is in progress. */
static int next_address(struct http_client *c, uint64_t now) {
        while (c->addr) {
                int one = 1;

                format_sockaddr(c->addr->ai_addr, c->peer, sizeof c->peer);
                c->fd = socket(c->addr->ai_family, c->addr->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                               c->addr->ai_protocol);
                if (c->fd < 0) {
                        connect_failed(c, errno);
                        continue;
                }
                (void) setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
                /* The head and the body go in separate writes. */
                (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                if (connect(c->fd, c->addr->ai_addr, c->addr->ai_addrlen) < 0 && errno != EINPROGRESS) {
                        connect_failed(c, errno);
                        continue;
                }
                /* The addresses left share what is left of the connect timeout. */
                c->attempt_deadline = now + (c->connect_deadline > now ? c->connect_deadline - now : 0) /
                                                    (c->addrs_left ? c->addrs_left : 1);
                c->phase = PHASE_CONNECT;
                return STEP_WAIT;
        }
        if (!c->error[0])
                set_error(c, -EHOSTUNREACH, "Could not connect to %s: no address", c->url.host);
        return -EHOSTUNREACH;
}

static int start_connecting(struct http_client *c, struct addrinfo *addrs, uint64_t now) {
        free_addrs(c);
        c->addrs = c->addr = addrs;
        c->addrs_left = count_addrs(addrs);
        c->error[0] = '\0';
        return next_address(c, now);
}

static int open_connection(struct http_client *c, uint64_t now) {
        c->fresh = true;
        c->connect_deadline = now + HTTP_CONNECT_TIMEOUT_USEC;
        if (c->url.literal) {
                struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                          .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
                struct addrinfo *addrs = NULL;
                int r = getaddrinfo(c->url.host, c->url.port, &hints, &addrs);

                if (r != 0)
                        return set_error(c, -EINVAL, "Could not use the address %s: %s", c->url.host,
                                         gai_strerror(r));
                return start_connecting(c, addrs, now);
        }
        return start_lookup(c);
}

static int step_resolve(struct http_client *c, uint64_t now) {
        uint64_t drain;
        struct addrinfo *addrs;
        int r;

        (void) !read(c->efd, &drain, sizeof drain);
        r = gai_error(&c->gcb);
        if (r == EAI_INPROGRESS) {
                if (now >= c->connect_deadline)
                        return set_error(c, -ETIMEDOUT, "Could not resolve %s: no answer within %llu s", c->url.host,
                                         HTTP_CONNECT_TIMEOUT_USEC / 1000000ULL);
                return STEP_WAIT;
        }
        if (r != 0)
                return set_error(c, -EHOSTUNREACH, "Could not resolve %s: %s", c->url.host, gai_strerror(r));
        addrs = TAKE_PTR(c->gcb.ar_result);
        c->phase = PHASE_IDLE; /* the lookup is over: nothing to cancel */
        r = start_connecting(c, addrs, now);
        return r;
}

/* The socket under TLS: non-blocking, its would-block told to mbedTLS so
 * that the poll loop waits for the fd (c->want). */
static int bio_send(void *data, const unsigned char *buf, size_t len) {
        struct http_client *c = data;
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

        if (n >= 0)
                return (int) n;
        if (errno == EAGAIN || errno == EINTR)
                return MBEDTLS_ERR_SSL_WANT_WRITE;
        c->io_errno = errno;
        return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *data, unsigned char *buf, size_t len) {
        struct http_client *c = data;
        ssize_t n = recv(c->fd, buf, len, 0);

        if (n >= 0)
                return (int) n;
        if (errno == EAGAIN || errno == EINTR)
                return MBEDTLS_ERR_SSL_WANT_READ;
        c->io_errno = errno;
        return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
}

/* mbedTLS 2.28 checks a host name against the certificate's DNS names
 * only: a hub named by its address is checked here, against the
 * certificate's IP addresses (docs/tls.md, "Clients: verification"). */
static int verify_address(void *data, mbedtls_x509_crt *crt, int depth, uint32_t *flags) {
        const struct http_client *c = data;
        unsigned char ip[16];
        size_t len;

        if (depth != 0)
                return 0;
        if (inet_pton(AF_INET, c->url.host, ip) == 1)
                len = 4;
        else if (inet_pton(AF_INET6, c->url.host, ip) == 1)
                len = 16;
        else {
                *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
                return 0;
        }
        for (const mbedtls_x509_sequence *san = &crt->subject_alt_names; san; san = san->next)
                if (san->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && san->buf.len == len &&
                    memcmp(san->buf.p, ip, len) == 0)
                        return 0;
        *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
        return 0;
}

static int start_tls(struct http_client *c) {
        int r = make_ctx(c);

        if (r < 0)
                return r;
        c->ssl = malloc(sizeof *c->ssl);
        if (!c->ssl)
                return set_error(c, -ENOMEM, "Cannot set up TLS with %s: out of memory", c->url.host);
        mbedtls_ssl_init(c->ssl);
        r = mbedtls_ssl_setup(c->ssl, &c->ctx->conf);
        /* The name goes out as SNI and is checked against the certificate;
         * an address is neither sent nor checked by mbedTLS. */
        if (r == 0 && !c->url.literal)
                r = mbedtls_ssl_set_hostname(c->ssl, c->url.host);
        if (r != 0)
                return set_error(c, -ENOMEM, "Cannot set up TLS with %s: %s", c->url.host, tls_reason(c, r));
        if (c->url.literal && !c->tls.insecure)
                mbedtls_ssl_set_verify(c->ssl, verify_address, c);
        mbedtls_ssl_set_bio(c->ssl, c, bio_send, bio_recv, NULL);
        c->io_errno = 0;
        c->want = POLLOUT;
        c->phase = PHASE_HANDSHAKE;
        return STEP_NEXT;
}

static int step_connect(struct http_client *c, uint64_t now) {
        struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
        int error = 0;
        socklen_t len = sizeof error;

        if (poll(&pfd, 1, 0) <= 0) {
                if (now < c->attempt_deadline)
                        return STEP_WAIT;
                connect_failed(c, ETIMEDOUT);
                return next_address(c, now);
        }
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
                error = errno;
        if (error != 0) {
                connect_failed(c, error);
                return next_address(c, now);
        }
        free_addrs(c);
        c->error[0] = '\0';
        if (c->url.tls)
                return start_tls(c);
        c->phase = PHASE_SEND;
        return STEP_NEXT;
}

static bool tls_wants(struct http_client *c, int r) {
        if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE)
                return false;
        c->want = r == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT;
        return true;
}

static int step_handshake(struct http_client *c, uint64_t now) {
        int r = mbedtls_ssl_handshake(c->ssl);

        if (r == 0) {
                c->phase = PHASE_SEND;
                return STEP_NEXT;
        }
        if (tls_wants(c, r)) {
                if (now >= c->connect_deadline)
                        return set_error(c, -ETIMEDOUT, "TLS handshake with %s: no answer within %llu s",
                                         c->url.host, HTTP_CONNECT_TIMEOUT_USEC / 1000000ULL);
                return STEP_WAIT;
        }
        return set_error(c, -ECONNREFUSED, "TLS handshake with %s: %s", c->url.host, tls_reason(c, r));
}

/* A kept connection that fails before any byte of the answer came back was
 * most likely closed by the hub while idle (its keep-alive timeout is
 * shorter than pushd's interval): the request goes again, once, on a new
 * connection, and nobody needs to hear of it. */
static int retry_fresh(struct http_client *c, uint64_t now) {
        close_connection(c);
        c->retried = true;
        c->sent = 0;
        http_response_init(&c->response, c->response.body, c->response.body_max);
        return open_connection(c, now);
}

static bool may_retry(const struct http_client *c) {
        return !c->fresh && !c->retried && !http_response_started(&c->response);
}

static int transport_error(struct http_client *c, const char *what, int error, uint64_t now) {
        char w[400];

        if (may_retry(c))
                return retry_fresh(c, now);
        return set_error(c, -error, "%s %s: %s", what, where(c, w, sizeof w), strerror(error));
}

static int tls_error(struct http_client *c, const char *what, int e, uint64_t now) {
        char w[400];

        if (may_retry(c))
                return retry_fresh(c, now);
        return set_error(c, -EPROTO, "%s %s: %s", what, where(c, w, sizeof w), tls_reason(c, e));
}

static int step_send(struct http_client *c, uint64_t now) {
        while (c->sent < c->head_len + c->body_len) {
                const char *from = c->sent < c->head_len ? c->head + c->sent
                                                         : (const char *) c->body + (c->sent - c->head_len);
                size_t len = c->sent < c->head_len ? c->head_len - c->sent : c->head_len + c->body_len - c->sent;
                ssize_t n;

                if (c->ssl) {
                        /* After a would-block, the same bytes again. */
                        int r = mbedtls_ssl_write(c->ssl, (const unsigned char *) from,
                                                  len > INT32_MAX ? INT32_MAX : len);

                        if (r >= 0) {
                                c->sent += (size_t) r;
                                continue;
                        }
                        if (tls_wants(c, r))
                                return STEP_WAIT;
                        return tls_error(c, "Could not send to", r, now);
                }
                struct iovec iov[2] = { { (void *) from, len }, { NULL, 0 } };
                struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 1 };

                if (c->sent < c->head_len && c->body_len > 0) {
                        iov[1] = (struct iovec){ (void *) c->body, c->body_len };
                        msg.msg_iovlen = 2;
                }
                n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR) {
                                c->want = POLLOUT;
                                return STEP_WAIT;
                        }
                        return transport_error(c, "Could not send to", errno, now);
                }
                c->sent += (size_t) n;
        }
        c->want = POLLIN;
        c->phase = PHASE_RECEIVE;
        return STEP_NEXT;
}

static int answer_complete(struct http_client *c, size_t used, size_t got) {
        /* Bytes past the answer were never asked for: the connection is not
         * to be trusted with another request. */
        if (c->response.close || used < got)
                close_connection(c);
        c->phase = PHASE_IDLE;
        return STEP_DONE;
}

static int step_receive(struct http_client *c, uint64_t now) {
        char buf[4096], w[400];

        for (;;) {
                ssize_t n;
                size_t used = 0;
                int r;

                if (c->ssl) {
                        /* Reads until it would block: nothing is left in
                         * mbedTLS's buffer for a poll() that cannot see it. */
                        r = mbedtls_ssl_read(c->ssl, (unsigned char *) buf, sizeof buf);

                        if (tls_wants(c, r))
                                return STEP_WAIT;
                        /* A close_notify, or a TCP close without one: the
                         * parser knows whether the answer was complete. */
                        if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == MBEDTLS_ERR_SSL_CONN_EOF)
                                r = 0;
                        if (r < 0)
                                return tls_error(c, "Could not read the answer of", r, now);
                        n = r;
                } else {
                        n = recv(c->fd, buf, sizeof buf, 0);
                        if (n < 0) {
                                if (errno == EAGAIN || errno == EINTR) {
                                        c->want = POLLIN;
                                        return STEP_WAIT;
                                }
                                return transport_error(c, "Could not read the answer of", errno, now);
                        }
                }
                if (n == 0) {
                        if (http_response_eof(&c->response) == 1)
                                return answer_complete(c, 0, 0);
                        if (may_retry(c))
                                return retry_fresh(c, now);
                        return set_error(c, -EPIPE, "Bad answer from %s: %s", where(c, w, sizeof w),
                                         c->response.error);
                }
                r = http_response_feed(&c->response, buf, (size_t) n, &used);
                if (r < 0)
                        return set_error(c, r, "Bad answer from %s: %s", where(c, w, sizeof w), c->response.error);
                if (r == 1)
                        return answer_complete(c, used, (size_t) n);
        }
}

int http_client_start(struct http_client *c, const struct http_url *url, const char *head, size_t head_len,
                      const void *body, size_t body_len, char *answer, size_t answer_max, uint64_t now) {
        char key[sizeof c->conn_key];
        int r;

        if (c->phase != PHASE_IDLE)
                return -EBUSY;
        snprintf(key, sizeof key, "%s://%s:%s", url->tls ? "https" : "http", url->host, url->port);
        c->url = *url;
        c->head = head;
        c->head_len = head_len;
        c->body = body;
        c->body_len = body_len;
        c->sent = 0;
        c->retried = false;
        c->error[0] = '\0';
        c->deadline = now + HTTP_REQUEST_TIMEOUT_USEC;
        http_response_init(&c->response, answer, answer_max);

        if (c->fd >= 0 && streq(key, c->conn_key)) {
                struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

                /* Readable while idle: the hub closed it (or sent what was
                 * never asked for). */
                if (poll(&pfd, 1, 0) == 0) {
                        c->fresh = false;
                        c->want = POLLOUT;
                        c->phase = PHASE_SEND;
                        return 0;
                }
        }
        close_connection(c);
        r = open_connection(c, now);
        if (r < 0)
                return fail(c, r);
        snprintf(c->conn_key, sizeof c->conn_key, "%s", key);
        return 0;
}

int http_client_poll(const struct http_client *c, short *events, uint64_t *deadline) {
        /* Connecting has its own, shorter deadline within the request's. */
        uint64_t phase_deadline = c->phase == PHASE_CONNECT                                     ? c->attempt_deadline
                                  : c->phase == PHASE_RESOLVE || c->phase == PHASE_HANDSHAKE ? c->connect_deadline
                                                                                              : UINT64_MAX;

        if (c->phase == PHASE_IDLE) {
                *deadline = UINT64_MAX;
                *events = POLLIN;
                return c->fd;
        }
        *deadline = phase_deadline < c->deadline ? phase_deadline : c->deadline;
        *events = c->phase == PHASE_RESOLVE ? POLLIN : c->phase == PHASE_CONNECT ? POLLOUT : c->want;
        return c->phase == PHASE_RESOLVE ? c->efd : c->fd;
}

int http_client_step(struct http_client *c, uint64_t now) {
        char w[400];
        int r;

        if (c->phase == PHASE_IDLE) {
                struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

                /* The kept connection closed by the hub, or talking out of
                 * turn: either way it is done. */
                if (c->fd >= 0 && poll(&pfd, 1, 0) > 0)
                        close_connection(c);
                return 0;
        }
        for (;;) {
                int phase = c->phase;

                if (now >= c->deadline) {
                        if (phase == PHASE_RESOLVE || phase == PHASE_CONNECT || phase == PHASE_HANDSHAKE)
                                r = set_error(c, -ETIMEDOUT, "Could not connect to %s: no answer within %llu s",
                                              c->url.authority, HTTP_REQUEST_TIMEOUT_USEC / 1000000ULL);
                        else
                                r = set_error(c, -ETIMEDOUT, "No answer from %s within %llu s", where(c, w, sizeof w),
                                              HTTP_REQUEST_TIMEOUT_USEC / 1000000ULL);
                        return fail(c, r);
                }
                switch (phase) {
                case PHASE_RESOLVE:
                        r = step_resolve(c, now);
                        break;
                case PHASE_CONNECT:
                        r = step_connect(c, now);
                        break;
                case PHASE_HANDSHAKE:
                        r = step_handshake(c, now);
                        break;
                case PHASE_SEND:
                        r = step_send(c, now);
                        break;
                case PHASE_RECEIVE:
                        r = step_receive(c, now);
                        break;
                default:
                        return 0;
                }
                if (r < 0)
                        return fail(c, r);
                if (r == STEP_DONE)
                        return 1;
                if (r == STEP_WAIT && c->phase == phase)
                        return 0;
        }
}
