/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <strings.h>

#include "secret.h"

bool secret_equal(const char *given, const char *expected) {
        size_t lg = strlen(given), le = strlen(expected);
        unsigned char diff = lg != le;

        for (size_t i = 0; i < le; i++)
                diff |= (unsigned char) (expected[i] ^ (i < lg ? given[i] : 0));
        return diff == 0;
}

bool bearer_matches(const char *header, const char *token) {
        return header && strncasecmp(header, "Bearer ", 7) == 0 && secret_equal(header + 7, token);
}
