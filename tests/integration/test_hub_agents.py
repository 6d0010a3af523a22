"""The System Monitor server side: an agent loop as that project's agent runs
it (check_url, check_system_id, then send_stats every interval), posting with
python3-requests, reading only status codes."""
import json
import socket
import time

import requests


def stats(i):
    return {
        "cpu": {"count": 2, "frequency": 2400, "percent_used": 10.0 + i},
        "memory": {"total": 16 * 2 ** 30, "available": 8 * 2 ** 30, "percent_used": 50.0 + i,
                   "used": 8 * 2 ** 30, "free": 4 * 2 ** 30},
        "processes": [{"pid": 1, "name": "init", "username": "root"}],
        "disks": {"sda1": {"file_system": "ext4", "mount_point": "/", "total": 100 * 2 ** 30,
                           "used": 25 * 2 ** 30, "free": 75 * 2 ** 30}},
        "network": {"eth0": {"ip": "10.0.0.2", "netmask": "255.255.255.0", "bytes_sent": 123456789012,
                             "bytes_recv": 98765}},
    }


class Agent:
    """What the System Monitor background service does, minus psutil."""

    def __init__(self, url, system_id, interval=1, headers=None):
        self.url, self.system_id, self.interval = url, system_id, interval
        self.headers = headers or {}

    def body(self, action, **more):
        return {"action": action, "system_id": self.system_id, "url": self.url, "interval": self.interval,
                "epoch": int(time.time()), **more}

    def post(self, action, **more):
        return requests.post(self.url, json=self.body(action, **more), headers=self.headers, timeout=30)

    def run(self, rounds, epoch0):
        """check_url, check_system_id, then rounds of send_stats; the codes seen."""
        codes = [self.post("check_url").status_code, self.post("check_system_id").status_code]
        for i in range(rounds):
            codes.append(self.post("send_stats", epoch=epoch0 + i * self.interval, stats=stats(i)).status_code)
        return codes


def test_agent_loop(hub):
    url = hub.url("/system-monitor")
    epoch0 = int(time.time()) - 100
    agent = Agent(url, "desk-42")
    assert agent.run(5, epoch0) == [202, 204, 200, 200, 200, 200, 200]
    # Known now: a restarted agent is told so, and carries on.
    assert Agent(url, "desk-42").post("check_system_id").status_code == 200
    assert Agent(url, "desk-43").post("check_system_id").status_code == 204

    nodes = {n["node_id"]: n for n in hub.get("/api/v1/nodes").json}
    n = nodes["desk-42"]
    assert n["kind"] == "system-monitor" and n["online"] is True
    assert n["latest"]["cpu_usage_percent"] == 14.0
    assert n["latest"]["memory_usage_percent"] == 54.0
    assert n["latest"]["disk_usage_percent"] == 25.0
    pts = hub.query(node="desk-42", metric="cpu.percent_used", start=epoch0 - 1, end=epoch0 + 10)
    assert pts["series"][0]["points"] == [[epoch0 + i, 10.0 + i] for i in range(5)]
    net = hub.query(node="desk-42", metric="network.eth0.bytes_sent", start=epoch0 - 1, end=epoch0 + 10)
    assert net["series"][0]["points"][0][1] == 123456789012
    # The full body is what was stored.
    full = hub.get("/api/v1/nodes/desk-42/sample").json
    assert full["action"] == "send_stats" and full["stats"] == stats(4)

    # The same epoch again (a retry after a lost answer) is stored once.
    assert agent.post("send_stats", epoch=epoch0, stats=stats(0)).status_code == 200
    pts = hub.query(node="desk-42", metric="cpu.percent_used", start=epoch0 - 1, end=epoch0 + 10)
    assert len(pts["series"][0]["points"]) == 5


def test_agent_refusals(hub_factory):
    h = hub_factory()
    h.start(env={"RESOLVIX_HUB_MAX_NODES": "2"})
    url = h.url("/system-monitor")
    token = h.enroll("n1")
    for body, status in [("not json", 400), ({"system_id": "x"}, 400), ({"action": "dance", "system_id": "x"}, 400),
                         ({"action": "send_stats", "system_id": "x"}, 400),
                         ({"action": "send_stats", "system_id": "a/b", "stats": {}}, 400),
                         ({"action": "send_stats", "system_id": "x", "stats": {}, "epoch": "now"}, 400),
                         ({"action": "check_system_id"}, 400)]:
        r = requests.post(url, data=body if isinstance(body, str) else None,
                          json=None if isinstance(body, str) else body, timeout=30)
        assert r.status_code == status, (body, r.text)
    assert requests.get(url, timeout=30).status_code == 405
    # An id that is an enrolled node's is not an agent's to take.
    r = requests.post(url, json={"action": "send_stats", "system_id": "n1", "stats": stats(0)}, timeout=30)
    assert r.status_code == 409
    # max_nodes counts agents too.
    assert Agent(url, "a1").post("send_stats", stats=stats(0)).status_code == 200
    r = Agent(url, "a2").post("send_stats", stats=stats(0))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # A node token posts for its own node, wherever it is.
    r = Agent(url, "ignored", headers={"Authorization": f"Bearer {token}"}).post("send_stats", stats=stats(7))
    assert r.status_code == 200
    assert h.get("/api/v1/nodes/n1/sample").json["stats"]["cpu"]["percent_used"] == 17.0
    r = Agent(url, "a1", headers={"Authorization": "Bearer wrong"}).post("check_url")
    assert r.status_code == 401


def raw_post(body):
    data = json.dumps(body).encode()
    return (b"POST /system-monitor HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(data)) + data


def read_answer(f):
    """The status line of one answer on a keep-alive connection; its body read past."""
    status = f.readline()
    length = 0
    while (line := f.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    f.read(length)
    return status.decode().strip()


def test_next_request_at_once_after_an_empty_answer(hub):
    """A client such as curl sends its next request the moment it has read an
    answer. An empty answer (check_system_id's 204) is whole with its headers,
    so the next request can come before the hub is done with this one: each is
    still answered, on the same connection, deferred answers (send_stats,
    given after the commit) included."""
    agent = Agent(hub.url("/system-monitor"), "eager")
    epoch0 = int(time.time()) - 300
    with socket.create_connection(("127.0.0.1", hub.port), timeout=20) as s, s.makefile("rb") as f:
        for i in range(100):
            s.sendall(raw_post(Agent(agent.url, f"never-sent-{i}").body("check_system_id")))
            assert read_answer(f).startswith("HTTP/1.1 204"), i
            s.sendall(raw_post(agent.body("send_stats", epoch=epoch0 + i, stats=stats(i))))
            assert read_answer(f).startswith("HTTP/1.1 200"), i
    pts = hub.query(node="eager", metric="cpu.percent_used", start=epoch0 - 1, end=epoch0 + 200)
    assert len(pts["series"][0]["points"]) == 100


def test_pipelined_requests_leave_the_hub_serving(hub):
    """Requests are served one at a time: a client that sends its next
    request before the answer to the last one loses its connection, and
    everyone else is served as before."""
    agent = Agent(hub.url("/system-monitor"), "hasty")
    with socket.create_connection(("127.0.0.1", hub.port), timeout=20) as s:
        s.sendall(raw_post(agent.body("check_url")) + raw_post(agent.body("check_system_id")))
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    assert got == b"" or got.startswith(b"HTTP/1.1 202"), got
    assert "it sent more before its POST /system-monitor was answered" in hub.log()
    assert hub.get("/health").status == 200
    assert agent.post("check_url").status_code == 202
