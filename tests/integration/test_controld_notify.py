"""controld as a systemd Type=notify service (docs/architecture.md): READY=1 from its own
pid once the API accepts and restored workers are up, STATUS=, WATCHDOG=1,
RELOADING=1 on SIGHUP, STOPPING=1; and how it hands workers their own,
private NOTIFY_SOCKET and a clean environment."""
import json
import os
import signal
import socket
import time

from support import poll


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def seed_state(cd, telemetry=False, livelogs=False, interval=60):
    cd.state_dir.mkdir(exist_ok=True)
    (cd.state_dir / "state.json").write_text(json.dumps(
        {"telemetry": {"enabled": telemetry, "interval": interval}, "livelogs": {"enabled": livelogs}}))


def test_ready_from_own_pid_once_api_accepts(controld, notify_socket):
    proc = controld.start(env={"NOTIFY_SOCKET": notify_socket.path}, wait=False)
    got = notify_socket.messages_until("READY")
    # Checked the moment READY=1 is read: the port must already accept.
    assert accepts(controld.port)
    assert all(pid == proc.pid for pid, _ in got), got
    ready = got[-1][1]
    assert ready["READY"] == "1"
    assert ready["STATUS"] == "telemetry: stopped, livelogs: stopped, push: stopped"
    assert controld.status()["telemetry"]["state"] == "stopped"


def test_ready_after_restored_workers_are_up(controld, notify_socket):
    seed_state(controld, telemetry=True, livelogs=True, interval=8)
    # Each worker reports ready 400 ms after it listens: READY=1 must wait.
    controld.behave("telemetry", "ready-delay-ms=400")
    controld.behave("livelogs", "ready-delay-ms=400")
    proc = controld.start(env={"NOTIFY_SOCKET": notify_socket.path}, wait=False)
    got = notify_socket.messages_until("READY")
    s = controld.status()
    assert s["telemetry"]["state"] == "running" and s["livelogs"]["state"] == "running"
    assert controld.worker("telemetry")["interval"] == 8
    assert controld.worker("livelogs")["role"] == "livelogs"
    status = got[-1][1]["STATUS"]
    assert f"telemetry: running (pid {s['telemetry']['pid']})" in status
    assert f"livelogs: running (pid {s['livelogs']['pid']})" in status
    # The workers' own READY=1 went to controld, never here.
    assert all(pid == proc.pid for pid, _ in got), got


def test_status_follows_workers(controld, notify_socket):
    proc = controld.start(env={"NOTIFY_SOCKET": notify_socket.path})
    notify_socket.messages_until("READY")
    pid = controld.control("start_telemetry").json["pid"]

    def status_says(text):
        def check():
            pid, fields = notify_socket.recv(5)
            return pid == proc.pid and text in fields.get("STATUS", "")
        return check

    poll(status_says(f"telemetry: running (pid {pid})"), 5, "STATUS with the running worker")
    controld.control("stop_telemetry")
    poll(status_says("telemetry: stopped"), 5, "STATUS with the stopped worker")


def test_watchdog(controld, notify_socket):
    proc = controld.start(env={"NOTIFY_SOCKET": notify_socket.path, "WATCHDOG_USEC": "200000"})
    pings = []
    deadline = time.monotonic() + 3
    while len(pings) < 4:
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(pings)} WATCHDOG=1 within 3 s"
        pid, fields = notify_socket.recv(left)
        assert pid == proc.pid
        if fields.get("WATCHDOG") == "1":
            pings.append(time.monotonic())
    # Kept alive while workers come and go.
    controld.control("start_telemetry")
    _, fields = notify_socket.wait_for("WATCHDOG", timeout=2)
    assert fields["WATCHDOG"] == "1"


def test_watchdog_of_another_pid_is_not_ours(controld, notify_socket):
    # systemd names the pid the watchdog is for; controld must not answer
    # for someone else (nor hand WATCHDOG_USEC to its workers, below).
    proc = controld.start(env={"NOTIFY_SOCKET": notify_socket.path, "WATCHDOG_USEC": "100000",
                               "WATCHDOG_PID": str(os.getpid())})
    notify_socket.messages_until("READY")
    controld.control("start_telemetry")
    notify_socket.sock.settimeout(0.5)
    seen = []
    try:
        while True:
            seen.append(notify_socket.sock.recv(4096).decode())
    except socket.timeout:
        pass
    assert not any("WATCHDOG=1" in m for m in seen), seen
    assert proc.poll() is None


def test_workers_get_private_notify_socket_and_clean_env(controld, notify_socket):
    controld.start(env={"NOTIFY_SOCKET": notify_socket.path, "WATCHDOG_USEC": "5000000",
                        "LEAKY_SECRET": "do-not-pass", "LANG": "C.UTF-8",
                        "RESOLVIX_CONTROL_WORKER_WATCHDOG": "7"})
    notify_socket.messages_until("READY")
    pid = controld.control("start_telemetry").json["pid"]
    env = dict(kv.split("=", 1) for kv in
               open(f"/proc/{pid}/environ", "rb").read().decode().split("\0") if "=" in kv)
    assert env["NOTIFY_SOCKET"].startswith("@resolvix-controld/")
    assert env["NOTIFY_SOCKET"] != notify_socket.path
    assert "LEAKY_SECRET" not in env
    # The watchdog a worker gets is controld's own for it, not systemd's for controld.
    assert (env["WATCHDOG_USEC"], env["WATCHDOG_PID"]) == ("7000000", str(pid))
    assert env["LANG"] == "C.UTF-8"
    assert env["RESOLVIX_CONFIG"] == ""
    assert env["RESOLVIX_NODE_ID"] == "test-node"
    assert env["RESOLVIX_TELEMETRY_PORT"] == str(controld.ports["telemetry"])
    # Its own process group, and stdin is not controld's.
    stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    assert int(stat[2]) == pid  # pgrp
    assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"


def test_sighup_reloads(controld, notify_socket, tmp_path):
    conf = tmp_path / "resolvix.conf"
    conf.write_text("[telemetry]\ninterval = 30\n")
    proc = controld.start("--config", str(conf), env={"NOTIFY_SOCKET": notify_socket.path})
    notify_socket.messages_until("READY")
    r = controld.control("start_telemetry")
    assert r.json["interval"] == 30
    pid = r.json["pid"]

    # An interval changed over the API survives a reload of an unchanged
    # file, and is no reason to restart the worker.
    assert controld.control("start_telemetry", interval=33).json["status"] == "reconfigured"
    proc.send_signal(signal.SIGHUP)
    notify_socket.messages_until("READY")
    assert controld.worker("telemetry") == {"role": "telemetry", "pid": pid, "interval": 33}
    assert controld.status()["telemetry"]["interval"] == 33

    # A new interval is handed to the running worker.
    conf.write_text("[telemetry]\ninterval = 45\n")
    proc.send_signal(signal.SIGHUP)
    got = notify_socket.messages_until("READY")
    keys = [k for _, f in got for k in ("RELOADING", "READY") if k in f]
    assert keys == ["RELOADING", "READY"], got
    reloading = next(f for _, f in got if "RELOADING" in f)
    assert int(reloading["MONOTONIC_USEC"]) > 0
    assert all(p == proc.pid for p, _ in got)
    poll(lambda: controld.worker("telemetry")["interval"] == 45, 5, "worker got interval 45")
    assert controld.worker("telemetry")["pid"] == pid
    assert controld.status()["telemetry"]["interval"] == 45
    assert "Configuration reloaded" in controld.log()

    # A changed stream setting restarts the worker to apply it.
    conf.write_text("[telemetry]\ninterval = 45\nmax_clients = 77\n")
    proc.send_signal(signal.SIGHUP)
    notify_socket.messages_until("RELOADING")
    notify_socket.messages_until("READY")
    s = controld.wait_status(lambda s: s["telemetry"]["running"] and s["telemetry"]["pid"] != pid,
                             what="worker restarted with new settings")
    env = open(f"/proc/{s['telemetry']['pid']}/environ", "rb").read()
    assert b"RESOLVIX_TELEMETRY_MAX_CLIENTS=77\0" in env

    # A broken file is refused; the daemon and its worker go on as they were.
    conf.write_text("[telemetry]\ninterval = often\n")
    proc.send_signal(signal.SIGHUP)
    got = notify_socket.messages_until("READY")
    assert any("RELOADING" in f for _, f in got)
    assert proc.poll() is None
    assert "Reload failed" in controld.log()
    assert controld.status()["telemetry"]["interval"] == 45
    assert controld.worker("telemetry")["pid"] == s["telemetry"]["pid"]


def test_sigterm_sends_stopping(controld, notify_socket):
    proc = controld.start(env={"NOTIFY_SOCKET": notify_socket.path})
    notify_socket.messages_until("READY")
    controld.control("start_telemetry")
    proc.send_signal(signal.SIGTERM)
    pid, fields = notify_socket.wait_for("STOPPING")
    assert (pid, fields["STOPPING"]) == (proc.pid, "1")
    assert proc.wait(timeout=10) == 0
