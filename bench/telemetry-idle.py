#!/usr/bin/python3
"""Idle cost: telemetryd at interval 1 with 10 WebSocket clients, against
node_exporter scraped once a second, over the same 60 s. Prints each one's
share of a core, RssAnon and RSS, and the ratios. The other streaming
worker, livelogd, runs too, following a quiet file with 10 clients of its
own (pushd has bench/push-idle.py). Beside them runs the
floor (bench/telemetry-idle-floor.c) with clients of its own: once a second
it reads the same kernel files through kept descriptors and writes a frame
of the same size to each client, parsing nothing. No telemetry server can
do less a tick, so telemetryd / floor is what its own code costs.

With --alone, only telemetryd and the floor run, each with its clients:
the budget's own conditions, with no peer busy beside them on these two
cores, at the cost of the comparison with node_exporter.

With --against DIR, a second telemetryd built in DIR (another commit's
build) runs beside the first one, with clients of its own, and is measured
over the same seconds: a change smaller than this machine's noise from one
minute to the next shows against it.

Usage: bench/telemetry-idle.py [--seconds 60] [--clients 10] [--alone] [--build DIR] [--against DIR]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import needs
from procfigures import free_port, rss_kib, wait_http, wait_port


CLIENTS = r"""
import asyncio, sys, websockets
async def one(url, counts, i):
    async with websockets.connect(url, ping_interval=None) as ws:
        async for _ in ws:
            counts[i] += 1
async def main(url, n):
    counts = [0] * n
    tasks = [asyncio.create_task(one(url, counts, i)) for i in range(n)]
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(15, stop.set_result, None)
    await stop
    print(sum(counts), flush=True)
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def cpu_seconds(pid):
    """Time on CPU of all the process's threads, in ns precision
    (utime/stime in /proc/<pid>/stat tick only every 10 ms)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            pass  # a thread that just ended
    return total / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--against", metavar="DIR", help="another build's telemetryd, run beside it")
    ap.add_argument("--alone", action="store_true", help="no node_exporter and no livelogd beside telemetryd")
    needs.build_option(ap)
    args = ap.parse_args()
    needs.debian("prometheus-node-exporter", "python3-websockets")  # the peer; the clients
    telemetryd, livelogd, floor = needs.built(args.build, "telemetryd/telemetryd", "livelogd/livelogd",
                                              "bench/telemetry-idle-floor")
    other = needs.built(args.against, "telemetryd/telemetryd")[0] if args.against else None
    exporter = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if not exporter:
        raise SystemExit("prometheus-node-exporter is not installed")

    procs = []

    def start_clients(port):
        clients = subprocess.Popen([sys.executable, "-c", CLIENTS, f"ws://127.0.0.1:{port}/", str(args.clients)],
                                   stdout=subprocess.PIPE, text=True)
        procs.append(clients)
        return clients

    def start_telemetryd(binary):
        port = free_port()
        td = subprocess.Popen([binary, "--listen", "127.0.0.1", "--port", str(port), "--interval", "1"],
                              env={"RESOLVIX_CONFIG": "", "RESOLVIX_TELEMETRY_INGEST_PORT": "0", "PATH": os.environ["PATH"]},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(td)
        sample = wait_http(f"http://127.0.0.1:{port}/sample", td)
        return (td, start_clients(port)), sample

    def start_livelogd(directory):
        """livelogd following a file nothing writes to."""
        log = os.path.join(directory, "quiet.log")
        open(log, "w").close()
        port = free_port()
        ll = subprocess.Popen([livelogd, "--listen", "127.0.0.1", "--port", str(port), "--log-file", log],
                              env={"RESOLVIX_CONFIG": "", "PATH": os.environ["PATH"]},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(ll)
        wait_http(f"http://127.0.0.1:{port}/tail", ll)
        return ll, start_clients(port)

    def start_floor(sample, directory):
        """The floor, sending a frame of the sample's bytes and taking
        statfs() of the mounts the sample reports."""
        frame = os.path.join(directory, "frame.json")
        with open(frame, "wb") as f:
            f.write(sample)
        mounts = list(json.loads(sample)["metrics"]["disk"]["disk_usage"])
        port = free_port()
        fl = subprocess.Popen([floor, str(port), frame, *mounts], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(fl)
        wait_port(port, fl)
        return fl, start_clients(port)

    with tempfile.TemporaryDirectory(prefix="resolvix-bench-idle-") as tmp:
        try:
            ne = ne_url = None
            if not args.alone:
                ne_port = free_port()
                ne = subprocess.Popen([exporter, f"--web.listen-address=127.0.0.1:{ne_port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                procs.append(ne)
                ne_url = f"http://127.0.0.1:{ne_port}/metrics"
                wait_http(ne_url, ne)
            runs = {}
            runs["telemetryd"], sample = start_telemetryd(telemetryd)
            if other:
                runs["telemetryd --against"], _ = start_telemetryd(other)
            runs["floor"] = start_floor(sample, tmp)
            if not args.alone:
                runs["livelogd"] = start_livelogd(tmp)
            time.sleep(3)  # connected, buffers grown, first scrapes done

            watched = {name: td for name, (td, _) in runs.items()} | ({"node_exporter": ne} if ne else {})
            cpu0, t0 = {name: cpu_seconds(p.pid) for name, p in watched.items()}, time.monotonic()
            for i in range(args.seconds):
                if ne_url:
                    urllib.request.urlopen(ne_url, timeout=5).read()
                time.sleep(max(0.0, t0 + i + 1 - time.monotonic()))
            elapsed = time.monotonic() - t0
            share = {name: 100 * (cpu_seconds(p.pid) - cpu0[name]) / elapsed for name, p in watched.items()}
            mem = {name: (rss_kib(p.pid, "RssAnon"), rss_kib(p.pid)) for name, p in watched.items()}

            frames = {}
            for name, (_, clients) in runs.items():
                clients.send_signal(signal.SIGTERM)
                frames[name] = int(clients.communicate(timeout=10)[0].strip() or 0)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
                    p.wait(timeout=10)

    beside = (" alone with the floor" if args.alone else
              f", node_exporter scraped once a second, livelogd following a quiet file with {args.clients} clients")
    print(f"Idle cost over {elapsed:.0f} s: telemetryd at interval 1 with {args.clients} clients "
          f"({frames['telemetryd']} frames received){beside}")
    for name in watched:
        print(f"  {name:21} CPU {share[name]:6.3f} % of a core   RssAnon {mem[name][0] / 1024:5.2f} MiB"
              f"   RSS {mem[name][1] / 1024:5.2f} MiB")
    td, ne = "telemetryd", "node_exporter"
    if ne in share:
        print(f"  ratios (node_exporter / telemetryd): CPU {share[ne] / share[td]:.1f}x,"
              f" RssAnon {mem[ne][0] / mem[td][0]:.1f}x, RSS {mem[ne][1] / mem[td][1]:.1f}x")
    if other:
        print(f"  telemetryd against {args.against}: CPU {share[td] / share['telemetryd --against']:.3f}x")
    print(f"  telemetryd / floor: CPU {share[td] / share['floor']:.2f}x (the floor: the same kernel reads and"
          f" frame size, no parsing, no JSON, no WebSocket library)")


if __name__ == "__main__":
    main()
