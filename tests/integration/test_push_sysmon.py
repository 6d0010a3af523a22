"""pushd with protocol = system-monitor: check_url, check_system_id, then
send_stats with exactly the System Monitor agent's body, against the hub's
/system-monitor and against a minimal server written here from the
protocol's description (docs/fleet.md, "System Monitor protocol")."""
import json
import time

from hub_support import Hub
from push_support import Pushd, QuietHandler, LoopbackServer
from support import poll


class AgentServer(LoopbackServer):
    """Answers as the protocol says: 202, 204, 200; the 2nd and 3rd
    send_stats get 500 (a server in trouble), which must be retried."""

    def __init__(self):
        self.bodies = []  # (status answered, body)
        server = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                action = body["action"]
                sends = sum(1 for _, b in server.bodies if b["action"] == "send_stats")
                status = {"check_url": 202, "check_system_id": 204}.get(action, 500 if sends in (1, 2) else 200)
                server.bodies.append((status, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler)
        self.url = f"http://127.0.0.1:{self.port}/api/stats"


def check_body(b, url, interval):
    assert set(b) == {"action", "system_id", "url", "interval", "epoch", "stats"}
    assert b["system_id"] == "sm-node" and b["url"] == url and b["interval"] == interval
    assert isinstance(b["epoch"], int) and abs(b["epoch"] - time.time()) < 600
    st = b["stats"]
    assert set(st) == {"cpu", "memory", "processes", "disks", "network"}
    assert set(st["cpu"]) == {"count", "frequency", "percent_used"}
    assert isinstance(st["cpu"]["count"], int) and st["cpu"]["count"] >= 1
    assert isinstance(st["cpu"]["frequency"], int)
    assert set(st["memory"]) == {"total", "available", "percent_used", "used", "free"}
    for k in ("total", "available", "used", "free"):
        assert isinstance(st["memory"][k], int)
    assert st["memory"]["used"] == st["memory"]["total"] - st["memory"]["available"]
    assert st["processes"] and all(set(p) == {"pid", "name", "username"} for p in st["processes"])
    assert st["disks"]
    for d in st["disks"].values():
        assert set(d) == {"file_system", "mount_point", "total", "used", "free"}
        assert all(isinstance(d[k], int) for k in ("total", "used", "free"))
    for n in st["network"].values():
        assert set(n) == {"ip", "netmask", "bytes_sent", "bytes_recv"}
        assert isinstance(n["bytes_sent"], int) and isinstance(n["bytes_recv"], int)


def test_independent_server(procs, tmp_path):
    server = AgentServer()
    procs.cleanups.append(server.close)
    p = Pushd(procs, tmp_path, server.url, protocol="system-monitor", system_id="sm-node")
    p.start()
    poll(lambda: sum(1 for s, b in server.bodies if s == 200) >= 4, 40, "send_stats acknowledged")
    p.stop()
    actions = [b["action"] for _, b in server.bodies]
    assert actions[:2] == ["check_url", "check_system_id"]
    assert set(actions[2:]) == {"send_stats"}
    for s, b in server.bodies:
        if b["action"] == "send_stats":
            check_body(b, server.url, 1)
        else:
            assert set(b) >= {"action", "system_id", "url", "interval", "epoch"}
    # Those answered 500 were sent again, and none was stored twice.
    failed = [b["epoch"] for s, b in server.bodies if s == 500]
    stored = [b["epoch"] for s, b in server.bodies if s == 200 and b["action"] == "send_stats"]
    stored_bodies = [json.dumps(b, sort_keys=True) for s, b in server.bodies if s == 200 and b["action"] == "send_stats"]
    assert len(failed) == 2 and set(failed) <= set(stored)
    assert len(stored_bodies) == len(set(stored_bodies))


def test_against_the_hub(procs, tmp_path):
    d = tmp_path / "hub"
    d.mkdir()
    hub = Hub(procs, d)
    hub.start()
    url = hub.url("/system-monitor")
    p = Pushd(procs, tmp_path, url, protocol="system-monitor", system_id="sm-node")
    p.start()
    p.wait_drained()
    poll(lambda: int(p.figures.get("last_ack_seq", 0)) >= 3, 20, "three send_stats acknowledged")
    p.stop()
    assert "answered check_url and check_system_id" in p.log()
    nodes = hub.get("/api/v1/nodes").json
    node = next(n for n in nodes if n["node_id"] == "sm-node")
    assert node["kind"] == "system-monitor"
    points = hub.query(node="sm-node", metric="cpu.percent_used", start=0, end=int(time.time()) + 700)["series"][0]["points"]
    assert len(points) >= 3
    # Started again, the hub knows the system id: check_system_id is 200.
    p.start()
    poll(lambda: p.log().count("answered check_url and check_system_id (200)") == 1, 20, "check_system_id 200")
    p.stop()
    procs.stop_all()
    hub.check_logs()
