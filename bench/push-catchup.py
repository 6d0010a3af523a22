#!/usr/bin/python3
"""pushd catching up after a 1-hour outage at interval 1: 3,600 samples in
its spool (written by pushd's own spool code, bench's spool-fill), then the
hub comes back. Prints the time until the hub holds them all, at
[push] backfill_rate, and the bytes on the wire per sample (both ways,
counted by a TCP relay in front of the hub) as pushd sends them (NDJSON
batches, gzip) against the same samples posted one per request on a
kept-alive connection. Figures only: nothing passes or fails.

    bench/push-catchup.py [--samples 3600] [--rate 50] [--build DIR]
"""
import argparse
import http.client
import os
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import needs
from procfigures import free_port, wait_port

ENROLL = "bench-enroll"


class Relay:
    """A TCP relay to the hub that counts the bytes it carries."""

    def __init__(self, target_port):
        self.target = target_port
        self.bytes = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self.pipe, args=(c, u), daemon=True).start()
            threading.Thread(target=self.pipe, args=(u, c), daemon=True).start()

    def pipe(self, a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                with self.lock:
                    self.bytes += len(data)
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def take(self):
        with self.lock:
            n, self.bytes = self.bytes, 0
        return n


def spooled_lines(spool):
    """The payloads of every record in a spool directory."""
    lines = []
    for seg in sorted(Path(spool).glob("*.seg")):
        data = seg.read_bytes()
        off = 0
        while off + 20 <= len(data):
            _, n, _, _ = struct.unpack_from("<IIQI", data, off)
            lines.append(data[off + 20:off + 20 + n])
            off += 20 + n
    return lines


def stored(db_path, node):
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
        try:
            return db.execute("SELECT count(*) FROM samples s JOIN nodes n ON n.node_ref = s.node_ref "
                              "WHERE n.node_id = ?", (node,)).fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=3600)
    ap.add_argument("--rate", type=int, default=50)
    needs.build_option(ap)
    a = ap.parse_args()
    pushd_bin, hub_bin, fill_bin = needs.built(a.build, "pushd/pushd", "hub/resolvix-hub", "pushd/spool-fill")
    tmp = tempfile.mkdtemp(prefix="push-catchup-")
    node_state = os.path.join(tmp, "node")
    spool = os.path.join(node_state, "push-spool")
    subprocess.run([str(fill_bin), spool, "256", str(a.samples), "bench-node"], check=True, capture_output=True)
    lines = spooled_lines(spool)

    port = free_port()
    hub_env = {"PATH": os.environ["PATH"], "RESOLVIX_CONFIG": "", "RESOLVIX_HUB_LISTEN": "127.0.0.1",
               "RESOLVIX_HUB_PORT": str(port), "RESOLVIX_HUB_ENROLL_TOKEN": ENROLL,
               "RESOLVIX_CONTROL_STATE_DIR": os.path.join(tmp, "hub")}
    hub = subprocess.Popen([str(hub_bin)], env=hub_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pushd = None
    try:
        wait_port(port, hub)
        relay = Relay(port)
        env = {"PATH": os.environ["PATH"], "RESOLVIX_CONFIG": "", "RESOLVIX_NODE_ID": "bench-node",
               "RESOLVIX_CONTROL_STATE_DIR": node_state, "RESOLVIX_PUSH_HUB_URL": f"http://127.0.0.1:{relay.port}",
               "RESOLVIX_PUSH_ENROLL_TOKEN": ENROLL, "RESOLVIX_PUSH_INTERVAL": "1",
               "RESOLVIX_PUSH_BACKFILL_RATE": str(a.rate)}
        t0 = time.monotonic()
        pushd = subprocess.Popen([str(pushd_bin)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        db = os.path.join(tmp, "hub", "hub.sqlite")
        while stored(db, "bench-node") < a.samples:
            if time.monotonic() - t0 > 3 * a.samples / a.rate + 60:
                raise SystemExit(f"the hub holds only {stored(db, 'bench-node')} samples")
            time.sleep(0.2)
        took = time.monotonic() - t0
        held = stored(db, "bench-node")
        pushd.send_signal(signal.SIGTERM)
        pushd.wait(timeout=15)
        batched = relay.take()
        print(f"catch-up of {a.samples} spooled samples at backfill_rate {a.rate}/s: {took:.1f} s until the hub "
              f"held them all (floor {a.samples / a.rate:.1f} s); {held - a.samples} live samples meanwhile")

        # The same samples, one per request, kept alive: what a naive agent sends.
        token = (Path(node_state) / "push.token").read_text().strip()
        conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=30)
        for line in lines:
            conn.request("POST", "/api/v1/push", body=line,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})
            conn.getresponse().read()
        conn.close()
        time.sleep(0.3)
        single = relay.take()
        per_batched = batched / held
        per_single = single / len(lines)
        print(f"bytes on the wire per sample: {per_batched:.0f} gzip-batched (pushd) vs {per_single:.0f} one per "
              f"request; ratio {per_single / per_batched:.1f}x (spool-fill repeats one sample with new timestamps "
              f"and seqs: gzip's best case; varied live samples compress less)")
        print(f"load average {os.getloadavg()[0]:.2f}")
    finally:
        for p in (pushd, hub):
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=15)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
