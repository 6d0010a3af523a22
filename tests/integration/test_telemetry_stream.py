"""telemetryd's WebSocket stream with real clients: Python websockets, Node ws,
headless Chromium; every field of a live sample; client commands; bounds."""
import asyncio
import os
import re
import time

import websockets

from support import free_port
from telemetry_support import (
    NODE_ID,
    connect,
    node,
    recv_json,
    recv_sample,
)

GIB = 1 << 30


def online_cpus():
    with open("/proc/stat") as f:
        return sum(1 for line in f if re.match(r"cpu\d+ ", line))


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":")
            out[k] = int(v.split()[0]) * 1024
    return out


def net_packets():
    rx = tx = 0
    with open("/proc/net/dev") as f:
        for line in f.readlines()[2:]:
            name, rest = line.split(":", 1)
            if name.strip() == "lo":
                continue
            v = rest.split()
            rx += int(v[1])
            tx += int(v[9])
    return rx, tx


def test_python_client_gets_samples_every_interval(start_telemetryd):
    t = start_telemetryd(interval=1)

    async def go():
        async with connect(t.url()) as ws:
            start = time.monotonic()
            first = await recv_sample(ws, timeout=1.5)  # the newest sample at once
            connected_for = time.monotonic() - start
            second = await recv_sample(ws, timeout=3)
            third = await recv_sample(ws, timeout=3)
            return first, second, third, connected_for

    first, second, third, waited = asyncio.run(go())
    assert waited < 1.5
    for s in (first, second, third):
        assert isinstance(s["metrics"]["cpu"]["cpu_usage_percent"], (int, float))
    assert first["seq"] < second["seq"] < third["seq"]
    assert second["interval"] == 1


def test_every_field_of_a_live_sample(start_telemetryd):
    t = start_telemetryd(interval=1)

    async def go():
        async with connect(t.url()) as ws:
            await recv_sample(ws)
            return await recv_sample(ws, timeout=3)  # a full window behind it

    s = asyncio.run(go())
    mem = meminfo()
    rx, tx = net_packets()
    num = (int, float)

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s["timestamp"])
    assert abs(time.time() - time.mktime(time.strptime(s["timestamp"], "%Y-%m-%dT%H:%M:%SZ")) + time.timezone) < 5
    assert s["node_id"] == NODE_ID
    assert isinstance(s["seq"], int) and s["seq"] >= 1

    cpu = s["metrics"]["cpu"]
    assert isinstance(cpu["cpu_usage_percent"], num) and 0 <= cpu["cpu_usage_percent"] <= 100
    cores = cpu["cpu_per_core_percent"]
    assert len(cores) == online_cpus() == os.cpu_count()
    assert all(isinstance(c, num) and 0 <= c <= 100 for c in cores)
    assert cpu["count"] == len(cores)
    load = os.getloadavg()
    for key, now in zip(("load_avg_1min", "load_avg_5min", "load_avg_15min"), load):
        assert isinstance(cpu[key], num) and cpu[key] >= 0
        assert abs(cpu[key] - now) < 1.0

    m = s["metrics"]["memory"]
    for key in m:
        assert isinstance(m[key], num) and m[key] >= 0
    assert abs(m["memory_total_gb"] - mem["MemTotal"] / GIB) <= 0.01
    assert abs(m["memory_available_gb"] - mem["MemAvailable"] / GIB) < 0.5
    assert abs(m["memory_used_gb"] + m["memory_available_gb"] - m["memory_total_gb"]) <= 0.02
    assert 0 <= m["memory_usage_percent"] <= 100
    assert abs(m["swap_total_gb"] - mem["SwapTotal"] / GIB) <= 0.01
    assert 0 <= m["swap_usage_percent"] <= 100

    d = s["metrics"]["disk"]
    root = d["disk_usage"]["/"]
    st = os.statvfs("/")
    assert abs(root["total_gb"] - st.f_blocks * st.f_frsize / GIB) <= 0.01
    assert abs(root["free_gb"] - st.f_bavail * st.f_frsize / GIB) < 0.5
    assert 0 <= root["usage_percent"] <= 100
    for mount in d["disk_usage"].values():
        assert set(mount) >= {"total_gb", "used_gb", "free_gb", "usage_percent", "device", "file_system"}
        assert mount["used_gb"] <= mount["total_gb"] + 0.01
    assert d["disk_io"]["read_mb_per_sec"] >= 0 and d["disk_io"]["write_mb_per_sec"] >= 0

    n = s["metrics"]["network"]
    assert n["bytes_sent_mb_per_sec"] >= 0 and n["bytes_recv_mb_per_sec"] >= 0
    assert isinstance(n["packets_sent"], int) and isinstance(n["packets_recv"], int)
    assert 0 <= rx - n["packets_recv"] < 10000 and 0 <= tx - n["packets_sent"] < 10000
    assert "lo" not in n["interfaces"]
    assert isinstance(n["active_connections"], int) and n["active_connections"] >= 1  # ours, at least

    p = s["metrics"]["processes"]
    pids = [e for e in os.listdir("/proc") if e.isdigit()]
    assert abs(p["process_count"] - len(pids)) < 50
    top = p["top_memory_processes"]
    assert len(top) == 5
    assert [e["memory_percent"] for e in top] == sorted((e["memory_percent"] for e in top), reverse=True)
    for e in top:
        assert isinstance(e["pid"], int) and isinstance(e["name"], str) and isinstance(e["username"], str)
        assert 0 < e["memory_percent"] <= 100


BIG_CHILD = r"""
import ctypes, os, sys, time
ctypes.CDLL(None).prctl(15, b"big (t) one\0", 0, 0, 0)  # PR_SET_NAME, as some servers name themselves
held = bytearray(os.urandom(1 << 20)) * 512  # 512 MiB, resident
sys.stdout.write("ready\n")
sys.stdout.flush()
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    held[0] = (held[0] + 1) % 256  # busy, so that it has CPU to show
"""


def test_a_big_busy_process_is_listed_by_its_name(start_telemetryd):
    """What `top` would show of it: its name as it set it (spaces and
    parentheses kept), its owner, its share of memory and its CPU."""
    import pwd
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", BIG_CHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"
        t = start_telemetryd(interval=1)

        async def go():
            async with connect(t.url()) as ws:
                await recv_sample(ws)
                return await recv_sample(ws, timeout=3)

        top = asyncio.run(go())["metrics"]["processes"]["top_memory_processes"]
        mine = [e for e in top if e["pid"] == child.pid]
        assert mine, f"pid {child.pid} not among {top}"
        e = mine[0]
        assert e["name"] == "big (t) one"
        assert e["username"] == pwd.getpwuid(os.getuid()).pw_name
        total = meminfo()["MemTotal"]
        assert abs(e["memory_percent"] - 100 * 512 * (1 << 20) / total) < 100 * 64 * (1 << 20) / total
        assert 20 <= e["cpu_percent"] <= 105  # one busy thread: about a whole CPU, as top shows it
    finally:
        child.kill()
        child.wait()


def test_node_ws_client(start_telemetryd):
    t = start_telemetryd(interval=1)
    r = node("telemetry-node.js", t.url(), 2)
    assert len(r["cpu"]) == 2
    assert all(0 <= c <= 100 for c in r["cpu"])
    assert r["seq"][0] < r["seq"][1]


def test_headless_chromium(start_telemetryd, tmp_path):
    t = start_telemetryd(interval=1)
    r = node("telemetry-browser.js", t.url(), 2, "127.0.0.1", free_port(), tmp_path / "profile", timeout=90)
    assert r["opened"] is True
    assert len(r["cpu"]) == 2
    assert all(0 <= c <= 100 for c in r["cpu"])


def test_browser_origin_allowed_and_refused(start_telemetryd, tmp_path):
    # http://127.0.0.1:P and http://localhost:P are two origins on one page server
    page_port = free_port()
    t = start_telemetryd(env={"RESOLVIX_TELEMETRY_ALLOWED_ORIGINS": f"http://127.0.0.1:{page_port}"})
    ok = node("telemetry-browser.js", t.url(), 1, "127.0.0.1", page_port, tmp_path / "a", timeout=90)
    assert ok["opened"] is True and len(ok["cpu"]) == 1
    bad = node("telemetry-browser.js", t.url(), 1, "localhost", page_port, tmp_path / "b", timeout=90)
    assert bad["opened"] is False and bad["cpu"] == []


def test_commands(start_telemetryd):
    t = start_telemetryd(interval=60)

    async def go():
        async with connect(t.url()) as ws:
            first = await recv_sample(ws)
            await ws.send('{"command":"ping"}')
            assert await recv_json(ws) == {"type": "pong"}
            await ws.send('{"command":"get_metrics"}')
            again = await recv_sample(ws, timeout=2)  # long before the next tick
            await ws.send("not json at all")
            e1 = await recv_json(ws)
            await ws.send('{"command":"reboot"}')
            e2 = await recv_json(ws)
            await ws.send('{"no_command":1}')
            e3 = await recv_json(ws)
            await ws.send(b"\x00\x01binary")
            e4 = await recv_json(ws)
            await ws.send('{"command":"ping"}')  # still connected
            pong = await recv_json(ws)
            return first, again, e1, e2, e3, e4, pong

    first, again, e1, e2, e3, e4, pong = asyncio.run(go())
    assert again["seq"] >= first["seq"]
    for e in (e1, e2, e3, e4):
        assert e["type"] == "error" and isinstance(e.get("message", ""), str)
    assert e2["error"] == "unknown_command" and "reboot" in e2["message"]
    assert pong == {"type": "pong"}


def test_oversized_message_closes_1009(start_telemetryd):
    t = start_telemetryd()

    async def one(payload):
        async with connect(t.url()) as ws:
            await recv_sample(ws)
            await ws.send(payload)
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            except websockets.exceptions.ConnectionClosed as e:
                return e.rcvd.code if e.rcvd else None

    async def go():
        whole = await one("x" * 5000)
        # the same amount in fragments must hit the same cap
        fragments = await one(iter(["y" * 1000] * 5))
        under = None
        async with connect(t.url()) as ws:
            await recv_sample(ws)
            await ws.send('{"command":"ping","pad":"' + "z" * 3900 + '"}')  # just under the cap
            under = await recv_json(ws)
        return whole, fragments, under

    whole, fragments, under = asyncio.run(go())
    assert whole == 1009
    assert fragments == 1009
    assert under == {"type": "pong"}


def test_sigterm_closes_clients_with_1001(start_telemetryd):
    t = start_telemetryd()

    async def go():
        async with connect(t.url()) as a, connect(t.url()) as b:
            await recv_sample(a)
            await recv_sample(b)
            t.proc.send_signal(15)
            codes = []
            for ws in (a, b):
                try:
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                except websockets.exceptions.ConnectionClosed as e:
                    codes.append(e.rcvd.code if e.rcvd else None)
            return codes

    assert asyncio.run(go()) == [1001, 1001]
    t.proc.wait(timeout=10)
    assert t.proc.returncode == 0
    log = t.log()
    assert "Stopping; closing 2 clients" in log
    assert "disconnected (0 clients)" in log
    assert "Stopped after" in log
