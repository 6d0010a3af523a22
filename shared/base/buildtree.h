/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* Run from a build tree, a program uses its siblings and data files there
 * rather than where they would be installed. The build writes
 * build-tree.conf ("key=value" lines) beside each program that needs it and
 * never installs it, so no build path is compiled into a binary: installed,
 * there is no such file and the lookup says -ENOENT. */
int build_tree_lookup(const char *key, char *buf, size_t size);
