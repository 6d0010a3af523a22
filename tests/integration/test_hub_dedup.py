"""Deduplication seen from each push: overlapping batches sent at once,
through one hub and through two hubs on one database, each answered with
its own exact acked and duplicates; and a node deleted (and enrolled anew
under its id) through one store handle is never served from another's
memory."""
import http.client
import json
import threading
import time

from hub_support import ndjson, sample, two_hubs_one_database


def push_all(jobs):
    """jobs: (hub, token, samples); all sent at once, one connection each.
    Returns [(samples, answer json)]."""
    answers = [None] * len(jobs)
    go = threading.Barrier(len(jobs))

    def run(i, hub, token, samples):
        conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=60)
        go.wait()
        conn.request("POST", "/api/v1/push", body=ndjson(samples),
                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        assert resp.status == 200, (resp.status, body)
        answers[i] = (samples, json.loads(body))

    threads = [threading.Thread(target=run, args=(i, *job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def check_round(answers, distinct):
    for samples, a in answers:
        assert a["acked"] + a["duplicates"] == len(samples), a
        assert a["last_seq"] == samples[-1]["seq"]
    assert sum(a["acked"] for _, a in answers) == distinct
    assert sum(a["duplicates"] for _, a in answers) == sum(len(s) for s, _ in answers) - distinct


def overlapping(node_id, round_, base):
    """8 batches of 60 over seqs 1..270 of one stream, each sharing 30 with
    the next; the last also repeats the first."""
    stream = f"r{round_}"
    batches = [[sample(s, stream=stream, ts=base + s, node_id=node_id) for s in range(1 + 30 * i, 61 + 30 * i)]
               for i in range(8)]
    batches[-1] = batches[0] + batches[-1][30:]
    return batches, 270


def test_overlapping_batches_at_once(hub):
    tokens = {n: hub.enroll(n) for n in ["n1", "n2"]}
    base = time.time() - 3600
    total = 0
    for round_ in range(4):
        jobs = []
        for node_id, token in tokens.items():
            batches, _ = overlapping(node_id, round_, base)
            jobs += [(hub, token, b) for b in batches]
        answers = push_all(jobs)
        check_round(answers, 2 * 270)
        total += 270
    for node_id in tokens:
        assert len(hub.stored_seqs(node_id, start=base - 10)) == total
    # Everything again, in one go each: all duplicates.
    for node_id, token in tokens.items():
        batches, _ = overlapping(node_id, 0, base)
        for b in batches:
            assert hub.push(token, b).json["acked"] == 0


def test_overlapping_batches_through_two_hubs(hub_factory):
    a, b = two_hubs_one_database(hub_factory)
    token = a.enroll("n1")
    base = time.time() - 3600
    for round_ in range(4):
        batches, distinct = overlapping("n1", round_, base)
        # Each batch twice, once through each hub.
        answers = push_all([(h, token, batch) for batch in batches for h in (a, b)])
        check_round(answers, distinct)
    assert len(a.stored_seqs("n1", start=base - 10)) == 4 * 270
    assert len(b.stored_seqs("n1", start=base - 10)) == 4 * 270


def test_deleted_node_not_served_from_memory(hub):
    token = hub.enroll("n1", machine_id="m1")
    old_ts = time.time() - 120
    assert hub.push(token, [sample(1, ts=old_ts, cpu=11.0)]).status == 200
    at = f"/api/v1/nodes/n1/sample?at={int(old_ts) + 1}"
    assert hub.get(at).json["metrics"]["cpu"]["cpu_usage_percent"] == 11.0
    assert hub.request("DELETE", "/api/v1/nodes/n1").status == 200
    r = hub.get(at)
    assert r.status == 404, r
    # Enrolled anew under the id: only the new node's samples are seen.
    token = hub.enroll("n1", machine_id="m1")
    assert hub.get(at).status == 404
    assert hub.query(node="n1", metric="cpu.cpu_usage_percent", start=old_ts - 10, end=time.time() + 60)["series"] == []
    assert hub.push(token, [sample(1, cpu=22.0)]).json == {"acked": 1, "duplicates": 0, "last_seq": 1}
    assert hub.get("/api/v1/nodes/n1/sample").json["metrics"]["cpu"]["cpu_usage_percent"] == 22.0
    assert [v for _, v in hub.stored_seqs("n1", start=old_ts - 10)] == [22.0]


def test_node_deleted_and_enrolled_again_through_another_hub(hub_factory):
    a, b = two_hubs_one_database(hub_factory)
    token = a.enroll("n1", machine_id="m1")
    old_ts = time.time() - 120
    assert a.push(token, [sample(s, ts=old_ts + s, cpu=11.0) for s in (1, 2)]).json["acked"] == 2
    at = f"/api/v1/nodes/n1/sample?at={int(old_ts) + 5}"
    assert a.get(at).status == 200  # a's reader now knows n1
    assert b.request("DELETE", "/api/v1/nodes/n1").status == 200
    assert a.get(at).status == 404
    token = b.enroll("n1", machine_id="m1")
    # a's writer knew n1 as the deleted node: the push goes to the new one.
    r = a.push(token, [sample(1, cpu=33.0), sample(2, cpu=33.0)])
    assert r.status == 200 and r.json == {"acked": 2, "duplicates": 0, "last_seq": 2}, r
    for h in (a, b):
        assert [v for _, v in h.stored_seqs("n1", start=old_ts - 10)] == [33.0, 33.0]
        assert h.get(at).status == 404
    # Deleted for good: a push through the hub that did not delete it is refused.
    assert b.request("DELETE", "/api/v1/nodes/n1").status == 200
    r = a.push(token, [sample(3)])
    assert r.status == 401, r
