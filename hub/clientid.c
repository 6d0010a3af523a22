/* SPDX-License-Identifier: MIT */
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libwebsockets.h>

#include "clientid.h"
#include "digest.h"
#include "macro.h"
#include "secret.h"

bool client_username_valid(const char *username) {
        size_t len = strlen(username);
        bool letter = false;

        if (len == 0 || len > CLIENT_USERNAME_MAX)
                return false;
        for (const char *p = username; *p; p++) {
                if (isalpha((unsigned char) *p) && (unsigned char) *p < 0x80)
                        letter = true;
                else if (!(isdigit((unsigned char) *p) || *p == '_' || *p == '.' || *p == '-'))
                        return false;
        }
        return letter;
}

static char *b64(const char *in, size_t len) {
        /* lws wants room to spare beyond the encoded length and its NUL. */
        size_t size = (len + 2) / 3 * 4 + 8;
        char *out = malloc(size);

        if (!out || lws_b64_encode_string(in, (int) len, out, (int) size) < 0) {
                free(out);
                return NULL;
        }
        return out;
}

char *client_id_make(const char *username, const char *password) {
        _cleanup_free_ char *joined = NULL;
        int n = asprintf(&joined, "%s:%s", username, password);

        if (n < 0) {
                joined = NULL;
                return NULL;
        }
        return b64(joined, (size_t) n);
}

int client_id_parse(const char *header, char **ret_username, char **ret_password) {
        _cleanup_free_ char *decoded = NULL, *again = NULL;
        const char *id = header;
        size_t idlen;
        char *colon;
        int n;

        if (strncasecmp(id, "Basic ", 6) == 0)
                id += 6;
        while (*id == ' ')
                id++;
        idlen = strlen(id);
        while (idlen > 0 && id[idlen - 1] == ' ')
                idlen--;
        if (idlen == 0 || idlen > 4 * (CLIENT_USERNAME_MAX + CLIENT_PASSWORD_MAX + 4) / 3)
                return -EINVAL;
        decoded = malloc(idlen + 1);
        if (!decoded)
                return -ENOMEM;
        {
                _cleanup_free_ char *copy = strndup(id, idlen);

                if (!copy)
                        return -ENOMEM;
                n = lws_b64_decode_string(copy, decoded, (int) idlen + 1);
                if (n <= 0)
                        return -EINVAL;
                /* The decoder skips what it does not know: an id is only
                 * accepted if it is exactly what the hub hands out. */
                again = b64(decoded, (size_t) n);
                if (!again || !streq(again, copy))
                        return -EINVAL;
        }
        if (memchr(decoded, '\0', (size_t) n))
                return -EINVAL;
        decoded[n] = '\0';
        colon = strchr(decoded, ':');
        if (!colon)
                return -EINVAL;
        *colon = '\0';
        *ret_username = strdup(decoded);
        *ret_password = strdup(colon + 1);
        if (!*ret_username || !*ret_password) {
                free(*ret_username);
                free(*ret_password);
                return -ENOMEM;
        }
        return 0;
}

/* ---- the cache ---------------------------------------------------------- */

struct cache_slot {
        uint8_t key[SHA256_LEN]; /* of "<username>:<password>" */
        char username[CLIENT_USERNAME_MAX + 1];
        bool used;
};

struct client_cache {
        size_t n;
        struct cache_slot slots[];
};

static void cache_key(const char *username, const char *password, uint8_t key[static SHA256_LEN]) {
        size_t lu = strlen(username), lp = strlen(password);
        _cleanup_free_ char *joined = malloc(lu + lp + 2);

        if (!joined) {
                memset(key, 0, SHA256_LEN);
                return;
        }
        memcpy(joined, username, lu);
        joined[lu] = ':';
        memcpy(joined + lu + 1, password, lp + 1);
        sha256(joined, lu + lp + 1, key);
}

static struct cache_slot *slot_for(const struct client_cache *c, const uint8_t key[static SHA256_LEN]) {
        uint64_t h;

        memcpy(&h, key, sizeof h);
        return (struct cache_slot *) &c->slots[h % c->n];
}

int client_cache_new(size_t slots, struct client_cache **ret) {
        struct client_cache *c = calloc(1, sizeof *c + slots * sizeof c->slots[0]);

        if (!c)
                return -ENOMEM;
        c->n = slots;
        *ret = c;
        return 0;
}

void client_cache_free(struct client_cache *c) {
        free(c);
}

bool client_cache_check(const struct client_cache *c, const char *username, const char *password) {
        uint8_t key[SHA256_LEN];
        const struct cache_slot *s;

        cache_key(username, password, key);
        s = slot_for(c, key);
        return s->used && memcmp(s->key, key, sizeof key) == 0 && streq(s->username, username);
}

void client_cache_put(struct client_cache *c, const char *username, const char *password) {
        uint8_t key[SHA256_LEN];
        struct cache_slot *s;

        if (strlen(username) > CLIENT_USERNAME_MAX)
                return;
        cache_key(username, password, key);
        s = slot_for(c, key);
        memcpy(s->key, key, sizeof key);
        strcpy(s->username, username);
        s->used = true;
}

void client_cache_forget(struct client_cache *c, const char *username) {
        for (size_t i = 0; i < c->n; i++)
                if (c->slots[i].used && streq(c->slots[i].username, username))
                        c->slots[i].used = false;
}

/* ---- password hashes ---------------------------------------------------- */

int client_password_hash(const char *password, void **data, int *size, char **ret) {
        _cleanup_free_ char *salt = crypt_gensalt_ra("$y$", 0, NULL, 0);
        const char *h;

        if (!salt)
                return errno > 0 ? -errno : -EIO;
        h = crypt_ra(password, salt, data, size);
        if (!h || h[0] == '*')
                return -EIO;
        *ret = strdup(h);
        return *ret ? 0 : -ENOMEM;
}

int client_password_verify(const char *password, const char *hash, void **data, int *size) {
        const char *h = crypt_ra(password, hash, data, size);

        if (!h || h[0] == '*')
                return -EIO;
        return secret_equal(h, hash) ? 0 : -EACCES;
}
