/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include <cjson/cJSON.h>

#include "sample.h"

/* The System Monitor agent protocol (docs/fleet.md, "System Monitor
 * protocol"): the bodies pushd posts with protocol = system-monitor. */

/* An interface's IPv4 address and netmask, as the body names them. */
struct sysmon_addr {
        const char *ifname;
        char ip[16], netmask[16];
};

/* {"action": action, "system_id", "url", "interval", "epoch"}: what every
 * action carries. */
cJSON *sysmon_envelope(const char *action, const char *system_id, const char *url, unsigned interval,
                       uint64_t epoch);

/* The send_stats body for sample s. addrs (n of them) give the interfaces'
 * addresses; an interface without one gets "". Pure. */
cJSON *sysmon_send_stats(const struct sample *s, const char *system_id, const char *url, unsigned interval,
                         const struct sysmon_addr *addrs, size_t n);

/* Fill up to max addresses of this machine's interfaces (getifaddrs).
 * Returns how many. */
size_t sysmon_addresses(struct sysmon_addr *ret, char (*names)[64], size_t max);
