"""controld's control API (docs/control-api.md) against the real daemon and the stand-in
worker: every endpoint, alias, answer and error, and that bad requests
change nothing."""
import http.client
import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from support import pid_alive, poll

JSON = {"Content-Type": "application/json"}
WORKER_KEYS = {"telemetry": {"running", "pid", "ws_port", "interval"}, "livelogs": {"running", "pid", "ws_port"}}
ADDITIVE = {"state", "restarts", "last_exit", "started_at"}


def curl(*args):
    """Run the real curl; (HTTP status, body)."""
    out = subprocess.run(["curl", "-sS", "-m", "20", "-w", "\n%{http_code}", *args], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    body, _, code = out.rpartition("\n")
    return int(code), body


def stable(status):
    """/status without what moves by itself."""
    s = dict(status)
    s.pop("uptime_s")
    return s


@pytest.fixture
def cd(controld):
    controld.start()
    return controld


def test_seed_curl_command_starts_telemetry(cd):
    # The README's own command, to the letter (localhost, not 127.0.0.1).
    code, body = curl("-X", "POST", f"http://localhost:{cd.port}/control", "-H", "Content-Type: application/json",
                      "-d", '{"command": "start_telemetry"}')
    assert code == 200, body
    answer = json.loads(body)
    assert answer == {"status": "started", "pid": answer["pid"], "ws_port": cd.ports["telemetry"], "interval": 60}
    cd.worker_pids.add(answer["pid"])
    assert cd.worker("telemetry") == {"role": "telemetry", "pid": answer["pid"], "interval": 60}
    code, body = curl(f"http://localhost:{cd.port}/status")
    assert code == 200
    assert json.loads(body)["telemetry"]["pid"] == answer["pid"]


def test_status_keys_exact(cd):
    s = cd.status()
    assert set(s) >= {"node_id", "log_file", "livelogs", "telemetry", "version", "uptime_s"}
    assert s["node_id"] == "test-node"
    assert s["log_file"] == str(cd.followed)
    assert isinstance(s["version"], str) and s["version"]
    assert isinstance(s["uptime_s"], (int, float)) and s["uptime_s"] >= 0
    for role, keys in WORKER_KEYS.items():
        assert set(s[role]) >= keys | ADDITIVE, role
        assert s[role]["running"] is False
        assert s[role]["pid"] is None
        assert s[role]["ws_port"] == cd.ports[role]
        assert s[role]["state"] == "stopped"
        assert s[role]["restarts"] == 0
        assert s[role]["last_exit"] is None
        assert s[role]["started_at"] is None
    assert s["telemetry"]["interval"] == 60

    started = cd.control("start_telemetry", interval=5).json
    cd.control("start_livelogs")
    s = cd.status()
    t = s["telemetry"]
    assert (t["running"], t["pid"], t["interval"], t["state"]) == (True, started["pid"], 5, "running")
    assert t["started_at"].endswith("Z") and "T" in t["started_at"]
    assert s["livelogs"]["running"] is True and isinstance(s["livelogs"]["pid"], int)
    assert s["livelogs"]["pid"] != t["pid"]


@pytest.mark.parametrize("path", ["/status", "/api/status"])
def test_status_paths(cd, path):
    r = cd.request("GET", path)
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/json"
    assert set(r.json) >= {"node_id", "log_file", "livelogs", "telemetry"}
    head = cd.request("HEAD", path)
    assert head.status == 200 and head.body == ""


@pytest.mark.parametrize("path", ["/health", "/api/health"])
def test_health_paths(cd, path):
    r = cd.request("GET", path)
    assert (r.status, r.json["status"]) == (200, "healthy")
    cd.control("start_telemetry")
    assert cd.request("GET", path).status == 200


@pytest.mark.parametrize("path", ["/control", "/api/control"])
def test_control_paths_full_cycle(cd, path):
    t_port, l_port = cd.ports["telemetry"], cd.ports["livelogs"]

    r = cd.control("start_telemetry", path=path, interval=5)
    assert r.status == 200
    pid = r.json["pid"]
    assert r.json == {"status": "started", "pid": pid, "ws_port": t_port, "interval": 5}
    assert cd.worker("telemetry")["pid"] == pid

    r = cd.control("start_telemetry", path=path)
    assert (r.status, r.json) == (200, {"status": "already_running", "pid": pid, "ws_port": t_port, "interval": 5})
    r = cd.control("start_telemetry", path=path, interval=5)
    assert r.json["status"] == "already_running"

    # A different interval is handed to the same process.
    r = cd.control("start_telemetry", path=path, interval=7)
    assert (r.status, r.json) == (200, {"status": "reconfigured", "pid": pid, "ws_port": t_port, "interval": 7})
    poll(lambda: cd.worker("telemetry")["interval"] == 7, 5, "worker got interval 7")
    assert cd.worker("telemetry")["pid"] == pid
    assert cd.status()["telemetry"]["interval"] == 7

    r = cd.control("restart_telemetry", path=path)
    assert r.status == 200
    new = r.json["pid"]
    assert new != pid
    assert r.json == {"status": "restarted", "pid": new, "ws_port": t_port, "interval": 7}
    assert cd.worker("telemetry") == {"role": "telemetry", "pid": new, "interval": 7}

    r = cd.control("restart_telemetry", path=path, interval=11)
    assert r.json["status"] == "restarted" and r.json["interval"] == 11
    assert cd.worker("telemetry")["interval"] == 11
    restarted_pid = r.json["pid"]

    r = cd.control("stop_telemetry", path=path)
    assert (r.status, r.json) == (200, {"status": "stopped"})
    assert cd.status()["telemetry"]["pid"] is None
    assert not pid_alive(restarted_pid)
    r = cd.control("stop_telemetry", path=path)
    assert (r.status, r.json) == (200, {"status": "already_stopped"})

    r = cd.control("start_livelogs", path=path)
    assert r.status == 200
    lpid = r.json["pid"]
    assert r.json == {"status": "started", "pid": lpid, "ws_port": l_port, "log_file": str(cd.followed)}
    assert cd.worker("livelogs")["role"] == "livelogs"
    r = cd.control("start_livelogs", path=path)
    assert r.json["status"] == "already_running" and r.json["pid"] == lpid
    r = cd.control("restart_livelogs", path=path)
    assert r.json["status"] == "restarted" and r.json["pid"] != lpid and r.json["log_file"] == str(cd.followed)
    assert cd.control("stop_livelogs", path=path).json == {"status": "stopped"}
    assert cd.control("stop_livelogs", path=path).json == {"status": "already_stopped"}

    # Restart of a stopped worker starts it.
    r = cd.control("restart_telemetry", path=path)
    assert r.json["status"] == "restarted" and cd.worker("telemetry")["pid"] == r.json["pid"]


def test_stopped_worker_is_gone(cd):
    pid = cd.control("start_telemetry").json["pid"]
    assert cd.control("stop_telemetry").json["status"] == "stopped"
    # "stopped" is answered once the process is reaped, not when it was signalled.
    assert not Path(f"/proc/{pid}").exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", cd.ports["telemetry"]), timeout=1).close()


def test_started_means_ready(cd):
    # READY=1 comes 400 ms after the worker listens: "started" must wait for it.
    cd.behave("telemetry", "ready-delay-ms=400")
    r = cd.control("start_telemetry")
    assert r.status == 200 and r.json["status"] == "started"
    assert cd.status()["telemetry"]["state"] == "running"
    assert "telemetry worker ready" in cd.log()


BAD_BODIES = [
    ('{"command": "start_telemetry"', "malformed_json"),
    ("", "malformed_json"),
    ("[1, 2]", "malformed_json"),
    ("\x00\xff\xfe", "malformed_json"),
    ("{}", "missing_command"),
    ('{"interval": 5}', "missing_command"),
    ('{"command": 5}', "bad_field"),
    ('{"command": "bogus"}', "unknown_command"),
    ('{"command": "START_TELEMETRY"}', "unknown_command"),
    ('{"command": "start_telemetry", "interval": "5"}', "bad_field"),
    ('{"command": "start_telemetry", "interval": 0}', "bad_field"),
    ('{"command": "start_telemetry", "interval": 86401}', "bad_field"),
    ('{"command": "start_telemetry", "interval": -1}', "bad_field"),
    ('{"command": "start_telemetry", "interval": 1.5}', "bad_field"),
    ('{"command": "start_telemetry", "interval": null}', "bad_field"),
    ('{"command": "start_telemetry", "interval": true}', "bad_field"),
    ('{"command": "start_telemetry", "colour": "red"}', "unknown_field"),
    ('{"command": "stop_telemetry", "interval": 5}', "unknown_field"),
    ('{"command": "start_livelogs", "interval": 5}', "unknown_field"),
    # Which of two values would count is a guess: refuse both.
    ('{"command": "stop_telemetry", "command": "start_telemetry"}', "duplicate_field"),
    ('{"command": "start_telemetry", "interval": 5, "interval": 600}', "duplicate_field"),
    ('{"command": "bogus", "command": "start_telemetry"}', "duplicate_field"),
    ('{"command": "start_telemetry", "x": 1, "y": 2, "x": 3}', "duplicate_field"),
]


@pytest.mark.parametrize("body,detail", BAD_BODIES)
def test_bad_body_is_400(cd, body, detail):
    r = cd.request("POST", "/control", body, JSON)
    assert r.status == 400, r
    assert r.headers["Content-Type"] == "application/json"
    assert set(r.json) == {"status", "detail", "message"}
    assert (r.json["status"], r.json["detail"]) == ("error", detail)
    assert len(r.json["message"]) > 10


def raw_post(cd, body):
    """POST /control with body as bytes; (status, raw answer bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", cd.port, timeout=20)
    try:
        conn.request("POST", "/control", body=body, headers=JSON)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize("key", [b"\xff\xfe", b"caf\xc3", b"a" * 63 + "\u00e9".encode(), b"\xed\xa0\x80",
                                 "\u00e9t\u00e9".encode() * 30])
def test_invalid_utf8_is_never_echoed(cd, key):
    status, data = raw_post(cd, b'{"command": "start_telemetry", "' + key + b'": 1}')
    assert status == 400
    # Valid UTF-8, valid JSON, whatever the client sent.
    answer = json.loads(data.decode("utf-8"))
    assert answer["detail"] == "unknown_field", answer
    assert len(answer["message"]) < 200
    status, data = raw_post(cd, b'{"command": "start_telemetry", "' + key + b'": 1, "' + key + b'": 2}')
    assert (status, json.loads(data.decode("utf-8"))["detail"]) == (400, "duplicate_field")
    assert cd.status()["telemetry"]["running"] is False


def test_interval_bounds_accepted(cd):
    for interval in (1, 86400):
        r = cd.control("restart_telemetry", interval=interval)
        assert r.status == 200 and r.json["interval"] == interval
        assert cd.worker("telemetry")["interval"] == interval


def test_wrong_method_405_with_allow(cd):
    for method in ("GET", "PUT", "DELETE"):
        for path in ("/control", "/api/control"):
            r = cd.request(method, path)
            assert r.status == 405, (method, path, r)
            assert r.headers["Allow"] == "POST"
            assert r.json["detail"] == "method_not_allowed"
    for path in ("/status", "/api/status", "/health", "/api/health"):
        r = cd.request("POST", path, "{}", JSON)
        assert r.status == 405, (path, r)
        assert set(h.strip() for h in r.headers["Allow"].split(",")) == {"GET", "HEAD"}


@pytest.mark.parametrize("path", ["/nope", "/api", "/api/", "/api/nope", "/control/x", "/statusx", "/api/api/status"])
def test_unknown_path_404(cd, path):
    r = cd.request("GET", path)
    assert r.status == 404, r
    assert r.json["status"] == "error" and r.json["detail"] == "not_found"


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                                   "multipart/form-data; boundary=x"])
def test_not_json_415(cd, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    r = cd.request("POST", "/control", '{"command": "start_telemetry"}', headers)
    assert r.status == 415, r
    assert r.json["detail"] == "unsupported_media_type"
    assert cd.status()["telemetry"]["running"] is False


@pytest.mark.parametrize("ctype", ["application/json; charset=utf-8", "Application/JSON"])
def test_json_content_type_variants_accepted(cd, ctype):
    r = cd.request("POST", "/control", '{"command": "stop_telemetry"}', {"Content-Type": ctype})
    assert (r.status, r.json["status"]) == (200, "already_stopped")


def padded(size):
    """A valid stop command padded with spaces to exactly size bytes."""
    cmd = b'{"command": "stop_telemetry"}'
    return cmd + b" " * (size - len(cmd))


def chunks(data, n=4096):
    for i in range(0, len(data), n):
        yield data[i:i + n]


def test_body_limit_with_content_length(cd):
    r = cd.request("POST", "/control", padded(64 * 1024), JSON)
    assert (r.status, r.json["status"]) == (200, "already_stopped")
    r = cd.request("POST", "/control", padded(64 * 1024 + 1), JSON)
    assert r.status == 413, r
    assert r.json["detail"] == "body_too_large"


def test_body_limit_chunked(cd):
    def post_chunked(data):
        conn = http.client.HTTPConnection("127.0.0.1", cd.port, timeout=20)
        try:
            conn.request("POST", "/control", body=chunks(data), headers=JSON, encode_chunked=True)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    assert post_chunked(padded(64 * 1024)) == (200, {"status": "already_stopped"})
    status, body = post_chunked(padded(64 * 1024 + 1))
    assert (status, body["detail"]) == (413, "body_too_large")
    # A hang guard, not a speed target: when the loop's timer slack delayed
    # each read by 250 ms, this took 16 s.
    started = time.monotonic()
    status, body = post_chunked(padded(1024 * 1024))
    assert status == 413
    assert time.monotonic() - started < 5
    # The daemon is still fine.
    assert cd.status()["telemetry"]["running"] is False


def test_huge_content_length_refused_before_body(cd):
    # Announce 1 GiB and send nothing: the answer must not wait for the body.
    with socket.create_connection(("127.0.0.1", cd.port), timeout=5) as s:
        s.sendall(b"POST /control HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1073741824\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            assert chunk, data
            data += chunk
    assert data.startswith(b"HTTP/1.1 413"), data


def test_curl_errors(cd):
    base = f"http://127.0.0.1:{cd.port}"
    code, body = curl("-X", "POST", f"{base}/api/control", "-H", "Content-Type: application/json", "-d",
                      '{"command": "bogus"}')
    assert (code, json.loads(body)["detail"]) == (400, "unknown_command")
    code, body = curl("-X", "POST", f"{base}/control", "-d", '{"command": "start_telemetry"}')
    assert code == 415
    big = cd.dir / "big.json"
    big.write_bytes(padded(64 * 1024 + 1))
    code, body = curl("-X", "POST", f"{base}/control", "-H", "Content-Type: application/json",
                      "--data-binary", f"@{big}")
    assert (code, json.loads(body)["detail"]) == (413, "body_too_large")
    code, body = curl("-X", "POST", f"{base}/control", "-H", "Content-Type: application/json",
                      "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{big}")
    assert (code, json.loads(body)["detail"]) == (413, "body_too_large")
    code, body = curl(f"{base}/control")
    assert code == 405
    code, body = curl(f"{base}/nope")
    assert code == 404


def test_bad_requests_change_nothing(cd):
    cd.control("start_telemetry", interval=5)
    before = stable(cd.status())
    saved = (cd.state_dir / "state.json").read_bytes()
    pid = before["telemetry"]["pid"]

    for body, _ in BAD_BODIES:
        assert cd.request("POST", "/control", body, JSON).status == 400
    assert cd.request("POST", "/control", '{"command": "stop_telemetry"}', {"Content-Type": "text/plain"}).status == 415
    assert cd.request("POST", "/control", padded(64 * 1024 + 1), JSON).status == 413
    assert cd.request("GET", "/control").status == 405
    assert cd.request("DELETE", "/status").status == 405
    assert cd.request("POST", "/nope", '{"command": "stop_telemetry"}', JSON).status == 404
    with socket.create_connection(("127.0.0.1", cd.port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01garbage that is not HTTP\r\n\r\n")
        s.recv(4096)

    assert stable(cd.status()) == before
    assert cd.worker("telemetry") == {"role": "telemetry", "pid": pid, "interval": 5}
    assert (cd.state_dir / "state.json").read_bytes() == saved
    assert cd.health().status == 200


TOKEN = "s3cret-token"


@pytest.fixture
def cd_token(controld):
    controld.start(env={"RESOLVIX_CONTROL_TOKEN": TOKEN})
    return controld


def test_token_required(cd_token):
    cd = cd_token
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {TOKEN}x"},
                    {"Authorization": f"Bearer {TOKEN[:-1]}"}, {"Authorization": TOKEN},
                    {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer "}):
        for method, path, body in (("GET", "/status", None), ("GET", "/api/status", None),
                                   ("POST", "/control", '{"command": "start_telemetry"}'),
                                   ("POST", "/api/control", '{"command": "start_telemetry"}')):
            r = cd.request(method, path, body, {**JSON, **headers})
            assert r.status == 401, (headers, path, r)
            assert r.json["detail"] == "unauthorized"
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
    # Nothing was started by the refused requests.
    assert cd.status(token=TOKEN)["telemetry"]["running"] is False

    # /health needs no token.
    for path in ("/health", "/api/health"):
        assert cd.request("GET", path).status == 200

    r = cd.control("start_telemetry", token=TOKEN)
    assert (r.status, r.json["status"]) == (200, "started")
    r = cd.request("GET", "/status", headers={"Authorization": f"bearer {TOKEN}"})
    assert r.status == 200 and r.json["telemetry"]["running"] is True
    code, body = curl("-X", "POST", f"http://127.0.0.1:{cd.port}/control", "-H", "Content-Type: application/json",
                      "-H", f"Authorization: Bearer {TOKEN}", "-d", '{"command": "stop_telemetry"}')
    assert (code, json.loads(body)) == (200, {"status": "stopped"})
    code, _ = curl("-X", "POST", f"http://127.0.0.1:{cd.port}/control", "-H", "Content-Type: application/json",
                   "-d", '{"command": "start_telemetry"}')
    assert code == 401


def test_token_checked_before_body(cd_token):
    # An unauthenticated client learns nothing about the body rules.
    r = cd_token.request("POST", "/control", "not json", {"Content-Type": "text/plain"})
    assert r.status == 401
    r = cd_token.request("GET", "/control")
    assert r.status == 401
    r = cd_token.request("POST", "/control", "x" * (64 * 1024 + 1), JSON)
    assert r.status == 401


def test_keep_alive_connection(cd):
    # Several requests on one connection, one of them parked until READY=1.
    cd.behave("telemetry", "ready-delay-ms=200")
    conn = http.client.HTTPConnection("127.0.0.1", cd.port, timeout=10)
    try:
        answers = []
        for method, path, body in (("GET", "/status", None),
                                   ("POST", "/control", '{"command": "start_telemetry"}'),
                                   ("GET", "/api/status", None),
                                   ("POST", "/api/control", '{"command": "bogus"}'),
                                   ("GET", "/health", None)):
            conn.request(method, path, body=body, headers=JSON if body else {})
            resp = conn.getresponse()
            answers.append((resp.status, json.loads(resp.read())))
    finally:
        conn.close()
    cd.worker_pids.add(answers[1][1].get("pid"))
    assert [a[0] for a in answers] == [200, 200, 200, 400, 200]
    assert answers[0][1]["telemetry"]["running"] is False
    assert answers[1][1]["status"] == "started"
    assert answers[2][1]["telemetry"]["pid"] == answers[1][1]["pid"]
    assert answers[3][1]["detail"] == "unknown_command"
    assert answers[4][1]["status"] == "healthy"


def test_connection_limit(controld):
    """controld holds at most [control] max_connections; past that it stops
    accepting, says so in its log, and the next client is served once others
    leave."""
    cd = controld
    cd.start(env={"RESOLVIX_CONTROL_MAX_CONNECTIONS": "40"})
    held = []
    try:
        for i in range(40):
            held.append(socket.create_connection(("127.0.0.1", cd.port), timeout=5,
                                                 source_address=(f"127.0.0.{2 + i % 4}", 0)))
        # Every held connection is served: the last one too.
        held[-1].sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert held[-1].recv(4096).startswith(b"HTTP/1.1 200")
        extra = socket.create_connection(("127.0.0.1", cd.port), timeout=0.5)
        extra.sendall(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        with pytest.raises(socket.timeout):
            extra.recv(4096)
    finally:
        for s in held:
            s.close()
    extra.settimeout(5)
    with extra:
        assert extra.recv(4096).startswith(b"HTTP/1.1 200")
    cd.wait_log("connection limit")
