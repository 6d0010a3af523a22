/* SPDX-License-Identifier: MIT */
/* The floor for bench/telemetry-broadcast.py: no WebSocket library, just
 * accept, answer any handshake with a canned 101, and on SIGUSR1 write()
 * one ready-made text frame to every socket. No server can do less.
 * Usage: telemetry-broadcast-floor PORT FRAME_FILE */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "floor.h"

#define MAX_CLIENTS 20000

int main(int argc, char **argv) {
        static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        static unsigned char frame[1 << 16];
        static int fds[MAX_CLIENTS];
        int ls, sfd, ep, n = 0;
        sigset_t mask;
        size_t len;

        if (argc < 3 || !(len = floor_frame(argv[2], frame, sizeof frame)))
                return 2;
        /* As many clients as the limit lets in; the bench raises it. */
        floor_raise_fd_limit();
        if ((ls = floor_listen(argv[1], 4096)) < 0)
                return 1;
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&mask);
        sigaddset(&mask, SIGUSR1);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        ep = epoll_create1(EPOLL_CLOEXEC);
        epoll_ctl(ep, EPOLL_CTL_ADD, ls, &(struct epoll_event){ .events = EPOLLIN, .data.fd = ls });
        epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &(struct epoll_event){ .events = EPOLLIN, .data.fd = sfd });
        for (;;) {
                struct epoll_event ev[64];
                int k = epoll_wait(ep, ev, 64, -1);

                for (int i = 0; i < k; i++) {
                        if (ev[i].data.fd == ls) {
                                char req[4096];
                                int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);

                                if (c < 0 || n == MAX_CLIENTS)
                                        continue;
                                if (!floor_request(c, req, sizeof req) || write(c, resp, sizeof resp - 1) < 0) {
                                        close(c);
                                        continue;
                                }
                                fds[n++] = c;
                        } else {
                                struct signalfd_siginfo si;

                                if (read(sfd, &si, sizeof si) != sizeof si)
                                        continue;
                                for (int j = 0; j < n; j++)
                                        if (write(fds[j], frame, len) < 0)
                                                continue;
                        }
                }
        }
}
