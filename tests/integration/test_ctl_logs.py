"""resolvixctl logs against the real livelogd: the last N lines, --grep,
--json, and -f, which prints the last lines and then only new ones, none
twice and none lost between the two requests."""
import json
import os
import pty
import signal
import subprocess

import pytest

from ctl_support import NODE_ID, ctl, ctl_env, ctl_popen, read_lines
from support import binary, poll


@pytest.fixture
def node(nodes):
    n = nodes()
    n.append(*[f"old line {i}{' needle' if i % 4 == 0 else ''}" for i in range(1, 31)])
    n.control("start_livelogs")
    n.wait_tail("old line 30")
    return n


def test_last_lines(node):
    r = ctl("logs", "-p", node.port)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"old line {i}{' needle' if i % 4 == 0 else ''}" for i in range(21, 31)]
    r = ctl("logs", "-n", "3", "-p", node.port)
    assert r.stdout.splitlines() == ["old line 28 needle", "old line 29", "old line 30"]
    r = ctl("logs", "--lines", "0", "-p", node.port)
    assert r.returncode == 0 and r.stdout == ""


def test_grep(node):
    r = ctl("logs", "-n", "3", "--grep", "needle$", "-p", node.port)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["old line 20 needle", "old line 24 needle", "old line 28 needle"]
    r = ctl("logs", "-g", "line (7|8) ", "-p", node.port)
    assert r.stdout.splitlines() == ["old line 8 needle"]
    r = ctl("logs", "--grep", "(unclosed", "-p", node.port)
    assert r.returncode == 2, r
    assert "livelogd answered 400: invalid grep expression" in r.stderr


def test_json(node):
    r = ctl("logs", "-n", "2", "--json", f"ws://127.0.0.1:{node.ws['livelogs']}")
    assert r.returncode == 0, r.stderr
    frames = [json.loads(line) for line in r.stdout.splitlines()]
    assert [f["log"] for f in frames] == ["old line 29", "old line 30"]
    assert all(f["type"] == "live_log" and f["node_id"] == NODE_ID for f in frames)
    assert frames[1]["seq"] == frames[0]["seq"] + 1


def wait_stream_client(node, what):
    """Until livelogd has accepted the stream client (it says so in the log)."""
    poll(lambda: what in (node.tmp / "controld.log").read_text(errors="replace"), 10, f"{what!r} in the log")


def test_follow_prints_each_line_once(node):
    p = ctl_popen("logs", "-f", "-n", "2", "-p", node.port)
    try:
        assert read_lines(p, 2) == ["old line 29", "old line 30"]
        node.append("new line 1", "new line 2")
        assert read_lines(p, 2) == ["new line 1", "new line 2"]
        node.append(*[f"burst {i}" for i in range(200)])
        assert read_lines(p, 200) == [f"burst {i}" for i in range(200)]
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        assert p.returncode == 0, err
        assert out == ""  # nothing printed twice after the last line
    finally:
        if p.poll() is None:
            p.kill()


def test_follow_with_grep_and_no_backlog(node):
    p = ctl_popen("logs", "-f", "-n", "0", "--grep", "keep", "-p", node.port)
    try:
        wait_stream_client(node, "connected, filtered by grep")
        node.append("drop this", "keep this", "drop that", "keep that")
        assert read_lines(p, 2) == ["keep this", "keep that"]
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=10)
    assert p.returncode == 0


def test_follow_ends_when_livelogd_stops(node):
    p = ctl_popen("logs", "-f", "-n", "1", "-p", node.port)
    assert read_lines(p, 1) == ["old line 30"]
    node.append("through the stream")  # so the stream is open, not only /tail read
    assert read_lines(p, 1) == ["through the stream"]
    node.control("stop_livelogs")
    _, err = p.communicate(timeout=10)
    assert p.returncode == 1, err
    assert "livelogd at 127.0.0.1:" in err and "closed the stream (1001" in err


def test_control_characters_do_not_reach_a_terminal(node):
    """On a pipe a line is printed as it is; on a terminal an escape
    sequence in a log line is shown, not obeyed."""
    node.append("evil \x1b[2J line")
    node.wait_tail("evil")
    r = ctl("logs", "-n", "1", "-p", node.port)
    assert r.stdout == "evil \x1b[2J line\n"
    master, slave = pty.openpty()
    proc = subprocess.Popen([binary("resolvixctl/resolvixctl"), "logs", "-n", "1", "-p", str(node.port)], stdout=slave,
                            stderr=subprocess.PIPE, env=ctl_env())
    os.close(slave)
    proc.wait(timeout=10)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert out.replace(b"\r\n", b"\n") == b"evil ^[[2J line\n"
