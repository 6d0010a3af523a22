/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "spawn.h"

static int pidfd_open(pid_t pid, unsigned flags) {
        return (int) syscall(SYS_pidfd_open, pid, flags);
}

/* In the child: SPAWN_WATCHDOG_PID becomes WATCHDOG_PID=<our pid>. The
 * array is the child's own copy of the parent's memory, so it may change. */
static void name_watchdog_pid(char *const envp[]) {
        static char entry[sizeof SPAWN_WATCHDOG_PID + 20] = SPAWN_WATCHDOG_PID;
        char digits[20];
        size_t n = 0, at = sizeof SPAWN_WATCHDOG_PID - 1;

        for (unsigned long pid = (unsigned long) getpid(); pid > 0 || n == 0; pid /= 10)
                digits[n++] = (char) ('0' + pid % 10);
        while (n > 0)
                entry[at++] = digits[--n];
        entry[at] = '\0';
        for (size_t i = 0; envp[i]; i++)
                if (streq(envp[i], SPAWN_WATCHDOG_PID))
                        ((char **) envp)[i] = entry;
}

/* Runs in the child: only async-signal-safe calls until execve. Reports
 * failure as an errno on errpipe and exits. */
_noreturn_ static void child(char *const argv[], char *const envp[], pid_t parent, int errpipe) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        sigset_t none;
        int err;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                goto fail;
        /* The parent may have died between fork() and prctl(). */
        if (getppid() != parent)
                _exit(EXIT_FAILURE);
        if (setpgid(0, 0) < 0)
                goto fail;
        /* A worker never reads the terminal controld may have been started from. */
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0)
                goto fail;
        for (int sig = 1; sig < NSIG; sig++)
                (void) sigaction(sig, &sa, NULL);
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                goto fail;
        /* Everything but stdio and the error pipe (close-on-exec) goes. */
        if (errpipe > 3) {
                if (syscall(SYS_close_range, 3, (unsigned) errpipe - 1, 0) < 0)
                        goto fail;
        }
        if (syscall(SYS_close_range, (unsigned) errpipe + 1, ~0U, 0) < 0)
                goto fail;
        name_watchdog_pid(envp);
        execve(argv[0], argv, envp);
fail:
        err = errno;
        (void) !write(errpipe, &err, sizeof err);
        _exit(127);
}

int spawn_worker(char *const argv[], char *const envp[], pid_t *ret_pid, int *ret_pidfd) {
        int pipefd[2], err = 0, pidfd;
        pid_t parent = getpid(), pid;
        ssize_t n;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return negative_errno();
        pid = fork();
        if (pid < 0) {
                err = errno;
                close(pipefd[0]);
                close(pipefd[1]);
                return -err;
        }
        if (pid == 0) {
                close(pipefd[0]);
                child(argv, envp, parent, pipefd[1]);
        }
        close(pipefd[1]);
        /* EOF means execve() succeeded (the pipe closed on exec). */
        do
                n = read(pipefd[0], &err, sizeof err);
        while (n < 0 && errno == EINTR);
        close(pipefd[0]);
        if (n == (ssize_t) sizeof err) {
                (void) waitpid(pid, NULL, 0);
                return -err;
        }
        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0) {
                err = errno;
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return -err;
        }
        *ret_pid = pid;
        *ret_pidfd = pidfd;
        return 0;
}
