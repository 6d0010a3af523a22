/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "pyjson.h"

/* Set on number items that print as floats; cJSON keeps the type in the low
 * byte and leaves the higher bits to flags it does not use for numbers. */
#define PYJSON_FLOAT (1 << 12)

void pyjson_float_repr(double v, char *buf, size_t size) {
        char digits[32], sci[40];
        int exp10, decpt, n, prec;
        const char *e;
        char *out = buf;
        size_t left = size;

#define PUT(...)                                                  \
        do {                                                      \
                int w_ = snprintf(out, left, __VA_ARGS__);        \
                if (w_ < 0 || (size_t) w_ >= left)                \
                        return;                                   \
                out += w_;                                        \
                left -= (size_t) w_;                              \
        } while (0)

        if (isnan(v)) {
                snprintf(buf, size, "NaN");
                return;
        }
        if (isinf(v)) {
                snprintf(buf, size, v < 0 ? "-Infinity" : "Infinity");
                return;
        }
        if (v == 0) {
                snprintf(buf, size, signbit(v) ? "-0.0" : "0.0");
                return;
        }
        /* The fewest significant digits that read back as v: what repr()
         * has printed since Python 3.1. */
        for (prec = 1; prec <= 17; prec++) {
                snprintf(sci, sizeof sci, "%.*e", prec - 1, v);
                if (strtod(sci, NULL) == v)
                        break;
        }
        /* sci is "-d.ddde+XX": split it into the digits and the exponent. */
        n = 0;
        for (const char *p = sci; *p && *p != 'e'; p++)
                if (*p >= '0' && *p <= '9')
                        digits[n++] = *p;
        while (n > 1 && digits[n - 1] == '0')
                n--;
        digits[n] = '\0';
        e = strchr(sci, 'e');
        exp10 = e ? atoi(e + 1) : 0;
        decpt = exp10 + 1;

        if (v < 0)
                PUT("-");
        if (decpt > -4 && decpt <= 16) {
                if (decpt <= 0) {
                        PUT("0.");
                        for (int i = 0; i < -decpt; i++)
                                PUT("0");
                        PUT("%s", digits);
                } else if (decpt < n) {
                        PUT("%.*s.%s", decpt, digits, digits + decpt);
                } else {
                        PUT("%s", digits);
                        for (int i = n; i < decpt; i++)
                                PUT("0");
                        PUT(".0");
                }
        } else {
                PUT("%c", digits[0]);
                if (n > 1)
                        PUT(".%s", digits + 1);
                PUT("e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
        }
#undef PUT
}

/* ---- parsing: remember how each number was written ---------------------- */

struct number_token {
        const char *start;
        size_t len;
};

/* The number tokens of text in document order (cJSON builds its tree in
 * the same order). */
static int scan_numbers(const char *text, size_t len, struct number_token **ret, size_t *ret_n) {
        struct number_token *tokens = NULL;
        size_t n = 0, cap = 0;

        for (size_t i = 0; i < len;) {
                char c = text[i];

                if (c == '"') {
                        for (i++; i < len && text[i] != '"'; i++)
                                if (text[i] == '\\')
                                        i++;
                        i++;
                } else if (c == '-' || (c >= '0' && c <= '9')) {
                        size_t start = i;

                        while (i < len && strchr("+-0123456789.eE", text[i]) && text[i] != '\0')
                                i++;
                        if (n == cap) {
                                struct number_token *t;

                                cap = cap ? cap * 2 : 16;
                                t = realloc(tokens, cap * sizeof *t);
                                if (!t) {
                                        free(tokens);
                                        return -ENOMEM;
                                }
                                tokens = t;
                        }
                        tokens[n++] = (struct number_token){ text + start, i - start };
                } else
                        i++;
        }
        *ret = tokens;
        *ret_n = n;
        return 0;
}

static int attach_spelling(cJSON *j, const struct number_token *tokens, size_t n, size_t *next) {
        for (cJSON *c = j; c; c = c->next) {
                if (cJSON_IsNumber(c)) {
                        const struct number_token *t;

                        if (*next >= n)
                                return -EINVAL;
                        t = &tokens[(*next)++];
                        c->valuestring = strndup(t->start, t->len);
                        if (!c->valuestring)
                                return -ENOMEM;
                        if (memchr(t->start, '.', t->len) || memchr(t->start, 'e', t->len) ||
                            memchr(t->start, 'E', t->len))
                                c->type |= PYJSON_FLOAT;
                } else if (c->child) {
                        int r = attach_spelling(c->child, tokens, n, next);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

cJSON *pyjson_parse(const char *text, size_t len) {
        _cleanup_free_ struct number_token *tokens = NULL;
        const char *end = NULL;
        size_t n = 0, next = 0;
        cJSON *j;

        j = cJSON_ParseWithLengthOpts(text, len, &end, false);
        if (!j)
                return NULL;
        for (const char *p = end; p < text + len; p++)
                if (!strchr(" \t\r\n", *p) || *p == '\0') {
                        cJSON_Delete(j);
                        return NULL;
                }
        if (scan_numbers(text, (size_t) (end - text), &tokens, &n) < 0 || attach_spelling(j, tokens, n, &next) < 0 ||
            next != n) {
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

cJSON *pyjson_create_float(double v) {
        cJSON *j = cJSON_CreateNumber(v);

        if (j)
                j->type |= PYJSON_FLOAT;
        return j;
}

cJSON *pyjson_add_float(cJSON *object, const char *name, double v) {
        cJSON *j = pyjson_create_float(v);

        if (!j || !cJSON_AddItemToObject(object, name, j)) {
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

/* ---- printing ----------------------------------------------------------- */

static uint32_t utf8_next(const unsigned char **p) {
        const unsigned char *s = *p;
        uint32_t cp;
        int extra;

        if (s[0] < 0x80) {
                *p = s + 1;
                return s[0];
        }
        if ((s[0] & 0xe0) == 0xc0) {
                cp = s[0] & 0x1f;
                extra = 1;
        } else if ((s[0] & 0xf0) == 0xe0) {
                cp = s[0] & 0x0f;
                extra = 2;
        } else if ((s[0] & 0xf8) == 0xf0) {
                cp = s[0] & 0x07;
                extra = 3;
        } else {
                *p = s + 1;
                return 0xfffd;
        }
        for (int i = 1; i <= extra; i++) {
                if ((s[i] & 0xc0) != 0x80) {
                        *p = s + i;
                        return 0xfffd;
                }
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        *p = s + extra + 1;
        if (cp > 0x10ffff || (extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000))
                return 0xfffd;
        return cp;
}

static void print_string(FILE *f, const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        fputc('"', f);
        while (*p) {
                uint32_t cp = utf8_next(&p);

                switch (cp) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '\r':
                        fputs("\\r", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                case '\b':
                        fputs("\\b", f);
                        break;
                case '\f':
                        fputs("\\f", f);
                        break;
                default:
                        if (cp >= 0x20 && cp < 0x7f)
                                fputc((int) cp, f);
                        else if (cp < 0x10000)
                                fprintf(f, "\\u%04x", (unsigned) cp);
                        else {
                                cp -= 0x10000;
                                fprintf(f, "\\u%04x\\u%04x", (unsigned) (0xd800 | (cp >> 10)),
                                        (unsigned) (0xdc00 | (cp & 0x3ff)));
                        }
                }
        }
        fputc('"', f);
}

static void print_number(FILE *f, const cJSON *j) {
        char buf[64];

        if (j->valuestring && !(j->type & PYJSON_FLOAT)) {
                /* An integer as written; Python's int has no -0. */
                fputs(streq(j->valuestring, "-0") ? "0" : j->valuestring, f);
                return;
        }
        if (!(j->type & PYJSON_FLOAT) && j->valuestring == NULL && fabs(j->valuedouble) < 9007199254740992.0 &&
            j->valuedouble == floor(j->valuedouble)) {
                fprintf(f, "%.0f", j->valuedouble == 0 ? 0.0 : j->valuedouble);
                return;
        }
        pyjson_float_repr(j->valuestring ? strtod(j->valuestring, NULL) : j->valuedouble, buf, sizeof buf);
        fputs(buf, f);
}

static const cJSON *last_with_key(const cJSON *first) {
        const cJSON *last = first;

        for (const cJSON *c = first->next; c; c = c->next)
                if (c->string && streq(c->string, first->string))
                        last = c;
        return last;
}

static bool key_seen_before(const cJSON *parent, const cJSON *item) {
        for (const cJSON *c = parent->child; c && c != item; c = c->next)
                if (c->string && streq(c->string, item->string))
                        return true;
        return false;
}

static void print_value(FILE *f, const cJSON *j) {
        bool first = true;

        switch (j->type & 0xff) {
        case cJSON_NULL:
                fputs("null", f);
                break;
        case cJSON_True:
                fputs("true", f);
                break;
        case cJSON_False:
                fputs("false", f);
                break;
        case cJSON_Number:
                print_number(f, j);
                break;
        case cJSON_String:
        case cJSON_Raw:
                print_string(f, j->valuestring ? j->valuestring : "");
                break;
        case cJSON_Array:
                fputc('[', f);
                for (const cJSON *c = j->child; c; c = c->next) {
                        if (!first)
                                fputs(", ", f);
                        first = false;
                        print_value(f, c);
                }
                fputc(']', f);
                break;
        case cJSON_Object:
                fputc('{', f);
                for (const cJSON *c = j->child; c; c = c->next) {
                        if (!c->string || key_seen_before(j, c))
                                continue;
                        if (!first)
                                fputs(", ", f);
                        first = false;
                        print_string(f, c->string);
                        fputs(": ", f);
                        print_value(f, last_with_key(c));
                }
                fputc('}', f);
                break;
        default:
                fputs("null", f);
        }
}

int pyjson_print(FILE *f, const cJSON *j) {
        print_value(f, j);
        return ferror(f) ? -ENOMEM : 0;
}

char *pyjson_print_alloc(const cJSON *j, size_t *ret_len) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        int r;

        if (!f)
                return NULL;
        r = pyjson_print(f, j);
        if (fclose(f) != 0 || r < 0) {
                free(buf);
                return NULL;
        }
        if (ret_len)
                *ret_len = len;
        return buf;
}
