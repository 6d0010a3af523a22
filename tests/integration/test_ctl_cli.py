"""resolvixctl against a real controld (resolvixctl(1)): the command line, the
control commands and their output, connection options, and the exit
statuses resolvixctl(1) documents for each kind of failure."""
import json
import re
import socket

import pytest

from ctl_support import NODE_ID, ctl
from support import free_port

COMMANDS = ["status", "start", "stop", "restart", "watch", "logs", "cpu", "memory", "processes", "disks", "network",
            "put", "get"]


@pytest.fixture
def node(nodes):
    return nodes()


# ---- the command line ----------------------------------------------------------

def test_help_lists_every_command():
    r = ctl("--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Usage: resolvixctl")
    for name in COMMANDS:
        assert re.search(rf"^  {name}\b", r.stdout, re.M), name
    assert "RESOLVIX_TOKEN" in r.stdout and "Exit status" in r.stdout
    assert ctl("help").stdout == r.stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name):
    for args in ([name, "--help"], ["help", name], [name, "-h"]):
        r = ctl(*args)
        assert r.returncode == 0, (args, r.stderr)
        assert r.stdout.startswith(f"Usage: resolvixctl {name}"), r.stdout
        assert r.stderr == ""


def test_version():
    r = ctl("--version")
    assert r.returncode == 0 and re.fullmatch(r"resolvixctl \d+\.\d+\.\d+\n", r.stdout)


@pytest.mark.parametrize("args, says", [
    ([], "which command?"),
    (["frobnicate"], 'unknown command "frobnicate"'),
    (["status", "--bogus"], "unknown option --bogus"),
    (["status", "-Z"], "unknown option -Z"),
    (["status", "--interval", "5"], "--interval does not apply to status"),
    (["cpu", "--host", "example"], "--host does not apply to cpu"),
    (["logs", "--count", "3"], "--count does not apply to logs"),
    (["watch", "--follow"], "--follow does not apply to watch"),
    (["start"], "start needs telemetry|livelogs|push"),
    (["start", "everything"], '"everything" is not a worker'),
    (["stop", "telemetry", "--interval", "3"], "--interval does not apply to stop"),
    (["start", "livelogs", "-i", "3"], "--interval applies to telemetry only"),
    (["start", "telemetry", "-i", "0"], "--interval wants a whole number from 1 to 86400"),
    (["start", "telemetry", "-i", "5x"], "--interval wants a whole number"),
    (["status", "--port", "70000"], "--port wants a whole number from 1 to 65535"),
    (["status", "--port"], "--port needs a value"),
    (["status", "ftp://host"], "unknown scheme"),
    (["status", "host:99999"], "the port must be a number from 1 to 65535"),
    (["status", "ws://127.0.0.1:1"], "status talks to resolvix-controld: give an http:// URI"),
    (["status", "a", "b"], "too many arguments"),
    (["watch", "-d", "0.01"], "--delay wants seconds"),
    (["watch", "--count", "0"], "--count wants a whole number from 1"),
    (["cpu", "extra"], "too many arguments for cpu"),
])
def test_bad_usage_exits_2(args, says):
    r = ctl(*args)
    assert r.returncode == 2, (args, r)
    assert says in r.stderr, r.stderr
    assert "Usage: resolvixctl" in r.stderr
    assert r.stdout == ""


# ---- nothing listening ------------------------------------------------------------

def test_controld_not_running_exits_3():
    port = free_port()
    for args in (["status", "-p", port], ["start", "telemetry", f"http://127.0.0.1:{port}"],
                 ["watch", "--host", f"127.0.0.1:{port}"], ["logs", "-p", port]):
        r = ctl(*args)
        assert r.returncode == 3, (args, r)
        assert r.stderr.strip() == (f"resolvixctl: cannot connect to 127.0.0.1:{port}: connection refused — "
                                    "is resolvix running? try: systemctl status resolvix"), r.stderr


def test_stream_not_listening_exits_3():
    port = free_port()
    r = ctl("watch", f"ws://127.0.0.1:{port}")
    assert r.returncode == 3, r
    assert f"cannot connect to 127.0.0.1:{port}: connection refused — is telemetryd running?" in r.stderr


def test_a_stopped_worker_is_named(node):
    for cmd, worker in (("watch", "telemetry"), ("logs", "livelogs")):
        r = ctl(cmd, "-p", node.port)
        assert r.returncode == 3, r
        assert f"the {worker} stream is not running; start it with: resolvixctl start {worker}" in r.stderr


def test_an_http_server_that_is_not_controld(tmp_path):
    """Something else on the port: said plainly, exit 1."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html>hello</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        r = ctl("status", f"http://127.0.0.1:{srv.server_address[1]}")
        assert r.returncode == 1, r
        assert "answered something that is not a JSON object" in r.stderr
    finally:
        srv.shutdown()


# ---- status, start, stop, restart ------------------------------------------------------

def parse_table(text):
    """The worker rows of `status`: {worker: [columns]}."""
    rows = {}
    for line in text.splitlines():
        cols = re.split(r"\s{2,}", line.strip())
        if cols and cols[0] in ("telemetry", "livelogs"):
            rows[cols[0]] = cols
    return rows


def test_status_table_and_json(node):
    r = ctl("status", "-p", node.port)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"resolvix on {NODE_ID}")
    assert re.search(r"^WORKER\s+STATE\s+PID\s+PORT\s+SERVES\s+SINCE\s+RESTARTS\s+LAST EXIT$", r.stdout, re.M)
    rows = parse_table(r.stdout)
    assert rows["telemetry"][:5] == ["telemetry", "stopped", "-", str(node.ws["telemetry"]), "every 60 s"]
    assert rows["livelogs"][:5] == ["livelogs", "stopped", "-", str(node.ws["livelogs"]), str(node.log)]

    j = ctl("status", "--json", "-p", node.port)
    assert j.returncode == 0
    body = json.loads(j.stdout)
    assert body["node_id"] == NODE_ID and body["telemetry"]["running"] is False
    assert set(body) >= {"node_id", "log_file", "livelogs", "telemetry"}


def test_start_stop_restart(node):
    p = ["-p", node.port]
    r = ctl("start", "telemetry", "--interval", "3", *p)
    assert r.returncode == 0, r.stderr
    m = re.fullmatch(rf"telemetry started: pid (\d+), stream ws://127.0.0.1:{node.ws['telemetry']}, "
                     r"a sample every 3 s\n", r.stdout)
    assert m, r.stdout
    pid = int(m.group(1))
    s = node.status()["telemetry"]
    assert s["running"] and s["pid"] == pid and s["interval"] == 3

    rows = parse_table(ctl("status", *p).stdout)
    assert rows["telemetry"][:5] == ["telemetry", "running", str(pid), str(node.ws["telemetry"]), "every 3 s"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", rows["telemetry"][5])

    r = ctl("start", "telemetry", *p)
    assert r.returncode == 0 and r.stdout.startswith(f"telemetry is already running: pid {pid}")
    r = ctl("start", "telemetry", "-i", "1", *p)
    assert r.returncode == 0 and r.stdout.startswith(f"telemetry reconfigured: pid {pid}")
    assert node.status()["telemetry"]["interval"] == 1

    r = ctl("restart", "telemetry", *p)
    assert r.returncode == 0 and r.stdout.startswith("telemetry restarted: pid ")
    assert node.status()["telemetry"]["pid"] != pid

    r = ctl("start", "livelogs", *p)
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(rf"livelogs started: pid \d+, stream ws://127.0.0.1:{node.ws['livelogs']}, "
                        rf"following {re.escape(str(node.log))}\n", r.stdout), r.stdout

    for worker in ("telemetry", "livelogs"):
        r = ctl("stop", worker, *p)
        assert r.returncode == 0 and r.stdout == f"{worker} stopped\n", r
        assert node.status()[worker]["running"] is False
        r = ctl("stop", worker, *p)
        assert r.returncode == 0 and r.stdout == f"{worker} was not running\n"


def test_json_answers_are_controld_bodies(node):
    r = ctl("start", "livelogs", "--json", "-p", node.port)
    assert r.returncode == 0
    body = json.loads(r.stdout)
    assert body["status"] == "started" and body["ws_port"] == node.ws["livelogs"] and body["pid"] > 0
    r = ctl("stop", "livelogs", "-j", "-p", node.port)
    assert json.loads(r.stdout) == {"status": "stopped"}


def test_addresses_uri_host_and_environment(node):
    for args, env in ((["status", f"http://127.0.0.1:{node.port}"], None),
                      (["status", f"127.0.0.1:{node.port}"], None),
                      (["status", "--host", f"127.0.0.1:{node.port}"], None),
                      (["--host", "127.0.0.1", "--port", node.port, "status"], None),
                      (["status"], {"RESOLVIX_HOST": f"http://127.0.0.1:{node.port}"}),
                      (["status", "-p", node.port], {"RESOLVIX_HOST": "127.0.0.1"})):
        r = ctl(*args, env=env)
        assert r.returncode == 0, (args, env, r.stderr)
        assert r.stdout.startswith(f"resolvix on {NODE_ID}")
    # A URI wins over the environment.
    r = ctl("status", f"http://127.0.0.1:{node.port}", env={"RESOLVIX_HOST": f"127.0.0.1:{free_port()}"})
    assert r.returncode == 0


def test_a_start_that_fails_says_why_and_exits_1(node):
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", node.ws["telemetry"]))
        taken.listen()
        r = ctl("start", "telemetry", "-p", node.port)
        status, _, body = node.request("POST", "/control", {"command": "start_telemetry"})
    where = f"127.0.0.1:{node.ws['telemetry']}"
    assert r.returncode == 1, r
    # The program is named once: by resolvixctl's prefix, and in the log by its ident.
    assert r.stderr == f"resolvixctl: cannot start telemetry: cannot listen on {where}: Address already in use " \
        "(port_in_use)\n"
    assert r.stdout == ""
    assert (status, json.loads(body)["message"]) == (409, f"cannot listen on {where}: Address already in use")
    log = (node.tmp / "controld.log").read_text()
    assert f"\ntelemetryd: Cannot listen on {where}: Address already in use\n" in log
    assert f"\nresolvix-controld: telemetry: start failed: cannot listen on {where}" in log
    assert "telemetryd: telemetryd" not in log


def test_token(nodes):
    node = nodes(token="t0ken-for-ctl")
    r = ctl("status", "-p", node.port)
    assert r.returncode == 4, r
    # The file named is the default one (its directory depends on the build's prefix).
    assert r.stderr.startswith("resolvixctl: resolvix refused the request: missing or wrong token (401); pass "
                               "--token TOKEN, set RESOLVIX_TOKEN, or set [control] token in /")
    assert r.stderr.endswith("/resolvix/resolvix.conf\n")
    assert ctl("status", "-p", node.port, "--token", "wrong").returncode == 4
    assert ctl("start", "telemetry", "-p", node.port, "--token", "wrong").returncode == 4
    assert node.status()["telemetry"]["running"] is False

    assert ctl("status", "-p", node.port, "--token", node.token).returncode == 0
    assert ctl("status", "-p", node.port, env={"RESOLVIX_TOKEN": node.token}).returncode == 0
    r = ctl("start", "telemetry", "-p", node.port, "-t", node.token)
    assert r.returncode == 0 and r.stdout.startswith("telemetry started")
    # The option wins over the environment.
    assert ctl("status", "-p", node.port, "-t", "wrong", env={"RESOLVIX_TOKEN": node.token}).returncode == 4
