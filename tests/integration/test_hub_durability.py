"""What an acknowledgement is worth: kill -9 of the hub in the middle of
pushes, and PostgreSQL going away under load. Every sample the hub answered
200 for must be there afterwards, once."""
import subprocess
import threading
import time

from support import poll
from hub_support import Hub, PostgreSQL, sample

NODES = 4
BATCH = 50
MAX_BATCHES = 40  # per node: the raw query of one node stays under 11,000 points


class Pusher(threading.Thread):
    """One node pushing batches of fresh seqs back to back, remembering what
    was acknowledged and every status it saw."""

    def __init__(self, hub, node_id, token, base):
        super().__init__(daemon=True)
        self.hub, self.node_id, self.token, self.base = hub, node_id, token, base
        self.acked = set()
        self.statuses = []
        self.retry_after = []
        self.stop = threading.Event()
        self.next_seq = 1

    def batch(self, first):
        return [sample(s, ts=self.base + s, node_id=self.node_id, cpu=float(s)) for s in range(first, first + BATCH)]

    def run(self):
        # Bounded by what it sends and by time, whatever the hub answers.
        deadline = time.monotonic() + 180
        while not self.stop.is_set() and self.next_seq <= MAX_BATCHES * BATCH and time.monotonic() < deadline:
            first = self.next_seq
            try:
                r = self.hub.push(self.token, self.batch(first), timeout=20)
            except OSError:
                self.statuses.append("error")
                time.sleep(0.05)
                continue
            self.statuses.append(r.status)
            if r.status == 200:
                self.acked.update(range(first, first + BATCH))
                self.next_seq += BATCH
            else:
                if r.status == 503:
                    self.retry_after.append(r.headers.get("Retry-After"))
                time.sleep(0.2)


def stored(hub, node_id, base):
    pts = hub.stored_seqs(node_id, start=base)
    seqs = [int(v) for _, v in pts]
    assert all(t == base + int(v) for t, v in pts)
    return seqs


def test_kill_9_loses_no_acknowledged_sample(hub_factory):
    h = hub_factory()
    h.start()
    base = int(time.time()) - 3 * 3600
    pushers = [Pusher(h, f"n{i}", h.enroll(f"n{i}"), base) for i in range(NODES)]
    for p in pushers:
        p.start()
    poll(lambda: all(len(p.acked) >= 3 * BATCH for p in pushers), 60, "pushes acknowledged")
    h.kill9()
    for p in pushers:
        p.stop.set()
        p.join(30)

    h.start()
    if h.backend == "sqlite":
        out = subprocess.run(["sqlite3", str(h.state_dir / "hub.sqlite"), "PRAGMA integrity_check"],
                             capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == "ok", out.stdout + out.stderr
    for p in pushers:
        seqs = stored(h, p.node_id, base)
        assert len(seqs) == len(set(seqs)), f"{p.node_id}: a sample stored twice"
        missing = p.acked - set(seqs)
        assert not missing, f"{p.node_id}: {len(missing)} acknowledged samples lost, e.g. {sorted(missing)[:5]}"
        # The node sends again what it has no answer for: each is stored once.
        first_unacked = max(p.acked) + 1
        r = h.push(p.token, [sample(s, ts=base + s, node_id=p.node_id, cpu=float(s))
                             for s in range(first_unacked - BATCH, first_unacked + BATCH)])
        assert r.status == 200, r
        assert r.json["acked"] + r.json["duplicates"] == 2 * BATCH
        seqs = stored(h, p.node_id, base)
        assert sorted(seqs) == list(range(1, first_unacked + BATCH)), p.node_id


def test_postgresql_restart_under_load(procs, tmp_path):
    pg = PostgreSQL()
    procs.cleanups.append(pg.cleanup)
    h = Hub(procs, tmp_path, pg.new_database())
    h.start()
    base = int(time.time()) - 3 * 3600
    pushers = [Pusher(h, f"n{i}", h.enroll(f"n{i}"), base) for i in range(2)]
    for p in pushers:
        p.start()
    poll(lambda: all(len(p.acked) >= 2 * BATCH for p in pushers), 60, "pushes acknowledged")

    pg.stop()
    poll(lambda: all(503 in p.statuses for p in pushers), 60, "503 while PostgreSQL is away")
    assert all(ra and int(ra) > 0 for p in pushers for ra in p.retry_after), "503 without Retry-After"
    r = h.get("/health")
    assert r.status == 503 and r.json["status"] == "degraded", r
    # What the hub keeps in memory is still answered.
    assert [n["node_id"] for n in h.get("/api/v1/nodes").json] == ["n0", "n1"]

    pg.start_again()
    acked_before = [len(p.acked) for p in pushers]
    poll(lambda: all(len(p.acked) > a for p, a in zip(pushers, acked_before)), 90, "pushes stored again")
    poll(lambda: h.get("/health").status == 200, 60, "healthy again")
    for p in pushers:
        p.stop.set()
        p.join(60)
    for p in pushers:
        seqs = stored(h, p.node_id, base)
        assert len(seqs) == len(set(seqs))
        assert not p.acked - set(seqs), f"{p.node_id}: acknowledged samples lost"
    h.check_logs()
