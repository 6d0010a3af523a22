"""What the resolvixctl and dashboard tests share: a node (controld with the
real telemetryd and livelogd on ephemeral ports, following a file of the
test's own) and a way to run resolvixctl against it."""
import http.client
import json
import os
import subprocess
import threading

from support import MEMORY_ERROR, binary, free_port, poll, start_controld

NODE_ID = "ctl-test-node"


class Node:
    def __init__(self, procs, tmp_path, token=None, env=None):
        self.tmp = tmp_path
        self.token = token
        self.ws = {"telemetry": free_port(), "livelogs": free_port()}
        self.log = tmp_path / "app.log"
        self.log.write_text("")
        full = {
            "RESOLVIX_NODE_ID": NODE_ID,
            "RESOLVIX_TELEMETRY_LISTEN": "127.0.0.1",
            "RESOLVIX_TELEMETRY_PORT": str(self.ws["telemetry"]),
            "RESOLVIX_TELEMETRY_INGEST_PORT": "0",
            "RESOLVIX_LIVELOGS_LISTEN": "127.0.0.1",
            "RESOLVIX_LIVELOGS_PORT": str(self.ws["livelogs"]),
            "RESOLVIX_LIVELOGS_LOG_FILE": str(self.log),
            **{k: v for k, v in os.environ.items() if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")},
            **(env or {}),
        }
        if token:
            full["RESOLVIX_CONTROL_TOKEN"] = token
        self.port = start_controld(procs, tmp_path,
                                   {"telemetryd": binary("telemetryd/telemetryd"),
                                    "livelogd": binary("livelogd/livelogd")}, full)
        self.proc = procs.procs[-1]

    def close(self):
        """Stop controld (and so its workers); fail on a sanitizer's report in its log."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)
        m = MEMORY_ERROR.search((self.tmp / "controld.log").read_text(errors="replace"))
        assert not m, m.group(0)

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            h = dict(headers or {})
            if self.token:
                h.setdefault("Authorization", f"Bearer {self.token}")
            if body is not None:
                body = json.dumps(body)
                h["Content-Type"] = "application/json"
            conn.request(method, path, body, h)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def control(self, command, **fields):
        status, _, body = self.request("POST", "/control", {"command": command, **fields})
        assert status == 200, (status, body)
        return json.loads(body)

    def status(self):
        status, _, body = self.request("GET", "/status")
        assert status == 200, (status, body)
        return json.loads(body)

    def start(self, interval=1):
        self.control("start_telemetry", interval=interval)
        self.control("start_livelogs")

    def append(self, *lines):
        with open(self.log, "a") as f:
            f.write("".join(line + "\n" for line in lines))

    def wait_tail(self, text, timeout=10):
        """Until livelogd has read a line holding text."""
        def seen():
            conn = http.client.HTTPConnection("127.0.0.1", self.ws["livelogs"], timeout=5)
            try:
                conn.request("GET", "/tail?format=text")
                return text in conn.getresponse().read().decode()
            finally:
                conn.close()
        poll(seen, timeout, f"{text!r} in livelogd's tail")


def ctl_env(extra=None):
    """A clean environment: nothing of the caller's RESOLVIX_* leaks in."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    env.update({k: v for k, v in os.environ.items() if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")})
    env.update(extra or {})
    return env


def ctl(*args, env=None, timeout=30, **kw):
    """Run resolvixctl; a CompletedProcess with text stdout and stderr."""
    return subprocess.run([binary("resolvixctl/resolvixctl"), *map(str, args)], env=ctl_env(env),
                          capture_output=True, text=True, timeout=timeout, **kw)


def ctl_popen(*args, env=None, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([binary("resolvixctl/resolvixctl"), *map(str, args)], env=ctl_env(env), text=True, **kw)


def read_lines(proc, n, timeout=10):
    """n lines, or fail: a process that does not print them in time is killed."""
    got = []
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        while len(got) < n:
            line = proc.stdout.readline()
            assert line, (f"{len(got)} of {n} lines", got[-5:], proc.stderr.read())
            got.append(line.rstrip("\n"))
    finally:
        watchdog.cancel()
    return got
