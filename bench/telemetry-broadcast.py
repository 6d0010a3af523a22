#!/usr/bin/python3
"""Time from tick until every one of N loopback clients holds the frame:
telemetryd against a Node ws server and a Python websockets server
broadcasting the same frame, in one run. Prints ours, the peers' and the
ratios.

telemetryd's tick is real: the interval signal makes it sample /proc,
serialise and broadcast, so its figure includes taking the sample. The peers
only send a ready-made copy of telemetryd's own frame on SIGUSR1; so does
a bare C server that just write()s it to every socket, the floor on this
machine. Server on CPU 0, clients (one epoll loop in C) on CPU 1.

With --tls, telemetryd is also run with a certificate (made here with
openssl) and its clients speak wss://: the cost of TLS is printed beside
the plain figure (docs/tls.md).

Usage: bench/telemetry-broadcast.py [--clients 1000] [--rounds 20] [--tls] [--build DIR]
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import needs

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listening on {port}")


def start(args, **kw):
    # Servers on CPU 0; their output would only fill a pipe.
    return subprocess.Popen(["taskset", "-c", "0", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, **kw)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_clients(client, port, n, rounds, pid, signo, value=None, tls=False):
    args = ["taskset", "-c", "1", str(client), str(port), str(n), str(rounds), str(pid), str(int(signo))]
    if value is not None:
        args.append(str(value))
    env = {**os.environ, **({"BENCH_TLS": "1"} if tls else {})}
    out = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    if out.returncode != 0:
        raise SystemExit(f"clients failed: {out.stderr}")
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--tls", action="store_true", help="also measure telemetryd over wss://")
    needs.build_option(ap)
    args = ap.parse_args()
    n = args.clients
    needs.debian("util-linux", "python3-websockets")  # taskset; the Python peer
    node_path = needs.node_clients()
    telemetryd, client, floor = needs.built(args.build, "telemetryd/telemetryd", "bench/telemetry-broadcast-client",
                                            "bench/telemetry-broadcast-floor")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {"RESOLVIX_CONFIG": "", "RESOLVIX_TELEMETRY_INGEST_PORT": "0", "PATH": os.environ["PATH"]}
        port = free_port()
        td = start([telemetryd, "--listen", "127.0.0.1", "--port", port,
                    "--interval", 86400, "--max-clients", n + 16], env=env)
        try:
            wait_port(port, td)
            time.sleep(0.5)  # the first sample
            frame = urllib.request.urlopen(f"http://127.0.0.1:{port}/sample").read().decode().rstrip("\n")
            (tmp / "frame.json").write_text(frame)
            ours = run_clients(client, port, n, args.rounds, td.pid, signal.SIGRTMIN + 1, 86400)
        finally:
            stop(td)

        tls = None
        if args.tls:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-days", "1", "-subj", "/CN=bench", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", tmp / "key.pem", "-out", tmp / "cert.pem"], check=True, capture_output=True)
            port = free_port()
            td = start([telemetryd, "--listen", "127.0.0.1", "--port", port,
                        "--interval", 86400, "--max-clients", n + 16],
                       env={**env, "RESOLVIX_TELEMETRY_TLS_CERT": str(tmp / "cert.pem"),
                            "RESOLVIX_TELEMETRY_TLS_KEY": str(tmp / "key.pem")})
            try:
                wait_port(port, td)
                time.sleep(0.5)
                tls = run_clients(client, port, n, args.rounds, td.pid, signal.SIGRTMIN + 1, 86400, tls=True)
            finally:
                stop(td)

        peers = {}
        for name, cmd, env in (
            ("Node ws", ["node", BENCH / "telemetry-broadcast-node.js"],
             {"NODE_PATH": node_path}),
            ("Python websockets", ["/usr/bin/python3", BENCH / "telemetry-broadcast-py.py"], {}),
            ("raw write() floor (C, no library)", [floor], {}),
        ):
            port = free_port()
            p = start([*cmd, port, tmp / "frame.json"], env={**os.environ, **env})
            try:
                wait_port(port, p)
                time.sleep(0.5)
                peers[name] = run_clients(client, port, n, args.rounds, p.pid, signal.SIGUSR1)
            finally:
                stop(p)

    print(f"Tick until all {n} loopback clients hold the frame ({len(frame)} bytes), "
          f"median of {args.rounds} rounds")
    print(f"  telemetryd (sample + JSON + send)  {ours['median_ms']:7.2f} ms"
          f"   (min {ours['min_ms']:.2f}, max {ours['max_ms']:.2f})")
    if tls:
        print(f"  telemetryd over wss:// (TLS 1.3)   {tls['median_ms']:7.2f} ms"
              f"   (min {tls['min_ms']:.2f}, max {tls['max_ms']:.2f})"
              f"   TLS cost {tls['median_ms'] - ours['median_ms']:+.2f} ms, x{tls['median_ms'] / ours['median_ms']:.2f}")
    for name, r in peers.items():
        ratio = r["median_ms"] / ours["median_ms"]
        print(f"  {name:<33}  {r['median_ms']:7.2f} ms   (min {r['min_ms']:.2f}, max {r['max_ms']:.2f})"
              f"   ratio {ratio:.2f} (peer / ours)")


if __name__ == "__main__":
    main()
