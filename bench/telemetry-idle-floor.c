/* SPDX-License-Identifier: MIT */
/* The floor for bench/telemetry-idle.py: what an idle tick cannot do
 * without, and nothing else. Once a second it reads the same kernel files
 * telemetryd reads on a tick, through descriptors kept open (the machine's
 * /proc files, every process's statm, the stat of the five largest, and
 * their /proc directory for the owner), takes statfs() of the same mounts,
 * and write()s one ready-made frame of the same size to every client
 * (floor.h). It parses nothing, builds no JSON and links no WebSocket
 * library: its processes are the ones there at its start, ranked once. No
 * telemetry server can do less a tick.
 * Usage: telemetry-idle-floor PORT FRAME_FILE [MOUNT...] */
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "floor.h"

#define MAX_CLIENTS 64
#define MAX_PROCS 4096

/* The handshake a real client checks: the key's SHA-1 with the GUID. */
static int answer(int c, const char *req) {
        static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
        const char *k = strcasestr(req, "\r\nSec-WebSocket-Key:");
        unsigned char md[EVP_MAX_MD_SIZE], in[128];
        char accept[64], resp[256];
        unsigned md_len = 0;
        size_t key_len;
        int n;

        if (!k)
                return -1;
        k += strlen("\r\nSec-WebSocket-Key:");
        k += strspn(k, " ");
        key_len = strcspn(k, " \r\n");
        if (key_len + sizeof guid > sizeof in)
                return -1;
        memcpy(in, k, key_len);
        memcpy(in + key_len, guid, sizeof guid - 1);
        if (!EVP_Digest(in, key_len + sizeof guid - 1, md, &md_len, EVP_sha1(), NULL))
                return -1;
        EVP_EncodeBlock((unsigned char *) accept, md, (int) md_len);
        n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
        return write(c, resp, (size_t) n) == n ? 0 : -1;
}

int main(int argc, char **argv) {
        static unsigned char frame[1 << 16];
        static struct floor_proc procs[MAX_PROCS];
        struct itimerspec every_second = { .it_interval.tv_sec = 1, .it_value.tv_sec = 1 };
        int fds[MAX_CLIENTS], ls, tfd, ep, n_clients = 0;
        struct floor_reads reads;
        char buf[16384];
        size_t len;

        if (argc < 3 || !(len = floor_frame(argv[2], frame, sizeof frame)))
                return 2;
        if (floor_reads_open(&reads, procs, MAX_PROCS, argv + 3, (size_t) (argc - 3)) < 0)
                return 1;

        if ((ls = floor_listen(argv[1], 64)) < 0)
                return 1;
        signal(SIGPIPE, SIG_IGN);
        tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
        timerfd_settime(tfd, 0, &every_second, NULL);
        ep = epoll_create1(EPOLL_CLOEXEC);
        epoll_ctl(ep, EPOLL_CTL_ADD, ls, &(struct epoll_event){ .events = EPOLLIN, .data.fd = ls });
        epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &(struct epoll_event){ .events = EPOLLIN, .data.fd = tfd });
        for (;;) {
                struct epoll_event ev[8];
                int k = epoll_wait(ep, ev, 8, -1);

                for (int i = 0; i < k; i++) {
                        if (ev[i].data.fd == ls) {
                                int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);

                                if (c < 0)
                                        continue;
                                if (n_clients == MAX_CLIENTS || !floor_request(c, buf, sizeof buf) || answer(c, buf) < 0) {
                                        close(c);
                                        continue;
                                }
                                fds[n_clients++] = c;
                                epoll_ctl(ep, EPOLL_CTL_ADD, c, &(struct epoll_event){ .events = EPOLLIN, .data.fd = c });
                        } else if (ev[i].data.fd == tfd) {
                                uint64_t expirations;

                                if (read(tfd, &expirations, sizeof expirations) != sizeof expirations)
                                        continue;
                                floor_reads_take(&reads);
                                for (int j = 0; j < n_clients; j++)
                                        (void) !write(fds[j], frame, len);
                        } else {
                                /* The clients send nothing but their close: answer
                                 * it and go, so that they need not wait for it. */
                                static const unsigned char close_frame[] = { 0x88, 0x00 };
                                int c = ev[i].data.fd;

                                (void) !write(c, close_frame, sizeof close_frame);
                                close(c);
                                for (int j = 0; j < n_clients; j++)
                                        if (fds[j] == c)
                                                fds[j] = fds[--n_clients];
                        }
                }
        }
}
