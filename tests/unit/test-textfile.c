/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "textfile.h"

struct validate_case {
        const char *in;
        const char *error; /* NULL: valid; else a part of the message */
};

static const struct validate_case cases[] = {
        { "", NULL },
        { "\n\n", NULL },
        { "# just a comment\nfoo 1\n", NULL },
        { "# HELP foo Some help.\n# TYPE foo gauge\nfoo 1.5\n", NULL },
        { "foo{a=\"x\",b=\"y \\\"q\\\" \\\\ \\n\"} -2e-3\n", NULL },
        { "foo{a=\"x\",} 1\n", NULL },
        { "foo{} NaN\nbar +Inf\nbaz -Inf\n", NULL },
        { "foo 1", NULL },                     /* no final newline */
        { "ns:sub_total 7\n", NULL },
        { "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n", NULL },
        { "foo 1 1700000000000\n", "timestamp" },
        { "foo\n", "no value" },
        { "foo bar\n", "not a number" },
        { "foo 0x10\n", "not a number" },
        { "foo nan\n", "not a number" },
        { "1foo 1\n", "not a metric name" },
        { "foo{a=x} 1\n", "=\"value\"" },
        { "foo{a=\"x} 1\n", "unterminated" },
        { "foo{a=\"x\" b=\"y\"} 1\n", "commas" },
        { "foo{a=\"\\q\"} 1\n", "escape" },
        { "foo{:a=\"x\"} 1\n", "label without a valid name" },
        { "foo{a=\"x\"\n", "closing }" },
        { "# TYPE foo gauge\n# TYPE foo counter\nfoo 1\n", "second TYPE" },
        { "# TYPE foo meter\n", "unknown type" },
        { "# TYPE foo\n", "without a type" },
        { "# HELP 9x help\n", "HELP without a valid metric name" },
        { "good 1\nbad line here\n", "line 2" },
        { "foo 1\r\n", "CR LF" },
};

Test(textfile, validate) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                const struct validate_case *c = &cases[i];
                char err[160] = "";
                int r = textfile_validate(c->in, strlen(c->in), err, sizeof err);

                if (!c->error)
                        cr_expect_eq(r, 0, "\"%s\" refused: %s", c->in, err);
                else {
                        cr_expect_eq(r, -EINVAL, "\"%s\" accepted", c->in);
                        cr_expect(strstr(err, c->error), "\"%s\": \"%s\" does not say \"%s\"", c->in, err, c->error);
                }
        }
}

Test(textfile, nul_and_long_lines_are_refused) {
        static char big[TEXTFILE_LINE_MAX + 16];
        char err[160];

        cr_assert_eq(textfile_validate("foo 1\n\0", 7, err, sizeof err), -EINVAL);
        cr_assert(strstr(err, "NUL"));
        memset(big, 'a', sizeof big - 4);
        memcpy(big + sizeof big - 4, " 1\n", 3);
        cr_assert_eq(textfile_validate(big, strlen(big), err, sizeof err), -EINVAL);
        cr_assert(strstr(err, "longer than"), "%s", err);
}
