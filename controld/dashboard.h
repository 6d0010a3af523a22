/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

/* The dashboard controld serves at / (docs/control-api.md#dashboard): a
 * fixed table of files, so that no URL can name anything else on the disk. */

bool dashboard_serves(const char *url);

/* Queue url's file, or 304 when the client's copy is current. 0 when queued;
 * -ENOENT when the file is missing (a sentence for the operator in
 * missing); -EINVAL for a url dashboard_serves() refuses; another negative
 * errno when nothing could be queued. */
int dashboard_send(struct MHD_Connection *connection, const char *url, char *missing, size_t size);
