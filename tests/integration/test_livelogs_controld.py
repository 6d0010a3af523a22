"""livelogd under resolvix-controld (docs/control-api.md): start/stop/restart through
the control API, /status naming what is really followed (the journal
included), and an unreadable log file reported as such, never "started"."""
import os

import pytest

from livelogs_support import JOURNAL_NS, NODE_ID, append, connect, receive, run
from support import binary, control, free_port, get_status as status, start_controld


def controld(procs, tmp_path, log_file, wrap=()):
    """controld with a worker directory holding only the livelogd under test."""
    ws_port = free_port()
    port = start_controld(procs, tmp_path, {"livelogd": binary("livelogd/livelogd")},
                          {"RESOLVIX_NODE_ID": NODE_ID, "RESOLVIX_LIVELOGS_LISTEN": "127.0.0.1",
                           "RESOLVIX_LIVELOGS_PORT": str(ws_port), "RESOLVIX_LIVELOGS_LOG_FILE": str(log_file),
                           "RESOLVIX_LIVELOGS_BACKLOG": "5"}, wrap)
    return port, ws_port


def test_start_status_restart_stop(procs, tmp_path):
    log = tmp_path / "app.log"
    append(log, "before start\n")
    port, ws_port = controld(procs, tmp_path, log)

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


def test_unreadable_log_file_is_named(procs, tmp_path):
    port, _ = controld(procs, tmp_path, tmp_path)  # a directory
    code, body = control(port, "start_livelogs")
    assert code >= 400
    assert body["status"] == "error" and body["detail"] == "log_file_unreadable"
    assert str(tmp_path) in body["message"]
    assert status(port)["livelogs"]["running"] is False


@pytest.mark.skipif(os.geteuid() != 0, reason="a private mount namespace needs root")
def test_status_shows_the_journal_when_the_file_is_missing(procs, tmp_path):
    port, _ = controld(procs, tmp_path, tmp_path / "syslog", wrap=[JOURNAL_NS, "run", "--"])
    code, body = control(port, "start_livelogs")
    assert code == 200 and body["status"] == "started"
    assert body["log_file"] == "journal"
    assert status(port)["log_file"] == "journal"
