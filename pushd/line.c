/* SPDX-License-Identifier: MIT */
#include "jsonutil.h"
#include "macro.h"
#include "pushd.h"
#include "sample-json.h"
#include "sysmon.h"

/* One sample as the hub takes it: the telemetry stream's sample plus the
 * spool's stream and seq (docs/fleet.md, "Native protocol"); or the
 * send_stats body of the System Monitor protocol. */
char *pushd_format_sample(const struct pushd *p, const struct sample *s, uint64_t seq, const char *stream) {
        cJSON *j;
        char *text;

        if (p->sysmon) {
                struct sysmon_addr addrs[64];
                char names[64][64];
                size_t n = sysmon_addresses(addrs, names, ELEMENTSOF(addrs));
                j = sysmon_send_stats(s, p->system_id, p->urls[p->url_i], p->conf.push.interval, addrs, n);
        } else {
                j = sample_to_json(s, p->node_id, p->conf.push.interval, NULL);
                if (j && (!cJSON_ReplaceItemInObjectCaseSensitive(j, "seq", cJSON_CreateNumber((double) seq)) ||
                          !cJSON_AddStringToObject(j, "stream", stream))) {
                        cJSON_Delete(j);
                        j = NULL;
                }
        }
        if (!j)
                return NULL;
        text = json_print(j);
        cJSON_Delete(j);
        return text;
}
