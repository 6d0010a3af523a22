/* SPDX-License-Identifier: MIT */
/* What the floors (bench/telemetry-*-floor.c) share: a ready-made frame,
 * a listening socket on loopback and a client's request read whole. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The file at path as one text frame (FIN + text, 16-bit length: the
 * frames here are 126..65535 bytes) at the start of frame: its whole
 * length, or 0. */
static inline size_t floor_frame(const char *path, unsigned char *frame, size_t size) {
        FILE *f = fopen(path, "r");
        size_t len;

        if (!f)
                return 0;
        len = fread(frame + 4, 1, size - 4 < 65535 ? size - 4 : 65535, f);
        fclose(f);
        frame[0] = 0x81;
        frame[1] = 126;
        frame[2] = (unsigned char) (len >> 8);
        frame[3] = (unsigned char) len;
        return len + 4;
}

/* A socket listening on 127.0.0.1:port, or -1. */
static inline int floor_listen(const char *port, int backlog) {
        struct sockaddr_in a = {
                .sin_family = AF_INET,
                .sin_port = htons((uint16_t) atoi(port)),
                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
        };
        int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

        if (ls < 0)
                return -1;
        setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(ls, (struct sockaddr *) &a, sizeof a) < 0 || listen(ls, backlog) < 0) {
                close(ls);
                return -1;
        }
        return ls;
}

/* Client c's request up to its blank line, NUL-terminated in buf: false
 * when it closed before (a port probe that sent nothing). */
static inline bool floor_request(int c, char *buf, size_t size) {
        size_t got = 0;

        buf[0] = '\0';
        while (got < size - 1 && !strstr(buf, "\r\n\r\n")) {
                ssize_t r = read(c, buf + got, size - 1 - got);
                if (r <= 0)
                        break;
                got += (size_t) r;
                buf[got] = '\0';
        }
        return strstr(buf, "\r\n\r\n") != NULL;
}
