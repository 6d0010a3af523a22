#!/usr/bin/python3
"""Time from tick until every one of N loopback clients holds the frame:
telemetryd against a Node ws server and a Python websockets server
broadcasting the same frame, in one run. Prints ours, the peers' and the
ratios. Every server runs at once, with clients of its own, and each round
ticks them in turn: this VM's speed drifts from one minute to the next,
and servers timed one after the other saw different machines.

With --clients over 1,000 telemetryd and the floor are also timed at 5,000
and at --clients (clients added to the same server in stages), with the
time to connect each stage's clients and the server's CPU per tick, so that
growth with the client count shows (one server at a time); the library
peers are timed at 1,000.

telemetryd's tick is real: the interval signal makes it sample /proc,
serialise and broadcast, so its figure includes taking the sample. The peers
only send a ready-made copy of telemetryd's own frame on SIGUSR1; so does
a bare C server that just write()s it to every socket, the floor on this
machine. Server on CPU 0, clients (one epoll loop in C) on CPU 1.

With --tls, telemetryd is also run with a certificate (made here with
openssl, `[telemetry] tls_cert`/`tls_key`) and the same clients, in the same
stages, speak wss://: the cost of TLS is printed beside the plain figure
(docs/tls.md). --no-peers times telemetryd alone (and over wss://).

Usage: bench/telemetry-broadcast.py [--clients 1000] [--rounds 20] [--tls] [--no-peers] [--build DIR]
"""
import argparse
import contextlib
import json
import os
import resource
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import needs
from procfigures import free_port, wait_port

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
FLOOR = "raw write() floor (C, no library)"
TLS = "telemetryd over wss://"


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


def run_client_program(what, args, env=None):
    """The client program on CPU 1: its JSON lines."""
    out = subprocess.run(["taskset", "-c", "1", *map(str, args)], capture_output=True, text=True, timeout=900, env=env)
    if out.returncode != 0:
        raise SystemExit(f"clients of {what} failed: {out.stderr[-2000:]}")
    return [json.loads(line) for line in out.stdout.splitlines()]


def run_clients(name, client, srv, stages, rounds):
    """Clients added to one server in stages (counts of clients): one
    result per stage, in order."""
    env = {k: v for k, v in os.environ.items() if k != "BENCH_TLS"} | ({"BENCH_TLS": "1"} if srv["tls"] else {})
    value = [] if srv["value"] is None else [srv["value"]]
    return run_client_program(name, [client, srv["port"], ",".join(map(str, stages)), rounds, srv["pid"],
                                     int(srv["sig"]), *value], env)


def run_each(client, n, rounds, servers):
    """n clients on each server; each round ticks every server in turn,
    so that all see the same machine. {name: result}"""
    specs = [f"{s['port']}:{s['pid']}:{int(s['sig'])}:{'-' if s['value'] is None else s['value']}:"
             f"{'tls' if s['tls'] else 'plain'}" for s in servers.values()]
    return dict(zip(servers, run_client_program("every server", [client, "--each", n, rounds, *specs])))


def raise_fd_limit(n):
    """Every server and the clients inherit a limit that fits n clients."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 256
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            raise SystemExit(f"open-file hard limit {hard} is below the {want} descriptors {n} clients need")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--tls", action="store_true", help="also time telemetryd over wss://, beside plain")
    ap.add_argument("--no-peers", action="store_true",
                    help="skip Node ws, Python websockets and the raw write() floor: telemetryd alone")
    needs.build_option(ap)
    args = ap.parse_args()
    n = args.clients
    if n < 1 or args.rounds < 1:
        raise SystemExit("--clients and --rounds must be 1 or more")
    stages = sorted({min(n, 1000), *(s for s in (5000,) if s < n), n})
    first = stages[0]
    raise_fd_limit(max(n, 5 * first))  # the staged clients, or first on each of up to five servers
    needs.debian("util-linux", *(() if args.no_peers else ("python3-websockets",)),  # taskset; the Python peer
                 *(("openssl",) if args.tls else ()))
    node_path = None if args.no_peers else needs.node_clients()
    telemetryd, client, floor = needs.built(args.build, "telemetryd/telemetryd", "bench/telemetry-broadcast-client",
                                            "bench/telemetry-broadcast-floor")

    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as running:
        tmp = Path(tmp)

        def serve(name, cmd, env, sig, value=None, tls=False, after=()):
            port = free_port()
            p = start([*cmd, port, *after], env=env)
            running.callback(stop, p)
            wait_port(port, p)
            servers[name] = {"port": port, "pid": p.pid, "sig": sig, "value": value, "tls": tls}

        servers = {}
        td_env = {"RESOLVIX_CONFIG": "", "RESOLVIX_TELEMETRY_INGEST_PORT": "0", "PATH": os.environ["PATH"]}
        td_cmd = [telemetryd, "--interval", 86400, "--max-clients", n + 16, "--listen", "127.0.0.1", "--port"]
        serve("telemetryd", td_cmd, td_env, signal.SIGRTMIN + 1, 86400)
        time.sleep(0.5)  # the first sample
        port = servers["telemetryd"]["port"]
        frame = urllib.request.urlopen(f"http://127.0.0.1:{port}/sample").read().decode().rstrip("\n")
        (tmp / "frame.json").write_text(frame)
        if args.tls:
            # A certificate for 127.0.0.1 (EC P-256, as docs/tls.md makes them);
            # the clients do not check it: only the server's cost counts here.
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-days", "1", "-subj", "/CN=bench", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", tmp / "key.pem", "-out", tmp / "cert.pem"], check=True, capture_output=True)
            # [telemetry] tls_cert and tls_key, through their environment names.
            serve(TLS, td_cmd, {**td_env, "RESOLVIX_TELEMETRY_TLS_CERT": str(tmp / "cert.pem"),
                                "RESOLVIX_TELEMETRY_TLS_KEY": str(tmp / "key.pem")},
                  signal.SIGRTMIN + 1, 86400, tls=True)
        if not args.no_peers:
            # The peers send a ready-made copy of telemetryd's frame on SIGUSR1.
            for name, cmd, env in (
                ("Node ws", ["node", BENCH / "telemetry-broadcast-node.js"], {"NODE_PATH": node_path}),
                ("Python websockets", ["/usr/bin/python3", BENCH / "telemetry-broadcast-py.py"], {}),
                (FLOOR, [floor], {}),
            ):
                serve(name, cmd, {**os.environ, **env}, signal.SIGUSR1, after=[tmp / "frame.json"])
        time.sleep(0.5)
        each = run_each(client, first, args.rounds, servers)

        staged = {}
        if len(stages) > 1:
            for name in [name for name in ("telemetryd", TLS, FLOOR) if name in servers]:
                staged[name] = run_clients(name, client, servers[name], stages, args.rounds)

    load = os.getloadavg()
    print(f"Tick until all {first} loopback clients hold the frame ({len(frame)} bytes), median of {args.rounds}"
          f" rounds, the servers ticked in turn; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    o = each["telemetryd"]
    print(f"  telemetryd (sample + JSON + send)  {o['median_ms']:7.2f} ms"
          f"   (min {o['min_ms']:.2f}, max {o['max_ms']:.2f})   CPU {o['cpu_ms_per_round']:.2f} ms per tick")
    if TLS in each:
        t = each[TLS]
        label = f"{TLS} ({t['tls']})"
        print(f"  {label:<33}  {t['median_ms']:7.2f} ms   (min {t['min_ms']:.2f}, max {t['max_ms']:.2f})"
              f"   CPU {t['cpu_ms_per_round']:.2f} ms per tick   TLS cost {t['median_ms'] - o['median_ms']:+.2f} ms,"
              f" x{t['median_ms'] / o['median_ms']:.2f}")
    peers = {name: r for name, r in each.items() if name not in ("telemetryd", TLS)}
    for name, r in peers.items():
        print(f"  {name:<33}  {r['median_ms']:7.2f} ms   (min {r['min_ms']:.2f}, max {r['max_ms']:.2f})"
              f"   CPU {r['cpu_ms_per_round']:.2f} ms per tick   ratio {r['median_ms'] / o['median_ms']:.2f} (peer / ours)")
    if FLOOR in peers:
        floor_ms = peers[FLOOR]["median_ms"]
        print("  the peers over the raw write() floor (peer / floor): "
              + ", ".join(f"{name} {r['median_ms'] / floor_ms:.2f}x" for name, r in peers.items() if name != FLOOR))
    if staged:
        ours = staged["telemetryd"]
        print("By client count (clients added at each stage, one server at a time): time and server CPU to connect"
              " them; tick until all hold the frame; server CPU per tick")
        total_s = 0
        for o, f, t in zip(ours, staged.get(FLOOR, [None] * len(stages)), staged.get(TLS, [None] * len(stages))):
            total_s += o["connect_ms"] / 1000
            line = (f"  {o['clients']:6} clients  telemetryd: connect {o['connect_ms'] / 1000:6.2f} s"
                    f" (CPU {o['connect_cpu_ms'] / 1000:5.2f} s, all {total_s:6.2f} s),"
                    f" tick {o['median_ms']:8.2f} ms ({o['median_ms'] / ours[0]['median_ms']:5.2f}x the {first}),"
                    f" CPU {o['cpu_ms_per_round']:7.2f} ms")
            if f:
                line += (f"   | floor: connect {f['connect_ms'] / 1000:6.2f} s (CPU {f['connect_cpu_ms'] / 1000:5.2f} s),"
                         f" tick {f['median_ms']:8.2f} ms, CPU {f['cpu_ms_per_round']:7.2f} ms")
            if t:
                line += (f"   | wss://: connect {t['connect_ms'] / 1000:6.2f} s (CPU {t['connect_cpu_ms'] / 1000:5.2f} s),"
                         f" tick {t['median_ms']:8.2f} ms, CPU {t['cpu_ms_per_round']:7.2f} ms")
            print(line)

if __name__ == "__main__":
    main()
