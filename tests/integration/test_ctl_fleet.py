"""resolvixctl nodes and history against a real resolvix-hub (docs/fleet.md,
resolvixctl(1)): the tables as a user reads them, --json, the sparkline on
a terminal, where the hub address and token come from, and the errors."""
import json
import os
import re
import http.client
import http.server
import subprocess
import threading
import time
import urllib.parse

import pytest

from ctl_support import ctl, ctl_env
from hub_support import sample
from support import binary, free_port

sqlite_only = pytest.mark.parametrize("hub_factory", ["sqlite"], indirect=True)


@pytest.fixture
def fleet(hub_factory):
    """A hub with two nodes: web-1 reporting every ten minutes over the last
    two hours (CPU 0, 10, … 120 % capped at 100), db-1 once."""
    h = hub_factory()
    h.env["RESOLVIX_HUB_TOKEN"] = "hub-secret"
    h.start()
    now = time.time()
    t = h.enroll("web-1")
    points = [sample(s, node_id="web-1", ts=now - 600 * (12 - s), cpu=float(min(100, s * 10))) for s in range(13)]
    for p in points:
        p["interval"] = 600
    assert h.push(t, points).status == 200
    t = h.enroll("db-1")
    assert h.push(t, [sample(1, node_id="db-1", cpu=42.5)]).status == 200
    return h


def hub_env(h, **extra):
    return {"RESOLVIX_HUB": h.url(), "RESOLVIX_HUB_TOKEN": "hub-secret", **extra}


@sqlite_only
def test_nodes_table_and_json(fleet):
    r = ctl("nodes", env=hub_env(fleet))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NODE", "KIND", "ONLINE", "LAST", "SEEN", "CPU", "MEMORY", "LOAD"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert sorted(rows) == ["db-1", "web-1"]
    assert re.match(r"db-1\s+resolvix\s+yes\s+\d+ s ago\s+42\.5%\s+53\.1%\s+0\.50$", rows["db-1"]), rows["db-1"]
    assert re.match(r"web-1\s+resolvix\s+yes\s+\d+ s ago\s+100\.0%\s+53\.1%\s+0\.50$", rows["web-1"]), rows["web-1"]

    j = ctl("nodes", "--json", env=hub_env(fleet))
    assert j.returncode == 0
    nodes = json.loads(j.stdout)
    assert [n["node_id"] for n in nodes] == ["db-1", "web-1"]
    assert nodes[0]["latest"]["cpu_usage_percent"] == 42.5 and nodes[0]["online"] is True


@sqlite_only
def test_history_table_json_and_step(fleet):
    r = ctl("history", "web-1", "cpu.cpu_usage_percent", "--since", "3h", "--step", "10m", env=hub_env(fleet))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["TIME", "VALUE"]
    values = [float(line.split()[-1]) for line in lines[1:]]
    assert values == [float(min(100, s * 10)) for s in range(13)]
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d+\.\d\d$", line) for line in lines[1:]), lines
    assert "▁" not in r.stdout  # no sparkline on a pipe

    # A coarser step averages: 13 points in 30-minute buckets.
    r = ctl("history", "web-1", "cpu.cpu_usage_percent", "--since", "3h", "--step", "30m", env=hub_env(fleet))
    coarse = [float(line.split()[-1]) for line in r.stdout.splitlines()[1:]]
    assert 4 <= len(coarse) <= 6 and sum(coarse) / len(coarse) == pytest.approx(sum(values) / len(values), rel=0.35)

    j = ctl("history", "web-1", "cpu.cpu_usage_percent", "--since", "3h", "--step", "600", "--json",
            env=hub_env(fleet))
    answer = json.loads(j.stdout)
    assert answer["metric"] == "cpu.cpu_usage_percent" and answer["step"] == 600
    assert [p[1] for p in answer["series"][0]["points"]] == values


@sqlite_only
def test_history_sparkline_on_a_terminal(fleet):
    master, slave = os.openpty()
    try:
        proc = subprocess.run([binary("resolvixctl/resolvixctl"), "history", "web-1", "cpu.cpu_usage_percent",
                               "--since", "3h", "--step", "10m"], stdin=slave, stdout=slave, stderr=slave,
                              env=ctl_env({**hub_env(fleet), "TERM": "xterm"}), timeout=30)
        assert proc.returncode == 0
        os.close(slave)
        slave = None
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.decode()).replace("\r", "")
    lines = text.splitlines()
    assert lines[0] == "web-1 cpu.cpu_usage_percent, last 3h at 10m: min 0.00  avg 57.69  max 100.00", lines[0]
    # Thirteen points, rising from the lowest block to the highest, then flat.
    assert len(lines[1]) == 13 and lines[1][0] == "▁" and lines[1][-1] == "█"
    assert list(lines[1]) == sorted(lines[1], key="▁▂▃▄▅▆▇█".index)
    assert lines[3].split() == ["TIME", "VALUE"]


@sqlite_only
def test_where_the_hub_and_token_come_from(fleet, tmp_path):
    # [push] hub_url of the configuration: the first of several.
    conf = tmp_path / "resolvix.conf"
    conf.write_text(f"[push]\nhub_url = {fleet.url()} http://127.0.0.1:1\n")
    r = ctl("nodes", env={"RESOLVIX_CONFIG": str(conf), "RESOLVIX_HUB_TOKEN": "hub-secret"})
    assert r.returncode == 0 and "web-1" in r.stdout, r.stderr
    # RESOLVIX_HUB wins over the file, --hub over both.
    dead = f"http://127.0.0.1:{free_port()}"
    r = ctl("nodes", env={"RESOLVIX_CONFIG": str(conf), "RESOLVIX_HUB": dead, "RESOLVIX_HUB_TOKEN": "hub-secret"})
    assert r.returncode == 3
    r = ctl("nodes", "--hub", fleet.url(), env={"RESOLVIX_HUB": dead, "RESOLVIX_HUB_TOKEN": "hub-secret"})
    assert r.returncode == 0 and "db-1" in r.stdout
    # --token wins over RESOLVIX_HUB_TOKEN; the control API's token is not the hub's.
    r = ctl("nodes", "--token", "hub-secret", env={"RESOLVIX_HUB": fleet.url(), "RESOLVIX_HUB_TOKEN": "wrong"})
    assert r.returncode == 0
    r = ctl("nodes", env={"RESOLVIX_HUB": fleet.url(), "RESOLVIX_TOKEN": "hub-secret"})
    assert r.returncode == 4


class CountingProxy:
    """Forwards every request to the real hub and keeps the paths asked,
    so that a test sees how many requests a command made."""

    def __init__(self, target):
        parsed = urllib.parse.urlsplit(target)
        self.paths = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                proxy.paths.append(self.path)
                conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
                conn.request("GET", self.path, headers={k: v for k, v in self.headers.items()
                                                        if k.lower() != "host"})
                resp = conn.getresponse()
                body = resp.read()
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.getheader("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                conn.close()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@sqlite_only
def test_history_asks_the_hub_once(fleet):
    """The query's own answer says whether the node is known: one request,
    for a known node and for an unknown one alike."""
    proxy = CountingProxy(fleet.url())
    try:
        env = {**hub_env(fleet), "RESOLVIX_HUB": proxy.url}
        r = ctl("history", "web-1", "cpu.cpu_usage_percent", "--since", "3h", "--step", "10m", env=env)
        assert r.returncode == 0, r.stderr
        assert len(r.stdout.splitlines()) == 14
        assert [p.split("?")[0] for p in proxy.paths] == ["/api/v1/query"]
        proxy.paths.clear()
        r = ctl("history", "web-9", "cpu.cpu_usage_percent", env=env)
        assert r.returncode == 1 and r.stdout == ""
        assert 'unknown node "web-9"' in r.stderr and "resolvixctl nodes" in r.stderr
        assert [p.split("?")[0] for p in proxy.paths] == ["/api/v1/query"]
    finally:
        proxy.close()


@sqlite_only
def test_clear_errors(fleet):
    env = hub_env(fleet)
    # Unreachable.
    port = free_port()
    r = ctl("nodes", "--hub", f"127.0.0.1:{port}", env=env)
    assert r.returncode == 3 and r.stdout == ""
    assert r.stderr.startswith(f"resolvixctl: cannot connect to 127.0.0.1:{port}: connection refused — "
                               "is resolvix-hub running?"), r.stderr
    # 401.
    r = ctl("nodes", env={**env, "RESOLVIX_HUB_TOKEN": "nope"})
    assert r.returncode == 4
    assert "resolvix-hub refused the request: missing or wrong token (401); pass --token TOKEN or set " \
           "RESOLVIX_HUB_TOKEN" in r.stderr
    r = ctl("history", "web-1", "cpu", env={"RESOLVIX_HUB": fleet.url()})
    assert r.returncode == 4 and "(401)" in r.stderr
    # An unknown node, an unknown metric.
    r = ctl("history", "web-9", "cpu.cpu_usage_percent", env=env)
    assert r.returncode == 1 and r.stdout == ""
    assert 'unknown node "web-9"' in r.stderr and "resolvixctl nodes" in r.stderr
    r = ctl("history", "web-1", "cpu.no_such", env=env)
    assert r.returncode == 1 and r.stdout == ""
    assert 'no "cpu.no_such" for node "web-1" in the last 1d: an unknown metric' in r.stderr
    assert "cpu.cpu_usage_percent" in r.stderr
    # Usage: durations, arguments, options that do not apply.
    for args, said in [(["history", "web-1", "cpu", "--since", "soon"], "--since wants a duration"),
                       (["history", "web-1", "cpu", "--step", "0"], "--step wants a duration"),
                       (["history", "web-1"], "history needs NODE METRIC"),
                       (["nodes", "--since", "1h"], "--since does not apply to nodes"),
                       (["status", "--hub", fleet.url()], "--hub does not apply to status"),
                       (["nodes", "--hub", "ws://127.0.0.1:1"], "resolvix-hub speaks http:// or https://, not ws://")]:
        r = ctl(*args, env=env)
        assert r.returncode == 2 and said in r.stderr, (args, r.stderr)
    # The hub's own bound: at most 11,000 points.
    r = ctl("history", "web-1", "cpu", "--since", "30d", "--step", "1m", env=env)
    assert r.returncode == 2 and "at most 11000: raise --step" in r.stderr


def test_help_names_the_fleet_commands():
    r = ctl("--help")
    assert "nodes" in r.stdout and "history NODE METRIC" in r.stdout and "--hub URL" in r.stdout
    r = ctl("history", "--help")
    assert "--since D" in r.stdout and "--step D" in r.stdout and "RESOLVIX_HUB_TOKEN" in r.stdout
