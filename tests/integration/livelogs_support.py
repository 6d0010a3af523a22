"""What the livelogd tests share: starting the worker, and three kinds of
client (Python websockets, Node ws through clients/livelogs-collect.js, and
a bare socket that reads only when told to). No tests in here."""
import asyncio
import base64
import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import websockets

from support import ROOT, binary, free_port

CLIENTS = Path(__file__).resolve().parent / "clients"
JOURNAL_NS = str(CLIENTS / "livelogs-journal-ns.sh")
NODE_ID = "node-under-test"
SPEC_KEYS = {"type", "node_id", "timestamp", "log", "seq"}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


# Workers started by the current test that must stop cleanly (the
# livelogd_exits_cleanly fixture in conftest.py checks them).
started = []


class Worker:
    def __init__(self, proc, port, ready):
        self.proc = proc
        self.port = port
        self.ready = ready  # the READY datagram's fields

    def url(self, query=""):
        return f"ws://127.0.0.1:{self.port}/{query}"

    def http(self, path):
        return f"http://127.0.0.1:{self.port}{path}"


def start(procs, notify_socket, log_file, *args, env=None, wrap=(), expect="READY"):
    """Start livelogd on an ephemeral loopback port and wait for READY (or
    for a RESOLVIX_ERROR when expect says so). wrap prefixes the command,
    e.g. the journal namespace helper."""
    port = free_port()
    cmd = [*wrap, binary("livelogd/livelogd"), "--listen", "127.0.0.1", "--port", str(port),
           "--log-file", str(log_file), *args]
    proc = procs.start(cmd, env={"NOTIFY_SOCKET": notify_socket.path, "RESOLVIX_NODE_ID": NODE_ID,
                                 **(env or {})})
    deadline = time.monotonic() + 15
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"livelogd sent neither READY nor an error: {cmd}")
        _, fields = notify_socket.recv(left)
        if "READY" in fields or "RESOLVIX_ERROR" in fields:
            break
    assert expect in fields, f"expected {expect}, got {fields}; stderr: {stderr_of(proc)}"
    w = Worker(proc, port, fields)
    if expect == "READY":
        started.append(w)
    return w


def stderr_of(proc, timeout=5):
    if proc.poll() is None:
        return "(still running)"
    return proc.stderr.read().decode(errors="replace")


def append(path, text, mode="a"):
    data = text.encode() if isinstance(text, str) else text
    with open(path, mode + "b") as f:
        f.write(data)


def numbered(first, last, prefix="line"):
    return "".join(f"{prefix} {i}\n" for i in range(first, last + 1))


def check_frame(frame):
    assert SPEC_KEYS <= frame.keys(), frame
    assert frame["type"] == "live_log"
    assert frame["node_id"] == NODE_ID
    assert ISO_UTC.match(frame["timestamp"]), frame["timestamp"]
    assert isinstance(frame["seq"], int) and frame["seq"] > 0
    return frame


async def receive(ws, n, timeout=20):
    """The next n frames, parsed and checked against docs/livelogs-stream.md."""
    frames = []
    async with asyncio.timeout(timeout):
        while len(frames) < n:
            frames.append(check_frame(json.loads(await ws.recv())))
    return frames


def run(coro):
    return asyncio.run(coro)


def connect(url, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("open_timeout", 10)
    return websockets.connect(url, **kw)


# ---- Node ws, with a strict UTF-8 decoder ---------------------------------

class NodeCollector:
    def __init__(self, procs, url, count):
        self.proc = procs.start(["node", str(CLIENTS / "livelogs-collect.js"), url, str(count)],
                                env={"NODE_PATH": str(ROOT / "tests" / "node_modules")})
        first = self._line(timeout=15)
        assert first == {"open": True}, first

    def _line(self, timeout):
        import select
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            raise AssertionError("the Node client said nothing")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"the Node client exited: {self.proc.stderr.read().decode()}")
        return json.loads(line)

    def messages(self, timeout=60):
        """Every message until done/closed; asserts none was invalid."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            o = self._line(max(0.1, deadline - time.monotonic()))
            if "m" in o:
                out.append(o["m"])
                continue
            assert "done" in o, f"after {len(out)} messages: {o}"
            return out


# ---- a bare WebSocket client ----------------------------------------------

class RawClient:
    """Speaks just enough WebSocket to read frames when the test says so:
    its receive buffer is tiny and it never answers pings by itself."""

    def __init__(self, port, query="", rcvbuf=None, headers=()):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET /{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
        req += "".join(f"{h}\r\n" for h in headers) + "\r\n"
        self.sock.sendall(req.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1]) if head else 0
        self.head = head.decode(errors="replace")

    def body(self):
        """What follows a refusal's headers (the reason)."""
        self.sock.settimeout(5)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
        except OSError:
            pass
        return self.buf.decode(errors="replace")

    def frame(self, timeout=10):
        """(opcode, payload bytes) of the next frame; None at end of stream."""
        self.sock.settimeout(timeout)
        while True:
            parsed = self._parse()
            if parsed:
                return parsed
            try:
                chunk = self.sock.recv(1 << 20)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk

    def _parse(self):
        b = self.buf
        if len(b) < 2:
            return None
        n, off = b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, off = int.from_bytes(b[2:4], "big"), 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, off = int.from_bytes(b[2:10], "big"), 10
        if len(b) < off + n:
            return None
        self.buf = b[off + n:]
        return b[0] & 0x0F, b[off:off + n]

    def send_text(self, data):
        payload = data.encode() if isinstance(data, str) else data
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x81])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        masked = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def close(self):
        self.sock.close()


def wait_until(cond, timeout=15, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def journal_log(ns_pid, lines, unit="livelogs-test.service", tag="livelogs-test", priority="info"):
    """Log lines into the journal of the namespace ns_pid runs in."""
    subprocess.run([JOURNAL_NS, "log", str(ns_pid), unit, tag, priority], input="".join(
        line + "\n" for line in lines).encode(), check=True, timeout=30)


def journalctl(ns_pid, *args):
    out = subprocess.run(["nsenter", "-t", str(ns_pid), "-m", "--", "journalctl", "--no-pager", "-o", "json",
                          *args], capture_output=True, check=True, timeout=30).stdout
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]
