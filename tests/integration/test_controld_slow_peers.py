"""Slow and idle peers cannot starve controld (docs/control-api.md): a whole request must
arrive within [control] request_deadline however it is trickled, one source
address holds at most [control] max_connections_per_ip connections, and 600
slow connections leave /health answering."""
import http.client
import json
import resource
import select
import socket
import threading
import time

import pytest

from support import poll


def connect(cd, source="127.0.0.1"):
    return socket.create_connection(("127.0.0.1", cd.port), timeout=5, source_address=(source, 0))


def closed_by_peer(s):
    """True once the server has closed s (EOF or reset), without waiting."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        return s.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def trickle(s, data, every, until_closed_within):
    """Send data one byte per `every` seconds; what the server sent back and
    whether it closed the connection before all of it was sent (or within
    until_closed_within seconds of the start)."""
    started = time.monotonic()
    got = b""
    for i in range(len(data)):
        try:
            s.sendall(data[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            return got, True
        end = time.monotonic() + every
        while time.monotonic() < end:
            r, _, _ = select.select([s], [], [], max(0.0, end - time.monotonic()))
            if r:
                try:
                    chunk = s.recv(4096)
                except ConnectionResetError:
                    return got, True
                if not chunk:
                    return got, True
                got += chunk
        if time.monotonic() - started > until_closed_within:
            break
    return got, False


@pytest.fixture
def cd(controld):
    controld.start(env={"RESOLVIX_CONTROL_REQUEST_DEADLINE": "2"})
    return controld


def test_trickled_headers_are_cut_at_the_deadline(cd):
    # One byte every 0.2 s keeps an idle timer from ever firing; the whole
    # request would take 40 s.
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 150 + b"\r\n\r\n"
    with connect(cd) as s:
        got, closed = trickle(s, request, 0.2, until_closed_within=15)
    assert closed, "a request trickled for 15 s was not cut"
    assert got == b"", got
    assert cd.health().status == 200
    cd.wait_log("did not send a whole request within 2 s")


def test_trickled_body_is_cut_at_the_deadline(cd):
    body = json.dumps({"command": "start_telemetry", "pad": "x" * 150}).encode()
    head = (b"POST /control HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    with connect(cd) as s:
        s.sendall(head)
        got, closed = trickle(s, body, 0.2, until_closed_within=15)
    assert closed and got == b"", got
    assert cd.status()["telemetry"]["running"] is False


def test_silent_connection_is_cut_at_the_deadline(cd):
    with connect(cd) as s:
        s.settimeout(15)
        started = time.monotonic()
        assert s.recv(4096) == b""
    # Cut by the deadline, not by an idle timer of 30 s.
    assert time.monotonic() - started < 15


def test_keep_alive_connection_gets_a_new_deadline_per_request(cd):
    conn = http.client.HTTPConnection("127.0.0.1", cd.port, timeout=10)
    try:
        for _ in range(4):
            conn.request("GET", "/health")
            assert conn.getresponse().read()
            time.sleep(0.8)  # 3.2 s in all: longer than one deadline
    finally:
        conn.close()


def test_a_request_waiting_for_its_worker_is_not_cut(cd):
    # The answer waits 3 s for READY=1: the request itself was whole long before.
    cd.behave("telemetry", "ready-delay-ms=3000")
    r = cd.control("start_telemetry")
    assert (r.status, r.json["status"]) == (200, "started")


def test_connections_per_source_address_are_bounded(controld):
    controld.start(env={"RESOLVIX_CONTROL_MAX_CONNECTIONS_PER_IP": "8"})
    held = [connect(controld, "127.0.0.2") for _ in range(12)]
    try:
        poll(lambda: sum(map(closed_by_peer, held)) >= 4, 5, "connections past the limit closed")
        time.sleep(0.3)
        open_ = [s for s in held if not closed_by_peer(s)]
        assert len(open_) == 8, f"{len(open_)} connections from one address held"
        # The ones held are served; another address is not affected.
        open_[0].sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert open_[0].recv(4096).startswith(b"HTTP/1.1 200")
        with connect(controld, "127.0.0.3") as other:
            other.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert other.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        for s in held:
            s.close()
    controld.wait_log("max_connections_per_ip")


def test_600_slow_connections_leave_health_answering(controld):
    """600 connections from six loopback addresses each trickle a header byte
    per second and reconnect when cut; meanwhile /health from another address
    is answered every time within 2 s."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1024:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    controld.start(env={"RESOLVIX_CONTROL_REQUEST_DEADLINE": "3"})
    sources = [f"127.0.0.{i}" for i in range(2, 8)]
    slots = [None] * 600
    stop = threading.Event()

    def attack():
        line = b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
        sent = [0] * len(slots)
        while not stop.is_set():
            for i in range(len(slots)):
                if stop.is_set():
                    break
                s = slots[i]
                try:
                    if s is None:
                        s = slots[i] = socket.socket()
                        s.setblocking(False)
                        s.bind((sources[i % len(sources)], 0))
                        s.connect_ex(("127.0.0.1", controld.port))
                        sent[i] = 0
                        continue
                    s.send((line + b"x" * 100)[sent[i]:sent[i] + 1])
                    sent[i] += 1
                except OSError:
                    s.close()
                    slots[i] = None
            stop.wait(1.0)

    attacker = threading.Thread(target=attack, daemon=True)
    attacker.start()
    answered = []
    try:
        time.sleep(2)  # every slow connection is open and trickling
        deadline = time.monotonic() + 10  # through several request deadlines
        while time.monotonic() < deadline:
            started = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", controld.port, timeout=2,
                                              source_address=("127.0.0.9", 0))
            try:
                conn.request("GET", "/health")
                resp = conn.getresponse()
                answered.append((resp.status, json.loads(resp.read())["status"]))
            finally:
                conn.close()
            assert time.monotonic() - started <= 2
            time.sleep(0.3)
    finally:
        stop.set()
        attacker.join(timeout=10)
        for s in slots:
            if s is not None:
                s.close()
    assert len(answered) >= 10 and set(answered) == {(200, "healthy")}, answered
    assert controld.proc.poll() is None


def test_global_limit_is_logged(controld):
    controld.start(env={"RESOLVIX_CONTROL_MAX_CONNECTIONS": "16"})
    held = [connect(controld, f"127.0.0.{2 + i % 4}") for i in range(16)]
    try:
        controld.wait_log("connection limit")
        assert "max_connections = 16" in controld.log()
    finally:
        for s in held:
            s.close()
