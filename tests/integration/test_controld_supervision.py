"""controld's supervision (docs/architecture.md) with the stand-in worker: start failures
and their causes, restarts, crash loops, stop escalation, shutdown, and the
desired state across controld restarts."""
import json
import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from support import pid_alive, poll, wait_port


@pytest.fixture
def cd(controld):
    controld.start()
    return controld


@pytest.fixture
def pool():
    with ThreadPoolExecutor(max_workers=4) as p:
        yield p


def exe(cd, role):
    return str(cd.worker_dir / cd.WORKERS[role])


# ---- start failures ----------------------------------------------------------


@pytest.mark.parametrize("role", ["telemetry", "livelogs"])
def test_missing_executable_is_spawn_failed(cd, role):
    (cd.worker_dir / cd.WORKERS[role]).unlink()
    r = cd.control(f"start_{role}")
    assert r.status == 500, r
    assert (r.json["status"], r.json["detail"]) == ("error", "spawn_failed")
    assert exe(cd, role) in r.json["message"]
    s = cd.status()[role]
    assert (s["running"], s["pid"]) == (False, None)
    assert f"cannot start {exe(cd, role)}" in cd.log()
    # Still refused the same way, and the other worker is unaffected.
    assert cd.control(f"start_{role}").json["detail"] == "spawn_failed"
    other = "livelogs" if role == "telemetry" else "telemetry"
    assert cd.control(f"start_{other}").json["status"] == "started"


def test_worker_exit_before_ready(cd):
    cd.behave("telemetry", "exit-before-ready=3")
    r = cd.control("start_telemetry")
    assert r.status == 500, r
    assert r.json["detail"] == "worker_exited"
    assert "telemetryd exited with status 3" in r.json["message"]
    s = cd.status()["telemetry"]
    assert (s["running"], s["pid"], s["last_exit"]) == (False, None, {"code": 3})
    assert "telemetry worker (pid" in cd.log() and "exited with status 3" in cd.log()

    # A start once the cause is gone recovers.
    cd.behave("telemetry")
    r = cd.control("start_telemetry")
    assert (r.status, r.json["status"]) == (200, "started")
    assert cd.health().status == 200


@pytest.mark.parametrize("role", ["telemetry", "livelogs"])
def test_port_in_use_is_409(cd, role):
    port = cd.ports[role]
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        r = cd.control(f"start_{role}")
        assert r.status == 409, r
        assert (r.json["status"], r.json["detail"]) == ("error", "port_in_use")
        assert str(port) in r.json["message"]
        assert cd.status()[role]["running"] is False
        assert "Address already in use" in cd.log() or "in use" in cd.log()
    r = cd.control(f"start_{role}")
    assert (r.status, r.json["status"]) == (200, "started")


def test_failed_start_is_not_desired(cd):
    """A start the operator was told failed is not retried behind their back,
    neither now nor when controld restarts."""
    cd.behave("telemetry", "exit-before-ready=4")
    assert cd.control("start_telemetry").status == 500
    assert json.loads((cd.state_dir / "state.json").read_text())["telemetry"]["enabled"] is False
    assert cd.health().status == 200
    cd.behave("telemetry")
    assert cd.stop() == 0
    cd.start()
    poll(lambda: "Ready" in cd.log(), 5, "controld ready")
    assert cd.status()["telemetry"]["state"] in ("stopped", "failed")
    assert cd.status()["telemetry"]["pid"] is None


def test_stop_cancels_a_pending_start(cd, pool):
    cd.behave("telemetry", "no-ready")
    pending = pool.submit(cd.control, "start_telemetry")
    s = cd.wait_status(lambda s: s["telemetry"]["state"] == "starting", what="worker starting")
    pid = s["telemetry"]["pid"]
    assert s["telemetry"]["running"] is False and pid_alive(pid)
    r = cd.control("stop_telemetry")
    assert (r.status, r.json) == (200, {"status": "stopped"})
    r = pending.result(timeout=10)
    assert r.status == 409, r
    assert r.json["detail"] == "start_cancelled"
    assert not pid_alive(pid)
    assert cd.status()["telemetry"]["state"] == "stopped"


def test_start_timeout_is_503(cd, pool):
    """The one slow test: a worker that never reports READY=1 is given 10 s."""
    cd.behave("telemetry", "no-ready")
    first = pool.submit(cd.control, "start_telemetry")
    s = cd.wait_status(lambda s: s["telemetry"]["state"] == "starting", what="worker starting")
    pid = s["telemetry"]["pid"]

    # While it waits: the API stays responsive, a second start joins the wait,
    # a client that gives up does no harm, and health says degraded.
    second = pool.submit(cd.control, "start_telemetry")
    with socket.create_connection(("127.0.0.1", cd.port)) as quitter:
        quitter.sendall(b'POST /control HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n'
                        b'Content-Length: 30\r\n\r\n{"command": "start_telemetry"}')
        # Gone only once controld has parked it with the other two.
        poll(lambda: cd.log().count("Control: start_telemetry") == 3, 5, "three parked starts")
    h = cd.health()
    assert (h.status, h.json["status"], h.json["workers"]["telemetry"]) == (503, "degraded", "starting")
    assert cd.status()["telemetry"]["running"] is False
    assert cd.control("start_livelogs").json["status"] == "started"

    for fut in (first, second):
        r = fut.result(timeout=15)
        assert r.status == 503, r
        assert (r.json["status"], r.json["detail"]) == ("error", "start_timeout")
        assert "telemetryd" in r.json["message"]
    poll(lambda: not pid_alive(pid), 2, "hung worker killed")
    s = cd.status()["telemetry"]
    assert (s["running"], s["pid"], s["last_exit"]) == (False, None, {"signal": "SIGKILL"})
    assert cd.status()["livelogs"]["running"] is True
    assert "did not become ready in time" in cd.log()
    # The operator was told it failed: nothing is left wanted and not running.
    assert cd.health().status == 200
    assert json.loads((cd.state_dir / "state.json").read_text())["telemetry"]["enabled"] is False


# ---- supervision of running workers --------------------------------------------


@pytest.mark.parametrize("role", ["telemetry", "livelogs"])
def test_kill9_worker_is_restarted(cd, role):
    fields = {"interval": 5} if role == "telemetry" else {}
    pid = cd.control(f"start_{role}", **fields).json["pid"]
    os.kill(pid, signal.SIGKILL)
    s = cd.wait_status(lambda s: s[role]["running"] and s[role]["pid"] not in (None, pid), what="restarted worker")
    w = s[role]
    assert w["restarts"] == 1
    assert w["last_exit"] == {"signal": "SIGKILL"}
    assert w["state"] == "running"
    assert cd.worker(role)["pid"] == w["pid"]
    if role == "telemetry":
        assert cd.worker(role)["interval"] == 5
    log = cd.log()
    assert f"{role} worker (pid {pid}) killed by signal SIGKILL" in log
    assert f"{role}: restarting in" in log
    assert cd.health().status == 200

    # A clean but unexpected exit is a crash too.
    os.kill(w["pid"], signal.SIGTERM)
    s = cd.wait_status(lambda s: s[role]["running"] and s[role]["pid"] not in (None, w["pid"]),
                       what="second restart")
    assert s[role]["restarts"] == 2
    assert s[role]["last_exit"] == {"code": 0}


def test_crash_loop_fails_then_start_recovers(cd):
    cd.behave("telemetry", "crash-after-ms=50")
    assert cd.control("start_telemetry").json["status"] == "started"
    s = cd.wait_status(lambda s: s["telemetry"]["state"] == "failed", timeout=20, what="crash loop detected")
    t = s["telemetry"]
    assert (t["running"], t["pid"]) == (False, None)
    assert t["last_exit"] == {"signal": "SIGABRT"}
    assert t["restarts"] == 5  # six crashes, five restarts, then no more
    h = cd.health()
    assert (h.status, h.json["status"], h.json["workers"]["telemetry"]) == (503, "degraded", "failed")
    assert "telemetry: 6 crashes within 60 s: giving up" in cd.log()
    assert cd.log().count("telemetry: restarting in") == 5

    cd.behave("telemetry")
    r = cd.control("start_telemetry")
    assert (r.status, r.json["status"]) == (200, "started")
    assert cd.status()["telemetry"]["state"] == "running"
    assert cd.health().status == 200


def test_worker_ignoring_sigterm_is_killed(cd):
    cd.behave("telemetry", "ignore-term")
    pid = cd.control("start_telemetry").json["pid"]
    started = time.monotonic()
    r = cd.control("stop_telemetry", timeout=15)
    elapsed = time.monotonic() - started
    assert (r.status, r.json) == (200, {"status": "stopped"})
    # Part of the contract: SIGTERM, then SIGKILL after 5 s.
    assert 4.5 < elapsed < 6.5, elapsed
    assert not pid_alive(pid)
    assert cd.status()["telemetry"]["last_exit"] == {"signal": "SIGKILL"}
    assert "did not stop in time; sending SIGKILL" in cd.log()


def test_kill9_controld_leaves_no_worker(cd):
    pids = [cd.control("start_telemetry").json["pid"], cd.control("start_livelogs").json["pid"]]
    assert all(pid_alive(p) for p in pids)
    cd.proc.kill()
    cd.proc.wait()
    poll(lambda: not any(pid_alive(p) for p in pids), 2, "workers gone after kill -9 of controld")


def test_sigterm_stops_workers_and_exits_0(cd):
    pids = [cd.control("start_telemetry").json["pid"], cd.control("start_livelogs").json["pid"]]
    assert cd.stop() == 0
    assert not any(pid_alive(p) for p in pids)
    log = cd.log()
    assert "Received SIGTERM" in log
    assert "telemetry: stopping worker" in log and "livelogs: stopping worker" in log
    assert log.rstrip().endswith("Stopped")


def test_sigterm_kills_a_worker_ignoring_it(cd):
    cd.behave("livelogs", "ignore-term")
    pid = cd.control("start_livelogs").json["pid"]
    cd.proc.send_signal(signal.SIGTERM)
    cd.wait_log("Received SIGTERM")
    # While it waits for the worker: commands are refused, health says so.
    r = cd.control("start_telemetry")
    assert (r.status, r.json["detail"]) == (503, "shutting_down")
    assert cd.health().status == 503
    assert cd.proc.wait(timeout=10) == 0
    assert not pid_alive(pid)
    assert "telemetry worker started" not in cd.log()


def test_sigterm_answers_a_pending_start(cd, pool):
    cd.behave("telemetry", "no-ready")
    pending = pool.submit(cd.control, "start_telemetry")
    pid = cd.wait_status(lambda s: s["telemetry"]["state"] == "starting", what="starting")["telemetry"]["pid"]
    cd.proc.send_signal(signal.SIGTERM)
    r = pending.result(timeout=10)
    assert (r.status, r.json["detail"]) == (503, "shutting_down"), r
    assert cd.proc.wait(timeout=10) == 0
    assert not pid_alive(pid)
    # Interrupted by controld's shutdown, not refused: it is still wanted.
    cd.behave("telemetry")
    cd.start()
    cd.wait_status(lambda s: s["telemetry"]["running"], what="telemetry back after the restart")


# ---- desired state -------------------------------------------------------------


def test_restart_restores_desired_state(cd):
    for command, fields in (("start_telemetry", {"interval": 9}), ("start_livelogs", {})):
        r = cd.control(command, **fields)
        assert r.json["status"] == "started", (r, cd.log())
    assert json.loads((cd.state_dir / "state.json").read_text()) == {
        "telemetry": {"enabled": True, "interval": 9}, "livelogs": {"enabled": True},
        "push": {"enabled": False}}
    old = cd.status()
    assert cd.stop() == 0

    cd.start()
    s = cd.wait_status(lambda s: s["telemetry"]["running"] and s["livelogs"]["running"], what="workers restored")
    assert s["telemetry"]["interval"] == 9
    assert cd.worker("telemetry")["interval"] == 9
    assert s["telemetry"]["pid"] != old["telemetry"]["pid"]
    assert "Restoring saved state" in cd.log()

    # What was stopped stays stopped, also across a kill -9.
    cd.control("stop_livelogs")
    cd.control("start_telemetry", interval=12)
    cd.proc.kill()
    cd.proc.wait()
    poll(lambda: not pid_alive(s["telemetry"]["pid"]), 2, "old worker gone")
    cd.start()
    s = cd.wait_status(lambda s: s["telemetry"]["running"], what="telemetry restored")
    assert cd.worker("telemetry")["interval"] == 12
    assert s["livelogs"]["running"] is False and s["livelogs"]["state"] == "stopped"


def test_autostart_seeds_first_start_only(controld):
    env = {"RESOLVIX_TELEMETRY_AUTOSTART": "true", "RESOLVIX_TELEMETRY_INTERVAL": "3"}
    controld.start(env=env)
    s = controld.wait_status(lambda s: s["telemetry"]["running"], what="autostarted telemetry")
    assert s["livelogs"]["running"] is False
    assert controld.worker("telemetry")["interval"] == 3
    assert "starting from autostart" in controld.log()

    # Once there is a saved state, it wins over autostart.
    assert controld.control("stop_telemetry").json["status"] == "stopped"
    assert controld.stop() == 0
    controld.start(env=env)
    poll(lambda: "Ready" in controld.log(), 5, "controld ready")
    assert controld.status()["telemetry"]["running"] is False


def test_unreadable_state_is_ignored(controld):
    controld.state_dir.mkdir()
    (controld.state_dir / "state.json").write_text("{not json")
    controld.start()
    assert controld.status()["telemetry"]["state"] == "stopped"
    assert "Ignoring unreadable state" in controld.log()
    assert controld.control("start_telemetry").json["status"] == "started"
    assert json.loads((controld.state_dir / "state.json").read_text())["telemetry"]["enabled"] is True


def test_restored_worker_that_hangs_is_retried_as_a_crash(controld):
    """Nobody waits on a restore: a worker that never reports ready is killed
    after the readiness timeout and retried with backoff, not left stopped."""
    controld.state_dir.mkdir()
    (controld.state_dir / "state.json").write_text(
        json.dumps({"telemetry": {"enabled": True, "interval": 5}, "livelogs": {"enabled": False}}))
    controld.behave("telemetry", "no-ready")
    controld.start()
    first = controld.wait_status(lambda s: s["telemetry"]["pid"] is not None, what="hung worker spawned")
    hung = first["telemetry"]["pid"]
    # It listens only after reading its behaviour: then the file can go.
    wait_port(controld.ports["telemetry"], timeout=15)

    controld.behave("telemetry")
    s = controld.wait_status(lambda s: s["telemetry"]["running"], timeout=15, what="retried after the hang")
    assert s["telemetry"]["pid"] != hung
    assert s["telemetry"]["restarts"] >= 1
    assert s["telemetry"]["last_exit"] == {"signal": "SIGKILL"}
    assert not pid_alive(hung)
    assert "did not become ready in time" in controld.log()
