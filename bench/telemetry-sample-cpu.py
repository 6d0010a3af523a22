#!/usr/bin/python3
"""CPU per full telemetry sample: telemetryd's sampler (read + parse + JSON)
against the same fields through psutil and against node_exporter's scrape,
all in one run. Prints ours, each peer's figure and the ratio.

node_exporter runs twice: with its default collectors, which read no
process, and with --collector.processes, the one that reads every process
(its stat, and the stat of each of its threads) to count them by state.
That second scrape is node_exporter doing what a sample does at 1,000
processes; the first one's cost does not grow with them.

Between our samples runs the floor: the system calls a sample cannot do
without, through descriptors kept open, with nothing parsed (bench/floor.h).
A peer's cost over the floor's is the most any sampler reading each
process's memory could be cheaper than that peer on this machine.

With --extra-processes N, N `sleep 600` children are started first (and
killed at the end), to measure a machine with that many more processes.
With --runs R the comparison is run R times and the medians are printed.

Usage: bench/telemetry-sample-cpu.py [--samples N] [--extra-processes N] [--runs R] [--build DIR]
Needs python3-psutil and prometheus-node-exporter (packaging/deps.sh test).
"""
import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import time
import urllib.request

import needs
from procfigures import cpu_seconds, free_port, rss_kib, wait_http

SPACING = 0.02  # samples 20 ms apart, so caches are as cold as between ticks


def psutil_sampler():
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
    return sample


def warm(p, url, warmup=3, settle=0.0):
    """Wait until the server p answers on url, then scrape it warmup times
    (after settle seconds): the bytes of the last answer."""
    size = len(wait_http(url, p, timeout=10))
    time.sleep(settle)
    for _ in range(warmup):
        size = len(urllib.request.urlopen(url, timeout=5).read())
    return size


def scrape_cpu_ms(p, url, n, warmup=3, settle=0.0):
    """Warm the server p (warm()), then scrape it n times SPACING apart:
    (CPU ms per scrape, bytes of the last answer, RSS KiB). One way of
    measuring for every server."""
    size = warm(p, url, warmup, settle)
    before = cpu_seconds(p.pid)
    for _ in range(n):
        time.sleep(SPACING)
        urllib.request.urlopen(url, timeout=5).read()
    used = cpu_seconds(p.pid) - before
    return used / n * 1000, size, rss_kib(p.pid)


def start_node_exporter(*flags):
    exe = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if not exe:
        raise SystemExit("prometheus-node-exporter is not installed")
    port = free_port()
    p = subprocess.Popen([exe, f"--web.listen-address=127.0.0.1:{port}", *flags],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p, f"http://127.0.0.1:{port}/metrics"


def stop(p):
    p.terminate()
    p.wait(timeout=10)


def node_exporter_scrape_ms(n):
    p, url = start_node_exporter()
    try:
        ms, _, rss = scrape_cpu_ms(p, url, n)
        return ms, rss
    finally:
        stop(p)


def spawn_sleepers(n):
    """n idle children, each its own process with an address space."""
    kids = []
    try:
        for _ in range(n):
            kids.append(subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    except BaseException:
        kill_all(kids)
        raise
    return kids


def kill_all(kids):
    for k in kids:
        k.kill()
    for k in kids:
        k.wait()


def end_driver(drv):
    if drv.poll() is None:
        drv.kill()
        drv.wait()


class Exporter:
    """A node_exporter started with flags and scraped every `every` rounds
    of one_run(): its whole CPU time over the run, per scrape."""

    def __init__(self, every, *flags):
        self.every, self.scrapes = every, 0
        self.proc, self.url = start_node_exporter(*flags)

    def begin(self):
        warm(self.proc, self.url)
        self.cpu0 = cpu_seconds(self.proc.pid)

    def round(self, i):
        if i % self.every == 0:
            time.sleep(SPACING)
            urllib.request.urlopen(self.url, timeout=5).read()
            self.scrapes += 1

    def ms_per_scrape(self):
        return (cpu_seconds(self.proc.pid) - self.cpu0) / self.scrapes * 1000


def one_run(driver, samples):
    """samples rounds, each SPACING after the last: a sample of ours, a tick
    of the floor and, every 4th round, a psutil sample and a scrape of the
    node_exporter that reads processes, every 2nd round a scrape of the
    default one. Interleaved, they all see the same machine, whose speed
    drifts from one second to the next."""
    psutil_sample = psutil_sampler()
    with contextlib.ExitStack() as running:
        exporters = []
        for every, flags in ((4, ("--collector.processes",)), (2, ())):
            exporters.append(Exporter(every, *flags))
            running.callback(stop, exporters[-1].proc)
        processes, default = exporters
        drv = subprocess.Popen([str(driver), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        running.callback(end_driver, drv)

        def ask(job):
            time.sleep(SPACING)
            drv.stdin.write(job + "\n")
            drv.stdin.flush()
            if drv.stdout.readline() != "\n":
                raise SystemExit(f"{driver} failed")

        for e in exporters:
            e.begin()
        ps_ms = []
        for i in range(samples):
            ask("sample")
            ask("floor")
            if i % 4 == 0:
                time.sleep(SPACING)
                t0 = time.process_time()
                psutil_sample()
                ps_ms.append((time.process_time() - t0) * 1000)
            for e in exporters:
                e.round(i)
        theirs = {"node_exporter": default.ms_per_scrape(), "ne_rss": rss_kib(default.proc.pid),
                  "ne_processes": processes.ms_per_scrape()}
        out, _ = drv.communicate(timeout=60)
        if drv.returncode != 0:
            raise SystemExit(f"{driver} exited with {drv.returncode}")
    us = json.loads(out)
    return {"ours": us["median_us"] / 1000, "ours_p90": us["p90_us"] / 1000,
            "ours_process": us["process_us"] / 1000, "floor": us["floor"]["process_us"] / 1000,
            "psutil": statistics.median(ps_ms), **theirs,
            "processes": us["processes"], "frame": us["frame_bytes"], "load": os.getloadavg()}


def report(r, title):
    ours_ms = r["ours_process"]
    print(f"{title}: {r['processes']} processes, {os.cpu_count()} CPUs, frame {r['frame']} bytes, "
          f"load {r['load'][0]:.2f} {r['load'][1]:.2f} {r['load'][2]:.2f}")
    print(f"  telemetryd, whole process       {ours_ms:7.3f} ms   (user + system time / samples)")
    print(f"  telemetryd, the sample's thread {r['ours']:7.3f} ms   (median; p90 {r['ours_p90']:.3f} ms)")
    print(f"  floor, whole process            {r['floor']:7.3f} ms   (the same system calls, descriptors kept;"
          f" no parsing): ours is {ours_ms / r['floor']:.2f}x it")
    print(f"  psutil, same fields             {r['psutil']:7.3f} ms   ours is {r['psutil'] / ours_ms:5.1f}x cheaper")
    print(f"  node_exporter, one scrape       {r['node_exporter']:7.3f} ms   ours is "
          f"{r['node_exporter'] / ours_ms:5.1f}x cheaper   (node_exporter RSS {r['ne_rss'] / 1024:.1f} MiB;"
          f" its default collectors read no process)")
    print(f"  node_exporter reading processes {r['ne_processes']:7.3f} ms   ours is "
          f"{r['ne_processes'] / ours_ms:5.1f}x cheaper   (--collector.processes: each process's stat"
          f" and each thread's)")
    print(f"  the most any sampler could be cheaper (peer / floor): psutil {r['psutil'] / r['floor']:.1f}x,"
          f" node_exporter {r['node_exporter'] / r['floor']:.1f}x,"
          f" node_exporter reading processes {r['ne_processes'] / r['floor']:.1f}x")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--extra-processes", type=int, default=0, metavar="N",
                    help="start N `sleep 600` children for the run, killed at the end")
    ap.add_argument("--runs", type=int, default=1, help="repeat the comparison, print medians")
    needs.build_option(ap)
    args = ap.parse_args()
    if args.extra_processes < 0 or args.runs < 1:
        ap.error("--extra-processes must be >= 0 and --runs >= 1")
    needs.debian("python3-psutil", "prometheus-node-exporter")
    driver, = needs.built(args.build, "bench/telemetry-sample-cost")

    kids = spawn_sleepers(args.extra_processes)
    try:
        runs = []
        for i in range(args.runs):
            runs.append(one_run(driver, args.samples))
            if args.runs > 1:
                report(runs[-1], f"run {i + 1}")
    finally:
        kill_all(kids)
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "load"}
    med["processes"], med["frame"], med["load"] = runs[-1]["processes"], runs[-1]["frame"], runs[-1]["load"]
    report(med, f"CPU per full sample, median of {args.runs} run(s), samples {SPACING * 1000:.0f} ms apart")


if __name__ == "__main__":
    main()
