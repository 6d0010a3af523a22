"""The Python client of the protocol (clients/ingest-client.py), used as
applications use it, against telemetryd's ingest port."""
import time

import pytest

from ingest_support import load_seed_client, run_concurrently
from support import free_port

seed = load_seed_client()


def test_the_seeds_example(start_ingest):
    ing = start_ingest()
    client = seed.Client("127.0.0.1", ing.port, timeout=15)
    client.put("palm.cpu", 0.5, timestamp=1150864247)
    assert client.get("palm.cpu") == {"palm.cpu": [(1150864247, 0.5)]}
    client.close()


def test_a_session_of_puts_and_gets(start_ingest):
    ing = start_ingest()
    with seed.Client("127.0.0.1", ing.port, timeout=15) as client:
        client.put("palm.cpu", 0.5, timestamp=1150864247)
        client.put("palm.cpu", 2.0, timestamp=1150864248)
        client.put("palm.cpu", 0.5, timestamp=1150864248)  # replaces 2.0
        client.put("eardrum.cpu", 3, timestamp=1150864250)
        client.put("eardrum.cpu", 4, timestamp=1150864251)
        client.put("eardrum.memory", 4200000, timestamp=1503320872)
        assert client.get("*") == {
            "palm.cpu": [(1150864247, 0.5), (1150864248, 0.5)],
            "eardrum.cpu": [(1150864250, 3.0), (1150864251, 4.0)],
            "eardrum.memory": [(1503320872, 4200000.0)],
        }
        assert client.get("eardrum.cpu") == {"eardrum.cpu": [(1150864250, 3.0), (1150864251, 4.0)]}
        assert client.get("nothing.here") == {}


def test_timestamp_defaults_to_now(start_ingest):
    ing = start_ingest()
    with seed.Client("127.0.0.1", ing.port, timeout=15) as client:
        before = int(time.time())
        client.put("requests", 17)
        after = int(time.time())
        (ts, value), = client.get("requests")["requests"]
    assert before <= ts <= after
    assert value == 17.0


def test_errors_raise_and_the_client_goes_on(start_ingest):
    ing = start_ingest()
    with seed.Client("127.0.0.1", ing.port, timeout=15) as client:
        with pytest.raises(seed.ClientError, match="wrong command"):
            client.put("my metric", 1, timestamp=1)
        with pytest.raises(seed.ClientError):
            client.put("m", "not-a-number", timestamp=1)
        with pytest.raises(seed.ClientError):
            client.get("two words")
        client.put("m", 1.5, timestamp=1)
        assert client.get("m") == {"m": [(1, 1.5)]}


def test_nothing_listening_raises():
    with pytest.raises(seed.ClientError):
        seed.Client("127.0.0.1", free_port(), timeout=2)


def test_many_clients_at_once(start_ingest):
    ing = start_ingest()

    def app(n):
        with seed.Client("127.0.0.1", ing.port, timeout=15) as client:
            for i in range(100):
                client.put(f"app{n}.latency", i / 10, timestamp=1700000000 + i)
            points = client.get(f"app{n}.latency")[f"app{n}.latency"]
            assert points == [(1700000000 + i, i / 10) for i in range(100)]

    assert run_concurrently(app, 20) == []
    with seed.Client("127.0.0.1", ing.port, timeout=15) as client:
        assert len(client.get("*")) == 20
