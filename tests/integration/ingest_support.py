"""What the custom-metrics (ingest port) tests share: a telemetryd with its
ingest port on (started by the start_ingest fixture in conftest.py), raw TCP
sessions, the protocol's Python client.

No tests here; the test_ingest_*.py files import from this module."""
import importlib.util
import re
import select
import socket
import threading
from pathlib import Path

CLIENTS = Path(__file__).resolve().parent / "clients"
OK = b"ok\n\n"
ERROR = b"error\nwrong command\n\n"
LOG_NAME = "custom-metrics.log"

# An exposition line that may carry a timestamp.
PROM_SAMPLE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? -?[0-9.]+(e[+-][0-9]+)?( -?[0-9]+)?$')


def load_seed_client():
    """clients/ingest-client.py as a module (its name is not an identifier)."""
    spec = importlib.util.spec_from_file_location("ingest_client", CLIENTS / "ingest-client.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Ingest:
    """A running telemetryd with its ingest port on."""

    def __init__(self, telemetryd, port, state_dir):
        self.t = telemetryd
        self.port = port
        self.state_dir = state_dir

    @property
    def log_file(self):
        return self.state_dir / LOG_NAME

    def session(self, timeout=5):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def ask(self, request, session=None):
        """The whole reply to one request (or a pipelined batch) on a
        session of its own, the server closing after our EOF."""
        s = session or self.session()
        try:
            s.sendall(request)
            s.shutdown(socket.SHUT_WR)
            return read_all(s)
        finally:
            s.close()


def read_exact(s, n):
    """Exactly n bytes, or fail naming what did come."""
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise AssertionError(f"connection closed after {buf!r}, {n - len(buf)} bytes short")
        buf += chunk
    return buf


def expect(s, request, reply):
    """Send request, and the next bytes must be reply, byte for byte."""
    s.sendall(request)
    got = read_exact(s, len(reply))
    assert got == reply, f"{request!r}: got {got!r}, want {reply!r}"


def read_all(s):
    """Everything until the server closes."""
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return buf
        buf += chunk


def quiet(s, wait=0.2):
    """Nothing more arrives: no stray bytes after the replies checked."""
    s.settimeout(wait)
    try:
        data = s.recv(1)
    except socket.timeout:
        return True
    finally:
        s.settimeout(5)
    raise AssertionError(f"unexpected bytes {data!r}")


def readable(sessions):
    """Those of the sessions that have something to read now."""
    return select.select(sessions, [], [], 0)[0]


def closed_by_server(s, timeout=5):
    """The server ended the session: EOF (or a reset) within timeout."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def run_concurrently(fn, n):
    """fn(0), ..., fn(n - 1), each in a thread of its own, all at once:
    what they raised, as strings."""
    errors = []

    def run(i):
        try:
            fn(i)
        except Exception as e:  # noqa: BLE001  (returned to the test)
            errors.append(f"{i}: {e!r}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
