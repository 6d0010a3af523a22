/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "digest.h"

void sha256(const void *data, size_t len, uint8_t out[static SHA256_LEN]) {
        unsigned n = SHA256_LEN;

        (void) EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

static void to_hex(const uint8_t *b, size_t n, char *out) {
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[b[i] >> 4];
                out[2 * i + 1] = digits[b[i] & 0xf];
        }
        out[2 * n] = '\0';
}

void sha256_hex(const void *data, size_t len, char out[static SHA256_HEX_LEN + 1]) {
        uint8_t md[SHA256_LEN];

        sha256(data, len, md);
        to_hex(md, sizeof md, out);
}

int random_hex(size_t n, char *out) {
        uint8_t buf[64];

        if (n > sizeof buf)
                return -EINVAL;
        for (size_t got = 0; got < n;) {
                ssize_t r = getrandom(buf + got, n - got, 0);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                got += (size_t) r;
        }
        to_hex(buf, n, out);
        return 0;
}
