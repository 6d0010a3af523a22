/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "log.h"
#include "store-backend.h"

int store_open_pg(const char *url, unsigned max_version, struct store **ret) {
        return log_error_errno(EOPNOTSUPP, "PostgreSQL is not built in yet.");
}
