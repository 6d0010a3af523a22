"""A real Prometheus (Debian's `prometheus`) scraping telemetryd's /metrics:
what it stores is what a user can query."""
import json
import shutil
import time
import urllib.parse
import urllib.request

import pytest

from ingest_support import OK
from support import free_port

PROMETHEUS = shutil.which("prometheus")


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


class Prometheus:
    def __init__(self, port):
        self.port = port

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        body = get_json(url)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr):
        """{frozenset(labels without __name__, job, instance): value} of an instant query."""
        out = {}
        for r in self.api("query", query=expr)["result"]:
            labels = {k: v for k, v in r["metric"].items() if k not in ("__name__", "job", "instance")}
            out[frozenset(labels.items())] = float(r["value"][1])
        return out

    def wait_for(self, expr, timeout=30):
        """The first non-empty answer to expr; fails naming the target's state."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.query(expr)
            if got:
                return got
            time.sleep(0.5)
        targets = self.api("targets")["activeTargets"]
        raise AssertionError(f"{expr} still empty after {timeout}s; targets: {targets}")


@pytest.fixture
def start_prometheus(procs, tmp_path):
    """start_prometheus(target_port) -> a ready Prometheus on loopback
    scraping 127.0.0.1:target_port/metrics every second."""
    if not PROMETHEUS:
        pytest.fail("prometheus is not installed (packaging/deps.sh test)")

    def start(target_port):
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: resolvix\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{target_port}']\n"
        )
        log = open(tmp_path / "prometheus.log", "wb")
        p = procs.start(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            assert p.poll() is None, (tmp_path / "prometheus.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return Prometheus(port)
            except OSError:
                pass
            assert time.monotonic() < deadline, "prometheus not ready within 30 s"
            time.sleep(0.2)

    return start


def test_custom_metric_with_an_old_timestamp_is_queryable(start_ingest, start_prometheus):
    """A point measured in 2006 and one put a minute ago both show in
    queries: the value as of the scrape, its own time beside it."""
    ing = start_ingest(interval=60)
    recent = int(time.time()) - 60
    assert ing.ask(b"put palm.cpu 2 1150864248\n" + f"put queue.depth 17 {recent}\n".encode()) == OK * 2
    prom = start_prometheus(ing.t.port)

    values = prom.wait_for('resolvix_custom_metric{metric="palm.cpu"}')
    assert values == {frozenset({("metric", "palm.cpu")}): 2.0}
    assert prom.wait_for('resolvix_custom_metric{metric="queue.depth"}') == {
        frozenset({("metric", "queue.depth")}): 17.0}
    stamps = prom.wait_for("resolvix_custom_metric_timestamp_seconds")
    assert stamps == {frozenset({("metric", "palm.cpu")}): 1150864248.0,
                      frozenset({("metric", "queue.depth")}): float(recent)}

    # A newer point replaces the value at the next scrape.
    assert ing.ask(b"put palm.cpu 3 1150864249\n") == OK
    deadline = time.monotonic() + 30
    while prom.query('resolvix_custom_metric{metric="palm.cpu"}') != {frozenset({("metric", "palm.cpu")}): 3.0}:
        assert time.monotonic() < deadline, "the new value never reached Prometheus"
        time.sleep(0.5)
