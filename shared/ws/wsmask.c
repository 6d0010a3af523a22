/* SPDX-License-Identifier: MIT */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "wsmask.h"

enum {
        SCAN_HTTP,    /* in a request, looking for its blank line */
        SCAN_HEADER,  /* in a frame header */
        SCAN_PAYLOAD, /* in a frame's payload */
        SCAN_UNMASKED,
        SCAN_OFF,     /* lost track: never cut (see ws_mask_scan_upgraded()) */
};

void ws_mask_scan_init(struct ws_mask_scan *m) {
        *m = (struct ws_mask_scan){ .state = SCAN_HTTP };
}

/* The header's length, once its second byte is known. */
static uint8_t header_length(uint8_t b1) {
        uint8_t n = b1 & 0x7f;

        return (uint8_t) (2 + (n == 126 ? 2 : n == 127 ? 8 : 0) + 4);
}

size_t ws_mask_scan(struct ws_mask_scan *m, const uint8_t *buf, size_t len) {
        size_t i = 0, frame_start = 0;

        if (m->state == SCAN_UNMASKED)
                return 0;
        if (m->state == SCAN_OFF)
                return len;
        while (i < len) {
                switch (m->state) {
                case SCAN_HTTP: {
                        static const char blank[] = "\r\n\r\n";
                        uint8_t c = buf[i++];

                        m->blank = c == (uint8_t) blank[m->blank] ? m->blank + 1 : c == '\r' ? 1 : 0;
                        if (m->blank == 4) {
                                m->blank = 0;
                                m->suspect = false;
                                m->state = SCAN_HEADER;
                                m->have = 0;
                        }
                        break;
                }
                case SCAN_HEADER:
                        if (m->have == 0)
                                frame_start = i;
                        m->hdr[m->have++] = buf[i++];
                        if (m->have == 2) {
                                if (!(m->hdr[1] & 0x80)) {
                                        if (m->websocket) {
                                                m->state = SCAN_UNMASKED;
                                                /* 0 if the header began in
                                                 * an earlier read */
                                                return frame_start;
                                        }
                                        /* Not a frame after all, or an
                                         * unmasked one pipelined with an
                                         * upgrade: ws_mask_scan_upgraded()
                                         * tells which. */
                                        m->suspect = true;
                                        m->state = SCAN_HTTP;
                                        m->blank = 0;
                                        break;
                                }
                                m->need = header_length(m->hdr[1]);
                        }
                        if (m->have >= 2 && m->have == m->need) {
                                uint8_t n = m->hdr[1] & 0x7f;

                                m->payload = n;
                                if (n >= 126) {
                                        m->payload = 0;
                                        for (uint8_t k = 0; k < (n == 126 ? 2 : 8); k++)
                                                m->payload = m->payload << 8 | m->hdr[2 + k];
                                }
                                m->have = 0;
                                m->state = m->payload > 0 ? SCAN_PAYLOAD : SCAN_HEADER;
                        }
                        break;
                case SCAN_PAYLOAD: {
                        size_t take = len - i < m->payload ? len - i : (size_t) m->payload;

                        i += take;
                        m->payload -= take;
                        if (m->payload == 0)
                                m->state = SCAN_HEADER;
                        break;
                }
                default:
                        return 0;
                }
        }
        return len;
}

bool ws_mask_scan_upgraded(struct ws_mask_scan *m) {
        m->websocket = true;
        if (m->suspect) {
                m->state = SCAN_UNMASKED;
                return false;
        }
        /* The request's end was never seen (bare newlines): rather than
         * guess where frames start, and close a good client, look no
         * further. */
        if (m->state == SCAN_HTTP)
                m->state = SCAN_OFF;
        return true;
}

/* ---- the server's side ------------------------------------------------- */

struct tracked {
        struct lws *wsi; /* once upgraded */
        struct ws_mask_scan scan;
        bool in_use;
        bool violated;
};

/* Indexed by descriptor; one server per process. */
static struct tracked *table;
static unsigned table_size;

int ws_mask_init(unsigned max_fds) {
        table = calloc(max_fds, sizeof *table);
        if (!table)
                return -ENOMEM;
        table_size = max_fds;
        return 0;
}

void ws_mask_done(void) {
        free(table);
        table = NULL;
        table_size = 0;
}

static struct tracked *lookup(int fd) {
        return table && fd >= 0 && (unsigned) fd < table_size && table[fd].in_use ? &table[fd] : NULL;
}

void ws_mask_accepted(int fd) {
        if (!table || fd < 0 || (unsigned) fd >= table_size)
                return;
        table[fd] = (struct tracked){ .in_use = true };
        ws_mask_scan_init(&table[fd].scan);
}

bool ws_mask_upgraded(int fd, struct lws *wsi) {
        struct tracked *t = lookup(fd);

        if (!t)
                return true;
        t->wsi = wsi;
        if (!ws_mask_scan_upgraded(&t->scan))
                t->violated = true;
        return !t->violated;
}

bool ws_mask_violated(int fd) {
        struct tracked *t = lookup(fd);

        return t && t->violated;
}

void ws_mask_closed(int fd) {
        struct tracked *t = lookup(fd);

        if (t)
                *t = (struct tracked){ 0 };
}

/* libc's recv() (or a sanitizer's, which wraps it), found once. */
static ssize_t real_recv(int fd, void *buf, size_t len, int flags) {
        static ssize_t (*next)(int, void *, size_t, int);

        if (!next) {
                next = (ssize_t(*)(int, void *, size_t, int)) dlsym(RTLD_NEXT, "recv");
                if (!next) {
                        errno = ENOSYS;
                        return -1;
                }
        }
        return next(fd, buf, len, flags);
}

/* How many of the n bytes just read on t's connection lws may have: all,
 * or those before the first unmasked frame. From that frame on, nothing: the
 * close goes out from the writeable callback, where lws allows it. */
static size_t let_through(struct tracked *t, const void *buf, size_t n) {
        size_t ok;

        if (t->violated)
                return 0;
        ok = ws_mask_scan(&t->scan, buf, n);
        if (ok < n) {
                t->violated = true;
                if (t->wsi)
                        lws_callback_on_writable(t->wsi);
        }
        return ok;
}

/* OpenSSL's SSL_read(), found once. */
static int real_ssl_read(SSL *ssl, void *buf, int num) {
        static int (*next)(SSL *, void *, int);

        if (!next) {
                next = (int (*)(SSL *, void *, int)) dlsym(RTLD_NEXT, "SSL_read");
                if (!next)
                        return -1;
        }
        return next(ssl, buf, num);
}

/* Over TLS (docs/tls.md) lws reads with SSL_read(), not recv(): the same
 * scan, on the decrypted bytes. What follows an unmasked frame cannot be
 * held back as EAGAIN here (lws would read it as a broken connection), so
 * the connection ends, without the 1002 when the frame came first. */
int SSL_read(SSL *ssl, void *buf, int num) {
        struct tracked *t = lookup(SSL_get_fd(ssl));
        int n = real_ssl_read(ssl, buf, num);
        size_t ok;

        if (!t || n <= 0)
                return n;
        ok = let_through(t, buf, (size_t) n);
        return ok > 0 ? (int) ok : -1;
}

ssize_t recv(int fd, void *buf, size_t len, int flags) {
        struct tracked *t = lookup(fd);
        ssize_t n = real_recv(fd, buf, len, flags);
        size_t ok;

        if (!t || n <= 0 || (flags & MSG_PEEK))
                return n;
        ok = let_through(t, buf, (size_t) n);
        if (ok > 0)
                return (ssize_t) ok;
        errno = EAGAIN;
        return -1;
}
