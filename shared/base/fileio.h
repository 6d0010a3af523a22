/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Read a whole (small, /proc-like) file into buf, NUL-terminated. Returns the
 * length, or a negative errno; -EFBIG if it does not fit. */
ssize_t read_file(const char *path, char *buf, size_t size);

/* Replace path with data so that a reader (or a crash) sees either the old
 * or the new content, never a mix: write a temporary, fsync, rename. */
int write_file_atomic(const char *path, const void *data, size_t len);

/* mkdir -p with the given mode for every created component. */
int mkdir_parents(const char *path, mode_t mode);

/* Each part of a program that holds many descriptors (a server's clients)
 * reserves them here: the soft RLIMIT_NOFILE becomes the sum of every
 * reservation, never lowered and never past the hard limit. Returns the
 * limit now in force, which may be less than asked for. */
unsigned long fd_limit_reserve(unsigned n);
