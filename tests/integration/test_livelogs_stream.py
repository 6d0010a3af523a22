"""livelogd on a file: the stream contract (docs/livelogs-stream.md), its
bounds, and what each bad input gets. Real binary, real clients, loopback only."""
import asyncio
import contextlib
import json
import os
import signal
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import websockets

from livelogs_support import (
    NodeCollector,
    RawClient,
    append,
    check_frame,
    connect,
    numbered,
    receive,
    run,
    start,
    started,
    stderr_of,
    wait_until,
)
from support import ROOT


@pytest.fixture
def log(tmp_path):
    return tmp_path / "app.log"


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


# ---- start-up --------------------------------------------------------------

def test_ready_names_what_is_followed(procs, notify_socket, log):
    append(log, "x\n")
    w = start(procs, notify_socket, log)
    assert w.ready["READY"] == "1"
    assert w.ready["RESOLVIX_LOG_FILE"] == str(log)
    assert str(log) in w.ready["STATUS"]


def test_a_directory_is_an_unreadable_log(procs, notify_socket, tmp_path):
    w = start(procs, notify_socket, tmp_path, expect="RESOLVIX_ERROR")
    assert w.ready["RESOLVIX_ERROR"] == "log_file_unreadable"
    assert w.proc.wait(timeout=10) == 1
    assert str(tmp_path) in w.ready["STATUS"]


def test_permission_denied_fails_the_start(procs, notify_socket, tmp_path):
    """A file the worker's user may not read: log_file_unreadable, exit 1,
    never READY. Run as nobody, since root reads anything."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to nobody")
    secret = tmp_path / "secret.log"
    append(secret, "no\n")
    os.chmod(secret, 0o600)
    os.chmod(tmp_path, 0o755)
    os.chmod(notify_socket.path, 0o777)
    for parent in Path(tmp_path).parents:
        if str(parent).startswith("/tmp/"):
            os.chmod(parent, os.stat(parent).st_mode | 0o005)
    w = start(procs, notify_socket, secret, wrap=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
              expect="RESOLVIX_ERROR")
    assert w.ready["RESOLVIX_ERROR"] == "log_file_unreadable"
    assert w.ready["ERRNO"] == "13"
    assert w.proc.wait(timeout=10) == 1
    assert "Permission denied" in stderr_of(w.proc)


def test_port_in_use(procs, notify_socket, log):
    append(log, "x\n")
    first = start(procs, notify_socket, log)
    again = procs.start([first.proc.args[0], "--listen", "127.0.0.1", "--port", str(first.port), "-f", str(log)],
                        env={"NOTIFY_SOCKET": notify_socket.path})
    _, fields = notify_socket.wait_for("RESOLVIX_ERROR")
    assert fields["RESOLVIX_ERROR"] == "port_in_use"
    assert again.wait(timeout=10) == 1


# ---- the stream ------------------------------------------------------------

def test_backlog_is_exact_then_new_lines_follow(procs, notify_socket, log):
    append(log, numbered(1, 50))
    w = start(procs, notify_socket, log, "--backlog", "10")

    async def go():
        async with connect(w.url()) as ws:
            frames = await receive(ws, 10)
            assert [f["log"] for f in frames] == [f"line {i}" for i in range(41, 51)]
            assert all(set(f) == {"type", "node_id", "timestamp", "log", "seq"} for f in frames)
            seqs = [f["seq"] for f in frames]
            assert seqs == list(range(seqs[0], seqs[0] + 10))
            append(log, numbered(51, 55))
            frames = await receive(ws, 5)
            assert [f["log"] for f in frames] == [f"line {i}" for i in range(51, 56)]
            assert frames[0]["seq"] == seqs[-1] + 1
            # nothing else is pending
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.3)

        # A second client is replayed the same last 10 lines.
        async with connect(w.url()) as ws:
            frames = await receive(ws, 10)
            assert [f["log"] for f in frames] == [f"line {i}" for i in range(46, 56)]

    run(go())


def test_partial_line_waits_for_its_newline(procs, notify_socket, log):
    append(log, "")
    w = start(procs, notify_socket, log, "--backlog", "0")

    async def go():
        async with connect(w.url()) as ws:
            append(log, "half")
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.5)
            append(log, " and half\nnext\n")
            assert [f["log"] for f in await receive(ws, 2)] == ["half and half", "next"]

    run(go())


def test_tail_over_http(procs, notify_socket, log):
    append(log, numbered(1, 30))
    w = start(procs, notify_socket, log, "--backlog", "20")
    status, ctype, body = get(w.http("/tail?n=3"))
    assert status == 200 and ctype.startswith("application/json")
    frames = [check_frame(f) for f in json.loads(body)]
    assert [f["log"] for f in frames] == ["line 28", "line 29", "line 30"]
    # bounded by the backlog
    assert len(json.loads(get(w.http("/tail?n=1000"))[2])) == 20
    assert len(json.loads(get(w.http("/tail"))[2])) == 20
    assert [f["log"] for f in json.loads(get(w.http("/tail?n=5&grep=%5Eline%202"))[2])] == [
        "line 25", "line 26", "line 27", "line 28", "line 29"]
    status, ctype, body = get(w.http("/tail?n=2&format=text"))
    assert status == 200 and ctype.startswith("text/plain") and body == b"line 29\nline 30\n"
    status, _, body = get(w.http("/tail?n=many"))
    assert status == 400 and json.loads(body)["detail"] == "bad_request"
    assert get(w.http("/tail?grep=(")) [0] == 400
    assert get(w.http("/nothing"))[0] == 404


def test_one_mebibyte_line_is_split_and_marked(procs, notify_socket, log):
    append(log, "")
    w = start(procs, notify_socket, log, "--backlog", "0")
    # three-byte characters: 64 KiB is no multiple of three, so every cut
    # falls inside one unless the splitter moves it
    big = "€" * (349526)
    assert len(big.encode()) >= 1 << 20

    async def go():
        async with connect(w.url()) as ws:
            append(log, big + "\nafter\n")
            pieces = []
            while True:
                f = check_frame(json.loads(await asyncio.wait_for(ws.recv(), 20)))
                pieces.append(f)
                if not f.get("continues"):
                    break
            assert len(pieces) == 17
            assert all(len(p["log"].encode()) <= 64 * 1024 for p in pieces)
            assert "\ufffd" not in "".join(p["log"] for p in pieces)
            assert all(p.get("continues") is True for p in pieces[:-1])
            assert "".join(p["log"] for p in pieces) == big
            seqs = [p["seq"] for p in pieces]
            assert seqs == list(range(seqs[0], seqs[0] + 17))
            assert [f["log"] for f in await receive(ws, 1)] == ["after"]

    run(go())


def test_invalid_utf8_is_replaced_and_every_frame_is_valid(procs, notify_socket, log):
    """The fixture's 400 lines hold every kind of ill-formed UTF-8; Node
    decodes each frame with a fatal decoder, and the lines must equal what
    Python's own decoder makes of them."""
    fixture = ROOT / "tests" / "data" / "linesplit"
    append(log, "")
    w = start(procs, notify_socket, log, "--backlog", "0")
    for query in ("", "?format=text"):
        c = NodeCollector(procs, w.url(query), 400)
        append(log, (fixture / "mixed.log").read_bytes())
        got = c.messages()
        lines = got if query else [json.loads(m)["log"] for m in got]
        assert lines == (fixture / "mixed.expected").read_bytes().decode().split("\n")[:-1]


def test_grep_filters_on_the_raw_line(procs, notify_socket, log):
    append(log, "INFO a\nERROR b\nINFO c\nWARN d\n")
    w = start(procs, notify_socket, log, "--backlog", "4")

    async def go():
        async with connect(w.url("?grep=ERROR%7CWARN")) as ws:
            first = await receive(ws, 2)
            assert [f["log"] for f in first] == ["ERROR b", "WARN d"]
            append(log, 'INFO e\nERROR "quoted" \\ f\nINFO g\n')
            f = (await receive(ws, 1))[0]
            assert f["log"] == 'ERROR "quoted" \\ f'
            assert f["seq"] == first[1]["seq"] + 2  # the INFO line in between was filtered, not lost
            assert "dropped" not in f

    run(go())


def test_bad_grep_is_refused_with_the_reason(procs, notify_socket, log):
    append(log, "x\n")
    w = start(procs, notify_socket, log)
    c = RawClient(w.port, "?grep=(unclosed")
    assert c.status == 400
    assert "invalid grep expression" in c.body()
    c = RawClient(w.port, "?grep=" + "a" * 600)
    assert c.status == 400
    assert "longer than" in c.body()
    c = RawClient(w.port, "?format=xml")
    assert c.status == 400


def test_text_format(procs, notify_socket, log):
    append(log, "one\ntwo\n")
    w = start(procs, notify_socket, log, "--backlog", "2")

    async def go():
        async with connect(w.url("?format=text&grep=t")) as ws:
            assert await asyncio.wait_for(ws.recv(), 10) == "two"
            append(log, 'three {"json": "no"}\n')
            assert await asyncio.wait_for(ws.recv(), 10) == 'three {"json": "no"}'

    run(go())


def test_slow_client_gets_dropped_while_a_fast_one_gets_everything(procs, notify_socket, log):
    """The slow client reads nothing until the writing is done (its kernel
    buffer is a few KiB); the fast one reads all along. Lines are 1 KiB, so
    the total is far more than the slow client's socket and the ring hold."""
    append(log, "")
    w = start(procs, notify_socket, log, "--backlog", "0")
    total, chunk = 20000, 500
    filler = "x" * 1000
    slow = RawClient(w.port, rcvbuf=4096)
    assert slow.status == 101

    async def go():
        async with connect(w.url()) as fast:
            got = []

            async def read_fast():
                while len(got) < total:
                    got.append(json.loads(await fast.recv()))

            reader = asyncio.create_task(read_fast())
            for start_at in range(0, total, chunk):
                append(log, "".join(f"{i} {filler}\n" for i in range(start_at, start_at + chunk)))
                await asyncio.sleep(0.02)
            await asyncio.wait_for(reader, 60)
            return got

    got = run(go())
    assert [int(f["log"].split()[0]) for f in got] == list(range(total))
    assert not any("dropped" in f for f in got)

    received, dropped, last_seq = 0, 0, got[0]["seq"] - 1
    while received + dropped < total:
        op, payload = slow.frame(timeout=15)
        f = json.loads(payload)
        if "dropped" in f:
            dropped += f["dropped"]
            assert f["seq"] == last_seq + f["dropped"] + 1  # the count is exactly the gap
        else:
            assert f["seq"] == last_seq + 1
        last_seq = f["seq"]
        received += 1
    assert dropped > 0
    assert received + dropped == total
    slow.close()


def test_stuck_client_is_closed(procs, notify_socket, log):
    """A client that reads nothing (not even pings) is dropped after the ping
    timeout, and the others go on."""
    append(log, "")
    w = start(procs, notify_socket, log, "--backlog", "0", "--set", "livelogs.ping_interval=1")
    stuck = RawClient(w.port, rcvbuf=4096)
    append(log, "".join(f"{i} {'y' * 1000}\n" for i in range(5000)))

    async def go():
        async with connect(w.url()) as ws:
            # This client keeps reading, and so answers the pings, while the
            # stuck one is waited for in a thread: a wait that held up the
            # loop would leave it stuck as well, and closed in its turn.
            async def read_on():
                while True:
                    await ws.recv()

            reader = asyncio.create_task(read_on())
            await asyncio.to_thread(wait_until, lambda: stuck_closed(stuck), timeout=20,
                                    what="the stuck client to be closed")
            reader.cancel()  # safe: recv() loses nothing when cancelled
            with contextlib.suppress(asyncio.CancelledError):
                await reader  # a client closed meanwhile fails here
            # once the stuck client is gone, the stream still flows
            append(log, "still here\n")
            while (await receive(ws, 1))[0]["log"] != "still here":
                pass  # the tail of the flood, read after this client connected

    run(go())


def stuck_closed(client):
    """Drain what was sent, without answering pings; True once the server
    has hung up."""
    try:
        while True:
            f = client.frame(timeout=0.2)
            if f is None:
                return True
            if f[0] == 8:  # close
                return True
    except (TimeoutError, OSError):
        return False


def test_max_clients(procs, notify_socket, log):
    append(log, "x\n")
    w = start(procs, notify_socket, log, "--max-clients", "2", "--backlog", "0")
    a, b = RawClient(w.port), RawClient(w.port)
    assert (a.status, b.status) == (101, 101)
    c = RawClient(w.port)
    assert c.status == 503
    assert "max_clients" in c.body()
    a.close()
    wait_until(lambda: RawClient(w.port).status == 101, what="a slot after a client left")


def test_oversized_inbound_message_closes_with_1009(procs, notify_socket, log):
    append(log, "x\n")
    w = start(procs, notify_socket, log, "--backlog", "0")

    async def go():
        async with connect(w.url()) as ws:
            await ws.send(json.dumps({"command": "ping"}))
            assert json.loads(await ws.recv()) == {"type": "pong"}
            await ws.send("not json")
            assert json.loads(await ws.recv())["error"] == "invalid_json"
            await ws.send(json.dumps({"command": "tail"}))
            assert json.loads(await ws.recv())["error"] == "unknown_command"
            await ws.send("x" * 5000)
            with pytest.raises(websockets.ConnectionClosed) as e:
                await asyncio.wait_for(ws.recv(), 10)
            assert e.value.rcvd.code == 1009

    run(go())


def test_token_and_origin(procs, notify_socket, log):
    append(log, "secret line\n")
    w = start(procs, notify_socket, log, "--token", "s3cret", "--set",
              "livelogs.allowed_origins=https://ops.example.com")
    assert RawClient(w.port).status == 401
    assert RawClient(w.port, "?token=wrong").status == 401
    assert RawClient(w.port, "?token=s3cret").status == 101
    assert RawClient(w.port, headers=["Authorization: Bearer s3cret"]).status == 101
    assert RawClient(w.port, "?token=s3cret", headers=["Origin: https://evil.example.com"]).status == 403
    ok = RawClient(w.port, "?token=s3cret", headers=["Origin: https://ops.example.com"])
    assert ok.status == 101
    op, payload = ok.frame()
    assert json.loads(payload)["log"] == "secret line"


def test_a_connection_that_sends_nothing_does_no_harm(procs, notify_socket, log):
    """A port probe, a load balancer's health check, a half-open scan."""
    append(log, "x\n")
    w = start(procs, notify_socket, log)
    started.remove(w)  # checked here, not by the fixture
    socket.create_connection(("127.0.0.1", w.port), timeout=5).close()

    async def go():
        async with connect(w.url()) as ws:
            await receive(ws, 1)

    run(go())
    assert w.proc.poll() is None


def test_sigterm_closes_clients_with_1001(procs, notify_socket, log):
    append(log, "x\n")
    w = start(procs, notify_socket, log)

    async def go():
        async with connect(w.url()) as ws:
            await receive(ws, 1)
            w.proc.send_signal(signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed) as e:
                await asyncio.wait_for(ws.recv(), 10)
            assert e.value.rcvd.code == 1001

    run(go())
    assert w.proc.wait(timeout=10) == 0
