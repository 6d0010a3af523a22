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
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CLIENTS 20000

int main(int argc, char **argv) {
        static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        static unsigned char frame[1 << 16];
        static int fds[MAX_CLIENTS];
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int ls, sfd, ep, one = 1, n = 0;
        size_t len, head;
        sigset_t mask;
        FILE *f;

        if (argc < 3 || !(f = fopen(argv[2], "r")))
                return 2;
        len = fread(frame + 4, 1, sizeof frame - 4, f);
        fclose(f);
        /* FIN + text, 16-bit length: the frames here are 126..65535 bytes */
        frame[0] = 0x81;
        frame[1] = 126;
        frame[2] = (unsigned char) (len >> 8);
        frame[3] = (unsigned char) len;
        head = 4;

        /* As many clients as the limit lets in; the bench raises it. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
        a.sin_port = htons((uint16_t) atoi(argv[1]));
        ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(ls, (struct sockaddr *) &a, sizeof a) < 0 || listen(ls, 4096) < 0)
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
                                size_t got = 0;
                                int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);

                                if (c < 0 || n == MAX_CLIENTS)
                                        continue;
                                req[0] = '\0';
                                while (got < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
                                        ssize_t r = read(c, req + got, sizeof req - 1 - got);
                                        if (r <= 0)
                                                break;
                                        got += (size_t) r;
                                        req[got] = '\0';
                                }
                                /* a port probe that sent nothing */
                                if (!strstr(req, "\r\n\r\n") || write(c, resp, sizeof resp - 1) < 0) {
                                        close(c);
                                        continue;
                                }
                                fds[n++] = c;
                        } else {
                                struct signalfd_siginfo si;

                                if (read(sfd, &si, sizeof si) != sizeof si)
                                        continue;
                                for (int j = 0; j < n; j++)
                                        if (write(fds[j], frame, head + len) < 0)
                                                continue;
                        }
                }
        }
}
