"""A network partition between pushd and its hub: the hub in a network
namespace of its own behind a veth pair whose link goes down for a while.
Afterwards every sample pushd counts as done is on the hub exactly once."""
import os
import shutil
import subprocess
import time

import pytest

from hub_support import Hub
from push_support import Pushd, assert_no_loss
from support import poll

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"),
                                reason="needs root and iproute2 for a network namespace")


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def netns():
    n = os.getpid() % 250
    ns, a, b = f"rvxhub{os.getpid()}", f"rvxa{os.getpid() % 100000}", f"rvxb{os.getpid() % 100000}"
    near, far = f"10.213.{n}.1", f"10.213.{n}.2"
    ip("netns", "add", ns)
    try:
        ip("link", "add", a, "type", "veth", "peer", "name", b)
        ip("link", "set", b, "netns", ns)
        ip("addr", "add", f"{near}/30", "dev", a)
        ip("link", "set", a, "up")
        ip("-n", ns, "addr", "add", f"{far}/30", "dev", b)
        ip("-n", ns, "link", "set", b, "up")
        ip("-n", ns, "link", "set", "lo", "up")
        yield ns, a, far
    finally:
        subprocess.run(["ip", "link", "del", a], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_partition_loses_and_repeats_nothing(procs, tmp_path, netns):
    ns, link, far = netns
    d = tmp_path / "hub"
    d.mkdir()
    hub = Hub(procs, d)
    hub.env["RESOLVIX_HUB_LISTEN"] = far
    # Queries from outside the hub's loopback need its token.
    hub.env["RESOLVIX_HUB_TOKEN"] = "query-token"
    hub.start(wrap=("ip", "netns", "exec", ns))
    url = f"http://{far}:{hub.port}"
    p = Pushd(procs, tmp_path, url)
    p.start()
    poll(lambda: int(p.figures.get("last_ack_seq", 0)) >= 3, 30, "samples acknowledged across the veth")

    ip("link", "set", link, "down")
    try:
        poll(lambda: p.figures.get("connected") == "0" and int(p.figures.get("spooled", 0)) >= 5, 60,
             "pushd cut off and spooling")
    finally:
        ip("link", "set", link, "up")
    p.wait_drained(timeout=120)
    assert p.figures["connected"] == "1"
    p.stop()
    seqs = assert_no_loss(hub, p, host=far, token="query-token")
    assert len(seqs) >= 8
    procs.stop_all()
    hub.check_logs()
