/* SPDX-License-Identifier: MIT */
/* Fill a pushd spool with COUNT samples stamped one second apart and ending
 * now, as pushd would have spooled them at interval 1 while its hub was
 * unreachable: the tests and the catch-up benchmark start from an hour-long
 * outage without waiting an hour. Uses pushd's own spool and sample code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "nodeid.h"
#include "pushd.h"
#include "timeutil.h"

int main(int argc, char **argv) {
        static struct pushd p;
        _cleanup_sampler_ struct sampler *sampler = NULL;
        _cleanup_spool_ struct spool *spool = NULL;
        const struct sample *taken;
        struct sample s;
        struct spool_figures f;
        unsigned long count;
        uint64_t now;
        int r;

        log_open("spool-fill", NULL);
        if (argc != 5) {
                fprintf(stderr, "usage: %s SPOOL_DIR SPOOL_MAX_MB COUNT NODE_ID\n", argv[0]);
                return 2;
        }
        count = strtoul(argv[3], NULL, 10);
        snprintf(p.node_id, sizeof p.node_id, "%s", argv[4]);
        p.conf.push.interval = 1;
        r = sampler_new(NULL, &sampler);
        if (r >= 0)
                r = sampler_prime(sampler);
        if (r >= 0)
                r = sampler_take(sampler, &taken);
        if (r < 0)
                return log_error_errno(r, "Cannot sample: %m"), 1;
        r = spool_open(argv[1], strtoull(argv[2], NULL, 10) * 1024 * 1024, &spool);
        if (r < 0)
                return 1;
        s = *taken;
        now = now_usec(CLOCK_REALTIME);
        for (unsigned long i = 0; i < count; i++) {
                _cleanup_free_ char *line = NULL;

                s.realtime_usec = now - (uint64_t) (count - i) * USEC_PER_SEC;
                spool_get_figures(spool, &f);
                line = pushd_format_sample(&p, &s, spool_next_seq(spool), f.stream);
                if (!line || spool_append(spool, line, strlen(line)) < 0)
                        return 1;
        }
        spool_get_figures(spool, &f);
        printf("next_seq=%llu dropped=%llu pending=%llu bytes=%llu\n", (unsigned long long) f.next_seq,
               (unsigned long long) f.dropped, (unsigned long long) f.pending, (unsigned long long) f.bytes);
        return 0;
}
