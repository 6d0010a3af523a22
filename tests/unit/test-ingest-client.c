/* SPDX-License-Identifier: MIT */
/* The C client against the real server: a telemetryd from this build tree
 * on loopback, one per test. Faults no real server makes (silence, a reply
 * in another protocol) come from a peer in a thread of the test. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "ingest-client.h"

#define TELEMETRYD TEST_BUILD_ROOT "/telemetryd/telemetryd"

static char tmpdir[] = "/tmp/resolvix-test-ingest-client-XXXXXX";
static pid_t server = -1;
static uint16_t port;

/* A listening socket on an ephemeral loopback port. */
static int listener(uint16_t *ret) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof sa;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        cr_assert_geq(fd, 0);
        cr_assert_eq(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        cr_assert_eq(listen(fd, 8), 0);
        cr_assert_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        *ret = ntohs(sa.sin_port);
        return fd;
}

static uint16_t free_port(void) {
        uint16_t p;

        close(listener(&p));
        return p;
}

static void start_server(const char *max_line) {
        char ws[8], ingest[8], state[600], log[600];
        struct ingest_client *c = NULL;

        cr_assert_not_null(mkdtemp(tmpdir));
        port = free_port();
        snprintf(ws, sizeof ws, "%u", free_port());
        snprintf(ingest, sizeof ingest, "%u", port);
        snprintf(state, sizeof state, "%s/state", tmpdir);
        snprintf(log, sizeof log, "%s/telemetryd.log", tmpdir);
        server = fork();
        cr_assert_geq(server, 0);
        if (server == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

                dup2(fd, 1);
                dup2(fd, 2);
                setenv("RESOLVIX_CONFIG", "", 1);
                setenv("RESOLVIX_NODE_ID", "test-node", 1);
                setenv("RESOLVIX_CONTROL_STATE_DIR", state, 1);
                setenv("RESOLVIX_TELEMETRY_LISTEN", "127.0.0.1", 1);
                setenv("RESOLVIX_TELEMETRY_INGEST_MAX_LINE", max_line, 1);
                unsetenv("NOTIFY_SOCKET");
                execl(TELEMETRYD, TELEMETRYD, "--port", ws, "--ingest-port", ingest, (char *) NULL);
                _exit(127);
        }
        /* Ready once it answers. */
        for (int i = 0; i < 500; i++) {
                if (ingest_connect("127.0.0.1", port, 1000, &c) == 0) {
                        ingest_close(c);
                        return;
                }
                cr_assert_eq(waitpid(server, NULL, WNOHANG), 0, "telemetryd exited; see %s", log);
                usleep(10000);
        }
        cr_assert_fail("telemetryd is not listening on %u", port);
}

static void setup(void) {
        start_server("1024");
}

static void setup_small_lines(void) {
        start_server("40");
}

static void teardown(void) {
        char cmd[128];
        int status;

        if (server > 0) {
                kill(server, SIGTERM);
                cr_assert_eq(waitpid(server, &status, 0), server);
                cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "telemetryd ended with status %d", status);
        }
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        (void) !system(cmd);
}

static struct ingest_client *client(void) {
        struct ingest_client *c = NULL;

        cr_assert_eq(ingest_connect("127.0.0.1", port, 5000, &c), 0);
        return c;
}

TestSuite(ingest_client, .init = setup, .fini = teardown);

Test(ingest_client, put_then_get) {
        struct ingest_client *c = client();
        struct ingest_point *p = NULL;
        size_t n = 99;

        cr_assert_eq(ingest_put(c, "palm.cpu", 2.0, 1150864248), 0);
        cr_assert_eq(ingest_put(c, "palm.cpu", 0.5, 1150864247), 0);
        cr_assert_eq(ingest_put(c, "eardrum.cpu", 3.0, 1150864250), 0);
        cr_assert_eq(ingest_get(c, "palm.cpu", &p, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_str_eq(p[0].metric, "palm.cpu");
        cr_assert_eq(p[0].timestamp, 1150864247);
        cr_assert_eq(p[0].value, 0.5);
        cr_assert_eq(p[1].timestamp, 1150864248);
        cr_assert_eq(p[1].value, 2.0);
        free(p);

        cr_assert_eq(ingest_get(c, "*", &p, &n), 0);
        cr_assert_eq(n, 3);
        cr_assert_str_eq(p[0].metric, "eardrum.cpu");
        cr_assert_str_eq(p[2].metric, "palm.cpu");
        free(p);

        p = NULL;
        cr_assert_eq(ingest_get(c, "nothing.here", &p, &n), 0);
        cr_assert_eq(n, 0);
        free(p);
        ingest_close(c);
}

/* Whatever the client sends comes back the same double. */
Test(ingest_client, values_survive_the_round_trip) {
        static const double values[] = { 0.1, 1.0 / 3, -0.0, 1e-300, 5e-324, 1.7976931348623157e308, -123456.789,
                                         9007199254740993.0 };
        struct ingest_client *c = client();
        struct ingest_point *p = NULL;
        size_t n;

        for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
                cr_assert_eq(ingest_put(c, "v", values[i], (int64_t) i), 0);
        cr_assert_eq(ingest_get(c, "v", &p, &n), 0);
        cr_assert_eq(n, sizeof values / sizeof values[0]);
        for (size_t i = 0; i < n; i++) {
                cr_assert_eq(p[i].timestamp, (int64_t) i);
                cr_assert_eq(memcmp(&p[i].value, &values[i], sizeof(double)), 0, "%.17g came back as %.17g",
                             values[i], p[i].value);
        }
        free(p);
        ingest_close(c);
}

Test(ingest_client, what_cannot_be_sent_is_einval) {
        char long_name[INGEST_METRIC_MAX + 1];
        struct ingest_client *c = client();
        struct ingest_point *p = NULL;
        size_t n;

        memset(long_name, 'x', INGEST_METRIC_MAX);
        long_name[INGEST_METRIC_MAX] = '\0';
        cr_assert_eq(ingest_put(c, "my metric", 1, 1), -EINVAL);
        cr_assert_eq(ingest_put(c, "two\nlines", 1, 1), -EINVAL);
        cr_assert_eq(ingest_put(c, "tab\there", 1, 1), -EINVAL);
        cr_assert_eq(ingest_put(c, "", 1, 1), -EINVAL);
        cr_assert_eq(ingest_put(c, long_name, 1, 1), -EINVAL);
        cr_assert_eq(ingest_put(c, "m", NAN, 1), -EINVAL);
        cr_assert_eq(ingest_put(c, "m", INFINITY, 1), -EINVAL);
        cr_assert_eq(ingest_get(c, "my metric", &p, &n), -EINVAL);
        /* Nothing was sent: the session is as it was. */
        cr_assert_eq(ingest_put(c, "m", 1, 1), 0);
        ingest_close(c);
}

Test(ingest_client, an_error_answer_is_ebadmsg_and_the_session_goes_on) {
        struct ingest_client *c = client();
        struct ingest_point *p = NULL;
        size_t n;

        cr_assert_eq(ingest_put(c, "*", 1, 1), -EBADMSG);
        cr_assert_eq(ingest_put(c, "m", 1, INT64_C(1) << 60), -EBADMSG);
        cr_assert_eq(ingest_put(c, "\xff\xfe", 1, 1), -EBADMSG);
        cr_assert_eq(ingest_put(c, "m", 1, 2), 0);
        cr_assert_eq(ingest_get(c, "m", &p, &n), 0);
        cr_assert_eq(n, 1);
        free(p);
        ingest_close(c);
}

Test(ingest_client, nothing_listening_is_econnrefused) {
        struct ingest_client *c = NULL;

        cr_assert_eq(ingest_connect("127.0.0.1", free_port(), 1000, &c), -ECONNREFUSED);
        cr_assert_null(c);
}

Test(ingest_client, names_resolve) {
        struct ingest_client *c = NULL;

        cr_assert_eq(ingest_connect("localhost", port, 1000, &c), 0);
        cr_assert_eq(ingest_put(c, "by.name", 1, 1), 0);
        ingest_close(c);
}

/* A peer that accepts and then says nothing. */
Test(ingest_client, a_silent_server_is_etimedout_and_the_client_is_spent) {
        uint16_t p;
        int fd = listener(&p);
        struct ingest_client *c = NULL;
        struct timespec a, b;
        struct ingest_point *points;
        size_t n;

        cr_assert_eq(ingest_connect("127.0.0.1", p, 200, &c), 0);
        clock_gettime(CLOCK_MONOTONIC, &a);
        cr_assert_eq(ingest_put(c, "m", 1, 1), -ETIMEDOUT);
        clock_gettime(CLOCK_MONOTONIC, &b);
        cr_assert_geq((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000, 190);
        /* Its reply may still come: the stream is out of step for good. */
        cr_assert_eq(ingest_put(c, "m", 1, 1), -ENOTCONN);
        cr_assert_eq(ingest_get(c, "m", &points, &n), -ENOTCONN);
        ingest_close(c);
        close(fd);
}

static void *answer_http(void *arg) {
        int fd = accept(*(int *) arg, NULL, NULL);
        char buf[256];
        static const char reply[] = "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";

        if (fd >= 0) {
                (void) !read(fd, buf, sizeof buf);
                (void) !write(fd, reply, sizeof reply - 1);
                sleep(1);
                close(fd);
        }
        return NULL;
}

Test(ingest_client, an_answer_in_another_protocol_is_eproto) {
        uint16_t p;
        int fd = listener(&p);
        struct ingest_client *c = NULL;
        struct ingest_point *points = NULL;
        size_t n;
        pthread_t t;

        cr_assert_eq(pthread_create(&t, NULL, answer_http, &fd), 0);
        cr_assert_eq(ingest_connect("127.0.0.1", p, 5000, &c), 0);
        cr_assert_eq(ingest_get(c, "*", &points, &n), -EPROTO);
        cr_assert_null(points);
        cr_assert_eq(ingest_get(c, "*", &points, &n), -ENOTCONN);
        ingest_close(c);
        pthread_join(t, NULL);
        close(fd);
}

TestSuite(ingest_client_small_lines, .init = setup_small_lines, .fini = teardown);

/* With ingest_max_line = 40 a request the client can send is over the cap:
 * the server answers "error" and hangs up, which the next call sees. */
Test(ingest_client_small_lines, a_server_that_hangs_up) {
        struct ingest_client *c = client();
        char name[64];
        int r;

        memset(name, 'n', 40);
        name[40] = '\0';
        cr_assert_eq(ingest_put(c, "short", 1, 1), 0);
        cr_assert_eq(ingest_put(c, name, 1, 1), -EBADMSG);
        r = ingest_put(c, "short", 1, 2);
        cr_assert(r == -ECONNRESET || r == -EPIPE, "after the hang-up: %s", strerror(-r));
        cr_assert_eq(ingest_put(c, "short", 1, 3), -ENOTCONN);
        ingest_close(c);
}
