"""livelogd following the journal, against a real systemd-journald started
in a private mount namespace (clients/livelogs-journal-ns.sh): nothing of
the host's journal is read, nothing is written to it."""
import asyncio
import json
import os
import socket
import struct

import pytest

from livelogs_support import (
    JOURNAL_NS,
    append,
    connect,
    journal_log,
    journalctl,
    receive,
    run,
    start,
    stderr_of,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a private mount namespace needs root")


def in_namespace(*prelude, journald=True):
    """A wrap for start(): the livelogd command runs inside the namespace,
    after the shell commands in prelude."""
    script = "; ".join(prelude + ('exec "$@"',))
    return [JOURNAL_NS, "run", *([] if journald else ["--no-journald"]), "--", "bash", "-c", script, "_"]


def native_send(ns_pid, fields):
    """An entry through journald's native protocol, binary-safe (systemd's
    journal-native-protocol: NAME\\n, 64-bit LE size, data, \\n)."""
    data = b""
    for name, value in fields.items():
        data += name.encode() + b"\n" + struct.pack("<Q", len(value)) + value + b"\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(data, f"/proc/{ns_pid}/root/run/systemd/journal/socket")


def test_backlog_from_the_tail_then_live_entries(procs, notify_socket, tmp_path):
    pre = in_namespace(
        'printf "pre %s\\n" 1 2 3 4 5 | systemd-cat -t livelogs-pre',
        'for i in $(seq 200); do [ "$(journalctl -q -t livelogs-pre | wc -l)" -ge 5 ] && break; sleep 0.05; done')
    w = start(procs, notify_socket, "journal", "--backlog", "3", wrap=pre)
    assert w.ready["RESOLVIX_LOG_FILE"] == "journal"
    assert w.ready["STATUS"] == "following journal"
    ns = w.proc.pid
    unit = f"livelogs-test-{os.getpid()}.service"

    async def go():
        async with connect(w.url()) as ws:
            backlog = await receive(ws, 3)
            last3 = journalctl(ns, "-n", "3")
            assert [f["log"] for f in backlog] == [e["MESSAGE"] for e in last3] == ["pre 3", "pre 4", "pre 5"]
            assert all(f["priority"] == 6 for f in backlog)

            journal_log(ns, ["live one", "live two"], unit=unit, tag="livelogs-live", priority="err")
            live = await receive(ws, 2)
            assert [f["log"] for f in live] == ["live one", "live two"]
            oracle = journalctl(ns, "-t", "livelogs-live")
            assert [e["_SYSTEMD_UNIT"] for e in oracle] == [unit, unit]
            for f in live:
                assert f["unit"] == unit
                assert f["priority"] == 3
                assert f["journal_timestamp"].endswith("Z")

    run(go())


def test_binary_and_multiline_messages(procs, notify_socket):
    w = start(procs, notify_socket, "journal", "--backlog", "0", wrap=in_namespace())

    async def go():
        async with connect(w.url("?grep=%5Ebad%7C%5Etwo")) as ws:
            native_send(w.proc.pid, {"MESSAGE": b"bad \xff\xfe end", "PRIORITY": b"4"})
            native_send(w.proc.pid, {"MESSAGE": b"two\nlines"})
            got = await receive(ws, 2)
            assert got[0]["log"] == "bad \ufffd\ufffd end" and got[0]["priority"] == 4
            assert got[1]["log"] == "two\nlines"

    run(go())


def test_missing_file_with_a_journal_follows_the_journal(procs, notify_socket, tmp_path):
    missing = tmp_path / "syslog"
    w = start(procs, notify_socket, missing, "--backlog", "0", wrap=in_namespace())
    assert w.ready["RESOLVIX_LOG_FILE"] == "journal"

    async def go():
        async with connect(w.url()) as ws:
            journal_log(w.proc.pid, ["from the journal"], tag="livelogs-fallback")
            while (await receive(ws, 1))[0]["log"] != "from the journal":
                pass

    run(go())
    w.proc.terminate()
    w.proc.wait(timeout=10)
    assert f"{missing} does not exist; following the journal instead" in stderr_of(w.proc)


def test_missing_file_without_a_journal_is_waited_for(procs, notify_socket, tmp_path):
    log = tmp_path / "later.log"
    w = start(procs, notify_socket, log, "--backlog", "5", wrap=in_namespace(journald=False))
    assert w.ready["RESOLVIX_LOG_FILE"] == str(log)

    async def go():
        async with connect(w.url()) as ws:
            append(log, "first\nsecond\n")
            assert [f["log"] for f in await receive(ws, 2)] == ["first", "second"]

    run(go())
