/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "jsonutil.h"
#include "sample-json.h"
#include "sample.h"

/* cpu, memory, processes, disks, network: this machine, now, with no daemon.
 * The sampler is telemetryd's, so the figures (and the JSON with --json) are
 * the very ones the stream would carry. */

/* Rates and CPU percents need two readings; this is long enough for the
 * kernel's counters (USER_HZ = 100) to say something, short enough not to
 * keep a person waiting. */
#define WINDOW_NSEC (200 * 1000 * 1000L)

int ctl_cmd_local(struct ctl *c, enum ctl_section section) {
        _cleanup_sampler_ struct sampler *s = NULL;
        _cleanup_json_ cJSON *json = NULL;
        const struct sample *sample;
        const cJSON *metrics;
        struct timespec window = { .tv_nsec = WINDOW_NSEC };
        int r;

        r = sampler_new(NULL, &s);
        if (r < 0) {
                ctl_error("cannot open /proc: %s", strerror(-r));
                return r;
        }
        r = sampler_prime(s);
        if (r >= 0) {
                while (nanosleep(&window, &window) < 0 && errno == EINTR)
                        ;
                r = sampler_take(s, &sample);
        }
        if (r < 0) {
                ctl_error("cannot take a sample: %s", strerror(-r));
                return r;
        }
        json = sample_to_json(sample, "", 0, NULL);
        metrics = cJSON_GetObjectItemCaseSensitive(json, "metrics");
        if (!metrics) {
                ctl_error("out of memory");
                return -ENOMEM;
        }

        if (c->json) {
                _cleanup_free_ char *text = json_print(
                        cJSON_GetObjectItemCaseSensitive(metrics, ctl_section_key(section)));

                if (!text) {
                        ctl_error("out of memory");
                        return -ENOMEM;
                }
                puts(text);
        } else
                ctl_render_section(stdout, metrics, section, &(struct ctl_render){ .color = c->color });
        return fflush(stdout) == 0 ? 0 : -EPIPE;
}
