"""resolvix-hub as a daemon: its configuration and --check, the sd_notify
protocol (READY, WATCHDOG from the loop, RELOADING on SIGHUP, STOPPING), and
the bounds on slow and numerous peers."""
import asyncio
import signal
import socket
import subprocess
import time

import websockets

from support import binary, poll
from hub_support import Hub, sample


def run(*args, env=None):
    full = {"PATH": "/usr/bin:/bin", "RESOLVIX_CONFIG": "", **(env or {})}
    return subprocess.run([binary("hub/resolvix-hub"), *args], capture_output=True, text=True, env=full, timeout=30)


def test_check_and_bad_configuration(tmp_path):
    out = run("--check", "--port", "9999", env={"RESOLVIX_HUB_MAX_BODY": "1M"})
    assert out.returncode == 0, out.stderr
    assert "[hub]" in out.stdout and "port = 9999" in out.stdout and "max_body = 1048576" in out.stdout
    out = run("--check", env={"RESOLVIX_HUB_TOKEN": "s3cret", "RESOLVIX_HUB_ENROLL_TOKEN": "e"})
    assert "s3cret" not in out.stdout and "token = (set)" in out.stdout and "enroll_token = (set)" in out.stdout
    conf = tmp_path / "hub.conf"
    conf.write_text("[hub]\nport = 8757\nagent_allow = 10.0.0.0/33\n")
    out = run("--check", "--config", str(conf))
    assert out.returncode != 0
    assert f"{conf}:3" in out.stderr and "agent_allow" in out.stderr
    out = run("--check", "--set", "hub.database=mysql://db")
    assert out.returncode != 0 and "postgresql://" in out.stderr
    out = run("--check", "--set", "hub.max_body=12 parsecs")
    assert out.returncode == 2 and "max_body" in out.stderr


def test_notify_watchdog_reload_and_stop(procs, tmp_path):
    conf = tmp_path / "hub.conf"
    conf.write_text("[hub]\ntoken = first\n")
    h = Hub(procs, tmp_path)
    h.env["WATCHDOG_USEC"] = "400000"
    h.start("--config", str(conf), wait=False)
    fields = h.notify.wait_for("READY", timeout=30)[1]
    assert "listening on 127.0.0.1" in fields["STATUS"]
    # Pings come from the loop, at half the watchdog period.
    h.notify.wait_for("WATCHDOG", timeout=5)
    h.notify.wait_for("WATCHDOG", timeout=5)
    assert h.get("/metrics", token="first").status == 200

    conf.write_text("[hub]\ntoken = second\n")
    h.proc.send_signal(signal.SIGHUP)
    msgs = h.notify.messages_until("READY", timeout=10)
    assert any("RELOADING" in f for _, f in msgs)
    assert h.get("/metrics", token="first").status == 401
    assert h.get("/metrics", token="second").status == 200
    # A file that does not parse leaves the running configuration alone.
    conf.write_text("[hub]\ntoken = third\nport = many\n")
    h.proc.send_signal(signal.SIGHUP)
    h.notify.messages_until("READY", timeout=10)
    assert h.get("/metrics", token="second").status == 200
    assert "not reloaded" in h.log()

    h.proc.send_signal(signal.SIGTERM)
    assert h.notify.wait_for("STOPPING", timeout=20)
    assert h.proc.wait(timeout=30) == 0


def test_state_directory_through_a_symlink(procs, tmp_path):
    """As systemd's DynamicUser= gives it: /var/lib/resolvix-hub -> private/resolvix-hub."""
    (tmp_path / "private" / "hub").mkdir(parents=True)
    (tmp_path / "link").symlink_to("private/hub")
    h = Hub(procs, tmp_path)
    h.env["RESOLVIX_CONTROL_STATE_DIR"] = str(tmp_path / "link")
    h.start()
    token = h.enroll("n1")
    assert h.push(token, [sample(1)]).status == 200
    assert (tmp_path / "private" / "hub" / "hub.sqlite").stat().st_mode & 0o777 == 0o600
    assert h.stop() == 0
    # The database file itself is never followed through a symlink.
    (tmp_path / "private" / "hub" / "hub.sqlite").rename(tmp_path / "elsewhere.sqlite")
    (tmp_path / "private" / "hub" / "hub.sqlite").symlink_to(tmp_path / "elsewhere.sqlite")
    h.start(wait=False)
    assert h.proc.wait(timeout=30) == 1
    assert "Cannot open the hub database" in h.log()


def test_port_in_use_and_database_unreachable(procs, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        out = run(env={"RESOLVIX_HUB_LISTEN": "127.0.0.1", "RESOLVIX_HUB_PORT": str(s.getsockname()[1]),
                       "RESOLVIX_CONTROL_STATE_DIR": str(tmp_path / "s1")})
    assert out.returncode == 1 and "Cannot listen" in out.stderr
    out = run(env={"RESOLVIX_HUB_LISTEN": "127.0.0.1", "RESOLVIX_HUB_PORT": "1",
                   "RESOLVIX_HUB_DATABASE": f"postgresql://postgres@/x?host={tmp_path}/nowhere"})
    assert out.returncode == 1 and "Cannot open the database" in out.stderr


def test_a_slow_database_open_asks_systemd_for_time(procs, tmp_path, pg_server):
    """Migrating a large database's schema can outlast systemd's start
    timeout: while the database is being opened (here, waiting for a lock
    another session holds on its schema), the hub extends that timeout
    every 10 s, says why in its log and status, and is ready once it is
    through."""
    import psycopg
    database = pg_server.new_database()
    first = Hub(procs, tmp_path / "first", database)
    (tmp_path / "first").mkdir()
    first.start()
    first.stop()

    with psycopg.connect(database) as conn:
        conn.execute("LOCK TABLE schema_version IN ACCESS EXCLUSIVE MODE")
        h = Hub(procs, tmp_path, database)
        h.start(wait=False)
        got = h.notify.messages_until("EXTEND_TIMEOUT_USEC", timeout=30)
        assert not any("READY" in fields for _, fields in got), got
        assert got[-1][1]["EXTEND_TIMEOUT_USEC"] == "30000000"
        assert got[-1][1]["STATUS"] == "opening the database"
        assert "Still opening the database" in h.log()
        conn.rollback()
    h.notify.wait_for("READY", timeout=30)
    token = h.enroll()
    assert h.push(token, [sample(1)]).json == {"acked": 1, "duplicates": 0, "last_seq": 1}


def test_slow_body_is_cut_off_by_a_deadline(procs, tmp_path):
    """A peer trickling its body a byte at a time does not keep the
    connection: the whole body has a deadline, not each byte."""
    h = Hub(procs, tmp_path)
    h.start()
    token = h.enroll("n1")
    s = socket.create_connection(("127.0.0.1", h.port), timeout=60)
    s.sendall(f"POST /api/v1/push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
              f"Content-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n".encode())
    start = time.monotonic()
    closed = False
    while time.monotonic() - start < 90:
        try:
            s.sendall(b"{")
            s.settimeout(1)
            if s.recv(4096) == b"":
                closed = True
                break
        except socket.timeout:
            continue
        except OSError:
            closed = True
            break
    s.close()
    assert closed, "still connected after 90 s of trickling"
    # Meanwhile and afterwards, everyone else is served.
    assert h.push(token, [sample(1)]).status == 200


def test_websocket_clients_are_bounded(procs, tmp_path):
    h = Hub(procs, tmp_path)
    h.start(env={"RESOLVIX_HUB_MAX_CLIENTS": "3"})

    async def go():
        held = [await websockets.connect(h.ws_url("/echo")) for _ in range(3)]
        try:
            await websockets.connect(h.ws_url("/echo"))
            return None
        except websockets.exceptions.InvalidStatusCode as e:
            return e.status_code
        finally:
            for ws in held:
                await ws.close()

    assert asyncio.run(go()) == 503
    # Once they left, a new one is taken.
    async def one():
        async with websockets.connect(h.ws_url("/echo")) as ws:
            await ws.send('{"type": "HELLO"}')
            return await ws.recv()
    assert "WELCOME" in poll(lambda: asyncio.run(one()), 10, "a free slot")


def test_oversized_echo_message_closes_with_1009(procs, tmp_path):
    h = Hub(procs, tmp_path)
    h.start()

    async def go():
        async with websockets.connect(h.ws_url("/echo"), max_size=None) as ws:
            await ws.send("x" * (65 * 1024))
            try:
                await asyncio.wait_for(ws.recv(), 10)
            except websockets.exceptions.ConnectionClosed as e:
                return e.code
    assert asyncio.run(go()) == 1009
