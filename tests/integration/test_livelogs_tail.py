"""GET /tail on livelogd (docs/livelogs-stream.md): the answer is streamed from the ring
rather than built in memory, so clients that do not read cost next to
nothing, and one that cannot keep up with the log, or takes too long,
is cut off."""
import http.client
import json
import select
import socket
import time

import pytest

from ingest_support import rss_kib
from livelogs_support import append, connect, numbered, receive, run, start, wait_until


@pytest.fixture
def log(tmp_path):
    return tmp_path / "app.log"


def non_reader(port, target="/tail"):
    """A client that asks and then reads nothing: its receive buffer is a
    few KiB, so the server's side fills up at once."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return s


def wait_answered(socks, timeout=30):
    """Until every socket has the start of an answer waiting in it."""
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN)
    pending = {s.fileno() for s in socks}
    deadline = time.monotonic() + timeout
    while pending:
        assert time.monotonic() < deadline, f"{len(pending)} requests not answered"
        for fd, _ in poller.poll(1000):
            pending.discard(fd)
            poller.unregister(fd)


def read_response(sock, timeout=10):
    """Everything the server sends until it hangs up."""
    sock.settimeout(timeout)
    got = b""
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        got += chunk
    return got


def tail(port, target="/tail"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", target)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


# The ring holds --backlog lines of up to about 400 bytes; 2,000 lines of
# 300 make a /tail answer of about 860 kB.
LINE = "x" * 300
LINES = 2000
BACKLOG = ("--backlog", str(LINES))


def lines(prefix=""):
    return "".join(f"{prefix}{i:06d} {LINE}\n" for i in range(LINES))


def loaded(w, prefix=""):
    """Wait until livelogd has read the file up to its last line."""
    last = f"{prefix}{LINES - 1:06d} {LINE}\n".encode()
    wait_until(lambda: tail(w.port, "/tail?n=1&format=text")[1] == last, what="the whole file read")
    return w


def test_non_reading_tail_requests_stay_small(procs, notify_socket, log):
    append(log, lines())
    w = loaded(start(procs, notify_socket, log, *BACKLOG))
    status, body = tail(w.port)
    assert status == 200 and len(json.loads(body)) == LINES
    rss_before = rss_kib(w.proc.pid)

    socks = [non_reader(w.port) for _ in range(200)]
    try:
        wait_answered(socks)
        grown = rss_kib(w.proc.pid) - rss_before
        # Building each answer whole would take 200 x 860 kB.
        assert grown < 32 * 1024, f"RSS grew by {grown} KiB"

        # Everyone else is still served.
        status, body = tail(w.port, "/tail?n=3&format=text")
        assert status == 200 and body.decode().splitlines() == [f"{i:06d} {LINE}" for i in (1997, 1998, 1999)]

        async def go():
            async with connect(w.url("?grep=001999")) as ws:
                assert (await receive(ws, 1))[0]["log"] == f"001999 {LINE}"

        run(go())
    finally:
        for s in socks:
            s.close()


def test_tail_keeps_the_connection_for_the_next_request(procs, notify_socket, log):
    append(log, numbered(1, 50))
    w = start(procs, notify_socket, log, "--backlog", "50")
    conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=10)
    try:
        for n in (5, 50, 0):
            conn.request("GET", f"/tail?n={n}")
            r = conn.getresponse()
            assert r.status == 200
            frames = json.loads(r.read())
            assert [f["log"] for f in frames] == [f"line {i}" for i in range(51 - n, 51)]
        conn.request("GET", "/tail?n=2&format=text&grep=" + "line%204")
        r = conn.getresponse()
        assert r.read() == b"line 48\nline 49\n"
    finally:
        conn.close()


def test_a_reader_the_log_outruns_is_cut_off(procs, notify_socket, log):
    """The answer is read from the ring as the client takes it: lines that
    the log pushed out of the ring before the client took them cannot be
    sent, and the answer ends unfinished rather than with lines missing."""
    append(log, lines("old "))
    w = loaded(start(procs, notify_socket, log, *BACKLOG), "old ")
    s = non_reader(w.port)
    wait_answered([s])
    # Several times what the ring holds.
    for _ in range(4):
        append(log, lines("new "))
        time.sleep(0.2)
    got = read_response(s)
    s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0]
    assert b"transfer-encoding: chunked" in head.lower()
    assert not body.endswith(b"0\r\n\r\n"), "the answer claimed to be complete"
    assert b"new 000" not in body
    # and the next one is whole
    status, body = tail(w.port, "/tail?n=2&format=text")
    assert status == 200 and body.decode().splitlines() == [f"new {i:06d} {LINE}" for i in (1998, 1999)]


def test_a_reader_that_stalls_is_cut_off_by_a_deadline(procs, notify_socket, log):
    """However quiet the log, an answer must be taken within twice the ping
    interval: a peer that stops reading does not hold its connection."""
    append(log, lines())
    w = loaded(start(procs, notify_socket, log, *BACKLOG, "--set", "livelogs.ping_interval=1"))
    whole = len(tail(w.port)[1])
    s = non_reader(w.port)
    wait_answered([s])
    time.sleep(4)
    got = read_response(s)
    s.close()
    assert b" 200 " in got.split(b"\r\n")[0]
    assert not got.endswith(b"0\r\n\r\n"), "the stalled answer was let finish"
    assert len(got) < whole
