"""The SQLite hub commits without waiting for the disk and answers a push
only once its WAL is synced (docs/fleet.md, "Storage"). A preloaded shim
(tests/shim/sync-shim.c) makes the WAL's disk slow, or fail."""
import os
import re
import time

from support import binary
from hub_support import Hub, sample


def disk(**settings):
    """The hub's environment with the shim in front of its disk."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    # Under ASan its runtime must otherwise come first among the libraries.
    return {"LD_PRELOAD": binary("tests/shim/sync-shim.so"),
            "ASAN_OPTIONS": f"{asan}:verify_asan_link_order=0" if asan else "verify_asan_link_order=0",
            **settings}


def test_push_is_answered_only_once_the_wal_is_on_disk(procs, tmp_path):
    h = Hub(procs, tmp_path)
    h.start(env=disk(RESOLVIX_SHIM_SYNC_DELAY_MS="600"))
    token = h.enroll("n1")
    base = int(time.time()) - 600
    for first in (1, 11, 21):
        t0 = time.monotonic()
        r = h.push(token, [sample(s, ts=base + s) for s in range(first, first + 10)])
        took = time.monotonic() - t0
        assert r.status == 200 and r.json["acked"] == 10, r
        assert took >= 0.6, f"answered {took:.3f} s after it was sent, before the WAL could be synced"
    assert sorted(int(v) for _, v in h.stored_seqs("n1", start=base)) == list(range(1, 31))
    # A commit lasts, for an operator, until it is on disk.
    m = {k: float(v) for k, v in re.findall(r"(?m)^resolvix_hub_commit_duration_seconds_(sum|count) (\S+)$",
                                            h.get("/metrics").body)}
    assert m["count"] >= 3 and m["sum"] >= 0.6 * m["count"], m
    assert h.stop() == 0
    h.check_logs()


def test_a_wal_that_cannot_be_synced_stops_the_hub(procs, tmp_path):
    broken = tmp_path / "disk-broken"
    h = Hub(procs, tmp_path)
    h.start(env=disk(RESOLVIX_SHIM_SYNC_FAIL=str(broken)))
    token = h.enroll("n1")
    base = int(time.time()) - 600
    r = h.push(token, [sample(1, ts=base + 1)])
    assert r.status == 200 and r.json["acked"] == 1, r

    broken.touch()
    r = h.push(token, [sample(2, ts=base + 2)])
    assert r.status == 500 and r.json["detail"] == "database_error", r
    assert "Input/output error" in r.json["message"], r
    assert h.proc.wait(timeout=30) == 1, "the hub went on after its WAL failed to sync"
    assert "the database could not be synced" in h.log()

    # Started again on a sound disk: what was acknowledged is there, and
    # the sample that was refused is taken when the node sends it again.
    broken.unlink()
    h.start()
    assert [int(v) for _, v in h.stored_seqs("n1", start=base)][:1] == [1]
    r = h.push(token, [sample(2, ts=base + 2)])
    assert r.status == 200 and r.json["acked"] + r.json["duplicates"] == 1, r
    assert sorted(int(v) for _, v in h.stored_seqs("n1", start=base)) == [1, 2]
    assert h.stop() == 0
    h.check_logs()
