/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Flask client ids (docs/fleet.md, "Flask system-monitor API"): a client registers a
 * username and password and is handed base64("<username>:<password>"),
 * which it then presents on every request. The hub keeps only a slow salted
 * hash of the password, so that a stolen database gives no credentials
 * away, and remembers which ids it has verified so that ingest costs no
 * hashing. */

#define CLIENT_USERNAME_MAX 64
#define CLIENT_PASSWORD_MAX 1024

/* 1..64 of [A-Za-z0-9_.-] with at least one letter. */
bool client_username_valid(const char *username);

/* base64("<username>:<password>"), malloc'd. */
char *client_id_make(const char *username, const char *password);

/* The value of an Authorization header: "<client_id>" or "Basic <client_id>".
 * Splits the decoded id at its first ':' into username and password
 * (malloc'd). -EINVAL when it is not a client id. */
int client_id_parse(const char *header, char **ret_username, char **ret_password);

/* The verified ids: a fixed number of slots, so a flood of ids costs no
 * memory; an id that loses its slot is simply verified again. Only a hash
 * of each id is kept. */
struct client_cache;

int client_cache_new(size_t slots, struct client_cache **ret);
void client_cache_free(struct client_cache *c);
bool client_cache_check(const struct client_cache *c, const char *username, const char *password);
void client_cache_put(struct client_cache *c, const char *username, const char *password);
/* Forget every id of username (its node was deleted). */
void client_cache_forget(struct client_cache *c, const char *username);

/* crypt(5) with yescrypt: a new hash of password (malloc'd), and whether
 * password matches hash (in time that does not depend on where they
 * differ). Slow on purpose: run them off the event loop. data and size are
 * the caller's reusable libcrypt work area (start with NULL and 0; free()
 * data at the end). */
int client_password_hash(const char *password, void **data, int *size, char **ret);
int client_password_verify(const char *password, const char *hash, void **data, int *size);
