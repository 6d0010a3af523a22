/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <string.h>

#include "utf8.h"

#define ASCII_MASK UINT64_C(0x8080808080808080)

/* Length of the well-formed sequence at p (Unicode Table 3-7), or minus the
 * length of its maximal ill-formed subpart, which becomes one U+FFFD. */
static int utf8_sequence(const unsigned char *p, const unsigned char *end) {
        unsigned char lo = 0x80, hi = 0xBF;
        int need;

        if (p[0] < 0x80)
                return 1;
        if (p[0] < 0xC2)
                return -1;
        if (p[0] < 0xE0)
                need = 2;
        else if (p[0] < 0xF0) {
                need = 3;
                if (p[0] == 0xE0)
                        lo = 0xA0; /* overlong */
                else if (p[0] == 0xED)
                        hi = 0x9F; /* surrogates */
        } else if (p[0] < 0xF5) {
                need = 4;
                if (p[0] == 0xF0)
                        lo = 0x90; /* overlong */
                else if (p[0] == 0xF4)
                        hi = 0x8F; /* beyond U+10FFFF */
        } else
                return -1;

        for (int i = 1; i < need; i++) {
                if (p + i >= end || p[i] < lo || p[i] > hi)
                        return -i;
                lo = 0x80;
                hi = 0xBF;
        }
        return need;
}

/* Bytes from s that are plain ASCII, eight at a time while that lasts. */
static size_t ascii_run(const unsigned char *s, size_t len) {
        size_t i = 0;

        for (; i + 8 <= len; i += 8) {
                uint64_t w;

                memcpy(&w, s + i, 8);
                if (w & ASCII_MASK)
                        break;
        }
        while (i < len && s[i] < 0x80)
                i++;
        return i;
}

bool utf8_valid(const char *str, size_t len) {
        const unsigned char *s = (const unsigned char *) str, *end = s + len;

        while (s < end) {
                int n;

                s += ascii_run(s, (size_t) (end - s));
                if (s == end)
                        break;
                n = utf8_sequence(s, end);
                if (n < 0)
                        return false;
                s += n;
        }
        return true;
}

size_t utf8_repair(const char *in, size_t len, char *out) {
        const unsigned char *s = (const unsigned char *) in, *end = s + len;
        char *o = out;

        while (s < end) {
                size_t run = ascii_run(s, (size_t) (end - s));
                int n;

                memcpy(o, s, run);
                o += run;
                s += run;
                if (s == end)
                        break;
                n = utf8_sequence(s, end);
                if (n > 0) {
                        memcpy(o, s, (size_t) n);
                        o += n;
                        s += n;
                } else {
                        memcpy(o, "\xEF\xBF\xBD", 3);
                        o += 3;
                        s += -n;
                }
        }
        return (size_t) (o - out);
}

const char *utf8_repair_str(const char *s, char *buf, size_t size) {
        const unsigned char *p = (const unsigned char *) s, *end = p + strlen(s);
        size_t w = 0;

        if (utf8_valid(s, (size_t) (end - p)))
                return s;
        while (p < end) {
                int n = utf8_sequence(p, end);
                const void *chunk = n > 0 ? (const void *) p : "\xEF\xBF\xBD";
                size_t len = n > 0 ? (size_t) n : 3;

                if (w + len >= size)
                        break;
                memcpy(buf + w, chunk, len);
                w += len;
                p += n > 0 ? n : -n;
        }
        buf[w] = '\0';
        return buf;
}
