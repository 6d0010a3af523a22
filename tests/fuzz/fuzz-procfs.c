/* SPDX-License-Identifier: MIT */
/* The /proc parsers (shared/procfs.c, and the /proc/net/route one of
 * shared/nodeid.c). The first byte picks the parser, the rest is the file.
 * A kernel writes these files, but a container runtime, a FUSE /proc or a
 * kernel newer than ours can put anything in them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nodeid.h"
#include "procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each call of a walker must move the cursor on, or stop. */
#define WALK(next, cursor, item)                                   \
        for (;;) {                                                 \
                const void *before = (cursor);                     \
                int _r = next(&(cursor), &(item));                 \
                if (_r == 0)                                       \
                        break;                                     \
                if ((const void *) (cursor) == before)             \
                        abort();                                   \
        }

static void check_str(const char *s, const char *buf, size_t size) {
        /* A mountinfo field points into the buffer, which it splits. */
        if (s < buf || s > buf + size || strlen(s) > size)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *buf;
        size_t len;

        if (size == 0)
                return 0;
        len = size - 1;
        buf = malloc(len + 1);
        if (!buf)
                return 0;
        memcpy(buf, data + 1, len);
        buf[len] = '\0';

        switch (data[0] % 12) {
        case 0: {
                const char *cur = buf;
                struct stat_cpu cpu;
                WALK(procfs_stat_next_cpu, cur, cpu);
                break;
        }
        case 1: {
                struct meminfo m;
                if (procfs_parse_meminfo(buf, &m) == 0 && m.available > m.total)
                        abort();
                break;
        }
        case 2: {
                struct loadavg l;
                (void) procfs_parse_loadavg(buf, &l);
                break;
        }
        case 3: {
                const char *cur = buf;
                struct diskstat d;
                for (;;) {
                        const char *before = cur;
                        int r = procfs_diskstats_next(&cur, &d);
                        if (r == 0)
                                break;
                        if (cur == before || (r > 0 && strnlen(d.name, sizeof d.name) == sizeof d.name))
                                abort();
                }
                break;
        }
        case 4: {
                const char *cur = buf;
                struct netdev n;
                for (;;) {
                        const char *before = cur;
                        int r = procfs_netdev_next(&cur, &n);
                        if (r == 0)
                                break;
                        if (cur == before || (r > 0 && strnlen(n.name, sizeof n.name) == sizeof n.name))
                                abort();
                }
                break;
        }
        case 5: {
                int64_t v;
                (void) procfs_parse_snmp(buf, "Tcp", "CurrEstab", &v);
                (void) procfs_parse_snmp(buf, "Ip", "Forwarding", &v);
                break;
        }
        case 6: {
                char *cur = buf;
                struct mountinfo m;
                for (;;) {
                        char *before = cur;
                        int r = procfs_mountinfo_next(&cur, &m);
                        if (r == 0)
                                break;
                        if (cur == before)
                                abort();
                        if (r > 0) {
                                check_str(m.root, buf, len);
                                check_str(m.mount_point, buf, len);
                                check_str(m.options, buf, len);
                                check_str(m.fstype, buf, len);
                                check_str(m.source, buf, len);
                                check_str(m.super_options, buf, len);
                        }
                }
                break;
        }
        case 7:
                (void) procfs_fs_requires_device(buf, "ext4");
                (void) procfs_fs_requires_device(buf, "fuse.sshfs");
                break;
        case 8: {
                struct statm s;
                (void) procfs_parse_statm(buf, &s);
                break;
        }
        case 9: {
                char comm[PROCFS_COMM_MAX];
                /* comm is read with its length, and may hold NUL bytes. */
                procfs_parse_comm((const char *) data + 1, len, comm);
                if (strnlen(comm, sizeof comm) == sizeof comm)
                        abort();
                break;
        }
        case 10: {
                double mhz;
                (void) procfs_parse_cpuinfo_mhz(buf, &mhz);
                break;
        }
        case 11: {
                char ifname[IF_NAMESIZE];
                if (route_default_interface(buf, ifname) == 0 && strnlen(ifname, sizeof ifname) == sizeof ifname)
                        abort();
                break;
        }
        }
        free(buf);
        return 0;
}
