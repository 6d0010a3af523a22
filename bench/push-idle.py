#!/usr/bin/python3
"""pushd's own cost at interval 10, pushing to a local resolvix-hub: its
share of one core and its RSS and RssAnon over a bounded time. Budget
(docs/performance.md): <= 0.05 % of a core, RSS <= 6 MiB. Figures only:
nothing passes or fails; these 2-core machines are shared, so the load
average is printed beside them.

The RSS at the end is then split by what holds it (/proc/<pid>/smaps):
pushd's own image, heap and stack; the C runtime; libcurl and the
libraries only it brings in (its TLS stack among them), the largest
named, each with its private dirty part (relocated data, written bss).

    bench/push-idle.py [--seconds 120] [--interval 10] [--tls] [--build DIR]

--tls: the hub listens on https with a certificate made here by openssl,
which pushd checks against [push] ca_file: what a TLS session adds.
"""
import argparse
import os
import shutil
import signal
import subprocess
import tempfile
import time

import needs
from procfigures import SMAPS_KEYS, cpu_seconds, free_port, rss_kib, smaps_by_object, wait_port

ENROLL = "bench-enroll"


def make_cert(tmp):
    """A self-signed certificate for 127.0.0.1: its own CA."""
    cert, key = os.path.join(tmp, "hub.crt"), os.path.join(tmp, "hub.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def start_hub(hub_bin, tmp, port, tls=None):
    env = {"PATH": os.environ["PATH"], "RESOLVIX_CONFIG": "", "RESOLVIX_HUB_LISTEN": "127.0.0.1",
           "RESOLVIX_HUB_PORT": str(port), "RESOLVIX_HUB_ENROLL_TOKEN": ENROLL,
           "RESOLVIX_CONTROL_STATE_DIR": os.path.join(tmp, "hub")}
    if tls:
        env.update(RESOLVIX_HUB_TLS_CERT=tls[0], RESOLVIX_HUB_TLS_KEY=tls[1])
    hub = subprocess.Popen([str(hub_bin)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, hub)
    return hub


C_RUNTIME = ("libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]")
OWN_ANON = ("[heap]", "[stack]", "[anon]")


def mib(kib):
    return f"{kib / 1024:.2f}"


def sum_of(objs, names):
    return {k: sum(objs[n][k] for n in names) for k in SMAPS_KEYS}


def needed(path):
    """The libraries an ELF file names itself (DT_NEEDED)."""
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    return {line.rsplit("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line}


def curl_closure(pid):
    """The file names of libcurl and every library it loads, as ldd lists
    them, from the libcurl pushd has mapped."""
    with open(f"/proc/{pid}/maps") as f:
        paths = {line.split()[-1] for line in f if "/libcurl" in line}
    names = set()
    for path in paths:
        names.add(os.path.basename(path))
        out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if "=>" in line and "/" in line.split("=>")[1]:
                names.add(os.path.basename(os.path.realpath(line.split("=>")[1].split()[0])))
    return names


def print_breakdown(pid, exe):
    objs = smaps_by_object(pid)
    total = sum_of(objs, objs)
    # A library pushd calls itself (zlib) counts as its own, even though libcurl needs it too.
    sonames = needed(exe)
    direct = {n for n in objs if any(n.startswith(soname) for soname in sonames)}
    closure = curl_closure(pid)
    curl = sorted((n for n in objs if n.startswith("libcurl")
                   or (n in closure and n not in C_RUNTIME and n not in direct)), key=lambda n: -objs[n]["Rss"])
    if curl:
        group = f"libcurl and the {len(curl) - 1} libraries only it brings"
    else:
        # pushd's own HTTP client: its TLS library (mbedTLS, or OpenSSL in
        # older builds) is the one large library left.
        curl = sorted((n for n in objs if n.startswith(("libmbed", "libssl", "libcrypto"))),
                      key=lambda n: -objs[n]["Rss"])
        group = "the TLS library"
    exe_name = exe.name
    own = [n for n in objs if n == exe_name or n in OWN_ANON]
    runtime = [n for n in objs if n in C_RUNTIME]
    other = [n for n in objs if n not in curl and n not in own and n not in runtime]
    print(f"RSS at the end {mib(total['Rss'])} MiB (budget 6), private dirty {mib(total['Private_Dirty'])} MiB:")
    parts = ", ".join(f"{n} {mib(objs[n]['Rss'])}" for n in [exe_name, *OWN_ANON] if n in objs)
    print(f"  pushd itself {mib(sum_of(objs, own)['Rss'])} MiB ({parts}; the heap also holds the sampler's, "
          "the TLS library's allocations)")
    print(f"  C runtime {mib(sum_of(objs, runtime)['Rss'])} MiB ({', '.join(n for n in C_RUNTIME if n in objs)})")
    print(f"  other libraries pushd links {mib(sum_of(objs, other)['Rss'])} MiB ({', '.join(sorted(other))})")
    c = sum_of(objs, curl)
    print(f"  {group} {mib(c['Rss'])} MiB, "
          f"of which private dirty {mib(c['Private_Dirty'])}:")
    for n in curl[:8]:
        print(f"    {n:28} {mib(objs[n]['Rss'])} MiB, private dirty {mib(objs[n]['Private_Dirty'])}")
    rest = sum_of(objs, curl[8:])
    print(f"    {len(curl[8:])} others{'':20} {mib(rest['Rss'])} MiB, private dirty {mib(rest['Private_Dirty'])}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--interval", type=int, default=10)
    ap.add_argument("--tls", action="store_true", help="push over https")
    needs.build_option(ap)
    a = ap.parse_args()
    pushd_bin, hub_bin = needs.built(a.build, "pushd/pushd", "hub/resolvix-hub")
    tmp = tempfile.mkdtemp(prefix="push-idle-")
    port = free_port()
    tls = make_cert(tmp) if a.tls else None
    hub = start_hub(hub_bin, tmp, port, tls)
    env = {"PATH": os.environ["PATH"], "RESOLVIX_CONFIG": "", "RESOLVIX_NODE_ID": "bench-node",
           "RESOLVIX_CONTROL_STATE_DIR": os.path.join(tmp, "node"),
           "RESOLVIX_PUSH_HUB_URL": f"{'https' if tls else 'http'}://127.0.0.1:{port}",
           "RESOLVIX_PUSH_ENROLL_TOKEN": ENROLL, "RESOLVIX_PUSH_INTERVAL": str(a.interval)}
    if tls:
        env["RESOLVIX_PUSH_CA_FILE"] = tls[0]
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
        print(f"pushd {'https' if tls else 'http'}, interval {a.interval} s over {t1 - t0:.0f} s: {share:.4f} % of a core "
              f"(budget 0.05 %), RSS max {rss / 1024:.2f} MiB (budget 6), RssAnon max {anon / 1024:.2f} MiB")
        print_breakdown(pushd.pid, pushd_bin)
        print(f"load average {os.getloadavg()[0]:.2f}")
    finally:
        for p in (pushd, hub):
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=15)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
