"""Plain HTTP on telemetryd's port: GET /sample and GET /metrics."""
import asyncio
import json
import re
import select
import socket
import subprocess
import time

from support import ROOT
from telemetry_support import PROM_LINE, connect, recv_sample


def test_sample(start_telemetryd):
    t = start_telemetryd(interval=60)
    status, ctype, body = t.http("/sample")
    assert status == 200
    assert ctype.startswith("application/json")
    s = json.loads(body)
    assert s["node_id"] == "test-node"
    assert s["interval"] == 60
    assert set(s["metrics"]) == {"cpu", "memory", "disk", "network", "processes", "custom"}
    assert s["metrics"]["custom"] == {}  # no ingest port: none, but always there
    assert "/" in s["metrics"]["disk"]["disk_usage"]


def wait_for_tick(t):
    """Until the first scheduled sample: scrapes do not take one."""
    deadline = time.monotonic() + 5
    while t.metrics()["resolvix_samples_total"] < 1:
        assert time.monotonic() < deadline, "no tick within 5 s at interval 1"
        time.sleep(0.1)


def test_metrics_exposition(start_telemetryd):
    t = start_telemetryd()
    wait_for_tick(t)
    status, ctype, body = t.http("/metrics")
    assert status == 200
    assert ctype.startswith("text/plain; version=0.0.4")
    typed = set()
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            assert kind in ("counter", "gauge", "untyped")  # untyped: netstat, vmstat, as node_exporter has them
            typed.add(name)
        elif not line.startswith("# HELP "):
            assert PROM_LINE.match(line), f"not exposition format: {line!r}"
            name = line.split("{")[0].split(" ")[0]
            assert name in typed, f"{name} sampled before its TYPE line"
    m = t.metrics()
    with open("/proc/meminfo") as f:
        total = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))
    assert m["node_memory_MemTotal_bytes"] == total
    assert m["node_memory_MemAvailable_bytes"] > 0
    assert 'node_cpu_seconds_total{cpu="0",mode="idle"}' in m
    assert "node_load1" in m and "node_load15" in m
    root = [k for k in m if k.startswith("node_filesystem_avail_bytes{") and 'mountpoint="/"' in k]
    assert len(root) == 1 and m[root[0]] > 0
    assert any(k.startswith("node_network_receive_bytes_total{") for k in m)
    assert "node_netstat_Tcp_CurrEstab" in m
    assert m["resolvix_samples_total"] >= 1
    assert m["resolvix_sample_interval_seconds"] == 1
    assert 0 < m["resolvix_sample_duration_seconds"] < 1


def test_self_metrics_follow_clients(start_telemetryd):
    t = start_telemetryd()

    async def go():
        async with connect(t.url()) as a, connect(t.url()) as b:
            await recv_sample(a)
            await recv_sample(b)
            return t.metrics()

    during = asyncio.run(go())
    assert during["resolvix_clients"] == 2
    assert during["resolvix_frames_sent_total"] >= 2
    after = t.metrics()
    assert after["resolvix_clients"] == 0


def test_other_paths_are_404(start_telemetryd):
    t = start_telemetryd()
    for path in ("/nope", "/metrics/x", "/samples", "/sample/../etc/passwd"):
        status, _, _ = t.http(path)
        assert status == 404, path


def test_scrapes_never_change_the_stream(start_telemetryd):
    """GET /metrics, GET /sample and get_metrics read the system between
    ticks without taking a tick's number: a stream client sees consecutive
    seqs and resolvix_samples_total counts the ticks alone."""
    t = start_telemetryd(interval=2)

    async def go():
        async with connect(t.url()) as watcher, connect(t.url()) as asker:
            frames = [await recv_sample(watcher, timeout=5)]
            await recv_sample(asker, timeout=5)
            answers, scrapes = [], 0
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 7
            while loop.time() < deadline:
                # 0.4 s apart: a request finds the newest sample over a
                # second old every few tries and reads the system afresh.
                await asyncio.sleep(0.4)
                _, _, body = await loop.run_in_executor(None, t.http, "/sample")
                answers.append(json.loads(body))
                await loop.run_in_executor(None, t.http, "/metrics")
                await asker.send('{"command":"get_metrics"}')
                answers.append(await recv_sample(asker, timeout=5))
                scrapes += 3
                try:
                    while True:
                        frames.append(await asyncio.wait_for(watcher.recv(), 0.01))
                except asyncio.TimeoutError:
                    pass
            frames[1:] = [json.loads(f) for f in frames[1:]]
            m = await loop.run_in_executor(None, t.metrics)
            return frames, answers, scrapes, m

    frames, answers, scrapes, m = asyncio.run(go())
    seqs = [f["seq"] for f in frames]
    assert len(seqs) >= 3 and scrapes > 40
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"gaps in {seqs}"
    ticks = max(seqs + [a["seq"] for a in answers])
    assert m["resolvix_samples_total"] in (ticks, ticks + 1)  # a tick may fall between the last frame and the scrape
    # The requests did get readings of their own: same number as a tick, a later time.
    by_seq = {f["seq"]: f["timestamp"] for f in frames}
    assert any(a["seq"] in by_seq and a["timestamp"] > by_seq[a["seq"]] for a in answers)


def documented_names(text):
    """Family names in text, as regexes: `{a,b}` alternatives expanded, a
    `<Placeholder>` standing for any word."""
    out = set()
    for token in re.findall(r"\b(?:node|process|resolvix)_(?:\w|<\w+>|\{[\w,]+\})*", text):
        expanded = [token]
        while any("{" in t for t in expanded):
            t = next(t for t in expanded if "{" in t)
            expanded.remove(t)
            head, rest = t.split("{", 1)
            alts, tail = rest.split("}", 1)
            expanded += [head + a + tail for a in alts.split(",")]
        out |= {re.sub(r"<\w+>", r"\\w+", re.escape(t).replace(r"\<", "<").replace(r"\>", ">")) for t in expanded}
    return out


def test_every_metrics_family_is_documented(start_ingest):
    """Each family /metrics serves is in telemetryd(8) and in
    docs/telemetry-stream.md's tables, so neither falls behind the code."""
    ing = start_ingest()
    with ing.session() as s:
        s.sendall(b"put documented.metric 1 1700000000\n")
        assert s.recv(16) == b"ok\n\n"
    _, _, body = ing.t.http("/metrics")
    served = set(re.findall(r"^# TYPE (\S+) ", body, re.M))
    assert "resolvix_ingest_requests_total" in served and "node_cpu_seconds_total" in served

    page = subprocess.run(["groff", "-man", "-Tutf8", "-P", "-cbou", str(ROOT / "packaging" / "telemetryd.8")],
                          capture_output=True, text=True, env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"}
                          ).stdout.replace("\u2010", "-")
    in_page = documented_names(re.sub(r"-\n\s+", "", page))
    doc = (ROOT / "docs" / "telemetry-stream.md").read_text()
    in_doc = documented_names(doc)
    # The tables abbreviate a row's further names as `_tail` after its first.
    for row in doc.splitlines():
        first = re.search(r"`((?:node|process|resolvix)_\w+)`", row)
        for tail in re.findall(r"`(_\w+)`", row) if first else ():
            stem = first.group(1)
            in_doc |= {re.escape(stem[:i]) + re.escape(tail) for i in range(len(stem)) if stem[i] == "_"}
    for name in sorted(served):
        assert any(re.fullmatch(p, name) for p in in_page), f"{name} is not in telemetryd(8)"
        assert any(re.fullmatch(p, name) for p in in_doc), f"{name} is not in docs/telemetry-stream.md"


def test_idle_keep_alive_connections_are_closed(start_telemetryd):
    """A keep-alive connection is closed once it has been idle for 5 s, the
    workers' keep-alive timeout; one that keeps asking stays open."""
    t = start_telemetryd(interval=60)
    request = b"GET /sample HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    def ask(f, s):
        s.sendall(request)
        assert f.readline().startswith(b"HTTP/1.1 200")
        length = 0
        while (line := f.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        assert len(f.read(length)) == length

    with socket.create_connection(("127.0.0.1", t.port), timeout=20) as busy, \
            socket.create_connection(("127.0.0.1", t.port), timeout=20) as idle, \
            busy.makefile("rb") as fb, idle.makefile("rb") as fi:
        ask(fi, idle)
        went_idle = time.monotonic()
        for _ in range(8):  # 12 s of requests 1.5 s apart, on the same connection
            ask(fb, busy)
            if time.monotonic() - went_idle < 4:
                # Well inside the timeout the idle one is still open: no end to read.
                assert not select.select([idle], [], [], 0)[0]
            time.sleep(1.5)
        # By now the idle one is closed: a read sees the end at once.
        assert fi.read(1) == b""
        ask(fb, busy)
