#!/usr/bin/python3
"""pushd's own cost at interval 10, pushing to a local resolvix-hub: its
share of one core and its RSS and RssAnon over a bounded time. Budget
(docs/performance.md): <= 0.05 % of a core, RSS <= 6 MiB. Figures only:
nothing passes or fails; these 2-core machines are shared, so the load
average is printed beside them.

    bench/push-idle.py [--seconds 120] [--interval 10] [--build DIR]
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import needs
from procfigures import cpu_seconds, free_port, rss_kib

ENROLL = "bench-enroll"


def start_hub(hub_bin, tmp, port):
    env = {"PATH": os.environ["PATH"], "RESOLVIX_CONFIG": "", "RESOLVIX_HUB_LISTEN": "127.0.0.1",
           "RESOLVIX_HUB_PORT": str(port), "RESOLVIX_HUB_ENROLL_TOKEN": ENROLL,
           "RESOLVIX_CONTROL_STATE_DIR": os.path.join(tmp, "hub")}
    hub = subprocess.Popen([str(hub_bin)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return hub
        except OSError:
            if time.monotonic() > deadline or hub.poll() is not None:
                raise SystemExit("resolvix-hub did not start")
            time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--interval", type=int, default=10)
    needs.build_option(ap)
    a = ap.parse_args()
    pushd_bin, hub_bin = needs.built(a.build, "pushd/pushd", "hub/resolvix-hub")
    tmp = tempfile.mkdtemp(prefix="push-idle-")
    port = free_port()
    hub = start_hub(hub_bin, tmp, port)
    env = {"PATH": os.environ["PATH"], "RESOLVIX_CONFIG": "", "RESOLVIX_NODE_ID": "bench-node",
           "RESOLVIX_CONTROL_STATE_DIR": os.path.join(tmp, "node"),
           "RESOLVIX_PUSH_HUB_URL": f"http://127.0.0.1:{port}", "RESOLVIX_PUSH_ENROLL_TOKEN": ENROLL,
           "RESOLVIX_PUSH_INTERVAL": str(a.interval)}
    pushd = subprocess.Popen([str(pushd_bin)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Past start-up (enrolment, the first sample): the steady state counts.
        time.sleep(min(a.interval + 1, 15))
        c0, t0 = cpu_seconds(pushd.pid), time.monotonic()
        rss = anon = 0
        while time.monotonic() - t0 < a.seconds:
            time.sleep(1)
            rss = max(rss, rss_kib(pushd.pid, "VmRSS"))
            anon = max(anon, rss_kib(pushd.pid, "RssAnon"))
        c1, t1 = cpu_seconds(pushd.pid), time.monotonic()
        share = 100 * (c1 - c0) / (t1 - t0)
        print(f"pushd interval {a.interval} s over {t1 - t0:.0f} s: {share:.4f} % of a core "
              f"(budget 0.05 %), RSS max {rss / 1024:.2f} MiB (budget 6), RssAnon max {anon / 1024:.2f} MiB")
        print(f"load average {os.getloadavg()[0]:.2f}")
    finally:
        for p in (pushd, hub):
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=15)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
