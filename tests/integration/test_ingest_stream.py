"""Custom metrics next to the system telemetry: the latest point of each in
every sample (metrics.custom) and in /metrics (resolvix_custom_metric)."""
import asyncio
import json

from ingest_support import OK, PROM_SAMPLE
from telemetry_support import connect, recv_sample


def sample(ing):
    status, _, body = ing.t.http("/sample")
    assert status == 200
    return json.loads(body)


def test_every_sample_carries_the_latest_points(start_ingest):
    ing = start_ingest(interval=1)

    async def go():
        async with connect(ing.t.url()) as ws:
            before = await recv_sample(ws)
            assert ing.ask(b"put palm.cpu 0.5 1150864247\nput palm.cpu 2 1150864248\n"
                           b"put palm.cpu 9 1150864200\nput eardrum.memory 4200000 1503320872\n") == OK * 4
            # Samples keep coming; the first taken after the puts has them.
            while True:
                after = await recv_sample(ws, timeout=5)
                if after["metrics"]["custom"]:
                    return before, after

    before, after = asyncio.run(go())
    assert before["metrics"]["custom"] == {}
    # The latest is the newest timestamp, not the last put.
    assert after["metrics"]["custom"] == {
        "palm.cpu": {"value": 2, "timestamp": 1150864248},
        "eardrum.memory": {"value": 4200000, "timestamp": 1503320872},
    }
    assert set(after["metrics"]) == {"cpu", "memory", "disk", "network", "processes", "custom"}


def test_a_put_shows_in_the_next_sample_asked_for(start_ingest):
    """/sample and get_metrics reuse a sample under a second old, but not
    custom metrics older than the latest put."""
    ing = start_ingest(interval=60)
    assert sample(ing)["metrics"]["custom"] == {}
    assert ing.ask(b"put queue.depth 17 1700000000\n") == OK
    first = sample(ing)
    assert first["metrics"]["custom"] == {"queue.depth": {"value": 17, "timestamp": 1700000000}}
    assert ing.ask(b"put queue.depth 0.25 1700000001\n") == OK
    second = sample(ing)
    assert second["seq"] == first["seq"], "no new /proc reading for a custom metric"
    assert second["metrics"]["custom"]["queue.depth"] == {"value": 0.25, "timestamp": 1700000001}


def test_names_are_json_keys_whatever_they_hold(start_ingest):
    ing = start_ingest()
    name = 'q"u\\o{t}e/é'
    assert ing.ask(b"put " + name.encode() + b" 1.5 7\n") == OK
    custom = sample(ing)["metrics"]["custom"]
    assert custom == {name: {"value": 1.5, "timestamp": 7}}


def test_prometheus_exposition(start_ingest):
    ing = start_ingest()
    assert ing.ask(b"put palm.cpu 0.5 1150864247\nput palm.cpu 2 1150864248\nput tiny 1e-7 -5\n"
                   b'put we"ird\\name 1e16 1\n') == OK * 4
    status, ctype, body = ing.t.http("/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    lines = body.splitlines()
    for line in lines:
        assert line.startswith("#") or PROM_SAMPLE.match(line), f"not exposition format: {line!r}"
    custom = [line for line in lines if line.startswith("resolvix_custom_metric{")]
    # Milliseconds, as the exposition format has timestamps; label values
    # escaped.
    assert custom == [
        'resolvix_custom_metric{metric="palm.cpu"} 2.0 1150864248000',
        'resolvix_custom_metric{metric="tiny"} 1e-07 -5000',
        'resolvix_custom_metric{metric="we\\"ird\\\\name"} 1e+16 1000',
    ]
    assert "# TYPE resolvix_custom_metric gauge" in lines
    values = {line.split(" ")[0]: line.split(" ")[1] for line in lines
              if line.startswith(("resolvix_custom_metrics ", "resolvix_custom_points ", "resolvix_ingest_"))}
    assert values["resolvix_custom_metrics"] == "3"
    assert values["resolvix_custom_points"] == "4"
    assert values["resolvix_ingest_requests_total"] == "4"
    assert values["resolvix_ingest_errors_total"] == "0"
    assert values["resolvix_ingest_clients"] == "0"


def test_ingest_off(start_telemetryd):
    t = start_telemetryd()  # the helper turns the ingest port off
    status, _, body = t.http("/sample")
    assert json.loads(body)["metrics"]["custom"] == {}
    assert "custom metrics" not in t.ready["STATUS"]
    _, _, metrics = t.http("/metrics")
    assert "resolvix_custom_metric{" not in metrics
    assert "resolvix_ingest_clients" not in metrics


def test_ready_status_names_the_ingest_port(start_ingest):
    ing = start_ingest()
    assert ing.t.ready["STATUS"].endswith(f", custom metrics on 127.0.0.1:{ing.port}")
