"""What the pushd tests build on: pushd run by hand beside a real hub (its
figures read from its notify messages, as controld reads them), a scripted
stand-in hub for answers a real hub does not give on demand (400, 503 with
Retry-After), and the question every test ends with: which seqs does the hub
hold for a node, and how often."""
import json
import signal
import sqlite3
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hub_support import ENROLL, Hub
from support import MEMORY_ERROR, NotifySocket, binary, merged_env, poll


@pytest.fixture
def hub(procs, tmp_path):
    """A started resolvix-hub on SQLite, whose database the checks read."""
    d = tmp_path / "hub"
    d.mkdir()
    h = Hub(procs, d)
    h.start()
    yield h
    procs.stop_all()
    h.check_logs()


class Pushd:
    """One pushd with a state dir of its own, run as controld would run it."""

    def __init__(self, procs, tmp_path, hub_url, node_id="n1", **settings):
        self.procs = procs
        self.dir = tmp_path
        self.state_dir = tmp_path / "node-state"
        self.env = {
            "RESOLVIX_CONFIG": "",
            "RESOLVIX_NODE_ID": node_id,
            "RESOLVIX_CONTROL_STATE_DIR": str(self.state_dir),
            "RESOLVIX_PUSH_HUB_URL": hub_url,
            "RESOLVIX_PUSH_ENROLL_TOKEN": ENROLL,
            "RESOLVIX_PUSH_INTERVAL": "1",
            "RESOLVIX_PUSH_BACKFILL_RATE": "500",
        }
        self.env.update({f"RESOLVIX_PUSH_{k.upper()}": str(v) for k, v in settings.items()})
        self.node_id = node_id
        self.proc = None
        self.runs = 0
        self.figures = {}
        self.log_path = None

    def start(self, wait=True, **env):
        self.runs += 1
        notify = NotifySocket(self.dir / f"pushd-{self.runs}.notify")
        self.procs.cleanups.append(notify.close)
        full = merged_env(self.env, {**env, "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"})
        self.log_path = self.dir / f"pushd-{self.runs}.log"
        with open(self.log_path, "wb") as log:
            self.proc = self.procs.start([binary("pushd/pushd"), "--verbose"], env=full, stdout=log,
                                         stderr=subprocess.STDOUT)
        if wait:
            notify.wait_for("READY", timeout=15)
        threading.Thread(target=self._read, args=(notify,), daemon=True).start()
        return self.proc

    def _read(self, notify):
        while True:
            try:
                _, fields = notify.recv(timeout=3600)
            except OSError:
                return
            if "RESOLVIX_PUSH_CONNECTED" in fields:
                self.figures = {k[len("RESOLVIX_PUSH_"):].lower(): v for k, v in fields.items()
                                if k.startswith("RESOLVIX_PUSH_")}

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def logs(self):
        return "".join(p.read_text(errors="replace") for p in sorted(self.dir.glob("pushd-*.log")))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=10) == 0

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def position(self):
        text = (self.state_dir / "push-spool" / "position").read_text()
        return dict(line.split("=", 1) for line in text.splitlines())

    def wait_drained(self, timeout=60):
        """Until the spool has nothing waiting and the hub acknowledged something."""
        return poll(lambda: self.figures.get("spooled") == "0" and int(self.figures.get("last_ack_seq", 0)) > 0
                    and self.figures, timeout, "pushd's spool drained")

    def check_logs(self):
        m = MEMORY_ERROR.search(self.logs())
        assert not m, m.group(0)


def hub_seqs(hub, node_id, host="127.0.0.1", token=None):
    """The seq of every raw sample the hub stores for node_id, in time order
    (a seq stored twice would appear twice), read from the hub's SQLite
    database; and checked against what its query API shows. A push pushd
    sent just before it stopped may still be committing: the two reads are
    compared once the hub has nothing more to add."""
    for _ in range(50):
        db = sqlite3.connect(f"file:{hub.state_dir / 'hub.sqlite'}?mode=ro", uri=True, timeout=30)
        try:
            rows = db.execute("SELECT s.seq FROM samples s JOIN nodes n ON n.node_ref = s.node_ref "
                              "WHERE n.node_id = ? ORDER BY s.ts, s.seq", (node_id,)).fetchall()
        finally:
            db.close()
        seqs = [r[0] for r in rows]
        r = hub.request("GET", f"/api/v1/query?node={node_id}&metric=cpu.cpu_usage_percent&start=0"
                               f"&end={int(time.time()) + 700}",
                        headers={"Authorization": f"Bearer {token}"} if token else None, host=host)
        assert r.status == 200, r
        points = [p for s in r.json["series"] for p in s["points"]]
        if len(points) == len(seqs):
            break
        time.sleep(0.2)
    assert len(points) == len(seqs), (len(points), len(seqs))
    return seqs


def assert_no_loss(hub, pushd, host="127.0.0.1", dropped=0, token=None):
    """Every seq pushd counts as done is stored exactly once, apart from the
    ones it counts as dropped, which are the oldest."""
    pos = pushd.position()
    done = int(pos["done"])
    assert int(pos["dropped"]) == dropped
    seqs = hub_seqs(hub, pushd.node_id, host, token)
    assert len(seqs) == len(set(seqs)), f"stored twice: {sorted(s for s in set(seqs) if seqs.count(s) > 1)}"
    missing = sorted(set(range(1, done + 1)) - set(seqs))
    assert missing == list(range(1, dropped + 1)), f"missing seqs {missing[:20]}..."
    return seqs


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass


class LoopbackServer:
    """A threaded HTTP server on a free loopback port, answering with handler."""

    def __init__(self, handler):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class FakeHub(LoopbackServer):
    """A scripted hub: enrolls anyone, and answers pushes from a list of
    (status, headers) in turn, then 200. Every push is recorded."""

    def __init__(self, script=()):
        self.script = list(script)
        self.pushes = []  # (monotonic time, status answered, [seqs])
        fake = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    import gzip
                    body = gzip.decompress(body)
                if self.path == "/api/v1/enroll":
                    return self.answer(201, {"node_id": "n1", "token": "node-token"})
                seqs = [json.loads(line)["seq"] for line in body.decode().splitlines() if line]
                status, headers = fake.script.pop(0) if fake.script else (200, {})
                fake.pushes.append((time.monotonic(), status, seqs))
                if status == 200:
                    return self.answer(200, {"acked": len(seqs), "duplicates": 0, "last_seq": seqs[-1]})
                return self.answer(status, {"status": "error", "message": f"scripted {status}"}, headers)

            def answer(self, status, obj, headers=None):
                data = json.dumps(obj).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler)
        self.url = f"http://127.0.0.1:{self.port}"
