/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Read a whole (small, /proc-like) file into buf, NUL-terminated. Returns the
 * length, or a negative errno; -EFBIG if it does not fit, -ELOOP if path is a
 * symlink: a state file is ours, and a link planted in its place must not
 * make us read another. */
ssize_t read_file(const char *path, char *buf, size_t size);

/* Create path for writing as a new file of our own: O_EXCL, never through a
 * symlink. Whatever is at that name already (a temporary left by a crash, or
 * a planted link) is removed first. Returns the descriptor. */
int create_file_new(const char *path, mode_t mode);

/* Replace path with data so that a reader (or a crash) sees either the old
 * or the new content, never a mix: write a temporary (create_file_new()),
 * fsync, rename. The rename replaces a symlink at path, never follows it. */
int write_file_atomic(const char *path, const void *data, size_t len);
/* The same with the file's mode chosen (0600 for a secret). */
int write_file_atomic_mode(const char *path, const void *data, size_t len, mode_t mode);

/* mkdir -p with the given mode for every created component. */
int mkdir_parents(const char *path, mode_t mode);

/* Each part of a program that holds many descriptors (a server's clients)
 * reserves them here: the soft RLIMIT_NOFILE becomes the sum of every
 * reservation, never lowered and never past the hard limit. Returns the
 * limit now in force, which may be less than asked for. */
unsigned long fd_limit_reserve(unsigned n);
