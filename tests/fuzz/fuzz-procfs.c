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

/* Walk every entry: each call must move the cursor on (or stop), and each
 * entry it hands out must satisfy ok. */
#define WALK(next, cursor, item, ok)                               \
        for (;;) {                                                 \
                const void *_before = (cursor);                    \
                int _r = next(&(cursor), &(item));                 \
                if (_r == 0)                                       \
                        break;                                     \
                if ((const void *) (cursor) == _before || (_r > 0 && !(ok))) \
                        abort();                                   \
        }

/* A mountinfo field points into the buffer, which it splits. */
static bool in_buffer(const char *s, const char *buf, size_t size) {
        return s >= buf && s <= buf + size && strlen(s) <= size;
}

static bool mount_ok(const struct mountinfo *m, const char *buf, size_t size) {
        return in_buffer(m->root, buf, size) && in_buffer(m->mount_point, buf, size) &&
               in_buffer(m->options, buf, size) && in_buffer(m->fstype, buf, size) &&
               in_buffer(m->source, buf, size) && in_buffer(m->super_options, buf, size);
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
                WALK(procfs_stat_next_cpu, cur, cpu, true);
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
                WALK(procfs_diskstats_next, cur, d, strnlen(d.name, sizeof d.name) < sizeof d.name);
                break;
        }
        case 4: {
                const char *cur = buf;
                struct netdev n;
                WALK(procfs_netdev_next, cur, n, strnlen(n.name, sizeof n.name) < sizeof n.name);
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
                WALK(procfs_mountinfo_next, cur, m, mount_ok(&m, buf, len));
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
                struct pid_stat st;
                if (procfs_parse_pid_stat(buf, &st) == 0 && strnlen(st.comm, sizeof st.comm) == sizeof st.comm)
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
