#!/usr/bin/python3
"""CPU per GET /metrics: telemetryd's exposition (node_* families as
node_exporter names them, plus its own) against one scrape of Debian's
prometheus-node-exporter with its default collectors, same machine, same run.
Prints ours, node_exporter's and the ratio, and the size of our answer.

Usage: bench/telemetry-scrape-cpu.py [--scrapes N] [--build DIR]
Needs a build (ninja -C build) and prometheus-node-exporter.
"""
import argparse
import importlib.util
import os
import subprocess
from pathlib import Path

from procfigures import free_port

ROOT = Path(__file__).resolve().parents[1]


def load_sample_bench():
    """telemetry-sample-cpu.py as a module (its name is not an identifier): its
    node_exporter scrape is measured the same way here."""
    spec = importlib.util.spec_from_file_location("sample_bench", ROOT / "bench" / "telemetry-sample-cpu.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


helpers = load_sample_bench()
SPACING = helpers.SPACING


def telemetryd_scrape_ms(argv, port, n, env):
    """(CPU ms per scrape, bytes per answer, RSS KiB) of the telemetryd argv starts."""
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        # Past telemetryd's first tick before measuring.
        return helpers.scrape_cpu_ms(p, f"http://127.0.0.1:{port}/metrics", n, warmup=5, settle=0.5)
    finally:
        p.terminate()
        p.wait(timeout=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scrapes", type=int, default=500)
    ap.add_argument("--build", default=os.environ.get("RESOLVIX_BUILD_DIR", ROOT / "build"))
    args = ap.parse_args()
    telemetryd = Path(args.build).resolve() / "telemetryd" / "telemetryd"
    if not telemetryd.exists():
        raise SystemExit(f"{telemetryd} is not built (ninja -C {args.build})")

    port = free_port()
    # No ingest port, no configuration file, one tick an hour: only scrapes.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RESOLVIX_CONFIG": "",
           "RESOLVIX_TELEMETRY_INGEST_PORT": "0"}
    ours, ours_bytes, ours_rss = telemetryd_scrape_ms(
        [str(telemetryd), "--listen", "127.0.0.1", "--port", str(port), "--interval", "3600"], port, args.scrapes, env)
    theirs, theirs_rss = helpers.node_exporter_scrape_ms(args.scrapes)

    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print(f"CPU per GET /metrics, mean of {args.scrapes} scrapes {SPACING * 1000:.0f} ms apart, "
          f"{os.cpu_count()} CPUs, load {load}")
    print(f"  telemetryd     {ours:7.3f} ms   {ours_bytes:6d} bytes   RSS {ours_rss / 1024:5.1f} MiB")
    print(f"  node_exporter  {theirs:7.3f} ms                  RSS {theirs_rss / 1024:5.1f} MiB")
    print(f"  ours is {theirs / ours:.1f}x cheaper" if ours > 0 else "  ours: below the clock tick's resolution")


if __name__ == "__main__":
    main()
