/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "http-client.h"
#include "macro.h"
#include "net.h"

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
                (void) SSL_shutdown(c->ssl);
                SSL_free(c->ssl);
                c->ssl = NULL;
        }
        c->fd = safe_close(c->fd);
        ERR_clear_error();
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
        SSL_CTX_free(c->ctx);
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

/* OpenSSL's reason for the last failure, for an error text. */
static const char *tls_reason(struct http_client *c, int ssl_error) {
        unsigned long e = ERR_peek_last_error();
        long v = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
        static char buf[200];

        if (v != X509_V_OK) {
                snprintf(buf, sizeof buf, "certificate verify failed: %s", X509_verify_cert_error_string(v));
                return buf;
        }
        if (e != 0 && ERR_reason_error_string(e))
                return ERR_reason_error_string(e);
        if (ssl_error == SSL_ERROR_SYSCALL && errno != 0)
                return strerror(errno);
        return "the connection closed";
}

static int make_ctx(struct http_client *c) {
        const char *dir;

        if (c->ctx)
                return 0;
        c->ctx = SSL_CTX_new(TLS_client_method());
        if (!c->ctx)
                return set_error(c, -ENOMEM, "Cannot set up TLS: %s", ERR_reason_error_string(ERR_get_error()));
        (void) SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
        /* Buffers released between requests: pushd idles most of the time
         * (docs/performance.md, "pushd at idle"). */
        SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                         SSL_MODE_RELEASE_BUFFERS);
        /* A hub closing without close_notify ends the connection, not
         * the answer: the parser knows whether the answer was complete. */
        SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
        SSL_CTX_set_verify(c->ctx, c->tls.insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
        if (c->tls.ca_file && c->tls.ca_file[0]) {
                if (SSL_CTX_load_verify_file(c->ctx, c->tls.ca_file) != 1)
                        goto fail_ca;
        } else {
                /* The hashed directory: certificates are read when a chain
                 * needs them, where the bundle file would keep every one of
                 * them in memory. */
                dir = getenv(X509_get_default_cert_dir_env());
                if (!dir || !dir[0])
                        dir = X509_get_default_cert_dir();
                if (SSL_CTX_load_verify_dir(c->ctx, dir) != 1)
                        goto fail_ca;
        }
        if (c->tls.cert_file && c->tls.cert_file[0]) {
                if (SSL_CTX_use_certificate_chain_file(c->ctx, c->tls.cert_file) != 1) {
                        set_error(c, -EINVAL, "Cannot load [push] tls_cert %s: %s", c->tls.cert_file,
                                  ERR_reason_error_string(ERR_peek_last_error()));
                        goto fail;
                }
                if (SSL_CTX_use_PrivateKey_file(c->ctx, c->tls.key_file, SSL_FILETYPE_PEM) != 1 ||
                    SSL_CTX_check_private_key(c->ctx) != 1) {
                        set_error(c, -EINVAL, "Cannot load [push] tls_key %s: %s", c->tls.key_file,
                                  ERR_reason_error_string(ERR_peek_last_error()));
                        goto fail;
                }
        }
        ERR_clear_error();
        return 0;
fail_ca:
        set_error(c, -EINVAL, "Cannot load the CA certificates %s: %s",
                  c->tls.ca_file && c->tls.ca_file[0] ? c->tls.ca_file : "of the system",
                  ERR_reason_error_string(ERR_peek_last_error()));
fail:
        ERR_clear_error();
        SSL_CTX_free(c->ctx);
        c->ctx = NULL;
        return -EINVAL;
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

static void describe_peer(struct http_client *c, const struct addrinfo *a) {
        char host[INET6_ADDRSTRLEN] = "?";
        uint16_t port = 0;

        if (a->ai_family == AF_INET) {
                const struct sockaddr_in *s = (const struct sockaddr_in *) (const void *) a->ai_addr;
                inet_ntop(AF_INET, &s->sin_addr, host, sizeof host);
                port = ntohs(s->sin_port);
        } else if (a->ai_family == AF_INET6) {
                const struct sockaddr_in6 *s = (const struct sockaddr_in6 *) (const void *) a->ai_addr;
                inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host);
                port = ntohs(s->sin6_port);
        }
        format_host_port(host, port, c->peer, sizeof c->peer);
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

                describe_peer(c, c->addr);
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

static int start_tls(struct http_client *c) {
        int r = make_ctx(c);

        if (r < 0)
                return r;
        c->ssl = SSL_new(c->ctx);
        if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
                return set_error(c, -ENOMEM, "Cannot set up TLS with %s: out of memory", c->url.host);
        if (!c->url.literal)
                (void) SSL_set_tlsext_host_name(c->ssl, c->url.host);
        if (!c->tls.insecure) {
                if (c->url.literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->url.host) != 1
                                   : SSL_set1_host(c->ssl, c->url.host) != 1)
                        return set_error(c, -ENOMEM, "Cannot set up TLS with %s: out of memory", c->url.host);
        }
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

static int step_handshake(struct http_client *c, uint64_t now) {
        int r, e;

        ERR_clear_error();
        errno = 0;
        r = SSL_connect(c->ssl);
        if (r == 1) {
                c->phase = PHASE_SEND;
                return STEP_NEXT;
        }
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                if (now >= c->connect_deadline)
                        return set_error(c, -ETIMEDOUT, "TLS handshake with %s: no answer within %llu s",
                                         c->url.host, HTTP_CONNECT_TIMEOUT_USEC / 1000000ULL);
                c->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
                return STEP_WAIT;
        }
        return set_error(c, -ECONNREFUSED, "TLS handshake with %s: %s", c->url.host, tls_reason(c, e));
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
                        int e;

                        ERR_clear_error();
                        errno = 0;
                        n = SSL_write(c->ssl, from, (int) (len > INT32_MAX ? INT32_MAX : len));
                        if (n > 0) {
                                c->sent += (size_t) n;
                                continue;
                        }
                        e = SSL_get_error(c->ssl, (int) n);
                        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                                c->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
                                return STEP_WAIT;
                        }
                        return tls_error(c, "Could not send to", e, now);
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
                        int e;

                        ERR_clear_error();
                        errno = 0;
                        n = SSL_read(c->ssl, buf, sizeof buf);
                        if (n <= 0) {
                                e = SSL_get_error(c->ssl, (int) n);
                                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                                        c->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
                                        return STEP_WAIT;
                                }
                                /* A close_notify, or a TCP close without one. */
                                if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0))
                                        n = 0;
                                else
                                        return tls_error(c, "Could not read the answer of", e, now);
                        }
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
