#!/usr/bin/python3
"""CPU per full telemetry sample: telemetryd's sampler (read + parse + JSON)
against the same fields through psutil and against one node_exporter scrape,
all in one run. Prints ours, each peer's figure and the ratio.

Usage: bench/telemetry-sample-cpu.py [--samples N] [--build DIR]
Needs python3-psutil and prometheus-node-exporter (packaging/deps.sh test).
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import time
import urllib.request

import needs

SPACING = 0.02  # samples 20 ms apart, so caches are as cold as between ticks


def ours(driver, n, *mode):
    out = subprocess.run([str(driver), str(n), str(int(SPACING * 1000)), *mode],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def psutil_sample_ms(n):
    """A psutil collector of the same fields, the way Python agents get them."""
    import psutil

    def sample():
        cpu = psutil.cpu_percent(interval=None)
        per_core = psutil.cpu_percent(interval=None, percpu=True)
        load = psutil.getloadavg()
        vm = psutil.virtual_memory()
        sw = psutil.swap_memory()
        usage = {}
        for part in psutil.disk_partitions():
            u = psutil.disk_usage(part.mountpoint)
            usage[part.mountpoint] = {"total_gb": round(u.total / 2**30, 2), "used_gb": round(u.used / 2**30, 2),
                                      "free_gb": round(u.free / 2**30, 2), "usage_percent": u.percent}
        io = psutil.disk_io_counters()
        net = psutil.net_io_counters()
        conns = len(psutil.net_connections())
        procs = sorted(psutil.process_iter(["pid", "name", "memory_percent"]),
                       key=lambda p: p.info["memory_percent"] or 0, reverse=True)[:5]
        return json.dumps({
            "cpu": {"cpu_usage_percent": cpu, "cpu_per_core_percent": per_core, "load": load},
            "memory": {"total": vm.total, "available": vm.available, "percent": vm.percent,
                       "swap_total": sw.total, "swap_used": sw.used, "swap_percent": sw.percent},
            "disk": {"disk_usage": usage, "read": io.read_bytes if io else 0, "write": io.write_bytes if io else 0},
            "network": {"sent": net.bytes_sent, "recv": net.bytes_recv, "packets_sent": net.packets_sent,
                        "packets_recv": net.packets_recv, "active_connections": conns},
            "processes": {"process_count": len(psutil.pids()), "top": [p.info for p in procs]},
        })

    sample()  # psutil keeps per-process objects between calls: warm it like a running collector
    costs = []
    for _ in range(n):
        time.sleep(SPACING)
        t0 = time.process_time()
        sample()
        costs.append((time.process_time() - t0) * 1000)
    return statistics.median(costs)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def node_exporter_scrape_ms(n):
    exe = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if not exe:
        raise SystemExit("prometheus-node-exporter is not installed")
    port = free_port()
    p = subprocess.Popen([exe, f"--web.listen-address=127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        for _ in range(3):
            urllib.request.urlopen(url, timeout=5).read()
        before = cpu_seconds(p.pid)
        for _ in range(n):
            time.sleep(SPACING)
            urllib.request.urlopen(url, timeout=5).read()
        used = cpu_seconds(p.pid) - before
        return used / n * 1000, rss_kib(p.pid)
    finally:
        p.terminate()
        p.wait(timeout=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=200)
    needs.build_option(ap)
    args = ap.parse_args()
    needs.debian("python3-psutil", "prometheus-node-exporter")
    driver, = needs.built(args.build, "bench/telemetry-sample-cost")

    us = ours(driver, args.samples)
    bare = ours(driver, args.samples, "bare")
    ps = psutil_sample_ms(max(20, args.samples // 4))
    ne, ne_rss = node_exporter_scrape_ms(max(50, args.samples // 2))
    ours_ms = us["median_us"] / 1000

    print(f"CPU per full sample, median, samples {SPACING * 1000:.0f} ms apart, "
          f"{us['processes']} processes, {os.cpu_count()} CPUs, frame {us['frame_bytes']} bytes")
    print(f"  telemetryd sampler + JSON       {ours_ms:7.3f} ms   (p90 {us['p90_us'] / 1000:.3f} ms)")
    print(f"  bare read of the same files     {bare['median_us'] / 1000:7.3f} ms   (no parsing: the floor)")
    print(f"  psutil, same fields             {ps:7.3f} ms   ours is {ps / ours_ms:5.1f}x cheaper")
    print(f"  node_exporter, one scrape       {ne:7.3f} ms   ours is {ne / ours_ms:5.1f}x cheaper"
          f"   (node_exporter RSS {ne_rss / 1024:.1f} MiB)")


if __name__ == "__main__":
    main()
