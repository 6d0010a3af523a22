"""GET /history and the get_history command: the ring of the last hour's
headline series (docs/telemetry-stream.md#history)."""
import asyncio
import json
import time

import websockets

from telemetry_support import RESOLVIX_SIGNAL_INTERVAL

SERIES = [
    "cpu_usage_percent", "memory_usage_percent", "swap_usage_percent", "load_avg_1min", "load_avg_5min",
    "load_avg_15min", "disk_read_mb_per_sec", "disk_write_mb_per_sec", "bytes_recv_mb_per_sec",
    "bytes_sent_mb_per_sec", "cpu_per_core_percent",
]


def history(t, query=""):
    status, ctype, body = t.http(f"/history{query}")
    assert status == 200, body
    assert ctype.startswith("application/json")
    return json.loads(body)


def wait_for_records(t, n):
    deadline = time.monotonic() + 30
    while True:
        h = history(t)
        if h["count"] >= n:
            return h
        assert time.monotonic() < deadline, f"fewer than {n} records after 30 s at interval 1: {h['count']}"
        time.sleep(0.2)


def test_history_records_each_tick(start_telemetryd):
    t = start_telemetryd(interval=1)
    h = wait_for_records(t, 3)
    assert h["type"] == "history"
    assert h["interval"] == 1
    assert h["capacity"] == 3600  # an hour at 1 s
    n = h["count"]
    for name in SERIES:
        assert len(h[name]) == n, name
    ts = h["timestamps"]
    assert ts == sorted(ts)
    now_ms = time.time() * 1000
    assert now_ms - 60_000 < ts[-1] <= now_ms + 1000
    assert all(0 <= v <= 100 for v in h["cpu_usage_percent"])
    assert 0 < h["memory_usage_percent"][-1] <= 100
    assert len(h["cpu_per_core_percent"][-1]) >= 1


def test_since_limits_the_answer(start_telemetryd):
    t = start_telemetryd(interval=1)
    h = wait_for_records(t, 3)
    cut = h["timestamps"][-2] // 1000  # whole seconds: the records after it
    later = history(t, f"?since={cut}")
    assert 1 <= later["count"] < h["count"] + 2
    assert all(ts > cut * 1000 for ts in later["timestamps"])
    future = history(t, f"?since={int(time.time()) + 3600}")
    assert future["count"] == 0 and future["timestamps"] == []


def test_bad_since_is_refused(start_telemetryd):
    t = start_telemetryd(interval=60)
    for bad in ("abc", "-5", "12x", ""):
        status, _, body = t.http(f"/history?since={bad}")
        assert status == 400, (bad, body)
        assert json.loads(body)["detail"] == "invalid_since"


def test_the_ring_is_bounded(start_telemetryd):
    # interval 1800: the hour holds two records; the third tick pushes
    # out the first. Interval changes by signal keep the ring's size.
    t = start_telemetryd(interval=1800)
    for _ in range(4):
        t.sigqueue(RESOLVIX_SIGNAL_INTERVAL, 1800)  # samples at once
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while True:
        h = history(t)
        if h["count"] == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert h["capacity"] == 2
    assert h["count"] == 2
    assert t.metrics()["resolvix_samples_total"] >= 3


def test_get_history_on_the_stream(start_telemetryd):
    t = start_telemetryd(interval=1)
    wait_for_records(t, 2)

    async def ask():
        async with websockets.connect(t.url(), max_size=None) as ws:
            await ws.send(json.dumps({"command": "get_history", "since": 0}))
            while True:
                f = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if f.get("type") == "history":
                    return f

    f = asyncio.run(ask())
    assert f["count"] >= 2 and len(f["cpu_usage_percent"]) == f["count"]

    async def bad():
        async with websockets.connect(t.url()) as ws:
            await ws.send(json.dumps({"command": "get_history", "since": "yesterday"}))
            while True:
                f = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if f.get("type") == "error":
                    return f

    assert asyncio.run(bad())["error"] == "invalid_since"
