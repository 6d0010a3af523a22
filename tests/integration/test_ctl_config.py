"""resolvixctl reads the configuration the daemons read (resolvixctl(1),
docs/configuration.md): controld's address, port and token, the streams'
tokens and the ingest port, with the environment and flags over it."""
import pytest

from ctl_support import ctl
from support import free_port


def write_conf(tmp_path, node, ingest_port, control_port=None, token="control-secret", listen="0.0.0.0"):
    path = tmp_path / "ctl.conf"
    path.write_text(
        "[control]\n"
        f"listen = {listen}\n"
        f"port = {control_port or node.port}\n"
        + (f"token = {token}\n" if token else "")
        + "[telemetry]\n"
        f"port = {node.ws['telemetry']}\n"
        f"ingest_port = {ingest_port}\n"
        "[livelogs]\n"
        f"port = {node.ws['livelogs']}\n"
        "token = logs-secret\n")
    return path


@pytest.fixture
def setup(nodes, tmp_path):
    ingest = free_port()
    n = nodes(token="control-secret", env={
        "RESOLVIX_TELEMETRY_INGEST_PORT": str(ingest),
        "RESOLVIX_LIVELOGS_TOKEN": "logs-secret",
    })
    n.start(interval=60)
    return n, ingest


def test_the_file_drives_every_command(setup, tmp_path):
    node, ingest = setup
    conf = write_conf(tmp_path, node, ingest)
    for how in (["--config", conf], ["-c", conf]):
        r = ctl("status", *how)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("resolvix on ctl-test-node ")
    env = {"RESOLVIX_CONFIG": str(conf)}
    assert ctl("status", env=env).returncode == 0

    r = ctl("put", "fridge.temp", "4.5", "1700000000", env=env)
    assert (r.returncode, r.stderr) == (0, "")
    r = ctl("get", "fridge.temp", env=env)
    assert (r.returncode, r.stdout) == (0, "fridge.temp 4.5 1700000000\n")

    node.append("a line read with the configuration's token")
    node.wait_tail("configuration's token", token="logs-secret")
    r = ctl("logs", "-n", "1", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("a line read with the configuration's token\n")


def test_a_negative_value_needs_no_double_dash(setup, tmp_path):
    node, ingest = setup
    conf = write_conf(tmp_path, node, ingest)
    r = ctl("put", "x", "-3.5", "1700000001", "--config", conf)
    assert (r.returncode, r.stderr) == (0, "")
    r = ctl("put", "--config", conf, "x", "-.25", "1700000002")
    assert (r.returncode, r.stderr) == (0, "")
    r = ctl("get", "x", "--config", conf)
    assert r.stdout == "x -3.5 1700000001\nx -0.25 1700000002\n"
    # Still no option: a negative number after one that wants a number is refused.
    r = ctl("logs", "-n", "-3", "--config", conf)
    assert r.returncode == 2
    assert r.stderr.startswith('resolvixctl: -n wants a whole number from 0 to 1000000000, not "-3"\n')


def test_flags_and_environment_win(setup, tmp_path):
    node, ingest = setup
    wrong_port = free_port()
    conf = write_conf(tmp_path, node, free_port(), control_port=wrong_port, token="stale")
    r = ctl("status", "--config", conf)
    assert r.returncode == 3
    assert f"cannot connect to 127.0.0.1:{wrong_port}: connection refused" in r.stderr
    r = ctl("status", "--config", conf, "-p", node.port)
    assert r.returncode == 4
    assert r.stderr.endswith(f"or set [control] token in {conf}\n")
    assert ctl("status", "--config", conf, "-p", node.port, "-t", "control-secret").returncode == 0
    assert ctl("status", "--config", conf, "-p", node.port, env={"RESOLVIX_TOKEN": "control-secret"}).returncode == 0
    assert ctl("status", "--config", conf, "-H", f"127.0.0.1:{node.port}",
               env={"RESOLVIX_TOKEN": "control-secret"}).returncode == 0
    # The environment's RESOLVIX_<SECTION>_<KEY> apply over the file, as for the daemons.
    assert ctl("status", "--config", conf, env={"RESOLVIX_CONTROL_PORT": str(node.port),
                                                "RESOLVIX_CONTROL_TOKEN": "control-secret"}).returncode == 0

    r = ctl("put", "m", "1", "1700000000", "--config", conf)
    assert r.returncode == 3
    r = ctl("put", "m", "1", "1700000000", "--config", conf, "--ingest-port", ingest)
    assert (r.returncode, r.stderr) == (0, "")


def test_a_wildcard_listen_address_means_this_machine(setup, tmp_path):
    node, ingest = setup
    for listen in ("0.0.0.0", "127.0.0.1"):
        conf = write_conf(tmp_path, node, ingest, listen=listen)
        assert ctl("status", "--config", conf).returncode == 0


def test_custom_metrics_off_in_the_file(setup, tmp_path):
    node, _ = setup
    conf = write_conf(tmp_path, node, 0)
    r = ctl("get", "*", "--config", conf)
    assert r.returncode == 3
    assert r.stderr == (f"resolvixctl: custom metrics are off: [telemetry] ingest_port is 0 in {conf}; "
                        "give --ingest-port PORT\n")


def test_an_unreadable_configuration_is_a_usage_error(tmp_path):
    missing = tmp_path / "missing.conf"
    r = ctl("status", "--config", missing)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"resolvixctl: invalid configuration: {missing}: cannot open: No such file or directory\n"

    r = ctl("status", "--config", tmp_path)
    assert r.returncode == 2
    assert r.stderr == f"resolvixctl: invalid configuration: {tmp_path}: cannot read: Is a directory\n"

    # Help is there whatever the file says.
    r = ctl("status", "--help", "--config", missing)
    assert (r.returncode, r.stderr) == (0, "") and r.stdout.startswith("Usage: resolvixctl status")

    r = ctl("status", env={"RESOLVIX_CONFIG": str(missing)})
    assert r.returncode == 2 and "cannot open: No such file or directory" in r.stderr

    bad = tmp_path / "bad.conf"
    bad.write_text("[control]\nport = eighty\n")
    r = ctl("put", "m", "1", "--config", bad)
    assert r.returncode == 2
    assert r.stderr.startswith(f"resolvixctl: invalid configuration: {bad}:2: ")
