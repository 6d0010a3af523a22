"""Custom metrics survive telemetryd and controld restarts (the append log
under state_dir), and the ingest port's start-up failures are named."""
import signal
import socket

from ingest_support import LOG_NAME, OK, expect
from support import binary, control, free_port, get_status, pid_alive, poll, start_controld, wait_port

PUTS = (b"put palm.cpu 0.5 1150864247\nput palm.cpu 2 1150864248\nput eardrum.cpu 3 1150864250\n"
        b"put palm.cpu 0.7 1150864247\nput third 0.1 -1\n")
ALL = (b"ok\neardrum.cpu 3.0 1150864250\npalm.cpu 0.7 1150864247\npalm.cpu 2.0 1150864248\n"
       b"third 0.1 -1\n\n")


def test_points_survive_a_restart(start_ingest):
    ing = start_ingest()
    assert ing.ask(PUTS) == OK * 5
    code, _ = ing.t.stop()
    assert code == 0

    again = start_ingest()
    assert again.state_dir == ing.state_dir
    assert again.ask(b"get *\n") == ALL
    assert f"4 points of 3 metrics restored from {ing.log_file}" in again.t.log()


def test_acknowledged_points_survive_kill_9(start_ingest):
    ing = start_ingest()
    with ing.session() as s:
        for i in range(300):
            expect(s, b"put k%d %d %d\n" % (i % 7, i, i), OK)
        ing.t.proc.send_signal(signal.SIGKILL)
        ing.t.proc.wait(timeout=10)

    again = start_ingest()
    reply = again.ask(b"get *\n")
    want = sorted(b"k%d %d.0 %d" % (i % 7, i, i) for i in range(300))
    assert sorted(reply.split(b"\n")[1:-2]) == want


def test_a_torn_last_line_is_skipped(start_ingest, tmp_path):
    """What a crash in the middle of a write leaves."""
    state = tmp_path / "state"
    state.mkdir()
    (state / LOG_NAME).write_bytes(b"put a 1.0 1\nput a 2.0 2\nput a 3.5 17")
    ing = start_ingest()
    assert ing.ask(b"get a\n") == b"ok\na 1.0 1\na 2.0 2\n\n"
    assert "skipped 1 damaged line" in ing.t.log()
    assert ing.ask(b"put a 3 3\n") == OK
    ing.t.stop()
    again = start_ingest()
    assert again.ask(b"get a\n") == b"ok\na 1.0 1\na 2.0 2\na 3.0 3\n\n"


def test_the_log_stays_bounded(start_ingest):
    """120,000 puts, each evicting the one before: the log is compacted
    whenever it outgrows twice what it holds plus a megabyte."""
    ing = start_ingest(max_points=1)
    batch = 20000
    sizes = []
    with ing.session(timeout=30) as s:
        for b in range(6):
            lines = b"".join(b"put m %d %d\n" % (i, i) for i in range(b * batch, (b + 1) * batch))
            expect(s, lines, OK * batch)
            sizes.append(ing.log_file.stat().st_size)
    written = sum(len(b"put m %d %d\n" % (i, i)) for i in range(6 * batch))
    assert written > 2 << 20
    assert max(sizes) < (1 << 20) + batch * 24, sizes
    assert ing.ask(b"get m\n") == b"ok\nm 119999.0 119999\n\n"
    ing.t.stop()
    # Replayed, then rewritten to what the store holds.
    again = start_ingest(max_points=1)
    assert again.ask(b"get m\n") == b"ok\nm 119999.0 119999\n\n"
    assert again.log_file.read_bytes() == b"put m 119999 119999\n"


def test_one_telemetryd_per_state_directory(start_ingest, procs, tmp_path):
    start_ingest()
    p = procs.start([binary("telemetryd/telemetryd"), "--port", str(free_port()), "--ingest-port", str(free_port())],
                    env={"RESOLVIX_TELEMETRY_LISTEN": "127.0.0.1", "RESOLVIX_CONTROL_STATE_DIR": str(tmp_path / "state")})
    _, err = p.communicate(timeout=10)
    assert p.returncode == 1
    assert b"another telemetryd holds it" in err


def test_ingest_port_in_use_fails_the_start_naming_it(procs, notify_socket, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = procs.start(
            [binary("telemetryd/telemetryd"), "--port", str(free_port()), "--ingest-port", str(port)],
            env={"NOTIFY_SOCKET": notify_socket.path, "RESOLVIX_TELEMETRY_LISTEN": "127.0.0.1",
                 "RESOLVIX_CONTROL_STATE_DIR": str(tmp_path / "state")},
        )
        _, err = p.communicate(timeout=10)
        _, fields = notify_socket.wait_for("ERRNO", timeout=5)
    assert p.returncode == 1
    assert fields["RESOLVIX_ERROR"] == "port_in_use"
    assert fields["ERRNO"] == "98"
    assert f"127.0.0.1:{port} (ingest_port)" in fields["STATUS"]
    assert str(port).encode() in err


def test_an_unusable_state_dir_fails_the_start(procs, notify_socket, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    p = procs.start(
        [binary("telemetryd/telemetryd"), "--port", str(free_port()), "--ingest-port", str(free_port())],
        env={"NOTIFY_SOCKET": notify_socket.path, "RESOLVIX_TELEMETRY_LISTEN": "127.0.0.1",
             "RESOLVIX_CONTROL_STATE_DIR": str(blocker / "state")},
    )
    p.communicate(timeout=10)
    _, fields = notify_socket.wait_for("ERRNO", timeout=5)
    assert p.returncode == 1
    assert f"cannot open the custom metrics log in {blocker}/state" in fields["STATUS"]


# ---- under controld ----------------------------------------------------------

def controld(procs, tmp_path, ws_port, ingest_port):
    return start_controld(procs, tmp_path, {"telemetryd": binary("telemetryd/telemetryd")},
                          {"RESOLVIX_NODE_ID": "test-node", "RESOLVIX_TELEMETRY_LISTEN": "127.0.0.1",
                           "RESOLVIX_TELEMETRY_PORT": str(ws_port),
                           "RESOLVIX_TELEMETRY_INGEST_PORT": str(ingest_port)})


def ask(port, request):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        buf = b""
        while chunk := s.recv(65536):
            buf += chunk
        return buf


def test_points_survive_a_controld_restart(procs, tmp_path):
    ws_port, ingest_port = free_port(), free_port()
    port = controld(procs, tmp_path, ws_port, ingest_port)
    code, body = control(port, "start_telemetry", interval=1)
    assert code == 200 and body["status"] == "started"
    assert ask(ingest_port, PUTS) == OK * 5
    # telemetryd keeps its log in controld's state directory
    assert (tmp_path / "state" / LOG_NAME).exists()

    first = procs.procs[-1]
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=15) == 0
    assert not pid_alive(body["pid"])

    # The desired state brings telemetryd back, and it its points.
    port = controld(procs, tmp_path, ws_port, ingest_port)
    poll(lambda: get_status(port)["telemetry"]["running"], 10, "telemetry restored")
    wait_port(ingest_port)
    assert ask(ingest_port, b"get *\n") == ALL

    # and a restart through the API keeps them too
    code, again = control(port, "restart_telemetry")
    assert code == 200 and again["status"] == "restarted"
    assert ask(ingest_port, b"get *\n") == ALL


def test_ingest_port_in_use_is_port_in_use_for_controld(procs, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ingest_port = taken.getsockname()[1]
        port = controld(procs, tmp_path, free_port(), ingest_port)
        code, body = control(port, "start_telemetry")
    assert code == 409
    assert body["status"] == "error" and body["detail"] == "port_in_use"
    assert str(ingest_port) in body["message"]
    assert get_status(port)["telemetry"]["running"] is False
