"""Plain HTTP on telemetryd's port: GET /sample and GET /metrics."""
import asyncio
import json

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


def test_metrics_exposition(start_telemetryd):
    t = start_telemetryd()
    status, ctype, body = t.http("/metrics")
    assert status == 200
    assert ctype.startswith("text/plain; version=0.0.4")
    typed = set()
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            assert kind in ("counter", "gauge")
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
