/* SPDX-License-Identifier: MIT */
#pragma once

#include <microhttpd.h>

/* The control API's routes, as libmicrohttpd callbacks (cls is the manager):
 * POST /control, GET /status, GET /health, each also under /api/. */
enum MHD_Result api_handle(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls);

void api_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                   enum MHD_RequestTerminationCode toe);
