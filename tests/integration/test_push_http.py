"""pushd's own HTTP/1.1 client against small servers that answer the way a
hub, a proxy or a broken peer may: chunked answers, answers that end the
connection, a kept-alive connection closed between pushes, no answer at all,
an answer past the 1 MiB bound; and hub URLs by host name and with a path
prefix (docs/fleet.md, "pushd on every node")."""
import json
import socket
import threading

import pytest

from push_support import LoopbackServer, Pushd, QuietHandler, assert_no_loss, hub
from support import poll


class ScriptedHub(LoopbackServer):
    """Enrols anyone and acknowledges every push, answering in the given
    style; counts connections and what it saw. prefix: where the API is."""

    def __init__(self, style="length", prefix=""):
        self.style = style
        self.prefix = prefix
        self.connections = 0
        self.paths = []
        self.acked = set()
        self.dropped = 0  # requests read and left unanswered, the connection closed
        self.hang = threading.Event()
        self.lock = threading.Lock()
        fake = self

        class Handler(QuietHandler):
            def setup(self):
                super().setup()
                self.served = 0
                with fake.lock:
                    fake.connections += 1

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with fake.lock:
                    fake.paths.append(self.path)
                if fake.hang.is_set():
                    # Take the request and say nothing until told, or until
                    # pushd gives up and closes.
                    self.request.settimeout(0.1)
                    while fake.hang.is_set():
                        try:
                            if self.request.recv(1) == b"":
                                break
                        except socket.timeout:
                            continue
                        except OSError:
                            break
                    self.close_connection = True
                    return
                if fake.style == "drop-second" and self.served == 1:
                    with fake.lock:
                        fake.dropped += 1
                    self.close_connection = True
                    return
                self.served += 1
                if self.path == fake.prefix + "/api/v1/enroll":
                    return self.answer(201, {"node_id": "n1", "token": "node-token"})
                if self.path != fake.prefix + "/api/v1/push":
                    return self.answer(404, {"status": "error", "message": f"no route {self.path}"})
                if self.headers.get("Content-Encoding") == "gzip":
                    import gzip
                    body = gzip.decompress(body)
                seqs = [json.loads(line)["seq"] for line in body.decode().splitlines() if line]
                with fake.lock:
                    fake.acked.update(seqs)
                self.answer(200, {"acked": len(seqs), "duplicates": 0, "last_seq": seqs[-1]})

            def answer(self, status, obj):
                data = json.dumps(obj).encode()
                head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                style = fake.style
                if style == "chunked":
                    # In uneven pieces, with an extension and a trailer.
                    parts = [data[:3], data[3:4], data[4:]]
                    out = head + "Transfer-Encoding: chunked\r\n\r\n"
                    raw = out.encode() + b"".join(b"%x;piece=1\r\n%s\r\n" % (len(p), p) for p in parts if p)
                    raw += b"0\r\nX-Done: yes\r\n\r\n"
                elif style == "close":
                    raw = (head + f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data
                    self.close_connection = True
                elif style == "until-close":
                    raw = (head + "Connection: close\r\n\r\n").encode() + data
                    self.close_connection = True
                elif style == "too-large":
                    # A body that never ends within the bound: 2 MiB, then close.
                    raw = (head + "Connection: close\r\n\r\n").encode() + data + b" " * (2 << 20)
                    self.close_connection = True
                elif style == "close-when-idle":
                    # Says nothing of closing, and closes right after.
                    raw = (head + f"Content-Length: {len(data)}\r\n\r\n").encode() + data
                    self.close_connection = True
                else:
                    raw = (head + f"Content-Length: {len(data)}\r\n\r\n").encode() + data
                try:
                    self.wfile.write(raw)
                except OSError:
                    self.close_connection = True

        super().__init__(Handler)
        self.url = f"http://127.0.0.1:{self.port}{prefix}"


def scripted(procs, **kw):
    fake = ScriptedHub(**kw)
    procs.cleanups.append(fake.close)
    return fake


def pushes_cleanly(p, fake, samples=4):
    """samples and more acknowledged, none outstanding, and never an error
    or a backoff on the way."""
    poll(lambda: int(p.figures.get("last_ack_seq", 0)) >= samples, 30, f"{samples} samples acknowledged")
    p.wait_drained()
    p.stop()
    done = int(p.position()["done"])
    assert set(range(1, done + 1)) <= fake.acked, sorted(set(range(1, done + 1)) - fake.acked)
    assert p.figures["connected"] == "1" and p.figures["last_error"] == "", p.figures
    assert "retrying in" not in p.log(), p.log()
    p.check_logs()
    return done


@pytest.mark.parametrize("style", ["length", "chunked", "close", "until-close"])
def test_answer_styles(procs, tmp_path, style):
    fake = scripted(procs, style=style)
    p = Pushd(procs, tmp_path, fake.url)
    p.start()
    done = pushes_cleanly(p, fake)
    requests = len(fake.paths)
    if style in ("close", "until-close"):
        # Each answer ended its connection: one connection a request.
        assert fake.connections == requests, (fake.connections, requests)
    else:
        # Kept alive: the enrolment and every push over one connection.
        assert fake.connections == 1 and requests >= done // 500 + 2, (fake.connections, requests)


@pytest.mark.parametrize("style", ["close-when-idle", "drop-second"])
def test_hub_closing_the_kept_connection_is_no_error(procs, tmp_path, style):
    """A hub ends idle connections after its keep-alive timeout, shorter than
    pushd's interval: the next push finds its connection closed, before
    sending (close-when-idle) or after (drop-second: the request is read
    and the connection closed without an answer). Either way the push goes
    again at once on a new connection."""
    fake = scripted(procs, style=style)
    p = Pushd(procs, tmp_path, fake.url)
    p.start()
    pushes_cleanly(p, fake, samples=5)
    assert fake.connections >= 3
    if style == "drop-second":
        assert fake.dropped >= 2


def test_no_answer_times_out_backs_off_and_recovers(procs, tmp_path):
    fake = scripted(procs)
    fake.hang.set()
    p = Pushd(procs, tmp_path, fake.url)
    p.start()
    poll(lambda: "No answer from 127.0.0.1" in p.figures.get("last_error", ""), 40, "the request given up")
    assert p.figures["last_error"] == f"No answer from 127.0.0.1:{fake.port} within 15 s", p.figures
    assert p.figures["connected"] == "0" and p.figures["last_ack_seq"] == "0"
    assert "retrying in" in p.log()
    fake.hang.clear()
    p.wait_drained(timeout=90)
    assert p.figures["connected"] == "1" and p.figures["last_error"] == "", p.figures
    p.stop()
    done = int(p.position()["done"])
    assert done >= 15 and set(range(1, done + 1)) <= fake.acked


def test_answer_past_the_bound_is_refused(procs, tmp_path):
    fake = scripted(procs, style="too-large")
    p = Pushd(procs, tmp_path, fake.url)
    p.start()
    poll(lambda: p.figures.get("last_error") and int(p.figures.get("spooled", 0)) >= 2, 30,
         "the answer refused, samples spooled")
    assert p.figures["last_error"] == f"Bad answer from 127.0.0.1:{fake.port}: the body is larger than 1 MiB", \
        p.figures
    # Not even the enrolment went through: no token, nothing acknowledged.
    assert p.figures["last_ack_seq"] == "0" and not (p.state_dir / "push.token").exists()
    p.stop()


def test_hub_named_localhost(procs, tmp_path, hub):
    p = Pushd(procs, tmp_path, f"http://localhost:{hub.port}")
    p.start()
    poll(lambda: int(p.figures.get("last_ack_seq", 0)) >= 3, 30, "samples acknowledged")
    p.stop()
    assert f"Connected to http://localhost:{hub.port}" in p.log()
    assert p.figures["last_error"] == ""
    assert_no_loss(hub, p)


def test_hub_url_with_a_path_prefix(procs, tmp_path):
    fake = scripted(procs, prefix="/fleet/hub")
    p = Pushd(procs, tmp_path, fake.url + "/")
    p.start()
    pushes_cleanly(p, fake)
    assert fake.paths[0] == "/fleet/hub/api/v1/enroll"
    assert set(fake.paths[1:]) == {"/fleet/hub/api/v1/push"}
