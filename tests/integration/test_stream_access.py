"""Who may use a stream port, on every path of it (docs/telemetry-stream.md, docs/livelogs-stream.md): the token and
the Origin list cover plain HTTP as they cover the WebSocket upgrade, an
Origin too long to read is refused, the 404 body is valid JSON whatever the
path, and a client frame without a mask ends the connection with 1002.

telemetryd and livelogd share this code (shared/wsserver.c); every test
runs against both."""
import base64
import http.client
import json
import os
import socket
import struct

import pytest

from livelogs_support import RawClient
from livelogs_support import start as start_livelogd
from telemetry_support import split_frames

TOKEN = "s3cret-token"
ALLOWED = "https://ops.example.com"
# A legal DNS name of the longest length there is: 253 characters.
LONG_HOST = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
OTHER_LONG_HOST = ".".join(["e" * 63, "f" * 63, "g" * 63, "h" * 61])


class Port:
    PATHS = {"telemetry": ["/sample", "/metrics", "/nothing"], "livelogs": ["/tail", "/nothing"]}

    def __init__(self, kind, port):
        self.kind = kind
        self.port = port
        self.paths = self.PATHS[kind]

    @staticmethod
    def served(path):
        """The status a path gets once the caller is let in."""
        return 404 if path == "/nothing" else 200

    def get(self, target, headers=None, method="GET"):
        """(status, headers, body bytes) of one plain HTTP request."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, target, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def raw(self, request):
        """Send request bytes as they are; (status, body bytes) of the answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(request)
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        head, _, body = got.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), body


@pytest.fixture(params=["telemetry", "livelogs"])
def stream(request, procs, notify_socket, tmp_path):
    """stream(**settings) -> a Port of a running worker of the kind under
    test, with [telemetry]/[livelogs] settings such as token=..."""
    kind = request.param

    def start(**settings):
        env = {f"RESOLVIX_{kind.upper()}_{k.upper()}": v for k, v in settings.items()}
        if kind == "telemetry":
            return Port(kind, request.getfixturevalue("start_telemetryd")(env=env).port)
        log = tmp_path / "app.log"
        log.write_text("a line that only the token holder may read\n")
        return Port(kind, start_livelogd(procs, notify_socket, log, env=env).port)

    return start


# ---- the token ---------------------------------------------------------------

def test_token_covers_every_http_path(stream):
    p = stream(token=TOKEN)
    for path in p.paths:
        status, headers, body = p.get(path)
        assert status == 401, path
        assert headers["www-authenticate"] == "Bearer"
        assert json.loads(body)["detail"] == "unauthorized"
        assert b"line" not in body and b"metrics" not in body
        assert p.get(path + "?token=wrong")[0] == 401, path
        assert p.get(path, {"Authorization": "Bearer wrong"})[0] == 401, path
        assert p.get(path, {"Authorization": f"Bearer {TOKEN}x"})[0] == 401, path
        assert p.get(path + f"?token={TOKEN}")[0] == p.served(path), path
        assert p.get(path, {"Authorization": f"Bearer {TOKEN}"})[0] == p.served(path), path
    # Other methods are no way around it either.
    assert p.get(p.paths[0], method="POST")[0] == 401
    assert p.get(p.paths[0] + f"?token={TOKEN}", method="POST")[0] == 405


def test_answers_without_a_token_stay_open(stream):
    p = stream()
    for path in p.paths:
        assert p.get(path)[0] == p.served(path), path


# ---- Origin ------------------------------------------------------------------

def test_allowed_origins_cover_every_http_path(stream):
    p = stream(allowed_origins=f"{ALLOWED} http://127.0.0.1:3000")
    for path in p.paths:
        status, _, body = p.get(path, {"Origin": "https://evil.example.com"})
        assert status == 403, path
        assert json.loads(body)["detail"] == "forbidden"
        assert p.get(path, {"Origin": "https://ops.example.com.evil.com"})[0] == 403, path
        assert p.get(path, {"Origin": ALLOWED})[0] == p.served(path), path
        assert p.get(path, {"Origin": "http://127.0.0.1:3000"})[0] == p.served(path), path
        # curl, Python and Prometheus send no Origin: not a browser, not refused
        assert p.get(path)[0] == p.served(path), path


def test_an_origin_too_long_to_read_is_refused(stream):
    listed = f"https://{LONG_HOST}"
    p = stream(allowed_origins=f"{ALLOWED} {listed}")
    for origin in (f"https://{OTHER_LONG_HOST}", f"https://{OTHER_LONG_HOST}:8443",
                   "https://" + "x" * 2000 + ".example.com"):
        c = RawClient(p.port, headers=[f"Origin: {origin}"])
        assert c.status == 403, origin[:40]
        c.close()
        assert p.get(p.paths[0], {"Origin": origin})[0] == 403
    # A listed origin that long is still let in: the bound is on reading,
    # not on what may be listed.
    c = RawClient(p.port, headers=[f"Origin: {listed}"])
    assert c.status == 101
    c.close()
    assert p.get(p.paths[0], {"Origin": listed})[0] == 200


# ---- the 404 body ------------------------------------------------------------

@pytest.mark.parametrize("path, shown", [
    (b"/a%22b%5Cc", 'a"b\\c'),
    (b'/"q\\', '"q\\'),
    (b"/t\x01a\x1fb\x7f", "t\x01a\x1fb\x7f"),
    (b"/x%01%1f%08y", "x\x01\x1f\x08y"),
    (b"/caf%c3%a9", "caf\u00e9"),
    (b"/%ff%fe-end", "-end"),
    (b"/%c3%28-end", "-end"),
    (b"/\xc3\x28\xff-end", "-end"),
])
def test_not_found_body_is_valid_json_whatever_the_path(stream, path, shown):
    p = stream()
    status, body = p.raw(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 404
    # json.loads() on bytes insists on valid UTF-8 and, strict, on escaped
    # control characters.
    reply = json.loads(body)
    assert reply["detail"] == "not_found"
    assert shown in reply["message"]


# ---- masking -----------------------------------------------------------------

def handshake(query=""):
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET /{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def frame(payload, masked=True, opcode=1):
    head = bytes([0x80 | opcode])
    n = len(payload)
    bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + n.to_bytes(8, "big")
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


PING = b'{"command":"ping"}'


def read_until_closed(sock, timeout=10):
    sock.settimeout(timeout)
    buf = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        except socket.timeout:
            return buf  # never hung up: what came is what the test looks at
        if not chunk:
            return buf
        buf += chunk


def parse_frames(buf):
    """Every complete (opcode, payload) in what the server sent."""
    return split_frames(buf)[0]


def frames_until_closed(client):
    """The frames a RawClient gets until the server hangs up."""
    return parse_frames(client.buf + read_until_closed(client.sock))


def frames_after_handshake(sock):
    return parse_frames(read_until_closed(sock).partition(b"\r\n\r\n")[2])


def close_code(frames):
    closes = [payload for op, payload in frames if op == 8]
    assert closes, f"no close frame in {frames}"
    return struct.unpack("!H", closes[0][:2])[0]


def replies(frames):
    return [json.loads(payload) for op, payload in frames if op == 1 and b'"pong"' in payload]


def test_unmasked_client_frame_closes_with_1002(stream):
    p = stream()
    c = RawClient(p.port)
    assert c.status == 101
    c.sock.sendall(frame(PING, masked=False))
    got = frames_until_closed(c)
    assert close_code(got) == 1002
    assert replies(got) == [], "the unmasked frame was acted on"
    c.close()


def test_unmasked_frame_after_good_ones_and_pipelined(stream):
    p = stream()
    # Good frames first, then a bad one: the good ones are answered.
    c = RawClient(p.port)
    c.sock.sendall(frame(PING) + frame(PING) + frame(PING, masked=False) + frame(PING))
    got = frames_until_closed(c)
    assert close_code(got) == 1002
    assert len(replies(got)) == 2
    c.close()
    # An unmasked frame sent in the same packet as the handshake.
    with socket.create_connection(("127.0.0.1", p.port), timeout=10) as s:
        s.sendall(handshake() + frame(PING, masked=False))
        assert close_code(frames_after_handshake(s)) == 1002


def test_masked_frames_however_they_arrive_are_fine(stream):
    p = stream()
    big = b'{"command":"nope","pad":"' + b"x" * 300 + b'"}'
    with socket.create_connection(("127.0.0.1", p.port), timeout=10) as s:
        # pipelined with the handshake, and the second frame cut in two
        second = frame(PING)
        s.sendall(handshake() + frame(PING) + second[:3])
        s.sendall(second[3:])
        # byte by byte, a 16-bit length included
        for b in frame(big):
            s.sendall(bytes([b]))
        s.sendall(frame(b"hi", opcode=9))
        got = parse_frames(read_until(s, lambda frames: len(replies(frames)) == 2 and (10, b"hi") in frames
                                      and any(b'"error"' in payload for _, payload in frames)))
        s.sendall(frame(struct.pack("!H", 1000), opcode=8))
        got += parse_frames(read_until_closed(s))
    assert close_code(got) == 1000
    assert len(replies(got)) == 2
    # the big one is no known command, but it was read as one message
    assert sum(1 for op, payload in got if op == 1 and b'"error"' in payload) == 1


def read_until(sock, done, timeout=10):
    """What follows the handshake's answer, read until done(frames) holds."""
    sock.settimeout(timeout)
    buf = b""
    while not done(parse_frames(buf.partition(b"\r\n\r\n")[2])):
        chunk = sock.recv(65536)
        assert chunk, f"closed early: {buf!r}"
        buf += chunk
    body = buf.partition(b"\r\n\r\n")[2]
    # hand back whole frames only; parse_frames() ignores a cut-off tail
    return body
