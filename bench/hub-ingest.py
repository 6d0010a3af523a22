#!/usr/bin/python3
"""Durable ingest, answered after commit: resolvix-hub (SQLite, then
PostgreSQL) against a Flask + psycopg server doing what the Flask
system-monitor server does (one record per POST, inserted and committed in
PostgreSQL before the 202), all in one run. 50 connections on loopback; ours
pushes NDJSON batches of 100 telemetry samples (gzip, as pushd sends them).
Prints samples/s and values/s of each, and the ratios.
Budget (docs/performance.md): >= 20,000 samples/s on both back ends, >= 10x
the Flask server.

    bench/hub-ingest.py [SECONDS]      (default 10 per run)
"""
import gzip
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("RESOLVIX_BUILD_DIR", ROOT / "build"))
CONNECTIONS = 50
BATCH = 100
SECS = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listening on {port}")


def telemetry_sample(node, seq, ts):
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)), "node_id": node, "interval": 10,
        "metrics": {
            "cpu": {"cpu_usage_percent": seq % 100 + 0.5, "cpu_per_core_percent": [50.1, 40.3],
                    "load_avg_1min": 2.5, "load_avg_5min": 2.1, "load_avg_15min": 1.8},
            "memory": {"memory_total_gb": 16.0, "memory_used_gb": 8.5, "memory_available_gb": 7.5,
                       "memory_usage_percent": 53.1, "swap_total_gb": 4.0, "swap_used_gb": 0.5,
                       "swap_usage_percent": 12.5},
            "disk": {"disk_usage": {"/": {"total_gb": 100.0, "used_gb": 60.0, "free_gb": 40.0, "usage_percent": 60.0}},
                     "disk_io": {"read_mb_per_sec": 5.2, "write_mb_per_sec": 2.1}},
            "network": {"bytes_sent_mb_per_sec": 1.5, "bytes_recv_mb_per_sec": 3.2, "packets_sent": 1234567 + seq,
                        "packets_recv": 2345678 + seq, "active_connections": 45},
            "processes": {"process_count": 234, "top_memory_processes": [
                {"pid": 1234, "name": "chrome", "memory_percent": 15.2}]},
        },
        "stream": "bench", "seq": seq,
    }


def request(conn, method, path, body, headers):
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    return r.status, r.read()


def drive(port, make_request, secs):
    """CONNECTIONS keep-alive clients for secs: samples acknowledged."""
    counts = [0] * CONNECTIONS
    stop = time.monotonic() + secs
    errors = []

    def client(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        k = 0
        while time.monotonic() < stop:
            method, path, body, headers, n = make_request(i, k)
            status, _ = request(conn, method, path, body, headers)
            if status not in (200, 202):
                errors.append(status)
                return
            counts[i] += n
            k += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CONNECTIONS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    if errors:
        raise SystemExit(f"requests failed: {errors[:5]}")
    return sum(counts), elapsed


def metric(port, name):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    _, body = request(conn, "GET", "/metrics", None, {})
    m = re.search(rf"(?m)^{name} (\S+)$", body.decode())
    return float(m.group(1)) if m else 0.0


def run_hub(tmp, database, label):
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "RESOLVIX_CONFIG": "", "RESOLVIX_HUB_LISTEN": "127.0.0.1",
           "RESOLVIX_HUB_PORT": str(port), "RESOLVIX_HUB_DATABASE": database,
           "RESOLVIX_HUB_ENROLL_TOKEN": "bench", "RESOLVIX_CONTROL_STATE_DIR": str(tmp / f"state-{label}")}
    log = open(tmp / f"hub-{label}.log", "wb")
    proc = subprocess.Popen([str(BUILD / "hub" / "resolvix-hub")], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(port)
        tokens = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(CONNECTIONS):
            status, body = request(conn, "POST", "/api/v1/enroll", json.dumps({"node_id": f"n{i}"}),
                                   {"Authorization": "Bearer bench", "Content-Type": "application/json"})
            assert status == 201, body
            tokens.append(json.loads(body)["token"])
        # Bodies made before the clock starts: the driver's own cost stays out.
        now = int(time.time()) - 3600
        per_conn = int(SECS * 2000 / CONNECTIONS / BATCH) + 40
        bodies = [[gzip.compress("".join(json.dumps(telemetry_sample(f"n{i}", k * BATCH + j, now + (k * BATCH + j) // 100))
                                         + "\n" for j in range(BATCH)).encode(), 1)
                   for k in range(per_conn)] for i in range(CONNECTIONS)]

        def make(i, k):
            if k >= per_conn:
                raise SystemExit("the driver ran out of prepared batches: raise per_conn")
            return ("POST", "/api/v1/push", bodies[i][k],
                    {"Authorization": f"Bearer {tokens[i]}", "Content-Type": "application/x-ndjson",
                     "Content-Encoding": "gzip"}, BATCH)

        values0 = metric(port, "resolvix_hub_values_ingested_total")
        samples, elapsed = drive(port, make, SECS)
        values = metric(port, "resolvix_hub_values_ingested_total") - values0
        return samples / elapsed, values / elapsed
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


PEER = r'''
import sys, time
from flask import Flask, request, jsonify
import psycopg
app = Flask(__name__)
url = sys.argv[2]
with psycopg.connect(url, autocommit=True) as c:
    c.execute("CREATE TABLE IF NOT EXISTS records (id bigserial PRIMARY KEY, username text NOT NULL,"
              " cpu double precision, mem double precision, storage double precision, unix_time bigint)")
    c.execute("CREATE INDEX IF NOT EXISTS records_user_time ON records (username, unix_time)")
import threading
local = threading.local()
def db():
    if not hasattr(local, "conn"):
        local.conn = psycopg.connect(url)
    return local.conn
@app.post("/client/<username>")
def record(username):
    d = request.get_json(silent=True) or request.form
    if not d:
        return jsonify({"error": "incorrect data"}), 400
    rec = {"cpu": float(d["cpu_load"]), "mem": float(d["mem"]), "storage": float(d["storage"]),
           "unix_time": int(d.get("time") or time.time())}
    conn = db()
    with conn.cursor() as cur:
        cur.execute("INSERT INTO records (username, cpu, mem, storage, unix_time) VALUES (%s, %s, %s, %s, %s)",
                    (username, rec["cpu"], rec["mem"], rec["storage"], rec["unix_time"]))
    conn.commit()
    return jsonify(rec), 202
import logging
logging.getLogger("werkzeug").setLevel(logging.ERROR)
app.run("127.0.0.1", int(sys.argv[1]), threaded=True)
'''


def run_peer(tmp, database):
    port = free_port()
    (tmp / "peer.py").write_text(PEER)
    proc = subprocess.Popen(["/usr/bin/python3", str(tmp / "peer.py"), str(port), database],
                            stdout=open(tmp / "peer.log", "wb"), stderr=subprocess.STDOUT)
    try:
        wait_port(port)
        body = json.dumps({"cpu_load": 25.9, "mem": 6172, "storage": 95888, "time": 1646650624})

        def make(i, k):
            return ("POST", f"/client/user{i}", body, {"Content-Type": "application/json"}, 1)

        samples, elapsed = drive(port, make, SECS)
        return samples / elapsed, 3 * samples / elapsed
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def main():
    if not (BUILD / "hub" / "resolvix-hub").exists():
        raise SystemExit(f"build first: meson setup {BUILD} && ninja -C {BUILD}")
    tmp = Path(tempfile.mkdtemp(prefix="hub-ingest-"))
    os.chmod(tmp, 0o755)
    pg_dir = tmp / "pg"
    try:
        out = subprocess.run(["sh", str(ROOT / "tests" / "pg-server.sh"), "start", str(pg_dir)],
                             capture_output=True, text=True, timeout=180)
        if out.returncode != 0:
            raise SystemExit(f"PostgreSQL did not start: {out.stderr}")
        admin = out.stdout.strip()
        import psycopg
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute("CREATE DATABASE hub")
            c.execute("CREATE DATABASE peer")
        hub_pg = admin.replace("/postgres?", "/hub?")
        peer_pg = admin.replace("/postgres?", "/peer?")

        print(f"{CONNECTIONS} connections, {SECS:.0f} s each; ours: NDJSON batches of {BATCH} samples (gzip), "
              f"answered after commit; peer: Flask + psycopg, one record per POST, committed in PostgreSQL")
        sq = run_hub(tmp, "", "sqlite")
        print(f"resolvix-hub SQLite:     {sq[0]:10.0f} samples/s {sq[1]:12.0f} values/s")
        pg = run_hub(tmp, hub_pg, "postgresql")
        print(f"resolvix-hub PostgreSQL: {pg[0]:10.0f} samples/s {pg[1]:12.0f} values/s")
        peer = run_peer(tmp, peer_pg)
        print(f"Flask + psycopg:         {peer[0]:10.0f} samples/s {peer[1]:12.0f} values/s")
        print(f"ratio samples/s: SQLite {sq[0] / peer[0]:.1f}x, PostgreSQL {pg[0] / peer[0]:.1f}x the Flask server")
    finally:
        subprocess.run(["sh", str(ROOT / "tests" / "pg-server.sh"), "stop", str(pg_dir)], capture_output=True,
                       timeout=120)
        if os.environ.get("KEEP"):
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
