"""?grep= on livelogd (docs/livelogs-stream.md): a pattern a client chooses is checked
at the handshake and matched in time linear in the line, so no pattern can
stall the loop or grow memory for everyone else."""
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from ingest_support import rss_kib
from livelogs_support import RawClient, append, connect, receive, run, start


@pytest.fixture
def log(tmp_path):
    return tmp_path / "app.log"


def q(pattern):
    return urllib.parse.quote(pattern, safe="")


def get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# ---- what is refused, and why --------------------------------------------

REFUSED = [
    ("((a{1,100}){1,100}){1,100}", "counted repetition inside a counted repetition"),
    ("(a{2}){3}", "counted repetition inside a counted repetition"),
    ("a{2}{3}", "counted repetition inside a counted repetition"),
    ("^([0-9]{1,3}\\.){3}", "counted repetition inside a counted repetition"),
    ("(.*)(.*)\\2\\1x", "back-references"),
    ("(a)\\1", "back-references"),
    ("a{1,1000}", "at most 255"),
    ("[a-z]{200}[0-9]{100}", "too complex"),
    ("\\bword\\b", "not supported"),
    ("\\d+", "\\d"),
    ("(unclosed", "unmatched ("),
    ("a{2", "{"),
    ("*a", "nothing to repeat"),
    ("[z-a]", "range"),
    ("a" * 600, "longer than"),
]


@pytest.mark.parametrize("pattern, reason", REFUSED)
def test_refused_patterns_say_why(procs, notify_socket, log, pattern, reason):
    append(log, "aaa\n")
    w = start(procs, notify_socket, log)
    c = RawClient(w.port, "?grep=" + q(pattern))
    assert c.status == 400
    body = c.body()
    assert "invalid grep expression" in body and reason in body, body
    status, body = get(w.http("/tail?grep=" + q(pattern)))
    assert status == 400
    message = json.loads(body)["message"]
    assert "invalid grep expression" in message and reason in message, message


# ---- what is accepted, and what it matches ---------------------------------

LINES = [
    "INFO GET /api/users 200",
    "ERROR POST /api/login 500",
    "WARN disk 93% full",
    "debug x=1 y=22 z=333",
    "caf\u00e9 au lait",
    '{"level":"error","msg":"boom"}',
    "a.b.c",
    "tab\there",
    "",
    "10.0.0.1 - - GET /",
]

MATCHES = [
    ("ERROR|WARN", [1, 2]),
    ("^INFO", [0]),
    ("(GET|POST) /api/[a-z]+ [45][0-9]{2}$", [1]),
    ("[[:digit:]]{3}", [0, 1, 3]),
    ("\\.", [6, 9]),
    ("a\\.b", [6]),
    ("caf\u00e9+ ", [4]),
    ('"level":"(error|fatal)"', [5]),
    ("\\{\"level", [5]),
    ("^$", [8]),
    ("^[^ ]*$", [5, 6, 7, 8]),
    ("[[:space:]]here", [7]),
    ("x=1 y=2+ z=3{2,}$", [3]),
    ("^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+ ", [9]),
    ("(a|b|c)\\.(a|b|c)", [6]),
    ("[]x]|q", [3]),
    ("\\w+=\\w+", [3]),
    ("o{2}m", [5]),
    ("(^|[^a-z])GET", [0, 9]),
]


def test_accepted_patterns_match_as_ere_does(procs, notify_socket, log):
    append(log, "".join(line + "\n" for line in LINES))
    w = start(procs, notify_socket, log, "--backlog", str(len(LINES)))
    for pattern, expected in MATCHES:
        status, body = get(w.http(f"/tail?format=text&grep={q(pattern)}"))
        assert status == 200, (pattern, body)
        want = "".join(LINES[i] + "\n" for i in expected)
        assert body.decode() == want, pattern

    async def go():
        async with connect(w.url("?grep=" + q("(GET|POST) /api"))) as ws:
            assert [f["log"] for f in await receive(ws, 2)] == LINES[:2]

    run(go())


# ---- abuse leaves everyone else served -------------------------------------

# Refused at the handshake: each of these took glibc seconds to minutes and
# up to gigabytes.
EXPLOSIVE = ["((a{1,100}){1,100}){1,100}", "(.*)(.*)\\2\\1x", "(a{1,255}){1,255}", "a{1,32767}"]
# Accepted, and as costly as an accepted pattern gets: about 64 states live
# at every byte of a line of a's.
HEAVY = [".{0,63}x", "(a*)*(b|a{0,60})x", "(a|aa|aaa)*[a-z]{0,55}y"]


def probe(port, timeout=1.0):
    """A WebSocket handshake and its first frame, and a GET /tail, each of
    which must be answered within timeout seconds."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(b"GET /?format=text HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf or len(buf.partition(b"\r\n\r\n")[2]) < 2:
            chunk = s.recv(65536)
            assert chunk, "closed"
            buf += chunk
        assert buf.startswith(b"HTTP/1.1 101")
    finally:
        s.close()
    status, body = get(f"http://127.0.0.1:{port}/tail?n=1&format=text", timeout=timeout)
    assert status == 200 and body == b"last\n"


def test_abusive_patterns_leave_others_served(procs, notify_socket, log):
    append(log, ("a" * 60000 + "\n") * 8 + "last\n")
    w = start(procs, notify_socket, log, "--backlog", "100")
    rss_start = rss_kib(w.proc.pid)
    stop = threading.Event()
    refusals, errors = [], []

    def abuse():
        held = []
        try:
            while not stop.is_set():
                for pattern in EXPLOSIVE:
                    c = RawClient(w.port, "?grep=" + q(pattern))
                    refusals.append(c.status)
                    c.close()
                for pattern in HEAVY:
                    # a client that makes the server scan the whole ring
                    held.append(RawClient(w.port, "?grep=" + q(pattern)))
                    status, _ = get(w.http("/tail?grep=" + q(pattern)))
                    assert status == 200
                while len(held) > 30:
                    held.pop(0).close()
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            for c in held:
                c.close()

    abuser = threading.Thread(target=abuse)
    abuser.start()
    rss_max = rss_start
    try:
        for _ in range(15):
            probe(w.port)
            rss_max = max(rss_max, rss_kib(w.proc.pid))
            time.sleep(0.1)
    finally:
        stop.set()
        abuser.join(60)
    assert not errors, errors
    assert refusals and set(refusals) == {400}
    # Memory stays what the ring and the clients take, whatever the patterns.
    assert rss_max - rss_start < 32 * 1024, (rss_start, rss_max)
    probe(w.port)
