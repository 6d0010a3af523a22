"""Who may ask what, seen from a peer that is not on loopback: the hub and
its client run in a network namespace of the test's own whose interface also
holds 10.77.0.1, the client connecting from that address to it."""
import os
import shutil
import signal
import subprocess

import pytest

from hub_support import Hub
from support import poll

ADDR = "10.77.0.1"


@pytest.fixture
def netns(procs):
    if not shutil.which("unshare") or not shutil.which("nsenter"):
        pytest.skip("util-linux unshare/nsenter are not installed")
    holder = subprocess.Popen(["unshare", "--net", "sleep", "600"])
    ns = f"/proc/{holder.pid}/ns/net"
    try:
        # Until unshare has run, the holder is still in this namespace: the
        # address must not land on this machine's own loopback.
        own = os.readlink("/proc/self/ns/net")
        poll(lambda: holder.poll() is None and os.readlink(ns) != own, 10, "a network namespace of its own")
        out = subprocess.run(["nsenter", f"--net={ns}", "sh", "-ec",
                              f"ip link set lo up; ip addr add {ADDR}/24 dev lo"],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            pytest.skip(f"cannot make a network namespace here: {out.stderr.strip()}")
        yield ns
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


def status(ns, port, path, method="GET", headers=(), data=None):
    # An accepted WebSocket stays open: curl gives up on it after a moment,
    # having printed the 101.
    upgrade = any(x.startswith("Upgrade:") for x in headers)
    cmd = ["nsenter", f"--net={ns}", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method,
           "--max-time", "2" if upgrade else "20"]
    for h in headers:
        cmd += ["-H", h]
    if data is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", data]
    out = subprocess.run(cmd + [f"http://{ADDR}:{port}{path}"], capture_output=True, text=True, timeout=30)
    return int(out.stdout or 0)


UPGRADE = ("Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")
CHECK_URL = '{"action": "check_url", "system_id": "a1"}'


def start(procs, tmp_path, ns, **env):
    h = Hub(procs, tmp_path)
    h.start(env={"RESOLVIX_HUB_LISTEN": ADDR, **env}, wrap=("nsenter", f"--net={ns}"))
    return h


def test_without_a_token_queries_are_for_loopback_only(procs, tmp_path, netns):
    h = start(procs, tmp_path, netns)
    for path in ["/api/v1/nodes", "/api/v1/query?metric=cpu", "/metrics", "/api/v1/nodes/x/sample"]:
        assert status(netns, h.port, path) == 403, path
    assert status(netns, h.port, "/api/v1/nodes/x", method="DELETE") == 403
    assert status(netns, h.port, "/api/v1/fleet", headers=UPGRADE) == 403
    # Open to all: health, the Flask API, the echo socket, enrolment with its own token.
    assert status(netns, h.port, "/health") == 200
    assert status(netns, h.port, "/monitor/cpu/load") == 200
    assert status(netns, h.port, "/echo", headers=UPGRADE) == 101
    assert status(netns, h.port, "/api/v1/enroll", "POST", ["Authorization: Bearer enroll-secret"],
                  '{"node_id": "n1"}') == 201
    # System Monitor agents: only from agent_allow (loopback by default).
    assert status(netns, h.port, "/system-monitor", "POST", data=CHECK_URL) == 403


def test_with_a_token_queries_need_it(procs, tmp_path, netns):
    h = start(procs, tmp_path, netns, RESOLVIX_HUB_TOKEN="q-secret", RESOLVIX_HUB_AGENT_ALLOW="10.77.0.0/24")
    for path in ["/api/v1/nodes", "/metrics"]:
        assert status(netns, h.port, path) == 401, path
        assert status(netns, h.port, path, headers=["Authorization: Bearer q-secret"]) == 200, path
    assert status(netns, h.port, "/api/v1/fleet", headers=UPGRADE) == 401
    assert status(netns, h.port, "/api/v1/fleet?token=q-secret", headers=UPGRADE) == 101
    assert status(netns, h.port, "/system-monitor", "POST", data=CHECK_URL) == 202
