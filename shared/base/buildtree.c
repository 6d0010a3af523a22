/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "buildtree.h"
#include "fileio.h"
#include "macro.h"

int build_tree_lookup(const char *key, char *buf, size_t size) {
        char exe[PATH_MAX], path[PATH_MAX + 32], text[4096], *slash, *line, *save = NULL;
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        size_t klen = strlen(key);

        if (n <= 0)
                return -ENOENT;
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (!slash)
                return -ENOENT;
        *slash = '\0';
        snprintf(path, sizeof path, "%s/build-tree.conf", exe);
        n = read_file(path, text, sizeof text);
        if (n < 0)
                return (int) n;
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                if (strneq(line, key, klen) && line[klen] == '=') {
                        if ((size_t) snprintf(buf, size, "%s", line + klen + 1) >= size)
                                return -ENAMETOOLONG;
                        return 0;
                }
        return -ENOENT;
}
