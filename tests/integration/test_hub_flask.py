"""The Flask system-monitor API, driven the way that project's users drive it:
Debian's python3-requests posting forms and JSON, websocket-client doing
HELLO / CLIENT_DATA and comparing the frames it gets as strings."""
import json
import time

import requests
import websocket


WOOD = "d29vZDoxMjM="  # base64("wood:123"), as the Flask server's README shows


def register(hub, username="wood", password="123"):
    return requests.post(hub.url("/client"), data={"username": username, "password": password}, timeout=30)


def test_registration(hub):
    r = register(hub)
    assert r.status_code == 200, r.text
    assert r.json() == {"client_id": WOOD, "registration": "wood"}
    # The same pair again, as JSON and with "pass": the same answer.
    r = requests.post(hub.url("/client"), json={"username": "wood", "pass": "123"}, timeout=30)
    assert (r.status_code, r.json()) == (200, {"client_id": WOOD, "registration": "wood"})
    r = requests.post(hub.url("/api/client"), json={"username": "wood", "password": "123"}, timeout=30)
    assert r.status_code == 200
    # Another password for a taken name.
    r = register(hub, password="1234")
    assert (r.status_code, r.json()) == (401, {"error": "authorization error"})
    for bad in ["123", "", "a b", "wood!", "x" * 65, "caf\u00e9", "_-."]:
        r = requests.post(hub.url("/client"), json={"username": bad, "password": "p"}, timeout=30)
        assert (r.status_code, r.json()) == (401, {"error": "unsupportable username"}), bad
    assert register(hub, "x" * 64).status_code == 200
    r = requests.post(hub.url("/client"), data="", timeout=30)
    assert r.status_code == 400
    r = requests.get(hub.url("/client"), timeout=30)
    assert r.status_code == 405
    assert "POST" in r.headers["Allow"]


def test_records_over_http(hub):
    assert register(hub).status_code == 200
    r = requests.post(hub.url("/client/wood"), headers={"Authorization": WOOD},
                      data={"cpu_load": 25.9, "mem": 6172, "storage": 95888, "time": 1646650624}, timeout=30)
    assert r.status_code == 202, r.text
    assert r.json() == {"cpu": 25.9, "mem": 6172, "storage": 95888, "unix_time": 1646650624}
    r = requests.post(hub.url("/client/wood"), headers={"Authorization": "Basic " + WOOD},
                      json={"cpu_load": 18, "mem": 8513, "storage": 81720, "time": 1651155333}, timeout=30)
    assert r.status_code == 202, r.text
    # Two records in one second are both kept; no time means now.
    for cpu in (20, 20.5):
        r = requests.post(hub.url("/api/client/wood"), headers={"Authorization": WOOD},
                          json={"cpu_load": cpu, "mem": 8490, "storage": 81707, "time": 1651155387}, timeout=30)
        assert r.status_code == 202
    before = int(time.time())
    r = requests.post(hub.url("/client/wood"), headers={"Authorization": WOOD},
                      json={"cpu_load": 1, "mem": 2, "storage": 3}, timeout=30)
    assert r.status_code == 202
    assert before <= r.json()["unix_time"] <= int(time.time())
    now_record = r.json()["unix_time"]

    r = requests.get(hub.url("/client/wood/time"), timeout=30)
    assert (r.status_code, r.json()) == (200, {"start": 1646650624, "end": now_record})
    r = requests.post(hub.url("/api/client/wood/time"), timeout=30)
    assert r.json() == {"start": 1646650624, "end": now_record}

    r = requests.get(hub.url("/client/wood/time/report?start=1651155333&end=1651155387"), timeout=30)
    assert r.status_code == 200
    assert r.json() == {"payload": [
        {"cpu": 18, "mem": 8513, "storage": 81720, "unix_time": 1651155333},
        {"cpu": 20, "mem": 8490, "storage": 81707, "unix_time": 1651155387},
        {"cpu": 20.5, "mem": 8490, "storage": 81707, "unix_time": 1651155387},
    ]}
    # Open bounds: everything, in time order.
    r = requests.post(hub.url("/client/wood/time/report?start=&end="), timeout=30)
    times = [p["unix_time"] for p in r.json()["payload"]]
    assert times == sorted(times) and len(times) == 5
    r = requests.get(hub.url("/client/wood/time/report?end=1646650624"), timeout=30)
    assert [p["unix_time"] for p in r.json()["payload"]] == [1646650624]
    for bad in ["start=1.5", "end=abc", "start=12x"]:
        r = requests.get(hub.url("/client/wood/time/report?" + bad), timeout=30)
        assert (r.status_code, r.json()) == (400, {"error": "value error"}), bad


def test_record_errors_store_nothing(hub):
    assert register(hub).status_code == 200
    assert register(hub, "other", "pw").status_code == 200
    url = hub.url("/client/wood")
    good = {"cpu_load": 1, "mem": 2, "storage": 3, "time": 1000}
    cases = [
        ({"Authorization": WOOD}, "", 400),
        ({"Authorization": WOOD}, "{not json", 400),
        ({"Authorization": WOOD, "Content-Type": "application/json"}, json.dumps({"cpu_load": "x", "mem": 2, "storage": 3}), 400),
        ({"Authorization": WOOD, "Content-Type": "application/json"}, json.dumps({"mem": 2, "storage": 3}), 400),
        ({}, json.dumps(good), 401),
        ({"Authorization": "d29vZDoxMjQ="}, json.dumps(good), 401),  # wood:124
        ({"Authorization": "b3RoZXI6cHc="}, json.dumps(good), 401),  # other:pw, but this is wood's path
        ({"Authorization": "not base64 at all"}, json.dumps(good), 401),
    ]
    for headers, body, status in cases:
        h = {"Content-Type": "application/json", **headers}
        r = requests.post(url, headers=h, data=body, timeout=30)
        assert r.status_code == status, (headers, body, r.text)
        if status == 401:
            assert r.json() == {"error": "authorization error"}
    r = requests.put(url, headers={"Authorization": WOOD}, json=good, timeout=30)
    assert r.status_code == 405
    r = requests.get(hub.url("/client/wood/time"), timeout=30)
    assert (r.status_code, r.json()) == (406, {"error": "log is empty"})
    r = requests.get(hub.url("/client/nobody/time"), timeout=30)
    assert (r.status_code, r.json()) == (406, {"error": "log is empty"})


def test_echo_frames_spelled_as_python_spells_them(hub):
    assert register(hub).status_code == 200
    ws = websocket.create_connection(hub.ws_url("/echo"), timeout=30)
    try:
        ws.send(json.dumps({"type": "HELLO"}))
        assert ws.recv() == json.dumps({"type": "WELCOME", "payload": {"welcome": "WELCOME"}})
        data = {"cpu": 18, "mem": 8513.0, "storage": 81720, "unix_time": 1651155333, "host": "caf\u00e9 \U0001F600"}
        ws.send(json.dumps({"type": "CLIENT_DATA", "data": data, "interval": 1, "client_id": WOOD}))
        assert ws.recv() == json.dumps({"type": "DATA_RETURN", "payload": {"data": data}})
        ws.send(json.dumps({"type": "CLIENT_DATA", "data": {}, "interval": 1, "client_id": WOOD}))
        assert ws.recv() == json.dumps({"type": "ERROR", "reason": "incorrect data size"})
        for junk in ["not json", json.dumps({"type": "GOODBYE"}), json.dumps([1, 2]), json.dumps({"no": "type"})]:
            ws.send(junk)
            assert ws.recv() == json.dumps({"type": "ERROR", "reason": "Data type incorrect, please use json"})
        ws.send(json.dumps({"type": "CLIENT_DATA", "data": {"cpu": 1}, "client_id": "d29vZDoxMjQ="}))
        assert json.loads(ws.recv()) == {"type": "ERROR", "reason": "authorization error"}
        # Without unix_time the record is stamped now, and says so.
        ws.send(json.dumps({"type": "CLIENT_DATA", "data": {"cpu": 2.5, "mem": 1, "storage": 2}, "client_id": WOOD}))
        back = json.loads(ws.recv())
        assert back["type"] == "DATA_RETURN"
        assert abs(back["payload"]["data"]["unix_time"] - time.time()) < 60
        # The connection survived every error.
        ws.send(json.dumps({"type": "HELLO"}))
        assert json.loads(ws.recv())["type"] == "WELCOME"
    finally:
        ws.close()
    # What came over the WebSocket is in the report like any record.
    r = requests.get(hub.url("/client/wood/time/report?start=1651155333&end=1651155333"), timeout=30)
    assert r.json() == {"payload": [{"cpu": 18, "mem": 8513.0, "storage": 81720, "unix_time": 1651155333}]}


def test_registrations_and_records_survive_a_restart(hub):
    assert register(hub).status_code == 200
    r = requests.post(hub.url("/client/wood"), headers={"Authorization": WOOD},
                      json={"cpu_load": 5, "mem": 6, "storage": 7, "time": 1700000000}, timeout=30)
    assert r.status_code == 202
    assert hub.stop() == 0
    hub.start()
    assert register(hub).json() == {"client_id": WOOD, "registration": "wood"}
    assert register(hub, password="nope").status_code == 401
    r = requests.get(hub.url("/client/wood/time"), timeout=30)
    assert r.json() == {"start": 1700000000, "end": 1700000000}


def test_monitor(hub):
    r = requests.get(hub.url("/monitor/cpu/load"), timeout=30)
    assert r.status_code == 200
    assert isinstance(r.json()["load"], float) and 0 <= r.json()["load"] <= 100
    mb = requests.get(hub.url("/monitor/memory/info"), timeout=30).json()
    assert list(mb) == ["active", "available", "buffers", "cached", "free", "inactive", "percent", "shared",
                        "slab", "total", "used"]
    kb = requests.get(hub.url("/api/monitor/memory/info?units=KB"), timeout=30).json()
    assert kb["total"] // 1024 == mb["total"]
    assert 0 < mb["percent"] < 100
    st = requests.get(hub.url("/monitor/storage/info?units=GB"), timeout=30).json()
    assert list(st) == ["free", "percent", "total", "units", "used"]
    assert st["units"] == "GB"
    b = requests.get(hub.url("/monitor/storage/info?units=B"), timeout=30).json()
    assert b["total"] >> 30 == st["total"]
    for bad in ["XB", "mb", "", "1"]:
        r = requests.get(hub.url("/monitor/storage/info?units=" + bad), timeout=30)
        assert r.status_code == (200 if bad == "" else 400), bad
    for path in ["/monitor/cpu/load", "/monitor/memory/info", "/monitor/storage/info"]:
        assert requests.post(hub.url(path), timeout=30).status_code == 405
