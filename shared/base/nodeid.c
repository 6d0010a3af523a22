/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#include "fileio.h"
#include "macro.h"
#include "nodeid.h"

#define RTF_UP_FLAG 0x0001

int route_default_interface(const char *text, char ifname[static IF_NAMESIZE]) {
        unsigned long best_metric = ULONG_MAX;
        const char *line = strchr(text, '\n'); /* skip the header */
        bool found = false;

        while (line && *++line) {
                char iface[IF_NAMESIZE + 1];
                unsigned long dest, gw, flags, refcnt, use, metric, mask;

                if (sscanf(line, "%16s %lx %lx %lx %lu %lu %lu %lx", iface, &dest, &gw, &flags, &refcnt, &use,
                           &metric, &mask) == 8 &&
                    dest == 0 && mask == 0 && (flags & RTF_UP_FLAG) && metric < best_metric &&
                    strlen(iface) < IF_NAMESIZE) {
                        best_metric = metric;
                        memcpy(ifname, iface, strlen(iface) + 1);
                        found = true;
                }
                line = strchr(line, '\n');
        }
        return found ? 0 : -ENOENT;
}

static int interface_ipv4(const char *ifname, char *buf, size_t size) {
        struct ifaddrs *list, *i;
        int r = -ENOENT;

        if (getifaddrs(&list) < 0)
                return negative_errno();
        for (i = list; i; i = i->ifa_next) {
                if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !streq(i->ifa_name, ifname))
                        continue;
                if (inet_ntop(AF_INET, &((struct sockaddr_in *) (void *) i->ifa_addr)->sin_addr, buf,
                              (socklen_t) size))
                        r = 0;
                break;
        }
        freeifaddrs(list);
        return r;
}

void node_id_resolve(const char *setting, char *buf, size_t size) {
        char routes[16384], ifname[IF_NAMESIZE];

        if (!streq(setting, "auto")) {
                snprintf(buf, size, "%s", setting);
                return;
        }
        if (read_file("/proc/net/route", routes, sizeof routes) >= 0 &&
            route_default_interface(routes, ifname) >= 0 && interface_ipv4(ifname, buf, size) >= 0)
                return;
        if (gethostname(buf, size) < 0 || buf[0] == '\0')
                snprintf(buf, size, "localhost");
        buf[size - 1] = '\0';
}
