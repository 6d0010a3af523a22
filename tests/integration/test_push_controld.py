"""controld supervising the real pushd: start_push, stop_push, restart_push,
the /status "push" object, state kept across a controld restart, and no
sample lost or repeated through it (docs/control-api.md)."""
import json
import time

import pytest

from hub_support import ENROLL
from push_support import hub, Pushd, assert_no_loss
from support import binary, pid_alive, poll


def push_env(hub_url, **more):
    return {"RESOLVIX_PUSH_HUB_URL": hub_url, "RESOLVIX_PUSH_ENROLL_TOKEN": ENROLL, "RESOLVIX_PUSH_INTERVAL": "1",
            **more}


@pytest.fixture
def cd(controld):
    (controld.worker_dir / "pushd").symlink_to(binary("pushd/pushd"))
    return controld


def test_start_status_stop(cd, hub):
    cd.start(env=push_env(hub.url()))
    s = cd.status()["push"]
    assert s["running"] is False and s["pid"] is None and s["state"] == "stopped"
    assert s["connected"] is False and s["spooled"] is None and s["last_error"] is None

    r = cd.control("start_push")
    assert r.status == 200, r
    assert r.json["status"] == "started" and r.json["pid"] > 0
    assert r.json["hub_url"] == hub.url() and r.json["protocol"] == "resolvix" and r.json["interval"] == 1
    pid = r.json["pid"]
    s = cd.wait_status(lambda s: s["push"]["last_ack_seq"] and s["push"]["last_ack_seq"] >= 2, timeout=20)["push"]
    assert s["running"] is True and s["state"] == "running" and s["pid"] == pid
    assert s["connected"] is True and s["dropped"] == 0 and s["last_error"] is None
    assert s["hub_url"] == hub.url() and s["protocol"] == "resolvix"
    assert cd.health().json["workers"]["push"] == "running"

    r = cd.control("start_push")
    assert r.json["status"] == "already_running" and r.json["pid"] == pid
    r = cd.control("restart_push")
    assert r.status == 200 and r.json["status"] == "restarted" and r.json["pid"] != pid
    r = cd.control("stop_push")
    assert r.status == 200 and r.json == {"status": "stopped"}
    assert not pid_alive(r.json.get("pid", pid))
    assert cd.control("stop_push").json == {"status": "already_stopped"}
    saved = json.loads((cd.state_dir / "state.json").read_text())
    assert saved["push"] == {"enabled": False}
    # What it last reported stays visible.
    s = cd.status()["push"]
    assert s["running"] is False and s["connected"] is False and s["last_ack_seq"] is not None


def test_bad_protocol_is_a_clear_start_error(cd):
    cd.start(env=push_env("http://127.0.0.1:1", RESOLVIX_PUSH_PROTOCOL="pigeon"))
    r = cd.control("start_push")
    assert r.status == 409, r
    assert r.json["detail"] == "bad_config"
    assert r.json["message"] == "[push] protocol = pigeon is not known; expected resolvix or system-monitor"
    assert cd.status()["push"]["state"] in ("failed", "stopped")


def test_hub_down_still_starts_and_spools(cd):
    cd.start(env=push_env("http://127.0.0.1:1"))
    r = cd.control("start_push")
    assert r.status == 200 and r.json["status"] == "started"
    s = cd.wait_status(lambda s: (s["push"]["spooled"] or 0) >= 3, timeout=20)["push"]
    assert s["connected"] is False and s["running"] is True
    assert "Connection refused" in s["last_error"] or "connect" in s["last_error"].lower()


def test_autostart_and_controld_restart_lose_nothing(cd, hub, tmp_path):
    env = push_env(hub.url(), RESOLVIX_PUSH_AUTOSTART="true")
    cd.start(env=env)
    first = cd.wait_status(lambda s: (s["push"]["last_ack_seq"] or 0) >= 2, timeout=20)["push"]
    assert cd.stop() == 0
    assert not pid_alive(first["pid"])
    # Restored from state.json, not from autostart: autostart off now.
    cd.start(env={**env, "RESOLVIX_PUSH_AUTOSTART": "false"})
    s = cd.wait_status(lambda s: s["push"]["running"] and (s["push"]["last_ack_seq"] or 0) >= first["last_ack_seq"] + 2,
                       timeout=30)["push"]
    assert s["pid"] != first["pid"]
    cd.control("stop_push")
    p = Pushd(None, tmp_path, hub.url(), node_id="test-node")
    p.state_dir = cd.state_dir
    assert_no_loss(hub, p)


def test_crash_loop_ends_failed(cd, hub):
    cd.start(env=push_env(hub.url()))
    r = cd.control("start_push")
    assert r.status == 200
    for _ in range(6):
        pid = cd.wait_status(lambda s: s["push"]["state"] == "running" and s["push"]["pid"], timeout=30)["push"]["pid"]
        import os, signal
        os.kill(pid, signal.SIGKILL)
        poll(lambda: not pid_alive(pid), 5, "pushd gone")
        if cd.status()["push"]["state"] == "failed":
            break
    s = cd.wait_status(lambda s: s["push"]["state"] == "failed", timeout=30)["push"]
    assert s["running"] is False and s["last_exit"] == {"signal": "SIGKILL"}
    assert cd.health().status == 503
