"""resolvixctl watch against the real telemetry stream: one line per sample
on a pipe, the samples themselves with --json, and the full-screen view in
a pseudo-terminal that follows the terminal's size and gives the terminal
back as it found it."""
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from ctl_support import NODE_ID, ctl, ctl_env, ctl_popen, read_lines
from support import binary

LINE = re.compile(r"(\S+) (\S+) cpu ([\d.]+)% load ([\d.]+) mem ([\d.]+)% swap ([\d.]+)% disk_read ([\d.]+) "
                  r"disk_write ([\d.]+) MiB/s net_recv ([\d.]+) net_sent ([\d.]+) MiB/s conns (\d+) procs (\d+)")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def node(nodes):
    n = nodes()
    n.control("start_telemetry", interval=1)
    return n


def test_lines_on_a_pipe(node):
    r = ctl("watch", "-n", "3", "-p", node.port)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3, r.stdout
    for line in lines:
        m = LINE.fullmatch(line)
        assert m, line
        assert m.group(2) == NODE_ID
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", m.group(1))
        assert 0 <= float(m.group(3)) <= 100 and 0 < float(m.group(5)) <= 100
        assert int(m.group(12)) > 0
    assert "\x1b" not in r.stdout  # no escape sequences into a pipe


def test_json_frames_are_the_samples(node):
    r = ctl("watch", "--json", "--count", "3", f"ws://127.0.0.1:{node.ws['telemetry']}")
    assert r.returncode == 0, r.stderr
    frames = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(frames) == 3
    seqs = [f["seq"] for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    for f in frames:
        assert f["node_id"] == NODE_ID
        assert set(f["metrics"]) >= {"cpu", "memory", "disk", "network", "processes"}
        assert len(f["metrics"]["cpu"]["cpu_per_core_percent"]) == f["metrics"]["cpu"]["count"]


def test_delay_asks_for_samples_between_the_streams_own(nodes):
    """At interval 60, --delay 0.5 still gets a sample every half second:
    the stream's first one, then the ones it asked for."""
    n = nodes()
    n.control("start_telemetry", interval=60)
    r = ctl("watch", "--json", "-n", "3", "-d", "0.5", "-p", n.port, timeout=20)
    assert r.returncode == 0, r.stderr
    frames = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(frames) == 3 and all(f["interval"] == 60 for f in frames)
    # Without --delay's requests only the stream's own first sample comes in time.
    p = ctl_popen("watch", "--json", "-d", "0", "-p", n.port)
    time.sleep(2.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    assert len(out.splitlines()) == 1


def test_the_stream_ending_ends_watch(node):
    p = ctl_popen("watch", "-d", "0", "-p", node.port)
    line = read_lines(p, 1)[0]
    assert LINE.fullmatch(line), line
    node.control("stop_telemetry")
    out, err = p.communicate(timeout=10)
    assert p.returncode == 1
    assert f"telemetryd at 127.0.0.1:{node.ws['telemetry']} closed the stream (1001: server shutting down)" in err


def test_signals_end_watch_cleanly(node):
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        p = ctl_popen("watch", "-p", node.port)
        assert read_lines(p, 1)
        p.send_signal(sig)
        _, err = p.communicate(timeout=10)
        assert p.returncode == 0, (sig, err)
        assert err == ""


def test_stream_token(nodes):
    n = nodes(env={"RESOLVIX_TELEMETRY_TOKEN": "stream-secret"})
    n.control("start_telemetry", interval=1)
    r = ctl("watch", "-n", "1", "-p", n.port)
    assert r.returncode == 4, r
    assert (f"telemetryd at 127.0.0.1:{n.ws['telemetry']} refused the connection: missing or wrong token (401); "
            "pass --stream-token TOKEN or set RESOLVIX_STREAM_TOKEN") in r.stderr
    assert ctl("watch", "-n", "1", "-p", n.port, "--stream-token", "stream-secret").returncode == 0
    assert ctl("watch", "-n", "1", "-p", n.port, env={"RESOLVIX_STREAM_TOKEN": "stream-secret"}).returncode == 0
    # Without a stream token of its own, the control token is tried.
    assert ctl("watch", "-n", "1", "-p", n.port, "--token", "stream-secret").returncode == 0


# ---- a terminal ----------------------------------------------------------------

class Terminal:
    """resolvixctl in a pseudo-terminal of its own (its controlling tty, so
    that resizing sends it SIGWINCH as a terminal emulator would)."""

    def __init__(self, args, cols, rows):
        self.master, slave = os.openpty()
        self.resize(cols, rows)
        self.slave_attrs = termios.tcgetattr(slave)
        env = ctl_env({"TERM": "xterm-256color"})

        def own_tty():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([binary("resolvixctl/resolvixctl"), *map(str, args)], stdin=slave, stdout=slave,
                                     stderr=slave, env=env, start_new_session=True, preexec_fn=own_tty)
        self.slave = slave
        self.out = b""

    def resize(self, cols, rows):
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def read_until(self, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        while not predicate(self.out):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"not seen in time; screen output so far: {self.out[-3000:]!r}")
            if select.select([self.master], [], [], left)[0]:
                try:
                    self.out += os.read(self.master, 65536)
                except OSError:  # the child is gone and the tty hung up
                    break
        return self.out

    def frames(self):
        """Complete frames drawn so far, as lists of plain lines."""
        text = self.out.decode(errors="replace")
        parts = text.split("\x1b[H")[1:]
        done = [p for p in parts if "\x1b[J" in p]  # drawn down to the status line
        return [[ANSI.sub("", line).rstrip("\r") for line in p.split("\n")] for p in done]

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)


def test_full_screen_follows_the_terminal(node):
    term = Terminal(["watch", "-p", node.port], cols=100, rows=30)
    try:
        out = term.read_until(lambda o: b"q: quit" in o and b"Swap" in o)
        assert out.startswith(b"\x1b[?1049h")  # the alternate screen, so the shell's screen comes back

        frame = term.frames()[-1]
        text = "\n".join(frame)
        assert NODE_ID in frame[0]
        for label in ("CPU", "Mem", "Swap", "disk I/O", "network", "MOUNT", "PID", "processes"):
            assert label in text, (label, text)
        cores = sum(1 for line in open("/proc/stat") if re.match(r"cpu\d", line))
        assert len(re.findall(r"(?:^|\s)(\d+) \[[| ]*[\d.]+%\]", text)) == cores, text
        assert all(len(line) <= 100 for line in frame), [len(x) for x in frame]
        assert len(frame) <= 30

        # Narrower and shorter: the next frame fits the new size at once,
        # without waiting for a sample.
        mark = len(term.out)
        term.resize(60, 16)
        term.read_until(lambda o: b"\x1b[16;1H" in o[mark:])
        frame = term.out[mark:].decode().split("\x1b[H")[-1]
        small = [ANSI.sub("", line).rstrip("\r") for line in frame.split("\n")]
        assert all(len(line) <= 60 for line in small), small
        assert len(small) <= 16
        assert "CPU" in "\n".join(small)

        # q quits, leaves the alternate screen and gives the terminal back.
        os.write(term.master, b"q")
        assert term.proc.wait(timeout=10) == 0
        term.read_until(lambda o: o.endswith(b"\x1b[?25h\x1b[?1049l"), timeout=5)
        assert termios.tcgetattr(term.slave)[3] == term.slave_attrs[3]  # ECHO and ICANON as before
    finally:
        term.close()


def test_ctrl_c_in_a_terminal(node):
    term = Terminal(["watch", "-p", node.port], cols=80, rows=24)
    try:
        term.read_until(lambda o: b"q: quit" in o)
        os.write(term.master, b"\x03")  # the terminal turns ^C into SIGINT
        assert term.proc.wait(timeout=10) == 0
        assert termios.tcgetattr(term.slave)[3] == term.slave_attrs[3]
    finally:
        term.close()


def test_errors_after_the_screen_are_shown(node):
    """What goes wrong while the view is up is printed once the shell's
    screen is back, not lost with the alternate screen."""
    term = Terminal(["watch", "-d", "0", "-p", node.port], cols=80, rows=24)
    try:
        term.read_until(lambda o: b"q: quit" in o and b"Swap" in o)
        node.control("stop_telemetry")
        assert term.proc.wait(timeout=10) == 1
        out = term.read_until(lambda o: b"closed the stream" in o, timeout=5)
        tail = out[out.rindex(b"\x1b[?1049l"):]
        assert b"closed the stream (1001" in tail
    finally:
        term.close()


def test_history_as_sparklines_on_load(node):
    """The screen starts with the last hour telemetryd kept (GET /history and
    get_history on the stream), one sparkline a headline series."""
    import http.client

    def records():
        conn = http.client.HTTPConnection("127.0.0.1", node.ws["telemetry"], timeout=5)
        try:
            conn.request("GET", "/history")
            return json.loads(conn.getresponse().read())["count"]
        finally:
            conn.close()
    deadline = time.monotonic() + 30
    while records() < 5:
        assert time.monotonic() < deadline, "telemetryd kept no history"
        time.sleep(0.5)
    kept = records()

    term = Terminal(["watch", "-p", node.port, "--delay", "0"], cols=100, rows=40)
    try:
        spark = re.compile(r"^(CPU|Mem|load|disk|net)\s+([▁▂▃▄▅▆▇█ ]+?)\s+(\S+(?: MB/s)?)$")
        def cells(f):
            m = [spark.match(ln) for ln in f if spark.match(ln)]
            return min(len(x.group(2)) for x in m) if len(m) == 5 else 0
        # The history fills the sparklines at once: without it, as many
        # cells would take as many samples, one frame each.
        term.read_until(lambda o: any(cells(f) >= kept for f in term.frames()))
        frames = term.frames()
        first = next(i for i, f in enumerate(frames) if cells(f) >= kept)
        assert first <= 3, [cells(f) for f in frames]
        frame = frames[first]
        lines = {spark.match(ln).group(1): spark.match(ln) for ln in frame if spark.match(ln)}
        assert sorted(lines) == ["CPU", "Mem", "disk", "load", "net"]
        assert all(len(ln) <= 100 for ln in frame)
        assert re.match(r"\d+\.\d%$", lines["CPU"].group(3)) and re.match(r"\d+\.\d%$", lines["Mem"].group(3))
        assert lines["disk"].group(3).endswith("MB/s") and lines["net"].group(3).endswith("MB/s")
        os.write(term.master, b"q")
        assert term.proc.wait(timeout=10) == 0
    finally:
        term.close()
