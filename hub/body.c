/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "body.h"
#include "macro.h"
#include "pyjson.h"

/* Decode one %-escaped, '+'-for-space component into a new string. */
static char *form_decode(const char *s, size_t len) {
        char *out = malloc(len + 1), *o = out;

        if (!out)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '+')
                        *o++ = ' ';
                else if (s[i] == '%') {
                        int hi = i + 2 < len ? unhexchar(s[i + 1]) : -1, lo = i + 2 < len ? unhexchar(s[i + 2]) : -1;

                        /* %00 would cut the value short in C. */
                        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                                free(out);
                                return NULL;
                        }
                        *o++ = (char) (hi * 16 + lo);
                        i += 2;
                } else if (s[i] == '\0') {
                        free(out);
                        return NULL;
                } else
                        *o++ = s[i];
        }
        *o = '\0';
        return out;
}

cJSON *form_parse(const char *body, size_t len) {
        cJSON *form = cJSON_CreateObject();
        size_t pairs = 0;

        if (!form)
                return NULL;
        for (size_t pos = 0; pos < len;) {
                const char *start = body + pos, *amp = memchr(start, '&', len - pos), *eq;
                size_t l = amp ? (size_t) (amp - start) : len - pos;
                _cleanup_free_ char *name = NULL, *value = NULL;

                pos += l + (amp ? 1 : 0);
                if (l == 0)
                        continue;
                eq = memchr(start, '=', l);
                if (!eq)
                        goto fail;
                name = form_decode(start, (size_t) (eq - start));
                value = form_decode(eq + 1, l - (size_t) (eq - start) - 1);
                if (!name || !value || name[0] == '\0')
                        goto fail;
                if (!cJSON_GetObjectItemCaseSensitive(form, name) && !cJSON_AddStringToObject(form, name, value))
                        goto fail;
                pairs++;
        }
        if (pairs > 0)
                return form;
fail:
        cJSON_Delete(form);
        return NULL;
}

cJSON *body_parse_object(const char *body, size_t len, const char *content_type) {
        bool json = content_type && strncasecmp(content_type, "application/json", 16) == 0;
        size_t skip = 0;
        cJSON *j;

        while (skip < len && isspace((unsigned char) body[skip]))
                skip++;
        if (skip == len)
                return NULL;
        if (json || body[skip] == '{') {
                j = pyjson_parse(body, len);
                if (j && !cJSON_IsObject(j)) {
                        cJSON_Delete(j);
                        return NULL;
                }
                return j;
        }
        return form_parse(body, len);
}

static bool blank_only(const char *p) {
        for (; *p; p++)
                if (!isspace((unsigned char) *p))
                        return false;
        return true;
}

int body_number(const cJSON *v, double *ret, int *is_float) {
        const char *s;
        char *end;
        double d;

        if (cJSON_IsNumber(v)) {
                *ret = v->valuedouble;
                if (is_float)
                        *is_float = v->valuestring ? strpbrk(v->valuestring, ".eE") != NULL
                                                   : v->valuedouble != floor(v->valuedouble);
                return 0;
        }
        if (!cJSON_IsString(v))
                return -EINVAL;
        s = v->valuestring;
        while (isspace((unsigned char) *s))
                s++;
        /* strtod also reads hex, inf and nan, which Python's float() of a
         * form field would turn into something no client meant. */
        if (!(isdigit((unsigned char) *s) || ((*s == '-' || *s == '+' || *s == '.') && (isdigit((unsigned char) s[1]) || s[1] == '.'))))
                return -EINVAL;
        if (strpbrk(s, "xXnN"))
                return -EINVAL;
        errno = 0;
        d = strtod(s, &end);
        if (errno != 0 || end == s || !blank_only(end) || !isfinite(d))
                return -EINVAL;
        *ret = d;
        if (is_float)
                *is_float = strpbrk(s, ".eE") != NULL;
        return 0;
}

int parse_python_int(const char *s, long long *ret) {
        char *end;
        long long v;

        while (isspace((unsigned char) *s))
                s++;
        if (!(isdigit((unsigned char) *s) || ((*s == '-' || *s == '+') && isdigit((unsigned char) s[1]))))
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno != 0 || !blank_only(end))
                return -EINVAL;
        *ret = v;
        return 0;
}
