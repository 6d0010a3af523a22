"""telemetryd under load: a thousand clients, two thousand, and clients
that stop reading."""
import asyncio
import json
import subprocess

from support import binary
from telemetry_support import (
    RESOLVIX_SIGNAL_INTERVAL,
    connect,
    raw_client,
    read_frames,
    recv_sample,
)

CLIENTS = 1000
# Past the 1,024 descriptors a select() loop or a default open-file limit
# stops at, and enough that a loop costing O(clients) per event shows.
MANY = 2000


def test_a_thousand_clients_each_get_the_next_sample(start_telemetryd):
    t = start_telemetryd(interval=1)

    async def client(results):
        async with connect(t.url(), compression=None) as ws:
            first = await recv_sample(ws, timeout=30)
            results.append(first["seq"])
            await ready.wait()
            nxt = await recv_sample(ws, timeout=10)
            while nxt["seq"] <= first["seq"]:
                nxt = await recv_sample(ws, timeout=10)
            results.append(nxt["seq"])
            await done.wait()

    async def go():
        results = []
        tasks = []
        for i in range(0, CLIENTS, 100):
            tasks += [asyncio.create_task(client(results)) for _ in range(100)]
            await asyncio.sleep(0.05)
        while len(results) < CLIENTS and not any(x.done() for x in tasks):
            await asyncio.sleep(0.05)
        clients_connected = t.metrics()["resolvix_clients"]
        ready.set()
        while len(results) < 2 * CLIENTS and not any(x.done() for x in tasks):
            await asyncio.sleep(0.05)
        done.set()
        await asyncio.gather(*tasks)
        return results, clients_connected

    ready = asyncio.Event()
    done = asyncio.Event()
    results, connected = asyncio.run(go())
    assert connected == CLIENTS
    assert len(results) == 2 * CLIENTS
    code, log = t.stop()
    assert code == 0
    assert f"connected ({CLIENTS} clients)" in log


def sanitized(exe):
    """Built with AddressSanitizer, whose quarantine and shadow memory make
    the process grow whatever it does."""
    return b"libasan" in subprocess.run(["ldd", exe], capture_output=True).stdout


def test_clients_that_stop_reading_get_only_the_newest(start_telemetryd):
    t = start_telemetryd(interval=86400)
    slow = [raw_client(t.port) for _ in range(5)]

    async def go():
        async with connect(t.url(), max_queue=None, compression=None) as fast:
            seqs = [(await recv_sample(fast))["seq"]]
            await asyncio.sleep(0.5)
            rss_before = t.status_kib("RssAnon")
            # Each signal makes a sample at once: a thousand frames that
            # the slow clients cannot take.
            for _ in range(1000):
                t.sigqueue(RESOLVIX_SIGNAL_INTERVAL, 86400)
                await asyncio.sleep(0.002)
            try:
                while True:
                    seqs.append((await recv_sample(fast, timeout=1.0))["seq"])
            except asyncio.TimeoutError:
                pass
            rss_after = t.status_kib("RssAnon")
            async with connect(t.url()) as late:
                newest = (await recv_sample(late))["seq"]
            return seqs, rss_before, rss_after, newest

    seqs, rss_before, rss_after, newest = asyncio.run(go())
    # The reading client got every sample, in order, up to the newest.
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert seqs[-1] == newest
    assert len(seqs) > 100
    # Nothing queued up for the others: memory stays flat.
    if not sanitized(binary("telemetryd/telemetryd")):
        assert rss_after - rss_before < 512, f"RssAnon grew from {rss_before} to {rss_after} KiB"
    for s in slow:
        frames = read_frames(s)
        # What was in flight, then the newest: never the whole backlog.
        assert 0 < len(frames) < len(seqs) / 2
        assert frames[-1]["seq"] == newest
        s.close()
    assert t.metrics()["resolvix_frames_coalesced_total"] > 0


def test_two_thousand_clients_all_get_each_tick(start_telemetryd):
    """Every one of 2,000 clients gets its first sample and then each of
    three ticks (the interval signal makes one), and all stay connected:
    the benchmark's client, which fails on a missing frame (after 10 s of
    silence) or on a connection the server closes."""
    t = start_telemetryd("--max-clients", str(MANY + 16), interval=86400)
    out = subprocess.run(
        [binary("bench/telemetry-broadcast-client"), str(t.port), str(MANY), "3", str(t.pid),
         str(int(RESOLVIX_SIGNAL_INTERVAL)), "86400"],
        capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["clients"] == MANY and result["rounds"] == 3
    # The first sample (which every client got on connect) and one per tick:
    # at this interval no other.
    assert t.metrics()["resolvix_samples_total"] == 4
    assert f"({MANY} clients)" in t.log()
