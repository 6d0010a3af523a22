"""A command controld cannot persist is refused (docs/control-api.md): on a state
directory that is full or read-only, start/stop/restart answer 500
state_not_saved naming the cause, and nothing changes, rather than "started"
with a desired state that a restart of controld would lose."""
import json
import os
import subprocess

import pytest

from support import pid_alive


def mount(*args):
    p = subprocess.run(["mount", *args], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount here ({p.stderr.strip()}): run as root with mount rights")


def umount(path):
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def saved(cd):
    return json.loads((cd.state_dir / "state.json").read_text())


def fill(directory):
    """Fill the file system holding directory; returns the filler file."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


@pytest.fixture
def full_cd(controld, procs):
    """controld on a tiny tmpfs state directory (filled by the test)."""
    controld.state_dir.mkdir()
    mount("-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(controld.state_dir))
    procs.cleanups.append(lambda: umount(controld.state_dir))
    controld.start()
    return controld


def refused(r, cause):
    assert r.status == 500, r
    assert (r.json["status"], r.json["detail"]) == ("error", "state_not_saved"), r.json
    assert cause in r.json["message"] and "nothing was changed" in r.json["message"], r.json


def test_start_on_a_full_state_dir_is_refused(full_cd):
    cd = full_cd
    assert saved(cd)["telemetry"]["enabled"] is False
    filler = fill(cd.state_dir)
    for command in ("start_telemetry", "restart_telemetry", "start_livelogs"):
        refused(cd.control(command), "No space left on device")
    s = cd.status()
    assert (s["telemetry"]["state"], s["livelogs"]["state"]) == ("stopped", "stopped")
    assert saved(cd) == {"telemetry": {"enabled": False, "interval": 60}, "livelogs": {"enabled": False},
                         "push": {"enabled": False}}
    assert cd.health().status == 200
    assert "Cannot save state in" in cd.log()

    # Room again: the same command works and is kept.
    filler.unlink()
    r = cd.control("start_telemetry", interval=9)
    assert (r.status, r.json["status"]) == (200, "started")
    assert saved(cd)["telemetry"] == {"enabled": True, "interval": 9}


def test_stop_and_new_interval_on_a_full_state_dir_are_refused(full_cd):
    cd = full_cd
    pid = cd.control("start_telemetry", interval=5).json["pid"]
    fill(cd.state_dir)
    refused(cd.control("stop_telemetry"), "No space left on device")
    refused(cd.control("start_telemetry", interval=7), "No space left on device")
    # Still running as it was, with the interval it had.
    s = cd.status()["telemetry"]
    assert (s["state"], s["pid"], s["interval"]) == ("running", pid, 5)
    assert cd.worker("telemetry") == {"role": "telemetry", "pid": pid, "interval": 5}
    assert pid_alive(pid)
    assert saved(cd)["telemetry"] == {"enabled": True, "interval": 5}
    # Asking for what already is needs no write.
    assert cd.control("start_telemetry", interval=5).json["status"] == "already_running"


def test_start_on_a_read_only_state_dir_is_refused(controld, procs):
    controld.start()
    controld.wait_status(lambda s: True)
    before = (controld.state_dir / "state.json").read_bytes()
    # As root, permissions do not stop a write: a read-only mount does.
    mount("--bind", str(controld.state_dir), str(controld.state_dir))
    procs.cleanups.append(lambda: umount(controld.state_dir))
    mount("-o", "remount,bind,ro", str(controld.state_dir))
    refused(controld.control("start_telemetry"), "Read-only file system")
    assert controld.status()["telemetry"]["state"] == "stopped"
    assert (controld.state_dir / "state.json").read_bytes() == before
    assert os.listdir(controld.state_dir) == ["state.json"]
