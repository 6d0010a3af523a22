"""pushd against a real resolvix-hub: every sample it counts as done is on
the hub exactly once, through a kill -9 of pushd, a kill -9 of the hub, a
torn spool tail and a full spool (docs/fleet.md, "pushd on every node")."""
import json
import os
import stat
import subprocess
import time

import pytest

from push_support import hub, FakeHub, Pushd, assert_no_loss, hub_seqs
from support import binary, poll


def test_enrolls_and_pushes_every_sample_once(procs, tmp_path, hub):
    p = Pushd(procs, tmp_path, hub.url())
    p.start()
    poll(lambda: int(p.figures.get("last_ack_seq", 0)) >= 4, 20, "four samples acknowledged")
    token = p.state_dir / "push.token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert p.figures["connected"] == "1"
    p.stop()
    seqs = assert_no_loss(hub, p)
    assert seqs == sorted(seqs) and len(seqs) >= 4
    # What the hub holds is the telemetry sample plus stream and seq.
    sample = hub.get("/api/v1/nodes/n1/sample").json
    assert sample["stream"] == p.position()["stream"]
    assert {"cpu", "memory", "disk", "network", "processes"} <= set(sample["metrics"])


def test_kill9_of_pushd_loses_and_repeats_nothing(procs, tmp_path, hub):
    p = Pushd(procs, tmp_path, hub.url())
    acked = 0
    for _ in range(3):
        p.start()
        # Counted from what the last run reached, not from figures a new
        # run has not sent yet: each run must get two more acknowledged.
        poll(lambda: int(p.figures.get("last_ack_seq", 0) or 0) >= acked + 2, 20, "more samples acknowledged")
        acked = int(p.figures["last_ack_seq"])
        p.kill9()
    p.start()
    p.wait_drained()
    p.stop()
    seqs = assert_no_loss(hub, p)
    assert len(seqs) >= 6


def test_hub_killed_and_restarted(procs, tmp_path, hub):
    p = Pushd(procs, tmp_path, hub.url())
    p.start()
    poll(lambda: int(p.figures.get("last_ack_seq", 0)) >= 2, 20, "samples acknowledged")
    hub.kill9()
    poll(lambda: p.figures.get("connected") == "0" and int(p.figures.get("spooled", 0)) >= 3, 30,
         "pushd spooling while the hub is down")
    assert p.figures["last_error"]
    hub.start()
    p.wait_drained(timeout=90)
    assert p.figures["connected"] == "1" and p.figures["last_error"] == ""
    p.stop()
    assert_no_loss(hub, p)


def test_newest_first_then_backlog_oldest_first(procs, tmp_path):
    fake = FakeHub()
    procs.cleanups.append(fake.close)
    fill = subprocess.run([binary("pushd/spool-fill"), str(tmp_path / "node-state" / "push-spool"), "256", "50", "n1"],
                          capture_output=True, text=True, check=True)
    p = Pushd(procs, tmp_path, fake.url, backfill_rate=10)
    p.start()
    p.wait_drained(timeout=60)
    p.stop()
    sent = [s for _, _, seqs in fake.pushes for s in seqs]
    # The sample taken at start (seq 51) goes alone and first; then 1..50
    # in order, in batches no bigger than backfill_rate.
    assert fake.pushes[0][2] == [51]
    backlog = [s for s in sent if s <= 50]
    assert backlog == list(range(1, 51))
    assert max(len(seqs) for _, _, seqs in fake.pushes) <= 10


def test_spool_bound_drops_oldest_and_counts_them(procs, tmp_path, hub):
    # An outage long enough to overflow a 1 MiB spool: the oldest segments go.
    out = subprocess.run([binary("pushd/spool-fill"), str(tmp_path / "node-state" / "push-spool"), "1", "1000", "n1"],
                         capture_output=True, text=True, check=True).stdout
    dropped = int(dict(kv.split("=") for kv in out.split())["dropped"])
    assert 0 < dropped < 1000
    p = Pushd(procs, tmp_path, hub.url(), spool_max_mb=1)
    p.start()
    p.wait_drained(timeout=120)
    # Live samples arriving while the full spool drains may push out one
    # more of the oldest segments: whatever is dropped is counted.
    assert int(p.figures["dropped"]) >= dropped
    dropped = int(p.figures["dropped"])
    p.stop()
    seqs = assert_no_loss(hub, p, dropped=dropped)
    assert min(seqs) == dropped + 1


def test_torn_tail_is_skipped_and_reported(procs, tmp_path, hub):
    spool = tmp_path / "node-state" / "push-spool"
    subprocess.run([binary("pushd/spool-fill"), str(spool), "256", "20", "n1"], check=True, capture_output=True)
    seg = sorted(spool.glob("*.seg"))[-1]
    good = seg.stat().st_size
    # A crash in the middle of a write: a header and half a payload.
    with open(seg, "ab") as f:
        f.write(b"RXP1" + (3000).to_bytes(4, "little") + (21).to_bytes(8, "little") + b"\0\0\0\0" + b"{" * 100)
    p = Pushd(procs, tmp_path, hub.url())
    p.start()
    assert "torn record of 120 bytes" in p.log()
    p.wait_drained()
    p.stop()
    assert seg.stat().st_size >= good
    seqs = assert_no_loss(hub, p)
    # seq 21 is the first sample of this run, not the torn one.
    assert seqs[:21] == list(range(1, 22))


def test_corrupt_record_is_never_sent(procs, tmp_path, hub):
    spool = tmp_path / "node-state" / "push-spool"
    subprocess.run([binary("pushd/spool-fill"), str(spool), "256", "10", "n1"], check=True, capture_output=True)
    seg = sorted(spool.glob("*.seg"))[0]
    data = bytearray(seg.read_bytes())
    # Flip one byte in the first record's payload: its CRC no longer matches.
    data[40] ^= 0xFF
    seg.write_bytes(bytes(data))
    p = Pushd(procs, tmp_path, hub.url())
    p.start()
    assert "corrupt bytes at offset 0 skipped" in p.log()
    p.wait_drained()
    # The sample it held can never be sent: counted as dropped, not waited for.
    assert p.figures["dropped"] == "1"
    p.stop()
    seqs = assert_no_loss(hub, p, dropped=1)
    assert 1 not in seqs and set(range(2, 12)) <= set(seqs)


def test_4xx_is_final_and_counted(procs, tmp_path):
    fake = FakeHub(script=[(400, {})])
    procs.cleanups.append(fake.close)
    p = Pushd(procs, tmp_path, fake.url)
    p.start()
    poll(lambda: int(p.figures.get("last_ack_seq", 0)) >= 3, 20, "later samples acknowledged")
    assert int(p.figures["dropped"]) == 1
    assert "400" in p.log() and "dropped" in p.log()
    p.stop()
    refused = fake.pushes[0][2]
    later = [s for _, st, seqs in fake.pushes[1:] for s in seqs]
    assert refused == [1] and 1 not in later and 2 in later


def test_503_retry_after_is_honoured(procs, tmp_path):
    fake = FakeHub(script=[(503, {"Retry-After": "3"})])
    procs.cleanups.append(fake.close)
    p = Pushd(procs, tmp_path, fake.url)
    p.start()
    poll(lambda: len(fake.pushes) >= 2, 20, "a push after the 503")
    p.stop()
    (t0, s0, seqs0), (t1, s1, seqs1) = fake.pushes[:2]
    assert s0 == 503 and s1 == 200
    assert t1 - t0 >= 2.9
    assert seqs0[0] in seqs1 or seqs1 == [max(seqs0[0], *seqs1)]
    assert "retrying after 3 s as asked" in p.log()


def test_several_hubs_tried_in_turn(procs, tmp_path, hub):
    # The first hub refuses connections: the second takes the samples.
    p = Pushd(procs, tmp_path, f"http://127.0.0.1:1 {hub.url()}")
    p.start()
    p.wait_drained(timeout=30)
    p.stop()
    assert_no_loss(hub, p)


def test_bad_protocol_is_refused_before_ready(procs, tmp_path):
    p = Pushd(procs, tmp_path, "http://127.0.0.1:1", protocol="carrier-pigeon")
    p.start(wait=False)
    assert p.proc.wait(timeout=10) == 1
    assert "[push] protocol = carrier-pigeon is not known; expected resolvix or system-monitor" in p.log()
