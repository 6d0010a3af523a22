"""Who controld answers (docs/control-api.md): only requests addressed to a name or an
address it serves, so that a web page whose DNS name was rebound to
127.0.0.1 gets nothing (421); and commands from a browser only when they come
from controld's own page or an allowed origin (403)."""
import http.client
import json

import pytest

JSON = {"Content-Type": "application/json"}


def ask(cd, method, path, headers, body=None, address="127.0.0.1"):
    """One request with exactly these headers (Host included); (status, JSON body)."""
    conn = http.client.HTTPConnection(address, cd.port, timeout=20)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    return resp.status, (json.loads(data) if data and resp.getheader("Content-Type") == "application/json"
                         else data)


def start_cmd(cd, headers, address="127.0.0.1"):
    body = json.dumps({"command": "start_telemetry"})
    status, answer = ask(cd, "POST", "/control", {**JSON, **headers}, body, address)
    if isinstance(answer, dict) and isinstance(answer.get("pid"), int):
        cd.worker_pids.add(answer["pid"])
    return status, answer


@pytest.fixture
def cd(controld):
    controld.start()
    return controld


OWN_HOSTS = ["localhost", "LocalHost", "127.0.0.1", "[::1]"]


@pytest.mark.parametrize("host", OWN_HOSTS)
@pytest.mark.parametrize("with_port", [False, True])
def test_own_names_are_served(cd, host, with_port):
    h = f"{host}:{cd.port}" if with_port else host
    assert ask(cd, "GET", "/health", {"Host": h})[0] == 200
    assert ask(cd, "GET", "/status", {"Host": h})[0] == 200
    status, answer = start_cmd(cd, {"Host": h})
    assert (status, answer["status"]) == (200, "started"), answer


FOREIGN_HOSTS = [
    "evil.example", "evil.example:{port}", "localhost.evil.example", "127.0.0.1.nip.io:{port}",
    "localhost.", "127.0.0.2", "[::2]:{port}", "::1", "localhost:http", "localhost:{port}x",
    "localhost:99999", "localhost:", "[::1", "[::1]x", "", "local host",
]


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_other_names_get_421_and_change_nothing(cd, host):
    h = host.format(port=cd.port)
    for method, path, body in (("GET", "/health", None), ("GET", "/status", None), ("GET", "/", None),
                               ("GET", "/dashboard/app.js", None), ("GET", "/nope", None),
                               ("POST", "/control", json.dumps({"command": "start_telemetry"}))):
        status, answer = ask(cd, method, path, {**JSON, "Host": h}, body)
        assert status == 421, (h, path, answer)
        assert answer["status"] == "error" and answer["detail"] == "misdirected_host", answer
        assert "allowed_hosts" in answer["message"]
    assert cd.status()["telemetry"]["running"] is False
    assert not (cd.state_dir / "state.json").read_text().count('"telemetry":{"enabled":true')


def test_host_is_checked_before_the_token(controld):
    controld.start(env={"RESOLVIX_CONTROL_TOKEN": "tok"})
    status, answer = ask(controld, "GET", "/status", {"Host": "evil.example", "Authorization": "Bearer tok"})
    assert (status, answer["detail"]) == (421, "misdirected_host")
    status, answer = ask(controld, "GET", "/status", {"Host": "evil.example"})
    assert status == 421
    assert ask(controld, "GET", "/status", {"Host": "localhost", "Authorization": "Bearer tok"})[0] == 200


def test_allowed_hosts(controld):
    controld.start(env={"RESOLVIX_CONTROL_ALLOWED_HOSTS": "ops.example.com  Node7 [fd00::7]"})
    for h in ("ops.example.com", f"ops.example.com:{controld.port}", "OPS.example.COM", "node7:80", "[fd00::7]",
              f"[fd00::7]:{controld.port}", "localhost", "127.0.0.1"):
        assert ask(controld, "GET", "/health", {"Host": h})[0] == 200, h
    for h in ("example.com", "ops.example.com.evil", "node", "fd00::7", "[fd00::8]"):
        assert ask(controld, "GET", "/health", {"Host": h})[0] == 421, h


@pytest.mark.parametrize("value", ["http://ops.example.com", "a/b", "bad\x7fhost"])
def test_bad_allowed_hosts_is_a_startup_error(controld, value):
    proc = controld.start(env={"RESOLVIX_CONTROL_ALLOWED_HOSTS": value}, wait=False)
    assert proc.wait(timeout=10) != 0
    assert "[control] allowed_hosts" in controld.log()


def test_the_listen_address_is_served(controld):
    controld.start("--listen", "127.0.0.2", wait=False)
    from support import wait_port
    wait_port(controld.port, host="127.0.0.2", proc=controld.proc)
    for h in (f"127.0.0.2:{controld.port}", "127.0.0.2", "localhost"):
        assert ask(controld, "GET", "/health", {"Host": h}, address="127.0.0.2")[0] == 200, h
    assert ask(controld, "GET", "/health", {"Host": "127.0.0.3"}, address="127.0.0.2")[0] == 421


# ---- Origin ------------------------------------------------------------------


def test_foreign_origin_cannot_command(cd):
    host = f"127.0.0.1:{cd.port}"
    for origin in ("http://evil.example", f"http://evil.example:{cd.port}", "null", f"https://{host}",
                   f"http://{host}.evil", f"http://{host}/", "http://127.0.0.1", f"http://localhost:{cd.port + 1}",
                   f"http://localhost.:{cd.port}", ""):
        status, answer = start_cmd(cd, {"Host": host, "Origin": origin})
        assert status == 403, (origin, answer)
        assert (answer["status"], answer["detail"]) == ("error", "origin_not_allowed"), answer
    assert cd.status()["telemetry"]["running"] is False
    saved = json.loads((cd.state_dir / "state.json").read_text())
    assert saved["telemetry"]["enabled"] is False


@pytest.mark.parametrize("host,origin", [
    ("127.0.0.1:{port}", "http://127.0.0.1:{port}"), ("localhost:{port}", "http://localhost:{port}"),
    ("[::1]:{port}", "http://[::1]:{port}"), ("localhost", "http://localhost"),
    # Another of controld's own names on its port is controld's page too.
    ("127.0.0.1:{port}", "http://localhost:{port}"),
    # Through a tunnel (ssh -L 9000:localhost:8754) the page and the API share the tunnel's port.
    ("localhost:9000", "http://localhost:9000"),
])
def test_own_page_origin_commands(cd, host, origin):
    h, o = host.format(port=cd.port), origin.format(port=cd.port)
    status, answer = start_cmd(cd, {"Host": h, "Origin": o})
    assert (status, answer["status"]) == (200, "started"), answer


def test_no_origin_is_not_a_browser(cd):
    status, answer = start_cmd(cd, {"Host": f"127.0.0.1:{cd.port}"})
    assert (status, answer["status"]) == (200, "started")


def test_allowed_origins(controld):
    controld.start(env={"RESOLVIX_CONTROL_ALLOWED_ORIGINS": "https://ops.example.com http://10.1.2.3:9000",
                        "RESOLVIX_CONTROL_ALLOWED_HOSTS": "ops.example.com"})
    h = {"Host": "ops.example.com"}
    assert start_cmd(controld, {**h, "Origin": "https://ops.example.com"})[1]["status"] == "started"
    assert start_cmd(controld, {**h, "Origin": "http://10.1.2.3:9000"})[1]["status"] == "already_running"
    status, answer = start_cmd(controld, {**h, "Origin": "https://evil.example.com"})
    assert (status, answer["detail"]) == (403, "origin_not_allowed")
    # The dashboard's own origin stays allowed beside the list.
    local = f"127.0.0.1:{controld.port}"
    assert start_cmd(controld, {"Host": local, "Origin": f"http://{local}"})[0] == 200
