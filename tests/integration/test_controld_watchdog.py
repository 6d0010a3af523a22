"""Health means alive (docs/architecture.md): workers send WATCHDOG=1 to controld as they
would to systemd; one that stops (SIGSTOP, a hung loop) is shown as
"unresponsive", makes /health 503, and is killed and restarted after a
second period of silence. A wanted worker that failed makes /health 503 too."""
import http.client
import json
import os
import signal

import pytest

from support import binary, free_port, get_status, pid_alive, poll, start_controld

PERIOD = 2  # [control] worker_watchdog, seconds


@pytest.fixture
def cd(controld):
    controld.start(env={"RESOLVIX_CONTROL_WORKER_WATCHDOG": str(PERIOD)})
    return controld


def health(cd):
    r = cd.health()
    return r.status, r.json


def see_unresponsive_then_restarted(cd, pid):
    """/status says unresponsive, /health is 503, then a new process runs."""
    s = cd.wait_status(lambda s: s["telemetry"]["state"] == "unresponsive", timeout=PERIOD * 5,
                       what="telemetry unresponsive")
    assert s["telemetry"]["pid"] == pid and s["telemetry"]["running"] is False
    status, body = health(cd)
    # Still unresponsive (the kill comes one period later), or already being
    # replaced: degraded either way.
    assert (status, body["status"]) == (503, "degraded"), body
    assert body["workers"]["telemetry"] in ("unresponsive", "backoff", "starting")
    s = cd.wait_status(lambda s: s["telemetry"]["state"] == "running" and s["telemetry"]["pid"] != pid,
                       timeout=PERIOD * 5, what="telemetry restarted")
    cd.worker_pids.add(s["telemetry"]["pid"])
    assert s["telemetry"]["restarts"] == 1
    assert s["telemetry"]["last_exit"] == {"signal": "SIGKILL"}
    poll(lambda: not pid_alive(pid), 5, "the unresponsive process is gone")
    assert health(cd)[0] == 200
    log = cd.log()
    assert f"telemetry worker (pid {pid}) sent no WATCHDOG=1 for {PERIOD} s" in log
    assert "sending SIGKILL" in log and "telemetry: restarting in" in log
    return s


def test_workers_that_answer_stay_running(cd):
    pid = cd.control("start_telemetry").json["pid"]
    cd.control("start_livelogs")
    # Three periods: without pings from the worker's loop it would be killed.
    with pytest.raises(AssertionError):
        cd.wait_status(lambda s: s["telemetry"]["state"] != "running" or s["livelogs"]["state"] != "running",
                       timeout=PERIOD * 3, what="a worker that answers leaving 'running'")
    s = cd.status()
    assert (s["telemetry"]["pid"], s["telemetry"]["restarts"], s["livelogs"]["restarts"]) == (pid, 0, 0)
    assert health(cd)[0] == 200


def test_stopped_worker_is_unresponsive_then_restarted(cd):
    pid = cd.control("start_telemetry").json["pid"]
    assert health(cd)[0] == 200
    os.kill(pid, signal.SIGSTOP)
    try:
        see_unresponsive_then_restarted(cd, pid)
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_hung_loop_is_unresponsive_then_restarted(cd):
    cd.behave("telemetry", "hang-after-ms=300")
    pid = cd.control("start_telemetry").json["pid"]
    cd.behave("telemetry")  # the next one behaves
    see_unresponsive_then_restarted(cd, pid)


def test_worker_that_answers_again_is_running_again(controld):
    controld.start(env={"RESOLVIX_CONTROL_WORKER_WATCHDOG": "4"})
    pid = controld.control("start_telemetry").json["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        controld.wait_status(lambda s: s["telemetry"]["state"] == "unresponsive", timeout=20,
                             what="telemetry unresponsive")
    finally:
        os.kill(pid, signal.SIGCONT)
    s = controld.wait_status(lambda s: s["telemetry"]["state"] == "running", timeout=4, what="running again")
    assert (s["telemetry"]["pid"], s["telemetry"]["restarts"]) == (pid, 0)
    assert health(controld)[0] == 200
    controld.wait_log(f"telemetry worker (pid {pid}) answers again")


def test_start_on_an_unresponsive_worker_replaces_it(cd):
    pid = cd.control("start_telemetry").json["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        cd.wait_status(lambda s: s["telemetry"]["state"] == "unresponsive", timeout=PERIOD * 5,
                       what="telemetry unresponsive")
        r = cd.control("start_telemetry")
        assert (r.status, r.json["status"]) == (200, "started"), r
        assert r.json["pid"] != pid
        assert cd.worker("telemetry")["pid"] == r.json["pid"]
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_watchdog_off(controld):
    controld.start(env={"RESOLVIX_CONTROL_WORKER_WATCHDOG": "0"})
    pid = controld.control("start_telemetry").json["pid"]
    env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    assert not any(e.startswith(b"WATCHDOG_") for e in env)


def test_worker_is_told_its_watchdog_like_systemd_does(cd):
    pid = cd.control("start_telemetry").json["pid"]
    env = dict(kv.split("=", 1) for kv in open(f"/proc/{pid}/environ", "rb").read().decode().split("\0") if "=" in kv)
    assert env["WATCHDOG_USEC"] == str(PERIOD * 1000000)
    assert env["WATCHDOG_PID"] == str(pid)


def test_failed_wanted_worker_makes_health_503(cd):
    # Started, then crashes over and over: controld gives up ("failed"),
    # and the node is not healthy while it is wanted and not running.
    assert cd.control("start_telemetry").status == 200
    cd.behave("telemetry", "crash-after-ms=20")
    pid = cd.status()["telemetry"]["pid"]
    os.kill(pid, signal.SIGKILL)
    cd.wait_status(lambda s: s["telemetry"]["state"] == "failed", timeout=30, what="crash loop ends in failed")
    status, body = health(cd)
    assert (status, body["status"], body["workers"]["telemetry"]) == (503, "degraded", "failed")
    cd.behave("telemetry")
    assert cd.control("stop_telemetry").status == 200
    assert health(cd)[0] == 200


def test_real_telemetryd_stopped_is_restarted(procs, tmp_path):
    """The real telemetryd pings from its libwebsockets loop."""
    ws_port = free_port()
    port = start_controld(procs, tmp_path, {"telemetryd": binary("telemetryd/telemetryd")},
                          {"RESOLVIX_CONTROL_WORKER_WATCHDOG": str(PERIOD), "RESOLVIX_TELEMETRY_LISTEN": "127.0.0.1",
                           "RESOLVIX_TELEMETRY_PORT": str(ws_port), "RESOLVIX_TELEMETRY_INGEST_PORT": "0",
                           "RESOLVIX_TELEMETRY_INTERVAL": "1", "RESOLVIX_CONFIG": ""})
    def ask(method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        try:
            conn.request(method, path, body, {"Content-Type": "application/json"} if body else {})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    status, body = ask("POST", "/control", json.dumps({"command": "start_telemetry"}))
    assert status == 200, body
    pid = body["pid"]
    # It keeps answering over several periods...
    with pytest.raises(AssertionError):
        poll(lambda: get_status(port)["telemetry"]["state"] != "running", PERIOD * 2, "telemetryd leaving running")
    os.kill(pid, signal.SIGSTOP)
    try:
        poll(lambda: get_status(port)["telemetry"]["state"] == "unresponsive", PERIOD * 5, "telemetryd unresponsive")
        status, body = ask("GET", "/health")
        assert status == 503 and body["workers"]["telemetry"] in ("unresponsive", "backoff", "starting"), body
        s = poll(lambda: (lambda s: s if s["telemetry"]["state"] == "running" and s["telemetry"]["pid"] != pid
                          else None)(get_status(port)), PERIOD * 5, "telemetryd restarted")
        assert s["telemetry"]["last_exit"] == {"signal": "SIGKILL"}
        assert ask("GET", "/health")[0] == 200
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    assert ask("POST", "/control", json.dumps({"command": "stop_telemetry"}))[1]["status"] == "stopped"
