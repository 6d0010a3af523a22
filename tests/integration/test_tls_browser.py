"""controld's dashboard over https in headless Chromium (docs/tls.md): the
page loads with the test CA's server key trusted, and its telemetry and
live-log streams come over wss:// from the same host, filling the charts
and the log."""
import json
import shutil
import subprocess

from ctl_support import NODE_ID
from support import ROOT
from tls_support import CA, spki_hash

CLIENT = ROOT / "tests" / "integration" / "clients" / "tls-browser.js"


def test_dashboard_over_https_streams_over_wss(nodes, tmp_path):
    ca = CA(tmp_path / "ca")
    cert, key, _ = ca.issue("node")
    env = {}
    for section in ("CONTROL", "TELEMETRY", "LIVELOGS"):
        env[f"RESOLVIX_{section}_TLS_CERT"] = str(cert)
        env[f"RESOLVIX_{section}_TLS_KEY"] = str(key)
    node = nodes(env=env)
    r = subprocess.run(["curl", "-sS", "--cacert", str(ca.cert), "-H", "Content-Type: application/json",
                        "-d", '{"command":"start_telemetry","interval":1}', f"https://127.0.0.1:{node.port}/control"],
                       capture_output=True, text=True, timeout=30)
    assert json.loads(r.stdout)["status"] == "started", r
    r = subprocess.run(["curl", "-sS", "--cacert", str(ca.cert), "-H", "Content-Type: application/json",
                        "-d", '{"command":"start_livelogs"}', f"https://127.0.0.1:{node.port}/control"],
                       capture_output=True, text=True, timeout=30)
    assert json.loads(r.stdout)["status"] == "started", r

    config = {"url": f"https://127.0.0.1:{node.port}/", "spki": spki_hash(cert), "nodeId": NODE_ID,
              "profile": str(tmp_path / "chromium-profile"), "logFile": str(node.log), "line": "seen over wss"}
    proc = subprocess.run(["node", str(CLIENT), json.dumps(config)], capture_output=True, text=True, timeout=120,
                          cwd=ROOT / "tests")
    lines = proc.stdout.strip().splitlines()
    assert lines, proc.stderr[-3000:]
    report = json.loads(lines[-1])
    assert proc.returncode == 0 and "failed" not in report, (report, proc.stderr[-3000:])
    assert report["status"] == 200 and report["protocol"] == "https:"
    assert report["errors"] == [], report["errors"]
    assert report["cpuPoints"] >= 2
    assert "seen over wss" in report["logLines"]
    # Both streams, and only over TLS, to the page's own host.
    assert sorted(set(report["sockets"])) == sorted({f"wss://127.0.0.1:{p}/" for p in node.ws.values()}), report["sockets"]
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)
