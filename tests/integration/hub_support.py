"""What the resolvix-hub tests build on: a real hub on loopback with a
database of its own (SQLite, or PostgreSQL started by tests/pg-server.sh),
and the samples its nodes push. The fixtures (hub, hub_factory, pg_server)
are in conftest.py."""
import gzip as gz
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from support import MEMORY_ERROR, NotifySocket, Response, binary, drain, free_port, merged_env, poll

TESTS = Path(__file__).resolve().parents[1]
ENROLL = "enroll-secret"
BACKENDS = ["sqlite", "postgresql"]


def iso(ts):
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sample(seq, stream="boot-1", ts=None, node_id="n1", cpu=None):
    """A sample as pushd sends it: the telemetry wire format plus stream and seq."""
    ts = time.time() if ts is None else ts
    return {
        "timestamp": iso(ts), "node_id": node_id, "interval": 10,
        "metrics": {
            "cpu": {"cpu_usage_percent": float(seq % 100) if cpu is None else cpu,
                    "cpu_per_core_percent": [1.5, 2.5], "load_avg_1min": 0.5,
                    "load_avg_5min": 0.4, "load_avg_15min": 0.3},
            "memory": {"memory_total_gb": 16.0, "memory_used_gb": 8.5, "memory_available_gb": 7.5,
                       "memory_usage_percent": 53.1, "swap_total_gb": 0.0, "swap_used_gb": 0.0,
                       "swap_usage_percent": 0.0},
            "disk": {"disk_usage": {"/": {"total_gb": 100.0, "used_gb": 60.0, "free_gb": 40.0,
                                          "usage_percent": 60.0}},
                     "disk_io": {"read_mb_per_sec": 5.2, "write_mb_per_sec": 2.1}},
            "network": {"bytes_sent_mb_per_sec": 1.5, "bytes_recv_mb_per_sec": 3.2,
                        "packets_sent": 1234567, "packets_recv": 2345678, "active_connections": 45},
            "processes": {"process_count": 234,
                          "top_memory_processes": [{"pid": 1234, "name": "chrome", "memory_percent": 15.2}]},
        },
        "stream": stream, "seq": seq,
    }


def ndjson(samples):
    return "".join(json.dumps(s) + "\n" for s in samples).encode()


class PostgreSQL:
    """One throwaway server for a test module; a fresh database per hub."""

    def __init__(self):
        # initdb runs as the postgres user, which must reach the directory.
        self.dir = Path(tempfile.mkdtemp(prefix="resolvix-hub-pg-"))
        os.chmod(self.dir, 0o755)
        out = subprocess.run(["sh", str(TESTS / "pg-server.sh"), "start", str(self.dir / "pg")],
                             capture_output=True, text=True, timeout=120)
        if out.returncode == 77:
            shutil.rmtree(self.dir, ignore_errors=True)
            pytest.skip("PostgreSQL server binaries are not installed")
        assert out.returncode == 0, out.stderr
        self.admin_url = out.stdout.strip()
        self.socket_dir = str(self.dir / "pg")
        self.n = 0

    def new_database(self):
        import psycopg
        self.n += 1
        name = f"hub{self.n}_{os.getpid()}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@/{name}?host={self.socket_dir}"

    def stop(self):
        subprocess.run(["sh", str(TESTS / "pg-server.sh"), "stop", self.socket_dir],
                       capture_output=True, timeout=120)

    def start_again(self):
        """pg_ctl start on the data directory this server already has."""
        out = subprocess.run(["sh", "-c", f'd=$(ls -d /usr/lib/postgresql/*/bin | sort -t/ -k4 -n -r | head -1); '
                              f'runuser -u postgres -- "$d/pg_ctl" -D {self.socket_dir}/data -l {self.socket_dir}/server.log -w -t 60 '
                              f'-o "-c listen_addresses=\'\' -k {self.socket_dir} -c max_connections=200" start'],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr + out.stdout

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Hub:
    def __init__(self, procs, tmp_path, database=""):
        self.procs = procs
        self.dir = tmp_path
        self.state_dir = tmp_path / "hub-state"
        self.port = free_port()
        self.database = database
        self.env = {
            "RESOLVIX_CONFIG": "",
            "RESOLVIX_HUB_LISTEN": "127.0.0.1",
            "RESOLVIX_HUB_PORT": str(self.port),
            "RESOLVIX_HUB_DATABASE": database,
            "RESOLVIX_HUB_ENROLL_TOKEN": ENROLL,
            "RESOLVIX_CONTROL_STATE_DIR": str(self.state_dir),
        }
        self.proc = None
        self.runs = 0
        self.log_path = None
        self.notify = None

    # -- the process --

    def start(self, *args, env=None, wait=True, wrap=()):
        full = merged_env(self.env, env)
        self.runs += 1
        self.notify = NotifySocket(self.dir / f"hub-{self.runs}.notify")
        self.procs.cleanups.append(self.notify.close)
        full["NOTIFY_SOCKET"] = self.notify.path
        self.log_path = self.dir / f"hub-{self.runs}.log"
        with open(self.log_path, "wb") as log:
            self.proc = self.procs.start([*wrap, binary("hub/resolvix-hub"), *args], env=full, stdout=log,
                                         stderr=subprocess.STDOUT)
        if wait:
            self.ready = self.notify.wait_for("READY", timeout=30)[1]
            threading.Thread(target=drain, args=(self.notify.sock,), daemon=True).start()
        return self.proc

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self, timeout=30):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def check_logs(self):
        for log in sorted(self.dir.glob("hub-*.log")):
            m = MEMORY_ERROR.search(log.read_text(errors="replace"))
            assert not m, f"{log}: {m.group(0)}"

    # -- HTTP --

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def ws_url(self, path):
        return f"ws://127.0.0.1:{self.port}{path}"

    def request(self, method, path, body=None, headers=None, timeout=30, host="127.0.0.1"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection(host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return Response(resp.status, resp.headers, resp.read().decode(errors="replace"))
        finally:
            conn.close()

    def get(self, path, token=None):
        return self.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else None)

    def enroll(self, node_id="n1", machine_id=None, token=ENROLL):
        r = self.request("POST", "/api/v1/enroll",
                         {"node_id": node_id, "hostname": f"host-{node_id}", "machine_id": machine_id or f"m-{node_id}"},
                         {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert r.status == 201, r
        assert r.json["node_id"] == node_id
        return r.json["token"]

    def push(self, token, samples_or_body, gzip=False, headers=None, timeout=30):
        body = samples_or_body if isinstance(samples_or_body, bytes) else ndjson(samples_or_body)
        h = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
        if gzip:
            body = gz.compress(body)
            h["Content-Encoding"] = "gzip"
        h.update(headers or {})
        return self.request("POST", "/api/v1/push", body, h, timeout=timeout)

    def query(self, **params):
        from urllib.parse import urlencode
        r = self.get("/api/v1/query?" + urlencode(params))
        assert r.status == 200, r
        return r.json

    def stored_seqs(self, node_id, metric="cpu.cpu_usage_percent", start=0):
        """Every raw point of a node, as (t, v)."""
        answer = self.query(node=node_id, metric=metric, start=start, end=time.time() + 700)
        return [tuple(p) for s in answer["series"] for p in s["points"]]


def two_hubs_one_database(hub_factory):
    """Two started hubs on one database (SQLite: one state directory), as
    several hubs behind a load balancer share one PostgreSQL."""
    a = hub_factory("a")
    a.start()
    b = hub_factory("b")
    b.database = a.database
    b.env["RESOLVIX_HUB_DATABASE"] = a.database
    b.env["RESOLVIX_CONTROL_STATE_DIR"] = str(a.state_dir)
    b.start()
    return a, b


def wait_status(fn, want, timeout=10.0, what="status"):
    return poll(lambda: (lambda r: r if r.status == want else None)(fn()), timeout, what)
