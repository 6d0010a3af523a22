"""Shared fixtures for the integration tests: real binaries on loopback."""
import os
import signal
import socket
import subprocess
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {key} on NOTIFY_SOCKET within {timeout}s")
            pid, fields = self.recv(left)
            if key in fields:
                return pid, fields

    def close(self):
        self.sock.close()


class Processes:
    """Starts processes and makes sure every one of them is gone afterwards."""

    def __init__(self):
        self.procs = []

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


@pytest.fixture
def procs():
    ps = Processes()
    yield ps
    ps.stop_all()


@pytest.fixture
def notify_socket(tmp_path):
    ns = NotifySocket(tmp_path / "notify.sock")
    yield ns
    ns.close()
