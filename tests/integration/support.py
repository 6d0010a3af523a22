"""What every integration test may use: where the build is, free ports,
processes that are all gone after the test, a NOTIFY_SOCKET listener, a
controld harness. Plain functions and classes; the fixtures built on them
are in conftest.py."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("RESOLVIX_BUILD_DIR", ROOT / "build")).resolve()


def binary(rel):
    """Path of a built executable, e.g. binary('telemetryd/telemetryd')."""
    p = BUILD / rel
    if not p.exists():
        pytest.fail(f"{p} is not built (run ninja -C {BUILD})")
    return str(p)


_handed_out = []


def free_port():
    """A loopback port nothing listens on, and not one this process handed
    out lately: the kernel may give a just-closed port straight back, and a
    test that takes two ports for two servers would see the second server
    fail to bind."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.append(port)
            del _handed_out[:-256]
            return port


def wait_port(port, host="127.0.0.1", timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"nothing listening on {host}:{port} after {timeout}s")


class NotifySocket:
    """A NOTIFY_SOCKET listener, as systemd (or controld) would hold."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)

    def recv(self, timeout=10.0):
        """Next datagram as (pid, {field: value})."""
        self.sock.settimeout(timeout)
        data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = None
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                pid = int.from_bytes(cdata[0:4], "little")
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
        return pid, fields

    def wait_for(self, key, timeout=10.0):
        return self.messages_until(key, timeout)[-1]

    def messages_until(self, key, timeout=10.0):
        """Every (pid, fields) received up to and including the first with key."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {key} on NOTIFY_SOCKET within {timeout}s; got {got}")
            got.append(self.recv(left))
            if key in got[-1][1]:
                return got

    def close(self):
        self.sock.close()


class Processes:
    """Starts processes and makes sure every one of them is gone afterwards."""

    def __init__(self):
        self.procs = []
        self.cleanups = []  # run after every process is gone

    def start(self, args, env=None, **kw):
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RESOLVIX_CONFIG": ""}
        full_env.update(env or {})
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        p = subprocess.Popen(args, env=full_env, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=8)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for cleanup in self.cleanups:
            cleanup()


def control(port, command, **fields):
    """POST /control to a controld on loopback: (HTTP status, JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("POST", "/control", json.dumps({"command": command, **fields}),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def get_status(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/status")
        resp = conn.getresponse()
        assert resp.status == 200, resp.status
        return json.loads(resp.read())
    finally:
        conn.close()


def start_controld(procs, tmp_path, workers, env, wrap=()):
    """A real controld whose worker directory holds only the given workers
    ({"telemetryd": path, ...}); its log goes to tmp_path/controld.log (a
    pipe nobody reads would stall it). Returns the control port once
    controld has sent READY=1 on a NOTIFY_SOCKET of its own."""
    wdir = tmp_path / "workers"
    wdir.mkdir(exist_ok=True)
    for name, path in workers.items():
        if not (wdir / name).exists():
            os.symlink(path, wdir / name)
    port = free_port()
    notify = NotifySocket(tmp_path / f"controld-{port}.notify")
    procs.cleanups.append(notify.close)
    full = {"NOTIFY_SOCKET": notify.path, "RESOLVIX_CONTROL_PORT": str(port),
            "RESOLVIX_CONTROL_STATE_DIR": str(tmp_path / "state"), "RESOLVIX_WORKER_DIR": str(wdir), **env}
    log = open(tmp_path / "controld.log", "ab")
    procs.start([*wrap, binary("controld/resolvix-controld")], env=full, stdout=log, stderr=log)
    log.close()
    notify.wait_for("READY", timeout=15)
    # controld sends STATUS= on every worker change and blocks once the
    # socket's queue (net.unix.max_dgram_qlen, often 10) is full: from now on
    # read what it says, as systemd would.
    threading.Thread(target=drain, args=(notify.sock,), daemon=True).start()
    return port


def drain(sock):
    """Read and drop datagrams until the fixture closes the socket."""
    sock.settimeout(0.2)
    while sock.fileno() >= 0:
        try:
            sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            return


# ---- controld --------------------------------------------------------------

def pid_alive(pid):
    """True while pid is a process that has not exited (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def poll(predicate, timeout, what, interval=0.02):
    """predicate()'s first truthy value within timeout seconds, else fail with what."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s (last: {value!r})")
        time.sleep(interval)


# How the token dialog looks on either dashboard (shared/dashboard/common.css),
# as the browser computes it.
TOKEN_DIALOG_LOOK = {"radius": "10px", "padding": "20px 22px", "input": "7px 10px",
                     "backdrop": "rgba(3, 6, 12, 0.7)"}


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


SANITIZER_OPTIONS = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
MEMORY_ERROR = re.compile(r".*(AddressSanitizer|LeakSanitizer|runtime error:|ERROR SUMMARY: [1-9]).*")


def merged_env(base, changes):
    """base with the sanitizer settings of this environment, and changes
    applied: a None value removes that variable."""
    full = dict(base)
    full.update({k: v for k, v in os.environ.items() if k in SANITIZER_OPTIONS})
    for k, v in (changes or {}).items():
        if v is None:
            full.pop(k, None)
        else:
            full[k] = v
    return full


class Controld:
    """One resolvix-controld on loopback with ports, state and worker
    directories of its own. The workers are the stand-in test worker, linked
    into a private directory so that behaviour files never leak between
    tests."""

    WORKERS = {"telemetry": "telemetryd", "livelogs": "livelogd"}

    def __init__(self, procs, tmp_path):
        self.procs = procs
        self.dir = tmp_path
        self.worker_dir = tmp_path / "workers"
        self.worker_dir.mkdir()
        for exe in self.WORKERS.values():
            (self.worker_dir / exe).symlink_to(binary("tests/worker/test-worker"))
        self.state_dir = tmp_path / "state"
        self.port = free_port()
        self.ports = {"telemetry": free_port(), "livelogs": free_port()}
        self.followed = tmp_path / "app.log"
        self.followed.write_text("")
        self.env = {
            "RESOLVIX_CONFIG": "",
            "RESOLVIX_NODE_ID": "test-node",
            "RESOLVIX_CONTROL_PORT": str(self.port),
            "RESOLVIX_CONTROL_STATE_DIR": str(self.state_dir),
            "RESOLVIX_WORKER_DIR": str(self.worker_dir),
            "RESOLVIX_TELEMETRY_LISTEN": "127.0.0.1",
            "RESOLVIX_TELEMETRY_PORT": str(self.ports["telemetry"]),
            "RESOLVIX_TELEMETRY_INGEST_PORT": "0",
            "RESOLVIX_LIVELOGS_LISTEN": "127.0.0.1",
            "RESOLVIX_LIVELOGS_PORT": str(self.ports["livelogs"]),
            "RESOLVIX_LIVELOGS_LOG_FILE": str(self.followed),
        }
        self.proc = None
        self.runs = 0
        self.log_path = None
        self.worker_pids = set()

    # -- the process --

    def start(self, *args, env=None, wait=True):
        """Start controld (env adds to or, with None values, removes from self.env)."""
        full = merged_env(self.env, env)
        self.runs += 1
        self.log_path = self.dir / f"controld-{self.runs}.log"
        # e.g. RESOLVIX_TEST_WRAPPER="valgrind --leak-check=full --error-exitcode=1"
        wrapper = os.environ.get("RESOLVIX_TEST_WRAPPER", "").split()
        with open(self.log_path, "wb") as log:
            self.proc = self.procs.start([*wrapper, binary("controld/resolvix-controld"), *args], env=full,
                                         stdout=log, stderr=subprocess.STDOUT)
        if wait:
            wait_port(self.port, proc=self.proc)
        return self.proc

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def wait_log(self, text, timeout=5.0):
        return poll(lambda: text in self.log(), timeout, f"{text!r} in controld's log")

    def stop(self, timeout=10.0):
        """SIGTERM and wait: controld's exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # Anything controld failed to take down goes now, by pid, and only
        # if it is still one of this test's workers.
        for pid in self.worker_pids:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(str(self.worker_dir).encode() + b"/") and pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        # Under ASan/UBSan or valgrind, a report in any log fails the test.
        for log in sorted(self.dir.glob("controld-*.log")):
            m = MEMORY_ERROR.search(log.read_text(errors="replace"))
            assert not m, f"{log}: {m.group(0)}"

    # -- HTTP --

    def request(self, method, path, body=None, headers=None, timeout=20.0, port=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            r = Response(resp.status, resp.headers, resp.read().decode())
        finally:
            conn.close()
        if r.headers.get("Content-Type", "").startswith("application/json") and r.body:
            self._note_pids(r.json)
        return r

    def _note_pids(self, obj):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k == "pid" and isinstance(v, int):
                    self.worker_pids.add(v)
                else:
                    self._note_pids(v)

    def control(self, command, token=None, path="/control", timeout=20.0, **fields):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.request("POST", path, {"command": command, **fields}, headers, timeout=timeout)

    def status(self, token=None):
        r = self.request("GET", "/status", headers={"Authorization": f"Bearer {token}"} if token else None)
        assert r.status == 200, r
        return r.json

    def health(self):
        return self.request("GET", "/health")

    def worker(self, role):
        """What the running stand-in worker says about itself (GET /state)."""
        r = self.request("GET", "/state", port=self.ports[role], timeout=5)
        assert r.status == 200, r
        return r.json

    def behave(self, role, *words):
        """Make the next start of the role's worker misbehave; no words: behave."""
        f = self.worker_dir / f"behaviour-{role}"
        if words:
            f.write_text("".join(w + "\n" for w in words))
        else:
            f.unlink(missing_ok=True)

    def wait_status(self, predicate, timeout=5.0, what="status"):
        """The first /status for which predicate holds."""
        def matching():
            s = self.status()
            return s if predicate(s) else None
        return poll(matching, timeout, what)


def browse_with(client, scenario, tmp_path, timeout=120, **config):
    """Run a Chromium client of clients/ (clients/browser.js) on a scenario
    and return its report: nothing failed, no script error, and nothing
    the page's Content-Security-Policy refused."""
    config.setdefault("profile", str(tmp_path / "chromium-profile"))
    proc = subprocess.run(["node", str(client), scenario, json.dumps(config)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT / "tests")
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no report from the browser client:\n{proc.stderr[-3000:]}"
    report = json.loads(lines[-1])
    assert proc.returncode == 0 and "failed" not in report, (report, proc.stderr[-3000:])
    assert report["errors"] == [], report["errors"]
    assert not [m for m in report["console"] if "Content Security Policy" in m or "Refused" in m], report["console"]
    return report
