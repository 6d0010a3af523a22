"""What the telemetryd tests share: the running worker (started by the
start_telemetryd fixture in conftest.py) and the clients that talk to it.

No tests here; the test_telemetry_*.py files import from this module."""
import asyncio
import base64
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import websockets

TESTS = Path(__file__).resolve().parents[1]
CLIENTS = Path(__file__).resolve().parent / "clients"
NODE_ID = "test-node"
RESOLVIX_SIGNAL_INTERVAL = signal.SIGRTMIN + 1


class Telemetryd:
    def __init__(self, proc, port, ready, log_path):
        self.proc = proc
        self.port = port
        self.ready = ready  # the NOTIFY_SOCKET fields of READY=1
        self.log_path = log_path

    def log(self):
        return self.log_path.read_text(errors="replace")

    @property
    def pid(self):
        return self.proc.pid

    def url(self, query=""):
        return f"ws://127.0.0.1:{self.port}/{query}"

    def http(self, path, headers=None):
        """(status, content type, body) of a plain GET."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read().decode()

    def metrics(self):
        """GET /metrics as {'name{labels}': value}."""
        status, _, body = self.http("/metrics")
        assert status == 200
        out = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                out[key] = float(value)
        return out

    def status_kib(self, field):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise AssertionError(f"no {field} in /proc/{self.pid}/status")

    def sigqueue(self, signo, value):
        """sigqueue() with an int payload, as controld sends a new interval."""
        class Sigval(ctypes.Union):
            _fields_ = [("sival_int", ctypes.c_int), ("sival_ptr", ctypes.c_void_p)]

        libc = ctypes.CDLL(None, use_errno=True)
        libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, Sigval]
        if libc.sigqueue(self.pid, int(signo), Sigval(sival_int=value)) != 0:
            raise OSError(ctypes.get_errno(), "sigqueue")

    def stop(self, timeout=10):
        """SIGTERM and wait: returns the exit code and the log."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout)
        return self.proc.returncode, self.log()


async def recv_sample(ws, timeout=5):
    """Next message, which must be a sample."""
    msg = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(msg, str), "samples are text frames"
    data = json.loads(msg)
    assert "metrics" in data, f"not a sample: {msg[:200]}"
    return data


async def recv_json(ws, timeout=5):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


def connect(url, **kw):
    kw.setdefault("open_timeout", 10)
    kw.setdefault("ping_interval", None)
    return websockets.connect(url, **kw)


def handshake_status(url, **kw):
    """The HTTP status a refused handshake got (None if it was accepted)."""

    async def go():
        try:
            async with connect(url, **kw):
                return None
        except websockets.exceptions.InvalidStatusCode as e:
            return e.status_code

    return asyncio.run(go())


def raw_client(port, rcvbuf=4096):
    """A WebSocket client on a bare socket with a tiny receive buffer, so
    that it can stop reading and let the server's side fill up."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def split_frames(buf):
    """Unmasked server frames in buf: ([(opcode, payload)], the incomplete rest)."""
    frames = []
    while len(buf) >= 2:
        op, n, off = buf[0] & 0x0F, buf[1] & 0x7F, 2
        if n == 126:
            n, off = int.from_bytes(buf[2:4], "big"), 4
        elif n == 127:
            n, off = int.from_bytes(buf[2:10], "big"), 10
        if len(buf) < off + n:
            break
        frames.append((op, buf[off:off + n]))
        buf = buf[off + n:]
    return frames, buf


def read_frames(s, quiet=0.3):
    """Text frames (parsed) until the socket is quiet for `quiet` seconds."""
    s.settimeout(quiet)
    buf = b""
    frames = []
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            done, buf = split_frames(buf + chunk)
            frames += [json.loads(payload) for op, payload in done if op == 1]
    except socket.timeout:
        pass
    return frames


def node(script, *args, timeout=60):
    """Run a Node client from clients/ and return its JSON result line."""
    out = subprocess.run(
        ["node", str(CLIENTS / script), *map(str, args)],
        cwd=TESTS,
        capture_output=True,
        timeout=timeout,
        text=True,
    )
    assert out.returncode == 0, f"{script} failed: {out.stderr}\n{out.stdout}"
    return json.loads(out.stdout.strip().splitlines()[-1])


PROM_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? -?[0-9.e+]+$')
