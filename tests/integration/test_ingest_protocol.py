"""The custom-metrics protocol (docs/custom-metrics.md) on telemetryd's ingest port, byte
for byte over real TCP sessions: every reply, persistent sessions,
pipelining, requests split at every byte, and every bound."""
import resource
import threading
import time

from ingest_support import (
    ERROR,
    OK,
    closed_by_server,
    expect,
    quiet,
    read_all,
    read_exact,
    rss_kib,
    readable,
    run_concurrently,
)
from support import poll

# One session, in order: each request and the exact reply it gets.
SESSION = [
    (b"get palm.cpu\n", b"ok\n\n"),  # an unknown metric
    (b"get *\n", b"ok\n\n"),  # nothing stored yet
    (b"put palm.cpu 0.5 1150864247\n", OK),
    (b"put palm.cpu 2 1150864248\n", OK),
    (b"put eardrum.cpu 3 1150864250\n", OK),
    (b"get palm.cpu\n", b"ok\npalm.cpu 0.5 1150864247\npalm.cpu 2.0 1150864248\n\n"),
    # the same metric and timestamp again replaces the value
    (b"put palm.cpu 0.7 1150864247\n", OK),
    (b"get palm.cpu\n", b"ok\npalm.cpu 0.7 1150864247\npalm.cpu 2.0 1150864248\n\n"),
    # an older point goes in its place: points come sorted by timestamp
    (b"put palm.cpu -1.25 1150864246\n", OK),
    (b"get palm.cpu\n", b"ok\npalm.cpu -1.25 1150864246\npalm.cpu 0.7 1150864247\npalm.cpu 2.0 1150864248\n\n"),
    (b"get *\n", b"ok\neardrum.cpu 3.0 1150864250\npalm.cpu -1.25 1150864246\npalm.cpu 0.7 1150864247\n"
                 b"palm.cpu 2.0 1150864248\n\n"),
    # anything malformed gets the error, and the session goes on
    (b"got test_key\n", ERROR),
    (b"\n", ERROR),
    (b"get\n", ERROR),
    (b"get a b\n", ERROR),
    (b"put palm.cpu 1\n", ERROR),
    (b"put palm.cpu 1 2 3\n", ERROR),
    (b"put my metric 1 1150864249\n", ERROR),
    (b"put palm.cpu abc 1150864249\n", ERROR),
    (b"put palm.cpu 1 abc\n", ERROR),
    (b"put palm.cpu 1 1150864249.5\n", ERROR),
    (b"put palm.cpu nan 1150864249\n", ERROR),
    (b"put palm.cpu 1  1150864249\n", ERROR),
    (b"PUT palm.cpu 1 1150864249\n", ERROR),
    (b"put * 1 1150864249\n", ERROR),
    (b"get palm.cpu\n", b"ok\npalm.cpu -1.25 1150864246\npalm.cpu 0.7 1150864247\npalm.cpu 2.0 1150864248\n\n"),
    # telnet's "\r\n"
    (b"get eardrum.cpu\r\n", b"ok\neardrum.cpu 3.0 1150864250\n\n"),
    (b"got test_key\r\n", ERROR),
    # values as the reference server spells them (Python's repr)
    (b"put v 1e16 1\nput v 0.0001 2\nput v 100 3\nput v .1 4\nget v\n",
     OK * 4 + b"ok\nv 1e+16 1\nv 0.0001 2\nv 100.0 3\nv 0.1 4\n\n"),
]


def test_every_reply_byte_for_byte(start_ingest):
    ing = start_ingest()
    with ing.session() as s:
        for request, reply in SESSION:
            expect(s, request, reply)
        quiet(s)


def test_pipelined_requests_answered_in_order(start_ingest):
    ing = start_ingest()
    requests = b"".join(r for r, _ in SESSION)
    replies = b"".join(r for _, r in SESSION)
    with ing.session() as s:
        s.sendall(requests)
        assert read_exact(s, len(replies)) == replies
        quiet(s)
    # A thousand puts and their gets in one write.
    batch = b"".join(b"put p.%d %d %d\n" % (i % 10, i, i) for i in range(1000)) + b"get p.3\n"
    want = OK * 1000 + b"ok\n" + b"".join(b"p.3 %d.0 %d\n" % (i, i) for i in range(3, 1000, 10)) + b"\n"
    assert ing.ask(batch) == want


# Idempotent: the first put resets what the script changes, so it can run
# again and again on one session with the same replies.
SCRIPT = (b"put split.m 1.5 100\nput split.m 2.5 101\nget split.m\nnot a request\n"
          b"put split.m 0.5 100\nget split.m\nget *\n")
SCRIPT_REPLY = (OK + OK + b"ok\nsplit.m 1.5 100\nsplit.m 2.5 101\n\n" + ERROR + OK
                + b"ok\nsplit.m 0.5 100\nsplit.m 2.5 101\n\n" + b"ok\nsplit.m 0.5 100\nsplit.m 2.5 101\n\n")


def test_requests_split_at_every_byte(start_ingest):
    ing = start_ingest()
    with ing.session() as s:
        for at in range(1, len(SCRIPT)):
            s.sendall(SCRIPT[:at])
            # With Nagle off and a pause, the two halves are two segments.
            time.sleep(0.002)
            s.sendall(SCRIPT[at:])
            got = read_exact(s, len(SCRIPT_REPLY))
            assert got == SCRIPT_REPLY, f"split at byte {at}: {got!r}"
        # and one byte per segment
        for byte in SCRIPT:
            s.sendall(bytes([byte]))
            time.sleep(0.001)
        assert read_exact(s, len(SCRIPT_REPLY)) == SCRIPT_REPLY
        quiet(s)


def test_a_client_that_shuts_its_side_still_gets_every_reply(start_ingest):
    """`printf 'put ...\\nget *\\n' | nc -N host 8888`: the request and the
    EOF arrive together."""
    ing = start_ingest()
    assert ing.ask(b"put a 1 1\nput b 2 2\nget *\n") == OK + OK + b"ok\na 1.0 1\nb 2.0 2\n\n"
    # A last line without its newline is no request.
    assert ing.ask(b"get a\nget b") == b"ok\na 1.0 1\n\n"


def test_sessions_are_independent_and_share_the_store(start_ingest):
    ing = start_ingest()
    a, b = ing.session(), ing.session()
    with a, b:
        # b's requests come between the two halves of one of a's.
        expect(a, b"put shared 1 1\nput sha", OK)
        expect(b, b"put shared 2 2\nget shared\n", OK + b"ok\nshared 1.0 1\nshared 2.0 2\n\n")
        expect(a, b"red 3 3\nget shared\n", OK + b"ok\nshared 1.0 1\nshared 2.0 2\nshared 3.0 3\n\n")
        quiet(a)
        quiet(b)


def test_concurrent_clients_lose_nothing(start_ingest):
    ing = start_ingest()

    def client(n):
        with ing.session(timeout=30) as s:
            for i in range(200):
                expect(s, b"put c.%d %d %d\n" % (n, i, i), OK)
            expect(s, b"get c.%d\n" % n,
                   b"ok\n" + b"".join(b"c.%d %d.0 %d\n" % (n, i, i) for i in range(200)) + b"\n")

    assert run_concurrently(client, 50) == []
    reply = ing.ask(b"get *\n")
    assert reply.count(b"\n") == 50 * 200 + 2


# ---- bounds ----------------------------------------------------------------

def test_line_cap_error_then_disconnect(start_ingest):
    ing = start_ingest(max_line=64)
    at_cap = b"put " + b"n" * 56 + b" 1 1"
    assert len(at_cap) == 64
    with ing.session() as s:
        expect(s, at_cap + b"\n", OK)
        # At the cap a malformed line is just that: the session goes on.
        expect(s, b"x" * 64 + b"\n", ERROR)
        # One byte more, after two requests in the same write: those are
        # answered, then the error, then the server hangs up.
        s.sendall(b"get *\nput m 1 1\n" + b"put " + b"n" * 57 + b" 1 1\nget *\n")
        reply = read_all(s)
    assert reply == b"ok\n" + b"n" * 56 + b" 1.0 1\n\n" + OK + ERROR


def test_line_cap_applies_before_the_newline(start_ingest):
    ing = start_ingest(max_line=64)
    with ing.session() as s:
        s.sendall(b"y" * 64)  # at the cap, no newline: the server waits
        quiet(s)
        s.sendall(b"y")  # over it
        assert read_exact(s, len(ERROR)) == ERROR
        assert closed_by_server(s)


def test_a_client_flooding_past_the_cap_gets_the_error_and_is_cut_off(start_ingest):
    ing = start_ingest(max_line=64)
    s = ing.session(timeout=10)
    got = b""
    try:
        # A megabyte with no newline, and the client keeps sending while the
        # server has already answered and shut its side.
        s.sendall(b"z" * (1 << 20))
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    assert got == ERROR
    # and the server goes on
    assert ing.ask(b"get *\n") == b"ok\n\n"


def test_a_client_cut_off_that_keeps_its_socket_is_closed_after_a_grace(start_ingest):
    """After the error and our FIN, the server reads and discards for a
    couple of seconds at most: a peer that never closes holds no slot."""
    ing = start_ingest(max_line=64)
    with ing.session() as s:
        s.sendall(b"q" * 100)
        assert read_exact(s, len(ERROR)) == ERROR
        assert closed_by_server(s)
        assert ing.t.metrics()["resolvix_ingest_clients"] == 1  # lingering, still counted
        poll(lambda: ing.t.metrics()["resolvix_ingest_clients"] == 0, 5, "the lingering session closed")


def test_out_of_descriptors_pauses_accepting_then_resumes(start_ingest):
    """With the open-file limit lower than ingest_max_clients, accept()
    fails: the server stops watching its port for a moment instead of
    spinning on it, and takes the waiting clients once descriptors free up."""
    ing = start_ingest()
    resource.prlimit(ing.t.pid, resource.RLIMIT_NOFILE, (64, 64))
    sessions = []
    for n in range(80):  # more than the limit allows
        s = ing.session()
        s.sendall(b"put fd.%d 1 1\n" % n)
        sessions.append(s)
    poll(lambda: "Cannot accept custom metrics clients for now" in ing.t.log(), 5, "accept() failing is logged")
    time.sleep(0.3)
    served = readable(sessions)
    assert 0 < len(served) < 80
    for s in served:
        assert read_exact(s, len(OK)) == OK
        s.close()
    # The rest were waiting in the listen backlog: each is answered now.
    for s in sessions:
        if s not in served:
            s.settimeout(10)
            assert read_exact(s, len(OK)) == OK
            s.close()
    assert ing.ask(b"get fd.79\n") == b"ok\nfd.79 1.0 1\n\n"
    assert ing.t.proc.poll() is None


def test_max_clients(start_ingest):
    ing = start_ingest(max_clients=3)
    held = [ing.session() for _ in range(3)]
    for n, s in enumerate(held):
        expect(s, b"put held.%d 1 1\n" % n, OK)
    extra = ing.session()
    try:
        extra.sendall(b"get *\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert closed_by_server(extra), "a fourth session was served"
    extra.close()
    assert ing.t.metrics()["resolvix_ingest_refused_total"] >= 1
    assert ing.t.metrics()["resolvix_ingest_clients"] == 3

    # One leaves: a new one is served, and the others never noticed.
    held.pop().close()
    poll(lambda: ing.t.metrics()["resolvix_ingest_clients"] == 2, 5, "the closed session counted out")
    with ing.session() as s:
        expect(s, b"get held.0\n", b"ok\nheld.0 1.0 1\n\n")
    for s in held:
        expect(s, b"get held.1\n", b"ok\nheld.1 1.0 1\n\n")
        s.close()
    assert "refusing more" in ing.t.log()


def test_max_metrics(start_ingest):
    ing = start_ingest(max_metrics=2)
    with ing.session() as s:
        expect(s, b"put a 1 1\nput b 1 1\n", OK + OK)
        expect(s, b"put c 1 1\n", ERROR)  # a third metric is refused...
        expect(s, b"put a 2 2\n", OK)  # ...not more points of the two
        expect(s, b"get *\n", b"ok\na 1.0 1\na 2.0 2\nb 1.0 1\n\n")
        expect(s, b"get c\n", b"ok\n\n")
    assert "ingest_max_metrics" in ing.t.log()


def test_max_points_keeps_the_newest(start_ingest):
    ing = start_ingest(max_points=3)
    with ing.session() as s:
        for ts in (5, 1, 4, 2, 3):
            expect(s, b"put m %d %d\n" % (ts, ts), OK)
        expect(s, b"get m\n", b"ok\nm 3.0 3\nm 4.0 4\nm 5.0 5\n\n")
        # Older than all it holds: acknowledged, and gone at once.
        expect(s, b"put m 0 0\n", OK)
        expect(s, b"put m 6 6\nget m\n", OK + b"ok\nm 4.0 4\nm 5.0 5\nm 6.0 6\n\n")


def test_a_client_that_does_not_read_its_replies_is_not_buffered(start_ingest):
    """Requests pipelined without reading: the server stops reading them
    once a window of replies is waiting, instead of growing, and serves
    everyone else meanwhile. The replies all come, in order, once read."""
    ing = start_ingest()
    metrics = b"".join(b"put slow.%02d %d %d\n" % (m, p, p) for m in range(50) for p in range(10))
    assert ing.ask(metrics) == OK * 500
    one = ing.ask(b"get *\n")
    assert len(one) > 5000
    # Over 20 MB of replies: more than the kernel's socket buffers on
    # both sides take (tcp_wmem and tcp_rmem allow a few MB each).
    rounds = 4000

    s = ing.session(timeout=30)
    rss_before = rss_kib(ing.t.pid)
    sender = threading.Thread(target=lambda: s.sendall(b"get *\n" * rounds))
    sender.start()
    time.sleep(1.0)
    rss_during = rss_kib(ing.t.pid)
    with ing.session() as other:
        expect(other, b"get slow.07\n", b"ok\n" + b"".join(b"slow.07 %d.0 %d\n" % (p, p) for p in range(10)) + b"\n")

    got = bytearray()
    while len(got) < rounds * len(one):
        chunk = s.recv(1 << 20)
        assert chunk, f"closed after {len(got)} bytes"
        got += chunk
    sender.join()
    quiet(s)
    s.close()
    assert got == one * rounds
    assert rss_during - rss_before < 4096, f"RSS grew from {rss_before} to {rss_during} KiB"
