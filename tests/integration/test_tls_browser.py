"""controld's dashboard over https in headless Chromium (docs/tls.md): the
page loads with the test CA's server key trusted, and its telemetry and
live-log streams come over wss:// from the same host, filling the charts
and the log."""
import json
import re
import subprocess

from support import ROOT
from test_dashboard_browser import CLIENT, browse
from tls_support import CA, spki_hash


def start(node, ca, command, **fields):
    r = subprocess.run(["curl", "-sS", "--cacert", str(ca.cert), "-H", "Content-Type: application/json",
                        "-d", json.dumps({"command": command, **fields}), f"https://127.0.0.1:{node.port}/control"],
                       capture_output=True, text=True, timeout=30)
    assert json.loads(r.stdout)["status"] == "started", r


def test_dashboard_over_https_streams_over_wss(nodes, tmp_path):
    ca = CA(tmp_path / "ca")
    cert, key, _ = ca.issue("node")
    env = {}
    for section in ("CONTROL", "TELEMETRY", "LIVELOGS"):
        env[f"RESOLVIX_{section}_TLS_CERT"] = str(cert)
        env[f"RESOLVIX_{section}_TLS_KEY"] = str(key)
    node = nodes(env=env)
    start(node, ca, "start_telemetry", interval=1)
    start(node, ca, "start_livelogs")

    r = browse("tls", tmp_path, url=f"https://127.0.0.1:{node.port}/", spki=spki_hash(cert), logFile=str(node.log),
               line="seen over wss")
    assert r["status"] == 200 and r["protocol"] == "https:"
    # What a person sees: the CPU figure, from samples that came over wss, and its chart.
    assert re.fullmatch(r"\d+(\.\d+)?%", r["cpuNow"]), r["cpuNow"]
    assert r["cpuChartShown"] and r["cpuPoints"] >= 2
    assert "seen over wss" in r["logLines"]
    # Both streams, and only over TLS, to the page's own host.
    assert sorted(set(r["sockets"])) == sorted(f"wss://127.0.0.1:{p}/" for p in node.ws.values()), r["sockets"]


def test_without_the_ca_the_page_does_not_load(nodes, tmp_path):
    """The trust above is what lets the page load: without it Chromium refuses."""
    ca = CA(tmp_path / "ca")
    cert, key, _ = ca.issue("node")
    node = nodes(env={"RESOLVIX_CONTROL_TLS_CERT": str(cert), "RESOLVIX_CONTROL_TLS_KEY": str(key)})
    proc = subprocess.run(["node", str(CLIENT), "tls",
                           json.dumps({"url": f"https://127.0.0.1:{node.port}/", "nodeId": "x",
                                       "profile": str(tmp_path / "profile"), "logFile": str(node.log), "line": "x"})],
                          capture_output=True, text=True, timeout=120, cwd=ROOT / "tests")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 1 and "ERR_CERT_AUTHORITY_INVALID" in report["failed"], report
