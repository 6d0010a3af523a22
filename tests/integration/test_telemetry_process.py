"""telemetryd as a process: readiness, start-up failures, the interval
signal controld sends, the command line."""
import asyncio
import socket
import subprocess

from support import binary, free_port
from telemetry_support import RESOLVIX_SIGNAL_INTERVAL, connect, recv_sample


def test_ready_status_names_address_port_and_interval(start_telemetryd):
    t = start_telemetryd(interval=7)
    assert t.ready["READY"] == "1"
    assert t.ready["STATUS"] == f"listening on 127.0.0.1:{t.port}, interval 7s"
    code, err = t.stop()
    assert code == 0
    assert f"127.0.0.1:{t.port}" in err


def test_port_in_use_fails_with_port_and_errno(procs, notify_socket):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = procs.start(
            [binary("telemetryd/telemetryd"), "--listen", "127.0.0.1", "--port", str(port)],
            env={"NOTIFY_SOCKET": notify_socket.path},
        )
        _, err = p.communicate(timeout=10)
        _, fields = notify_socket.wait_for("ERRNO", timeout=5)
    assert p.returncode != 0
    assert str(port) in err.decode()
    assert fields["RESOLVIX_ERROR"] == "port_in_use"
    assert fields["ERRNO"] == "98"  # EADDRINUSE
    assert str(port) in fields["STATUS"]


def test_connections_that_close_early_leave_it_running(start_telemetryd):
    """Port scanners, TCP health checks and browsers' pre-connections open a
    socket and close it without a request, or with half of one."""
    t = start_telemetryd()
    for payload in (b"", b"GET /sam", b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"):
        with socket.create_connection(("127.0.0.1", t.port)) as s:
            s.sendall(payload)
    status, _, _ = t.http("/sample")
    assert status == 200
    assert t.proc.poll() is None


def test_interval_signal_reschedules(start_telemetryd):
    t = start_telemetryd(interval=60)

    async def go():
        async with connect(t.url()) as ws:
            first = await recv_sample(ws)
            assert first["interval"] == 60
            t.sigqueue(RESOLVIX_SIGNAL_INTERVAL, 1)
            # sampled at once on the change, then every second
            changed = await recv_sample(ws, timeout=2)
            nxt = await recv_sample(ws, timeout=3)
            t.sigqueue(RESOLVIX_SIGNAL_INTERVAL, 0)  # out of range: ignored
            t.sigqueue(RESOLVIX_SIGNAL_INTERVAL, 86401)
            later = await recv_sample(ws, timeout=3)
            return changed, nxt, later

    changed, nxt, later = asyncio.run(go())
    assert changed["interval"] == 1
    assert nxt["interval"] == 1 and nxt["seq"] > changed["seq"]
    assert later["interval"] == 1
    code, err = t.stop()
    assert code == 0
    assert "Interval changed from 60 s to 1 s" in err
    assert "86401" in err


def test_command_line():
    exe = binary("telemetryd/telemetryd")
    env = {"RESOLVIX_CONFIG": "", "PATH": "/usr/bin:/bin"}
    h = subprocess.run([exe, "--help"], capture_output=True, text=True, env=env, timeout=10)
    assert h.returncode == 0
    for flag in ("--listen", "--port", "--interval", "--token", "--max-clients"):
        assert flag in h.stdout
    port = free_port()
    c = subprocess.run([exe, "--check", "-p", str(port), "-i", "5", "--max-clients", "9"], capture_output=True,
                       text=True, env=env, timeout=10)
    assert c.returncode == 0
    section = c.stdout.split("[telemetry]")[1].split("[")[0]
    assert f"port = {port}" in section
    assert "interval = 5" in section
    assert "max_clients = 9" in section
    bad = subprocess.run([exe, "--interval", "0"], capture_output=True, text=True, env=env, timeout=10)
    assert bad.returncode != 0
    assert "interval" in bad.stderr
