"""resolvixctl put and get against telemetryd's custom-metrics port
(docs/custom-metrics.md), and against servers that answer "error" or not the
protocol at all."""
import json
import socket
import threading

import pytest

from ctl_support import ctl
from support import free_port


@pytest.fixture
def ingest(nodes):
    port = free_port()
    node = nodes(env={"RESOLVIX_TELEMETRY_INGEST_PORT": str(port)})
    node.control("start_telemetry", interval=60)
    return port


def test_put_then_get(ingest):
    p = ["--ingest-port", ingest]
    assert ctl("put", "palm.cpu", "0.5", "1150864247", *p).returncode == 0
    r = ctl("put", "palm.cpu", "2.0", "1150864248", *p)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
    assert ctl("put", "-H", "127.0.0.1", *p, "--", "eardrum.cpu", "-3.25", "1150864250").returncode == 0
    assert ctl("put", "eardrum.memory", "4200000", *p).returncode == 0  # now, by default

    r = ctl("get", "palm.cpu", *p)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "palm.cpu 0.5 1150864247\npalm.cpu 2 1150864248\n"

    r = ctl("get", "*", "--json", *p)
    body = json.loads(r.stdout)
    assert body["palm.cpu"] == [[1150864247, 0.5], [1150864248, 2]]
    assert body["eardrum.cpu"] == [[1150864250, -3.25]]
    [[ts, value]] = body["eardrum.memory"]
    assert value == 4200000 and ts > 1700000000

    r = ctl("get", "no.such.metric", *p)
    assert r.returncode == 0 and r.stdout == ""


def test_values_come_back_exactly(ingest):
    for text in ("0.1", "1e-300", "123456789.123456789", "-0.000001"):
        assert ctl("put", "exact", "--ingest-port", ingest, "--", text, "1").returncode == 0
        out = ctl("get", "exact", "--ingest-port", ingest).stdout.split()
        assert float(out[1]) == float(text), (text, out)


@pytest.mark.parametrize("args, says", [
    (["put", "a b", "1"], "the metric name must be one word"),
    (["put", "m", "abc"], '"abc" is not a number'),
    (["put", "m", "nan"], '"nan" is not a number'),
    (["put", "m", "1", "soon"], "the timestamp is whole seconds"),
    (["put", "m"], "put needs METRIC VALUE"),
    (["get", "a b"], "the metric name must be one word"),
    (["put", "m", "1", "--port", "1"], "--port does not apply to put"),
    (["get", "m", "--token", "x"], "--token does not apply to get"),
])
def test_bad_arguments(args, says):
    r = ctl(*args)
    assert r.returncode == 2, r
    assert says in r.stderr


def test_nothing_listening():
    port = free_port()
    r = ctl("get", "*", "--ingest-port", port)
    assert r.returncode == 3
    assert f"cannot connect to 127.0.0.1:{port}: connection refused" in r.stderr


class Fake:
    """A TCP server that answers every request with the same bytes."""

    def __init__(self, answer):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        try:
            while True:
                conn, _ = self.sock.accept()
                with conn:
                    conn.recv(4096)
                    conn.sendall(self.answer)
        except OSError:
            pass


def test_the_server_says_error():
    fake = Fake(b"error\nwrong command\n\n")
    r = ctl("put", "m", "1", "--ingest-port", fake.port)
    assert r.returncode == 1
    assert f'the server at 127.0.0.1:{fake.port} answered "error: wrong command"' in r.stderr
    fake.sock.close()


def test_the_server_does_not_speak_the_protocol():
    fake = Fake(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    r = ctl("get", "*", "--ingest-port", fake.port)
    assert r.returncode == 1
    assert "does not speak the put/get protocol" in r.stderr
    fake.sock.close()
