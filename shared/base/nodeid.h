/* SPDX-License-Identifier: MIT */
#pragma once

#include <net/if.h>
#include <stddef.h>

/* Pure: the interface of the default IPv4 route with the lowest metric in a
 * /proc/net/route buffer. -ENOENT when there is none. */
int route_default_interface(const char *proc_net_route, char ifname[static IF_NAMESIZE]);

/* Resolve the [node] id setting: anything but "auto" is used as is; "auto"
 * is the primary IPv4 address of the default route's interface, else the
 * hostname. Never fails: the worst case is the hostname. */
void node_id_resolve(const char *setting, char *buf, size_t size);
