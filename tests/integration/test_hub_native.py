"""The hub's native API: enrolment, NDJSON pushes (plain and gzip), dedup,
all-or-nothing batches and every refusal, then what operators read back:
nodes, samples, queries, the fleet stream, /metrics and /health."""
import asyncio
import json
import time

import websockets

from support import poll
from hub_support import ENROLL, ndjson, sample, wait_status


def test_enrol(hub):
    token = hub.enroll("n1", machine_id="m1")
    assert len(token) == 64
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {ENROLL}x"},
                    {"Authorization": ENROLL}]:
        r = hub.request("POST", "/api/v1/enroll", {"node_id": "n2"}, headers)
        assert r.status == 401, (headers, r)
        assert r.headers["WWW-Authenticate"] == "Bearer"
    auth = {"Authorization": f"Bearer {ENROLL}"}
    for bad in ["not json", {"hostname": "h"}, {"node_id": ""}, {"node_id": "a/b"}, {"node_id": "x" * 256},
                {"node_id": 5}, [1]]:
        r = hub.request("POST", "/api/v1/enroll", bad, auth)
        assert r.status == 400, (bad, r)
    # The same machine enrolling again gets a new token; the old one stops working.
    again = hub.enroll("n1", machine_id="m1")
    assert again != token
    assert hub.push(token, [sample(1)]).status == 401
    assert hub.push(again, [sample(1)]).status == 200
    # Another machine may not take the id.
    r = hub.request("POST", "/api/v1/enroll", {"node_id": "n1", "machine_id": "m2"}, auth)
    assert r.status == 409, r
    assert hub.request("GET", "/api/v1/enroll", None, auth).status == 405


def test_enrolment_off_without_a_token(hub_factory):
    h = hub_factory()
    h.start(env={"RESOLVIX_HUB_ENROLL_TOKEN": None})
    # Only one-time tokens enroll then (test_hub_enroll_tokens.py).
    r = h.request("POST", "/api/v1/enroll", {"node_id": "n1"}, {"Authorization": "Bearer anything"})
    assert r.status == 401, r


def test_push_ack_and_dedup(hub):
    token = hub.enroll()
    batch = [sample(s) for s in range(1, 11)]
    r = hub.push(token, batch)
    assert r.status == 200, r
    assert r.json == {"acked": 10, "duplicates": 0, "last_seq": 10}
    # The same batch again (its answer was lost): nothing stored twice.
    r = hub.push(token, batch, gzip=True)
    assert r.json == {"acked": 0, "duplicates": 10, "last_seq": 10}
    # Half old, half new; and a seq going backwards in a stream.
    r = hub.push(token, [sample(s) for s in range(6, 16)])
    assert r.json == {"acked": 5, "duplicates": 5, "last_seq": 15}
    r = hub.push(token, [sample(3), sample(16)])
    assert r.json == {"acked": 1, "duplicates": 1, "last_seq": 16}
    # Another stream (a reboot) numbers from 1 again.
    r = hub.push(token, [sample(1, stream="boot-2")])
    assert r.json == {"acked": 1, "duplicates": 0, "last_seq": 1}
    assert len(hub.stored_seqs("n1")) == 17


def test_gzip_and_content_types(hub):
    token = hub.enroll()
    big = [sample(s) for s in range(1, 301)]
    r = hub.push(token, big, gzip=True)
    assert r.json == {"acked": 300, "duplicates": 0, "last_seq": 300}
    r = hub.push(token, ndjson([sample(301)]), headers={"Content-Encoding": "br"})
    assert r.status == 415, r
    r = hub.push(token, ndjson([sample(301)]), headers={"Content-Type": "image/png"})
    assert r.status == 415, r
    r = hub.push(token, b"\x1f\x8b\x08\x00garbage", headers={"Content-Encoding": "gzip"})
    assert r.status == 400, r
    assert len(hub.stored_seqs("n1")) == 300


def test_bad_line_is_named_and_nothing_is_stored(hub):
    token = hub.enroll()
    now = time.time()
    cases = [
        (b"{not json}", "not valid JSON"),
        (json.dumps({"timestamp": "2024-01-15T10:30:45Z", "stream": "s"}).encode(), "seq"),
        (json.dumps({"timestamp": "2024-01-15T10:30:45Z", "seq": 3}).encode(), "stream"),
        (json.dumps({"stream": "s", "seq": 3}).encode(), "timestamp"),
        (json.dumps(sample(3, ts=now + 11 * 60)).encode(), "ahead of the hub's clock"),
    ]
    for third, why in cases:
        body = ndjson([sample(1), sample(2)]) + third + b"\n" + ndjson([sample(4)])
        r = hub.push(token, body)
        assert r.status == 400, (third, r)
        assert r.json["line"] == 3, r
        assert "line 3" in r.json["message"] and why in r.json["message"], r
    # Nine minutes ahead is a clock a little off, not a bug.
    r = hub.push(token, [sample(1, ts=now + 9 * 60)])
    assert r.status == 200, r
    assert hub.stored_seqs("n1") == [(int(now + 9 * 60), 1.0)]
    assert hub.push(token, b"\n\n").status == 400


def test_bounds_and_credentials(hub_factory):
    h = hub_factory()
    h.start(env={"RESOLVIX_HUB_MAX_BODY": "64 KiB", "RESOLVIX_HUB_MAX_NODES": "2"})
    token = h.enroll("n1")
    h.enroll("n2")
    # max_nodes: the third is refused; an existing node may still enrol again.
    r = h.request("POST", "/api/v1/enroll", {"node_id": "n3"}, {"Authorization": f"Bearer {ENROLL}"})
    assert r.status == 429, r
    assert int(r.headers["Retry-After"]) > 0
    h.enroll("n2")
    # max_body, plain and inflated.
    big = [sample(s) for s in range(1, 200)]
    assert len(ndjson(big)) > 64 * 1024
    r = h.push(token, big)
    assert r.status == 413, r
    r = h.push(token, big, gzip=True)
    assert r.status == 413, r
    r = h.push(token, big[:20])
    assert r.status == 200, r
    # Tokens.
    for t in ["wrong", "", token + "x", token[:-1]]:
        r = h.push(t, [sample(100)])
        assert r.status == 401, (t, r)
    r = h.request("POST", "/api/v1/push", ndjson([sample(100)]), {"Content-Type": "application/x-ndjson"})
    assert r.status == 401
    assert h.request("GET", "/api/v1/push").status == 405
    assert len(h.stored_seqs("n1")) == 20
    m = h.get("/metrics").body
    assert 'resolvix_hub_requests_rejected_total{reason="too_many_nodes"} 1' in m
    assert 'resolvix_hub_requests_rejected_total{reason="unauthorized"} 5' in m


def test_nodes_sample_and_query(hub):
    token = hub.enroll("n1")
    t0 = int(time.time()) - 600
    batch = [sample(s, ts=t0 + 10 * s, cpu=float(s)) for s in range(1, 31)]
    assert hub.push(token, batch).status == 200

    nodes = hub.get("/api/v1/nodes").json
    assert [n["node_id"] for n in nodes] == ["n1"]
    n = nodes[0]
    assert n["kind"] == "resolvix" and n["hostname"] == "host-n1" and n["online"] is True
    assert n["latest"]["cpu_usage_percent"] == 30.0
    assert n["latest"]["memory_usage_percent"] == 53.1
    assert n["latest"]["load_avg_1min"] == 0.5
    assert n["latest"]["disk_usage_percent"] == 60.0
    assert hub.get("/api/v1/nodes/n1").json["node_id"] == "n1"
    assert hub.get("/api/v1/nodes/nope").status == 404

    latest = hub.get("/api/v1/nodes/n1/sample")
    assert latest.status == 200 and latest.json["seq"] == 30
    at = hub.get(f"/api/v1/nodes/n1/sample?at={t0 + 155}")
    assert at.json["seq"] == 15
    assert hub.get(f"/api/v1/nodes/n1/sample?at={t0}").status == 404
    assert hub.get("/api/v1/nodes/n1/sample?at=yesterday").status == 400

    raw = hub.query(node="n1", metric="cpu.cpu_usage_percent", start=t0, end=t0 + 400)
    assert raw["metric"] == "cpu.cpu_usage_percent"
    assert raw["series"][0]["node_id"] == "n1"
    assert raw["series"][0]["points"] == [[t0 + 10 * s, float(s)] for s in range(1, 31)]
    step = 60
    down = hub.query(node="*", metric="cpu.cpu_usage_percent", start=t0, end=t0 + 400, step=step)
    assert down["step"] == 60
    pts = down["series"][0]["points"]
    for t, v in pts:
        inside = [s for s in range(1, 31) if t <= t0 + 10 * s < t + 60]
        assert v == sum(inside) / len(inside), (t, v)
    mx = hub.query(node="n1", metric="cpu.cpu_usage_percent", start=t0, end=t0 + 400, step="1m", agg="max")
    assert max(v for _, v in mx["series"][0]["points"]) == 30.0
    assert hub.query(node="n1", metric="no.such.metric", start=t0, end=t0 + 400)["series"] == []
    for bad in ["metric=", "metric=cpu&start=x", "metric=cpu&start=10&end=5", "metric=cpu&step=fast",
                "metric=cpu&agg=median", "metric=cpu&start=0&end=2000000000&step=1"]:
        r = hub.get("/api/v1/query?node=n1&" + bad)
        assert r.status == 400, (bad, r)
    assert hub.get("/api/v1/query?node=nope&metric=cpu").status in (200, 404)


def test_latest_is_the_newest_sample_of_a_batch_in_any_order(hub):
    token = hub.enroll("n1")
    t0 = int(time.time()) - 600
    # The newest sample comes in the middle of its batch.
    batch = [sample(1, ts=t0 + 10, cpu=10.0), sample(2, ts=t0 + 40, cpu=40.0), sample(3, ts=t0 + 20, cpu=20.0)]
    assert hub.push(token, batch).status == 200
    assert hub.get("/api/v1/nodes/n1").json["latest"]["cpu_usage_percent"] == 40.0
    assert hub.get("/api/v1/nodes/n1/sample").json["seq"] == 2
    # A batch older than what is shown changes nothing that is shown.
    assert hub.push(token, [sample(4, ts=t0 + 30, cpu=30.0), sample(5, ts=t0 + 5, cpu=5.0)]).status == 200
    assert hub.get("/api/v1/nodes/n1").json["latest"]["cpu_usage_percent"] == 40.0
    assert hub.get("/api/v1/nodes/n1/sample").json["seq"] == 2
    # Of two samples of the same time, the later in the batch.
    assert hub.push(token, [sample(6, ts=t0 + 50, cpu=50.0), sample(7, ts=t0 + 50, cpu=51.0)]).status == 200
    assert hub.get("/api/v1/nodes/n1").json["latest"]["cpu_usage_percent"] == 51.0
    assert hub.get("/api/v1/nodes/n1/sample").json["seq"] == 7


def test_delete_forgets_node_and_token(hub):
    token = hub.enroll("n1")
    assert hub.push(token, [sample(1)]).status == 200
    r = hub.request("DELETE", "/api/v1/nodes/n1")
    assert r.status == 200, r
    assert hub.get("/api/v1/nodes").json == []
    assert hub.push(token, [sample(2)]).status == 401
    assert hub.request("DELETE", "/api/v1/nodes/n1").status == 404
    assert hub.get("/api/v1/nodes/n1/sample").status == 404
    # The id is free to enrol again, as a new node.
    fresh = hub.enroll("n1", machine_id="other")
    assert hub.push(fresh, [sample(1)]).json == {"acked": 1, "duplicates": 0, "last_seq": 1}


def test_fleet_stream(hub):
    t1 = hub.enroll("n1")
    t2 = hub.enroll("n2")
    assert hub.push(t1, [sample(1, node_id="n1", cpu=11.0)]).status == 200
    assert hub.push(t2, [sample(1, node_id="n2", cpu=22.0)]).status == 200

    async def watch():
        async with websockets.connect(hub.ws_url("/api/v1/fleet")) as ws:
            snapshot = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(2)]
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: hub.push(t1, [sample(2, node_id="n1", cpu=33.0)]))
            live = json.loads(await asyncio.wait_for(ws.recv(), 10))
            return snapshot, live

    snapshot, live = asyncio.run(watch())
    assert sorted((f["node_id"], f["kind"], f["sample"]["metrics"]["cpu"]["cpu_usage_percent"])
                  for f in snapshot) == [("n1", "resolvix", 11.0), ("n2", "resolvix", 22.0)]
    assert (live["node_id"], live["sample"]["seq"], live["sample"]["metrics"]["cpu"]["cpu_usage_percent"]) == \
        ("n1", 2, 33.0)


def test_slow_fleet_client_costs_no_memory(hub):
    """A client that reads nothing while thousands of samples are stored:
    the hub's memory does not grow with what it missed, and once it reads,
    it gets each node's newest sample, not a backlog."""
    tokens = [hub.enroll(f"n{i}") for i in range(4)]

    def rss_kib():
        with open(f"/proc/{hub.proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

    async def run():
        async with websockets.connect(hub.ws_url("/api/v1/fleet"), max_queue=1, read_limit=2 ** 16,
                                      write_limit=2 ** 16) as ws:
            loop = asyncio.get_running_loop()
            for i, t in enumerate(tokens):
                await loop.run_in_executor(None, lambda t=t, i=i: hub.push(t, [sample(1, node_id=f"n{i}")]))
            async def burst(first, last):
                for base in range(first, last, 500):
                    for i, t in enumerate(tokens):
                        batch = [sample(s, node_id=f"n{i}") for s in range(base, base + 500)]
                        r = await loop.run_in_executor(None, lambda t=t, b=batch: hub.push(t, b))
                        assert r.status == 200

            # The first burst settles the hub's own working set (the
            # database's cache, the allocator's arenas); the second shows
            # whether an unread client makes it grow further.
            await burst(2, 4002)
            before = rss_kib()
            await burst(4002, 8002)
            grown = rss_kib() - before
            frames = []
            while True:
                try:
                    frames.append(json.loads(await asyncio.wait_for(ws.recv(), 2)))
                except asyncio.TimeoutError:
                    break
            return grown, frames

    grown, frames = asyncio.run(run())
    newest = {}
    for f in frames:
        newest[f["node_id"]] = f["sample"]["seq"]
    assert newest == {f"n{i}": 8001 for i in range(4)}
    # 32,000 samples of ~2 KB went by (64 MB); what reached the client is
    # what its socket buffers held, then the newest of each node.
    assert len(frames) < 2000, len(frames)
    # AddressSanitizer holds freed memory back on purpose: RSS says nothing then.
    with open(f"/proc/{hub.proc.pid}/maps") as f:
        sanitized = "libasan" in f.read()
    # Had the hub kept what the client missed, RSS would have grown by the
    # 32 MB of the second burst at least. What it does grow by is SQLite's
    # page cache (up to 32 MB) taking in the pages the burst added to the
    # database: 7-9 MB here, none with PostgreSQL.
    if not sanitized:
        assert grown < 16 * 1024, f"RSS grew by {grown} KiB while 32 MB went past an unread client"


def test_metrics_and_health(hub):
    token = hub.enroll("n1")
    batch = [sample(s, cpu=42.5) for s in range(1, 4)]
    assert hub.push(token, batch).status == 200
    assert hub.push(token, batch[:1]).json["duplicates"] == 1
    r = hub.get("/metrics")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
    m = r.body
    for line in ['resolvix_hub_nodes{kind="resolvix"} 1', 'resolvix_hub_nodes_online{kind="resolvix"} 1',
                 "resolvix_hub_samples_ingested_total 3", "resolvix_hub_samples_duplicate_total 1",
                 'resolvix_node_cpu_usage_percent{node="n1"} 42.5', 'resolvix_node_online{node="n1",kind="resolvix"} 1',
                 'resolvix_hub_queue_depth{queue="write",unit="samples"} 0']:
        assert line in m, line
    assert "resolvix_hub_commit_duration_seconds_count" in m
    assert poll(lambda: "resolvix_hub_database_size_bytes" in hub.get("/metrics").body, 30, "database size")
    r = hub.get("/health")
    assert r.status == 200 and r.json["status"] == "healthy" and r.json["database"] == hub.backend


def test_query_token(hub_factory):
    h = hub_factory()
    h.start(env={"RESOLVIX_HUB_TOKEN": "q-secret"})
    token = h.enroll("n1")
    assert h.push(token, [sample(1)]).status == 200
    for path in ["/api/v1/nodes", "/api/v1/nodes/n1", "/api/v1/nodes/n1/sample", "/api/v1/query?metric=cpu",
                 "/metrics"]:
        assert h.get(path).status == 401, path
        assert h.get(path, token="wrong").status == 401, path
        assert h.get(path, token=token).status == 401, path  # a node token is not a query token
        assert h.get(path, token="q-secret").status == 200, path
    assert h.request("DELETE", "/api/v1/nodes/n1").status == 401
    assert h.get("/health").status == 200

    async def handshake(url, **kw):
        try:
            async with websockets.connect(url, **kw) as ws:
                return json.loads(await asyncio.wait_for(ws.recv(), 10))["node_id"]
        except websockets.exceptions.InvalidStatusCode as e:
            return e.status_code

    assert asyncio.run(handshake(h.ws_url("/api/v1/fleet"))) == 401
    assert asyncio.run(handshake(h.ws_url("/api/v1/fleet?token=wrong"))) == 401
    assert asyncio.run(handshake(h.ws_url("/api/v1/fleet?token=q-secret"))) == "n1"
    assert asyncio.run(handshake(h.ws_url("/api/v1/fleet"), extra_headers={"Authorization": "Bearer q-secret"})) == "n1"
    assert asyncio.run(handshake(h.ws_url("/nowhere"))) == 404


def test_sigterm_commits_what_is_queued(hub):
    token = hub.enroll("n1")
    assert hub.push(token, [sample(1)]).status == 200
    assert hub.stop() == 0
    assert "Stopped after storing" in hub.log()
    hub.start()
    assert hub.get("/api/v1/nodes").json[0]["latest"]["cpu_usage_percent"] == 1.0
    wait_status(lambda: hub.get("/health"), 200)


def test_every_concurrent_push_is_answered(hub):
    """Fresh batches and batches sent again, from many nodes at once, end up
    in the same commit rounds, some sharing a transaction and some alone:
    each gets its own exact answer."""
    import threading
    tokens = [hub.enroll(f"n{i}") for i in range(8)]
    answers = {}

    def node(i):
        got = []
        for k in range(6):
            batch = [sample(s, node_id=f"n{i}") for s in range(k * 20 + 1, k * 20 + 21)]
            got.append(hub.push(tokens[i], batch, timeout=20).json)
            got.append(hub.push(tokens[i], batch[:10], timeout=20).json)
        answers[i] = got

    threads = [threading.Thread(target=node, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(answers) == list(range(8))
    for i, got in answers.items():
        for k in range(6):
            assert got[2 * k] == {"acked": 20, "duplicates": 0, "last_seq": k * 20 + 20}, (i, k, got[2 * k])
            assert got[2 * k + 1] == {"acked": 0, "duplicates": 10, "last_seq": k * 20 + 10}, (i, k, got[2 * k + 1])
