"""livelogd under resolvix-controld (issue 4 §5): start/stop/restart through
the control API, /status naming what is really followed (the journal
included), and an unreadable log file reported as such, never "started"."""
import json
import os
import urllib.error
import urllib.request

import pytest

from conftest import binary, free_port
from test_livelogs_support import JOURNAL_NS, NODE_ID, append, connect, receive, run


def control(port, command):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/control", data=json.dumps({"command": command}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def status(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10) as r:
        return json.loads(r.read())


def controld(procs, notify_socket, tmp_path, log_file, wrap=()):
    """controld with a worker directory holding only the livelogd under test."""
    workers = tmp_path / "workers"
    workers.mkdir(exist_ok=True)
    if not (workers / "livelogd").exists():
        os.symlink(binary("livelogd/livelogd"), workers / "livelogd")
    port, ws_port = free_port(), free_port()
    env = {"NOTIFY_SOCKET": notify_socket.path, "RESOLVIX_NODE_ID": NODE_ID, "RESOLVIX_CONTROL_PORT": str(port),
           "RESOLVIX_CONTROL_STATE_DIR": str(tmp_path / "state"), "RESOLVIX_WORKER_DIR": str(workers),
           "RESOLVIX_LIVELOGS_LISTEN": "127.0.0.1", "RESOLVIX_LIVELOGS_PORT": str(ws_port),
           "RESOLVIX_LIVELOGS_LOG_FILE": str(log_file), "RESOLVIX_LIVELOGS_BACKLOG": "5"}
    procs.start([*wrap, binary("controld/resolvix-controld")], env=env)
    notify_socket.wait_for("READY", timeout=15)
    return port, ws_port


def test_start_status_restart_stop(procs, notify_socket, tmp_path):
    log = tmp_path / "app.log"
    append(log, "before start\n")
    port, ws_port = controld(procs, notify_socket, tmp_path, log)

    code, body = control(port, "start_livelogs")
    assert code == 200 and body["status"] == "started"
    assert body["ws_port"] == ws_port and body["log_file"] == str(log)
    s = status(port)
    assert s["log_file"] == str(log)
    assert s["livelogs"]["running"] is True and s["livelogs"]["pid"] == body["pid"]

    async def one_line():
        async with connect(f"ws://127.0.0.1:{ws_port}/") as ws:
            return (await receive(ws, 1))[0]["log"]

    # "started" means accepting clients: no waiting needed
    assert run(one_line()) == "before start"

    code, again = control(port, "restart_livelogs")
    assert code == 200 and again["status"] == "restarted" and again["pid"] != body["pid"]
    assert run(one_line()) == "before start"

    assert control(port, "stop_livelogs") == (200, {"status": "stopped"})
    assert status(port)["livelogs"]["running"] is False


def test_unreadable_log_file_is_named(procs, notify_socket, tmp_path):
    port, _ = controld(procs, notify_socket, tmp_path, tmp_path)  # a directory
    code, body = control(port, "start_livelogs")
    assert code >= 400
    assert body["status"] == "error" and body["detail"] == "log_file_unreadable"
    assert str(tmp_path) in body["message"]
    assert status(port)["livelogs"]["running"] is False


@pytest.mark.skipif(os.geteuid() != 0, reason="a private mount namespace needs root")
def test_status_shows_the_journal_when_the_file_is_missing(procs, notify_socket, tmp_path):
    port, _ = controld(procs, notify_socket, tmp_path, tmp_path / "syslog", wrap=[JOURNAL_NS, "run", "--"])
    code, body = control(port, "start_livelogs")
    assert code == 200 and body["status"] == "started"
    assert body["log_file"] == "journal"
    assert status(port)["log_file"] == "journal"
