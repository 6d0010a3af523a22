"""Remote write (docs/fleet.md, "Remote write"): the hub forwards what it
stores to a real VictoriaMetrics (Debian's victoria-metrics) on loopback,
and the values are read back through VictoriaMetrics' own API: exact
values under node_exporter's names with a node label; an outage queued on
disk and delivered once, across a hub restart; the queue's bound; a
receiver that refuses for good; a bad URL refused at start."""
import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from support import binary, merged_env, poll, wait_port
from hub_support import Hub, sample

GIB = 2 ** 30

pytestmark = pytest.mark.skipif(shutil.which("victoria-metrics") is None,
                                reason="victoria-metrics is not installed (packaging/deps.sh test)")


class VictoriaMetrics:
    def __init__(self, procs, tmp_path):
        self.procs = procs
        self.dir = tmp_path / "vm-data"
        # Bound but not listening until start(): the hub's connections are
        # refused meanwhile, and no other program on this machine can take
        # the port and answer in VictoriaMetrics' place.
        self.hold = socket.socket()
        self.hold.bind(("127.0.0.1", 0))
        self.port = self.hold.getsockname()[1]
        procs.cleanups.append(self.hold.close)
        self.proc = None
        self.log_path = tmp_path / "vm.log"

    @property
    def write_url(self):
        return f"http://127.0.0.1:{self.port}/api/v1/write"

    def start(self):
        self.hold.close()
        with open(self.log_path, "ab") as log:
            self.proc = self.procs.start(["victoria-metrics", f"-storageDataPath={self.dir}",
                                          f"-httpListenAddr=127.0.0.1:{self.port}", "-search.latencyOffset=0s",
                                          "-retentionPeriod=1y"], stdout=log, stderr=subprocess.STDOUT)
        wait_port(self.port, timeout=30, proc=self.proc)

    def call(self, path, **params):
        data = urllib.parse.urlencode(params, doseq=True).encode()
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", data=data, timeout=30) as r:
            return r.read().decode()

    def export(self, match):
        """Every raw point of the series matching, as {labels: {ts_ms: value}} with
        duplicates kept apart: {labels: [(ts_ms, value), ...]}."""
        self.call("/internal/force_flush")
        out = {}
        for line in self.call("/api/v1/export", **{"match[]": match, "start": "0"}).splitlines():
            row = json.loads(line)
            key = tuple(sorted(row["metric"].items()))
            out.setdefault(key, []).extend(zip(row["timestamps"], row["values"]))
        return out


def labels(**kw):
    return tuple(sorted(kw.items()))


@pytest.fixture
def vm(procs, tmp_path):
    return VictoriaMetrics(procs, tmp_path)


def rw_hub(procs, tmp_path, url, database="", **env):
    h = Hub(procs, tmp_path, database)
    h.env["RESOLVIX_HUB_REMOTE_WRITE_URL"] = url
    for k, v in env.items():
        h.env[f"RESOLVIX_HUB_{k.upper()}"] = v
    return h


def rw_metrics(hub):
    r = hub.get("/metrics")
    assert r.status == 200, r
    out = {}
    for line in r.body.splitlines():
        if line.startswith("resolvix_hub_remote_write_"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_values_arrive_exactly(procs, tmp_path, vm):
    vm.start()
    hub = rw_hub(procs, tmp_path, vm.write_url)
    hub.start()
    assert f"Forwarding stored samples to {vm.write_url}" in hub.log()
    token = hub.enroll("web-1")
    now = int(time.time())
    batch = [sample(s, node_id="web-1", ts=now - 100 + 10 * s, cpu=10.25 + s) for s in range(1, 6)]
    batch[2]["metrics"]["memory"]["memory_available_gb"] = 3.25
    batch[2]["metrics"]["network"]["interfaces"] = {"eth0": {"bytes_recv": 123456789, "bytes_sent": 42}}
    r = hub.push(token, batch)
    assert r.json["acked"] == 5, r
    # Sent again (an answer lost): stored once, forwarded once.
    assert hub.push(token, batch[3:] + [sample(6, node_id="web-1", ts=now - 30, cpu=99.5)]).json == \
        {"acked": 1, "duplicates": 2, "last_seq": 6}
    stamps = [(now - 100 + 10 * s) * 1000 for s in range(1, 6)] + [(now - 30) * 1000]

    poll(lambda: rw_metrics(hub)["resolvix_hub_remote_write_sent_samples_total"] == 6, 30, "six samples sent")
    m = rw_metrics(hub)
    assert m["resolvix_hub_remote_write_queued_samples"] == 0
    assert m['resolvix_hub_remote_write_dropped_samples_total{reason="queue_full"}'] == 0
    assert m['resolvix_hub_remote_write_dropped_samples_total{reason="rejected"}'] == 0

    got = vm.export('{node="web-1"}')
    cpu = got[labels(__name__="resolvix_cpu_cpu_usage_percent", node="web-1")]
    assert sorted(cpu) == list(zip(stamps, [11.25, 12.25, 13.25, 14.25, 15.25, 99.5]))
    assert sorted(got[labels(__name__="node_load1", node="web-1")]) == [(t, 0.5) for t in stamps]
    mem = dict(got[labels(__name__="node_memory_MemAvailable_bytes", node="web-1")])
    assert mem[stamps[2]] == 3.25 * GIB and mem[stamps[0]] == 7.5 * GIB
    assert dict(got[labels(__name__="node_memory_MemTotal_bytes", node="web-1")])[stamps[0]] == 16 * GIB
    assert got[labels(__name__="node_filesystem_size_bytes", mountpoint="/", node="web-1")][0][1] == 100 * GIB
    assert got[labels(__name__="node_network_receive_bytes_total", device="eth0", node="web-1")] == \
        [(stamps[2], 123456789)]
    assert sorted(got[labels(__name__="resolvix_cpu_per_core_percent", cpu="1", node="web-1")])[0][1] == 2.5
    assert got[labels(__name__="resolvix_disk_usage_usage_percent", mountpoint="/", node="web-1")][0][1] == 60
    assert got[labels(__name__="resolvix_processes_process_count", node="web-1")][0][1] == 234
    # Nothing else carries the node label, and every series has the node label.
    assert all(dict(k)["node"] == "web-1" for k in got)
    everything = vm.export('{__name__=~".+"}')
    assert set(everything) == set(got)

    # And through the query API as Grafana asks.
    answer = json.loads(vm.call("/api/v1/query", query='node_memory_MemAvailable_bytes{node="web-1"}',
                                time=str(now - 30)))
    assert [(r["metric"], r["value"][1]) for r in answer["data"]["result"]] == \
        [({"__name__": "node_memory_MemAvailable_bytes", "node": "web-1"}, str(int(7.5 * GIB)))]
    hub.check_logs()


def test_flask_client_records(procs, tmp_path, vm):
    vm.start()
    hub = rw_hub(procs, tmp_path, vm.write_url)
    hub.start()
    r = hub.request("POST", "/client", {"username": "alice", "password": "pw"})
    cid = r.json["client_id"]
    now = int(time.time())
    r = hub.request("POST", "/client/alice", {"cpu_load": 12.5, "mem": 40.25, "storage": 70, "time": now - 5},
                    {"Authorization": cid, "Content-Type": "application/json"})
    assert r.status == 202, r
    poll(lambda: rw_metrics(hub)["resolvix_hub_remote_write_sent_samples_total"] == 1, 30, "one record sent")
    got = vm.export('{node="alice"}')
    assert got[labels(__name__="resolvix_mem", node="alice")] == [((now - 5) * 1000, 40.25)]
    assert got[labels(__name__="resolvix_storage", node="alice")] == [((now - 5) * 1000, 70)]


def test_outage_queues_on_disk_and_delivers_once(procs, tmp_path, vm):
    hub = rw_hub(procs, tmp_path, vm.write_url)
    hub.start()
    token = hub.enroll("n1")
    base = int(time.time()) - 400
    for b in range(3):
        r = hub.push(token, [sample(s, ts=base + s, cpu=float(s)) for s in range(10 * b + 1, 10 * b + 11)])
        assert r.json["acked"] == 10, r
    poll(lambda: rw_metrics(hub)["resolvix_hub_remote_write_failed_requests_total"] >= 1, 30, "a failed attempt")
    m = rw_metrics(hub)
    assert m["resolvix_hub_remote_write_queued_samples"] == 30
    assert m["resolvix_hub_remote_write_sent_samples_total"] == 0
    poll(lambda: "Remote write to " + vm.write_url + " failed: " in hub.log(), 10, "the failure logged")
    assert list((hub.state_dir / "remote-write").glob("*.seg"))

    # The queue survives a restart of the hub.
    assert hub.stop() == 0
    hub.start()
    assert "30 samples waiting" in hub.log()
    assert hub.push(token, [sample(s, ts=base + s, cpu=float(s)) for s in range(31, 41)]).json["acked"] == 10
    assert rw_metrics(hub)["resolvix_hub_remote_write_queued_samples"] == 40

    vm.start()
    poll(lambda: rw_metrics(hub)["resolvix_hub_remote_write_sent_samples_total"] == 40, 120, "queue sent")
    assert rw_metrics(hub)["resolvix_hub_remote_write_queued_samples"] == 0
    got = vm.export('resolvix_cpu_cpu_usage_percent{node="n1"}')
    points = got[labels(__name__="resolvix_cpu_cpu_usage_percent", node="n1")]
    # Every sample exactly once, with its own value.
    assert sorted(points) == [((base + s) * 1000, float(s)) for s in range(1, 41)]
    poll(lambda: "works again" in hub.log(), 10, "recovery logged")

    # Another restart sends nothing twice.
    assert hub.stop() == 0
    hub.start()
    assert "0 samples waiting" in hub.log()
    assert hub.push(token, [sample(41, ts=base + 41, cpu=41.0)]).json["acked"] == 1
    poll(lambda: rw_metrics(hub)["resolvix_hub_remote_write_sent_samples_total"] == 1, 30, "one more sent")
    points = vm.export('resolvix_cpu_cpu_usage_percent{node="n1"}')[
        labels(__name__="resolvix_cpu_cpu_usage_percent", node="n1")]
    assert sorted(points) == [((base + s) * 1000, float(s)) for s in range(1, 42)]
    hub.check_logs()


def test_queue_bound_drops_the_oldest(procs, tmp_path, vm):
    hub = rw_hub(procs, tmp_path, vm.write_url, remote_write_queue_mb="1")
    hub.start()
    token = hub.enroll("n1")
    total = 1500
    base = int(time.time()) - total - 100
    for b in range(0, total, 100):
        r = hub.push(token, [sample(s, ts=base + s, cpu=float(s)) for s in range(b + 1, b + 101)])
        assert r.json["acked"] == 100, r
    m = rw_metrics(hub)
    dropped = m['resolvix_hub_remote_write_dropped_samples_total{reason="queue_full"}']
    queued = m["resolvix_hub_remote_write_queued_samples"]
    assert dropped > 0
    assert dropped + queued == total
    assert m["resolvix_hub_remote_write_queued_bytes"] <= 1024 * 1024
    on_disk = sum(p.stat().st_size for p in (hub.state_dir / "remote-write").glob("*.seg"))
    assert on_disk <= 1024 * 1024

    vm.start()
    poll(lambda: rw_metrics(hub)["resolvix_hub_remote_write_sent_samples_total"] == queued, 120, "queue sent")
    m = rw_metrics(hub)
    assert m["resolvix_hub_remote_write_queued_samples"] == 0, m
    assert m['resolvix_hub_remote_write_dropped_samples_total{reason="queue_full"}'] == dropped, m
    points = vm.export('resolvix_cpu_cpu_usage_percent{node="n1"}')[
        labels(__name__="resolvix_cpu_cpu_usage_percent", node="n1")]
    # What arrived is the newest, each once.
    kept = range(total - int(queued) + 1, total + 1)
    assert sorted(points) == [((base + s) * 1000, float(s)) for s in kept]
    hub.check_logs()


def test_refused_for_good_is_dropped_and_counted(procs, tmp_path, vm):
    """A 4xx other than 429 will never succeed: those samples are counted
    and dropped, and what comes after them is not held up."""
    vm.start()
    hub = rw_hub(procs, tmp_path, f"http://127.0.0.1:{vm.port}/api/v1/no-such-path")
    hub.start()
    token = hub.enroll("n1")
    now = int(time.time())
    assert hub.push(token, [sample(s, ts=now - 60 + s) for s in range(1, 21)]).json["acked"] == 20
    poll(lambda: rw_metrics(hub)['resolvix_hub_remote_write_dropped_samples_total{reason="rejected"}'] == 20, 30,
         "the refused samples counted")
    m = rw_metrics(hub)
    assert m["resolvix_hub_remote_write_queued_samples"] == 0
    assert m["resolvix_hub_remote_write_sent_samples_total"] == 0
    assert m["resolvix_hub_remote_write_failed_requests_total"] == 0
    poll(lambda: "failed: HTTP 400; the samples are dropped" in hub.log(), 10, "the refusal logged")
    # The samples stay stored in the hub.
    assert len(hub.stored_seqs("n1")) == 20
    hub.check_logs()


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/api/v1/write", "127.0.0.1:8428/api/v1/write", "http://",
                                 "http://exa mple/"])
def test_bad_url_is_a_startup_error(procs, tmp_path, url):
    hub = rw_hub(procs, tmp_path, url)
    for args in (["--check"], []):
        out = subprocess.run([binary("hub/resolvix-hub"), *args], env=merged_env(hub.env, None),
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 1, (args, out)
        assert f"[hub] remote_write_url: expected an http:// or https:// URL with a host, got '{url}'" \
            in out.stderr, out.stderr
    assert not (hub.state_dir / "remote-write").exists()

