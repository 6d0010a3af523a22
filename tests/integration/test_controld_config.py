"""controld's configuration (docs/configuration.md, docs/control-api.md's
Authentication) and what its log says (docs/architecture.md), as an operator
meets them."""
import os
import signal
import socket
import subprocess

import pytest

from support import binary, free_port, pid_alive


def run(cd, *args, env=None, timeout=10):
    """Run controld to completion with the harness' environment."""
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **cd.env, **(env or {})}
    return subprocess.run([binary("controld/resolvix-controld"), *args], env=full, capture_output=True,
                          text=True, timeout=timeout)


def section(dump, name):
    """key -> value of one [section] of an INI dump."""
    out, current = {}, None
    for line in dump.splitlines():
        line = line.split(";", 1)[0].strip()
        if line.startswith("["):
            current = line.strip("[]")
        elif "=" in line and current == name:
            k, v = (x.strip() for x in line.split("=", 1))
            out[k] = v
    return out


@pytest.mark.parametrize("text,line,key", [
    ("[telemetry]\ninterval = soon\n", 2, "interval"),
    ("[node]\nid = auto\n\n[telemetry]\ninterval = 0\n", 5, "interval"),
    ("[control]\nport = 99999\n", 2, "port"),
    ("[control]\nbogus_key = 1\n", 2, "bogus_key"),
    ("; comment\n[telemetry]\nautostart = perhaps\n", 3, "autostart"),
    # An unknown section is reported at its first key.
    ("[nosuchsection]\nx = 1\n", 2, "nosuchsection"),
    ("[control]\nthis is not a key value line\n", 2, None),
])
def test_bad_config_file(controld, tmp_path, text, line, key):
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    for args in (["--config", str(conf)], ["--config", str(conf), "--check"]):
        r = run(controld, *args)
        assert r.returncode != 0, r
        assert f"{conf}:{line}" in r.stderr, r.stderr
        if key:
            assert key in r.stderr, r.stderr
    # Nothing was left listening.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", controld.port), timeout=1).close()


def test_bad_config_file_from_env_var(controld, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[livelogs]\nbacklog = lots\n")
    r = run(controld, env={"RESOLVIX_CONFIG": str(conf)})
    assert r.returncode != 0
    assert f"{conf}:2" in r.stderr and "backlog" in r.stderr


def test_missing_named_config_file(controld, tmp_path):
    r = run(controld, "--config", str(tmp_path / "absent.conf"))
    assert r.returncode != 0
    assert str(tmp_path / "absent.conf") in r.stderr


def test_bad_environment_value(controld):
    r = run(controld, env={"RESOLVIX_TELEMETRY_INTERVAL": "86401"})
    assert r.returncode != 0
    assert "RESOLVIX_TELEMETRY_INTERVAL" in r.stderr


def test_check_prints_effective_config(controld, tmp_path):
    conf = tmp_path / "resolvix.conf"
    conf.write_text("[control]\nport = 1111\n[telemetry]\ninterval = 11\nmax_clients = 5\n[livelogs]\nbacklog = 7\n")
    r = run(controld, "--config", str(conf), "--check", "--port", str(controld.port),
            env={"RESOLVIX_TELEMETRY_INTERVAL": "17", "RESOLVIX_CONTROL_PORT": "2222"})
    assert r.returncode == 0, r.stderr
    control, telemetry, livelogs = (section(r.stdout, s) for s in ("control", "telemetry", "livelogs"))
    # flag > environment > file > default
    assert control["port"] == str(controld.port)
    assert telemetry["interval"] == "17"
    assert telemetry["max_clients"] == "5"
    assert livelogs["backlog"] == "7"
    assert control["state_dir"] == str(controld.state_dir)
    assert control["listen"] == "127.0.0.1"
    assert section(r.stdout, "node")["id"] == "test-node"
    # --check validates and exits: it starts nothing.
    assert not controld.state_dir.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", controld.port), timeout=1).close()


def test_help_and_version(controld):
    r = run(controld, "--help")
    assert r.returncode == 0
    assert "--config" in r.stdout + r.stderr and "--port" in r.stdout + r.stderr
    r = run(controld, "--version")
    assert r.returncode == 0 and (r.stdout + r.stderr).strip()
    r = run(controld, "--no-such-flag")
    assert r.returncode != 0


@pytest.mark.parametrize("listen", ["0.0.0.0", "::"])
def test_refuses_non_loopback_without_token(controld, listen):
    for args in ([], ["--check"]):
        r = run(controld, *args, env={"RESOLVIX_CONTROL_LISTEN": listen})
        assert r.returncode != 0
        assert "Refusing to listen" in r.stderr and "token" in r.stderr, r.stderr
    r = run(controld, "--listen", listen)
    assert r.returncode != 0 and "token" in r.stderr


@pytest.mark.parametrize("listen", ["127.0.0.1", "127.0.0.2", "::1"])
def test_loopback_needs_no_token(controld, listen):
    r = run(controld, "--check", "--listen", listen)
    assert r.returncode == 0, r.stderr


def test_non_loopback_with_token_enforces_it(controld):
    token = "fleet-token-1"
    controld.start(env={"RESOLVIX_CONTROL_LISTEN": "0.0.0.0", "RESOLVIX_CONTROL_TOKEN": token})
    assert controld.request("GET", "/status").status == 401
    assert controld.control("start_telemetry").status == 401
    assert controld.health().status == 200
    assert controld.status(token=token)["telemetry"]["running"] is False
    r = controld.control("start_telemetry", token=token)
    assert (r.status, r.json["status"]) == (200, "started")


def test_control_port_in_use(controld):
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", controld.port))
        squatter.listen()
        r = run(controld)
    assert r.returncode != 0
    assert f"127.0.0.1:{controld.port}" in r.stderr and "in use" in r.stderr


def test_env_interval_reaches_worker(controld):
    controld.start(env={"RESOLVIX_TELEMETRY_INTERVAL": "13"})
    assert controld.status()["telemetry"]["interval"] == 13
    r = controld.control("start_telemetry")
    assert r.json["interval"] == 13
    assert controld.worker("telemetry")["interval"] == 13


def test_file_settings_reach_worker(controld, tmp_path):
    conf = tmp_path / "resolvix.conf"
    log = tmp_path / "other.log"
    conf.write_text(f"[telemetry]\ninterval = 21\n[livelogs]\nlog_file = {log}\n")
    controld.start("--config", str(conf), env={"RESOLVIX_LIVELOGS_LOG_FILE": None})
    assert controld.control("start_telemetry").json["interval"] == 21
    assert controld.worker("telemetry")["interval"] == 21
    r = controld.control("start_livelogs")
    assert r.json["log_file"] == str(log)
    assert controld.status()["log_file"] == str(log)


def test_flags_override_environment(controld, tmp_path):
    port = controld.port
    controld.port = port2 = free_port()
    workers = tmp_path / "elsewhere"
    workers.mkdir()
    controld.start("--port", str(port2), "--worker-dir", str(workers))
    r = controld.control("start_telemetry")
    assert r.json["detail"] == "spawn_failed"
    assert str(workers / "telemetryd") in r.json["message"]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_log_tells_the_story(controld):
    controld.start()
    log = controld.log()
    assert f"Control API listening on http://127.0.0.1:{controld.port}" in log
    pid = controld.control("start_telemetry").json["pid"]
    assert f"telemetry worker started: {controld.worker_dir}/telemetryd (pid {pid})" in controld.log()
    assert f"telemetry worker ready (pid {pid})" in controld.log()

    os.kill(pid, signal.SIGKILL)
    s = controld.wait_status(lambda s: s["telemetry"]["running"] and s["telemetry"]["pid"] != pid,
                             what="restart")
    log = controld.log()
    assert f"telemetry worker (pid {pid}) killed by signal SIGKILL" in log
    assert "telemetry: restarting in 0.1 s" in log

    new = s["telemetry"]["pid"]
    os.kill(new, signal.SIGABRT)
    controld.wait_status(lambda s: s["telemetry"]["running"] and s["telemetry"]["pid"] not in (pid, new),
                         what="second restart")
    assert f"telemetry worker (pid {new}) killed by signal SIGABRT" in controld.log()

    controld.behave("livelogs", "exit-before-ready=9")
    controld.control("start_livelogs")
    assert "livelogs worker" in controld.log() and "exited with status 9" in controld.log()
    assert "livelogs: start failed" in controld.log()

    controld.control("stop_telemetry")
    log = controld.log()
    assert "Control: stop_telemetry" in log
    assert "telemetry: stopping worker" in log
    assert controld.stop() == 0
    assert not pid_alive(new)
