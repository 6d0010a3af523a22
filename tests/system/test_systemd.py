"""The Debian package under a real systemd.

Builds the package (packaging/build-deb.sh), boots a throwaway systemd with
its journald (container.sh: systemd-nspawn over a read-only view of the host
root, a tmpfs overlay, and a network namespace holding only a loopback of its
own, so the default ports are free and nothing leaves the machine), installs
the .deb there with dpkg, and drives resolvix.service as an operator would:
systemctl, the README's curl commands verbatim, a WebSocket client, journalctl,
kill -9, reload, a frozen main process, stop.

The tests run in file order and share one machine: each one leaves the
service as the next expects it (started, telemetry running).

Needs root and systemd-nspawn; without them the whole module is skipped with
the reason (tests/system/run.sh prints it).
"""
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CONTAINER = HERE / "container.sh"

# Where the machine sees the package and these test files.
DEB_MOUNT = "/run/resolvix-test/deb"
TESTS_MOUNT = "/run/resolvix-test/tests"

# The README's commands, verbatim.
SEED_START = """curl -X POST http://localhost:8754/control -H "Content-Type: application/json" -d '{"command": "start_telemetry"}'"""
SEED_STATUS = "curl http://localhost:8754/status"

UNIT = "resolvix.service"
INSTALLED_UNIT = "/lib/systemd/system/resolvix.service"
CONFFILE = "/etc/resolvix/resolvix.conf"
# Small enough for a quick test, large enough for a loaded 2-core machine.
TEST_WATCHDOG_SEC = 2
SECURITY_LIMIT = 2.5

# Journal priorities (syslog levels).
ERR, WARNING, INFO = 3, 4, 6


def why_not_here():
    if os.geteuid() != 0:
        return "needs root: it bind-mounts / read-only and boots systemd-nspawn"
    if not shutil.which("systemd-nspawn"):
        return "systemd-nspawn is not installed (Debian package systemd-container; packaging/deps.sh test)"
    with open("/proc/self/status") as f:
        caps = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    if not caps & (1 << 21):
        return "no CAP_SYS_ADMIN here: cannot mount or create namespaces (an unprivileged container?)"
    if not os.access("/sys/fs/cgroup", os.W_OK) and not os.access("/sys/fs/cgroup/systemd", os.W_OK):
        return "the cgroup file system is read-only here: systemd-nspawn cannot place the machine"
    return None


_why = why_not_here()
if _why:
    pytest.skip(f"system test skipped: {_why}", allow_module_level=True)


def wait_for(what, probe, timeout=20.0, interval=0.1):
    """Poll probe() until it returns something true; fail with what otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


class Machine:
    def __init__(self, name):
        self.name = name
        # Handed from test to test: the telemetryd of the moment, and where
        # the journal stood when the WebSocket client connected.
        self.telemetry_pid = None
        self.connect_mark = None

    def run(self, *argv, timeout=60, check=True):
        p = subprocess.run([str(CONTAINER), "run", self.name, *argv], capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            pytest.fail(f"in the machine, {' '.join(argv)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p

    def sh(self, script, **kw):
        return self.run("sh", "-c", script, **kw)

    def popen(self, *argv):
        return subprocess.Popen([str(CONTAINER), "run", self.name, *argv], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def show(self, prop):
        return self.run("systemctl", "show", "-P", prop, UNIT).stdout.strip()

    def is_active(self):
        return self.run("systemctl", "is-active", UNIT, check=False).stdout.strip()

    def status(self):
        return json.loads(self.sh(SEED_STATUS + " --silent --show-error").stdout)

    def cursor(self):
        """Where the journal ends now: later reads see only what follows."""
        self.run("journalctl", "--sync")
        out = self.run("journalctl", "--quiet", "-o", "json", "-n", "1", "--no-pager").stdout
        return json.loads(out.splitlines()[-1])["__CURSOR"] if out.strip() else None

    def journal(self, after=None, unit=True):
        self.run("journalctl", "--sync")
        argv = ["journalctl", "--quiet", "-o", "json", "--no-pager", "--output-fields="
                "MESSAGE,PRIORITY,SYSLOG_IDENTIFIER,RESOLVIX_WORKER,CODE_FILE,_PID,_SYSTEMD_UNIT,UNIT"]
        if unit:
            argv += ["-u", UNIT]
        if after:
            argv.append(f"--after-cursor={after}")
        entries = [json.loads(line) for line in self.run(*argv).stdout.splitlines() if line.strip()]
        for e in entries:
            # journald hands out byte arrays for non-UTF-8 text; ours is text.
            for k, v in e.items():
                if isinstance(v, list) and v and all(isinstance(x, int) for x in v):
                    e[k] = bytes(v).decode("utf-8", "replace")
        return entries

    def wait_journal(self, what, match, after=None, unit=True, timeout=20.0):
        """The journal entries since after, once one of them satisfies match."""
        def probe():
            entries = self.journal(after, unit)
            return entries if any(match(e) for e in entries) else None
        return wait_for(f"journal: {what}", probe, timeout, interval=0.2)


def by(ident, pattern):
    """A journal matcher: identifier and a regular expression on the message."""
    rx = re.compile(pattern)
    return lambda e: e.get("SYSLOG_IDENTIFIER") == ident and bool(rx.search(str(e.get("MESSAGE", ""))))


def fields(e, name):
    """All values of a journal field (a field set twice comes as a list)."""
    v = e.get(name)
    return v if isinstance(v, list) else [] if v is None else [v]


def entry(entries, match):
    return next(e for e in entries if match(e))


def prio(e):
    return int(e["PRIORITY"])


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """Build the .deb as a release would: dpkg-buildpackage, then lintian."""
    out = Path(os.environ.get("RESOLVIX_SYSTEST_OUT") or tmp_path_factory.mktemp("deb"))
    p = subprocess.run([str(ROOT / "packaging" / "build-deb.sh"), str(out)], capture_output=True, text=True,
                       timeout=900)
    if out.is_dir():
        (out / "build-deb.log").write_text(p.stdout + p.stderr)
    # 3: built, but lintian reports errors; test_lintian_reports_no_errors says which.
    if p.returncode not in (0, 3):
        pytest.fail(f"packaging/build-deb.sh failed ({p.returncode}):\n{(p.stdout + p.stderr)[-6000:]}")
    debs = list(out.glob("resolvix_*.deb"))
    assert len(debs) == 1, f"expected one resolvix_*.deb in {out}, found {debs}"
    return {"dir": out, "deb": debs[0], "lintian": (out / "lintian.txt").read_text()}


@pytest.fixture(scope="module")
def machine(package):
    name = os.environ.get("RESOLVIX_SYSTEST_NAME") or f"resolvix-systest-{os.getpid()}"
    up = subprocess.run([str(CONTAINER), "up", name, "--private-network",
                         f"--bind-ro={package['dir']}:{DEB_MOUNT}", f"--bind-ro={HERE}:{TESTS_MOUNT}"],
                        capture_output=True, text=True, timeout=120)
    try:
        if up.returncode != 0:
            pytest.fail(f"the test machine did not boot:\n{up.stdout}\n{up.stderr}")
        m = Machine(name)
        # The machine is a view of this host: whatever resolvix left here (a
        # run from source as root, an installed package) must not leak into
        # a fresh install. Removed in the overlay only; the host keeps it.
        m.run("rm", "-rf", "/var/lib/resolvix", "/var/lib/private/resolvix", "/etc/resolvix")
        # Install as an image build would: policy-rc.d keeps dpkg from
        # starting the service, so that the test starts it itself.
        m.sh("printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d")
        m.run("dpkg", "-i", f"{DEB_MOUNT}/{package['deb'].name}", timeout=120)
        m.run("rm", "/usr/sbin/policy-rc.d")
        yield m
    finally:
        subprocess.run([str(CONTAINER), "down", name], timeout=120)


# ---- the package ------------------------------------------------------------


def test_lintian_reports_no_errors(package):
    errors = [line for line in package["lintian"].splitlines() if line.startswith("E: ")]
    assert not errors, "lintian errors:\n" + "\n".join(errors)


def test_package_contents_and_dependencies(package):
    listing = subprocess.run(["dpkg-deb", "--contents", str(package["deb"])], capture_output=True, text=True,
                             check=True).stdout
    paths = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    for path in ["/usr/sbin/resolvix-controld", "/usr/libexec/resolvix/telemetryd",
                 "/usr/libexec/resolvix/livelogd", INSTALLED_UNIT, CONFFILE,
                 "/usr/share/man/man8/resolvix-controld.8.gz", "/usr/share/man/man5/resolvix.conf.5.gz",
                 "/usr/share/man/man8/telemetryd.8.gz", "/usr/share/man/man8/livelogd.8.gz",
                 "/usr/share/man/man1/resolvixctl.1.gz", "/usr/share/doc/resolvix/README.Debian",
                 "/usr/share/doc/resolvix/examples/prometheus.yml",
                 "/usr/share/doc/resolvix/examples/grafana/datasource.yml",
                 "/usr/share/doc/resolvix/examples/grafana/dashboards.yml",
                 "/usr/share/doc/resolvix/telemetry-stream.md.gz",
                 # The dashboards: each page's own files, and the ones both load, once.
                 "/usr/share/resolvix/dashboard/index.html", "/usr/share/resolvix/hub-dashboard/index.html",
                 "/usr/share/resolvix/dashboard-common/common.js",
                 "/usr/share/resolvix/dashboard-common/common.css"]:
        assert path in paths, f"{path} is not in the package"
    fields = subprocess.run(["dpkg-deb", "--field", str(package["deb"]), "Depends"], capture_output=True,
                            text=True, check=True).stdout
    # Resolved from the executables' shared libraries by dpkg-shlibdeps.
    for lib in ["libmicrohttpd12", "libwebsockets17", "libcjson1", "libsystemd0", "libinih1", "libc6"]:
        assert lib in fields, f"Depends lacks {lib}: {fields}"
    conffiles = subprocess.run(["dpkg-deb", "--ctrl-tarfile", str(package["deb"])], capture_output=True,
                               check=True).stdout
    assert CONFFILE.encode() in conffiles, "the configuration file is not a conffile"


def test_installed_enabled_but_not_started(machine):
    # postinst enables the unit; policy-rc.d stopped it from starting.
    assert machine.run("systemctl", "is-enabled", UNIT, check=False).stdout.strip() == "enabled"
    assert machine.is_active() == "inactive"
    version = machine.run("resolvix-controld", "--version").stdout
    pkg = machine.run("dpkg-query", "-W", "-f=${Version}", "resolvix").stdout
    assert pkg in version, f"package {pkg}, program says {version!r}"
    machine.run("man", "-w", "resolvix-controld", "resolvix.conf")


def test_unit_passes_systemd_analyze_verify(machine):
    p = machine.run("systemd-analyze", "verify", UNIT, check=False)
    assert p.returncode == 0 and "resolvix" not in p.stderr, p.stderr


def test_unit_security_exposure(machine):
    out = machine.run("systemd-analyze", "security", "--offline=yes", INSTALLED_UNIT).stdout
    level = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out).group(1))
    print(f"systemd-analyze security --offline=yes: {level}")
    assert level <= SECURITY_LIMIT, out


# ---- start, the README's commands, the streams --------------------------------


def test_start_returns_only_after_ready(machine):
    mark = machine.cursor()
    machine.run("systemctl", "start", UNIT)
    # No waiting from here on: systemctl returned, so the service is up.
    assert machine.is_active() == "active"
    assert machine.sh("curl --silent --fail http://localhost:8754/health").returncode == 0
    assert machine.show("StatusText").startswith("telemetry: "), "controld sent no STATUS="
    # controld logs this line before it sends READY=1, and both it and
    # systemd log through the same journal socket: in order.
    entries = machine.journal(mark)
    listening = next(i for i, e in enumerate(entries) if by("resolvix-controld", r"^Control API listening")(e))
    started = next(i for i, e in enumerate(entries) if by("systemd", r"^Started resolvix\.service")(e))
    assert listening < started, "systemd called the service started before controld was listening"
    main_pid = int(machine.show("MainPID"))
    assert all(int(e["_PID"]) == main_pid for e in entries if e.get("SYSLOG_IDENTIFIER") == "resolvix-controld")


def test_seed_start_telemetry(machine):
    p = machine.sh(SEED_START)
    answer = json.loads(p.stdout)
    assert answer["status"] == "started", answer
    assert answer["ws_port"] == 8756 and isinstance(answer["pid"], int)
    machine.telemetry_pid = answer["pid"]


def test_seed_status_shows_telemetry_running(machine):
    status = json.loads(machine.sh(SEED_STATUS).stdout)
    t = status["telemetry"]
    assert t["running"] is True and t["pid"] == machine.telemetry_pid and t["ws_port"] == 8756
    assert status["livelogs"]["running"] is False
    # Its own network namespace has no default route: the node is named by its host name.
    assert status["node_id"] == machine.run("hostname").stdout.strip()


def test_websocket_client_receives_a_sample(machine):
    node = machine.status()["node_id"]
    machine.connect_mark = machine.cursor()
    p = machine.run("/usr/bin/python3", f"{TESTS_MOUNT}/ws_client.py", f"ws://{node}:8756", "1", timeout=40)
    sample = json.loads(p.stdout.splitlines()[0])
    assert sample["node_id"] == node
    assert isinstance(sample["metrics"]["cpu"]["cpu_usage_percent"], (int, float))
    assert sample["metrics"]["processes"]["process_count"] > 0
    # telemetryd reads /proc of every process, root's too, from its sandbox.
    top = sample["metrics"]["processes"]["top_memory_processes"]
    assert top and all(p["pid"] > 0 and p["name"] for p in top)


def test_journal_shows_controld_and_telemetryd(machine):
    entries = machine.journal()
    listening = entry(entries, by("resolvix-controld", r"Control API listening on http://127\.0\.0\.1:8754"))
    spawned = entry(entries, by("resolvix-controld", rf"telemetry worker started: .*\(pid {machine.telemetry_pid}\)"))
    ready = entry(entries, by("resolvix-controld", rf"telemetry worker ready \(pid {machine.telemetry_pid}\)"))
    assert prio(listening) == prio(spawned) == prio(ready) == INFO
    # Native journal entries, located where they were logged.
    assert any(f.endswith("controld/manager.c") for f in fields(listening, "CODE_FILE")), listening
    mine = [e for e in entries if int(e.get("_PID", 0)) == machine.telemetry_pid]
    assert mine, "nothing from telemetryd in journalctl -u resolvix"
    assert all(e["SYSLOG_IDENTIFIER"] == "telemetryd" and e.get("RESOLVIX_WORKER") == "telemetry"
               for e in mine), mine
    assert prio(entry(mine, lambda e: e["MESSAGE"].startswith("Listening on"))) == INFO
    # The client of the previous test, as telemetryd saw it.
    connected = lambda e: (int(e.get("_PID", 0)) == machine.telemetry_pid
                           and re.search(r"^Client \S+ connected", e["MESSAGE"]))
    conn = entry(machine.wait_journal("telemetryd logs the client's connection", connected,
                                      after=machine.connect_mark), connected)
    assert prio(conn) == INFO, conn
    # Nothing went wrong so far: no error or worse from any of them.
    bad = [e for e in entries if e.get("SYSLOG_IDENTIFIER") != "systemd" and prio(e) <= ERR]
    assert not bad, bad


def test_kill9_of_telemetryd_is_logged_and_restarted(machine):
    victim = machine.status()["telemetry"]["pid"]
    mark = machine.cursor()
    machine.run("kill", "-9", str(victim))
    t = wait_for("telemetry running again under a new pid",
                 lambda: (lambda t: t if t["running"] and t["pid"] not in (None, victim) else None)(
                     machine.status()["telemetry"]))
    assert t["restarts"] >= 1 and t["last_exit"] == {"signal": "SIGKILL"}
    entries = machine.wait_journal("the new telemetryd ready",
                                   by("resolvix-controld", rf"telemetry worker ready \(pid {t['pid']}\)"), mark)
    killed = entry(entries, by("resolvix-controld", rf"telemetry worker \(pid {victim}\) killed by signal SIGKILL"))
    restart = entry(entries, by("resolvix-controld", r"telemetry: restarting in"))
    assert prio(killed) == WARNING and prio(restart) == WARNING
    assert machine.is_active() == "active", "a worker's crash must not take the service down"
    machine.telemetry_pid = t["pid"]


def test_livelogd_reads_the_journal_in_its_sandbox(machine):
    p = machine.sh("""curl --silent -X POST http://localhost:8754/control -H "Content-Type: application/json" """
                   """-d '{"command": "start_livelogs"}'""")
    assert json.loads(p.stdout)["status"] == "started", p.stdout
    node = machine.status()["node_id"]
    marker = f"resolvix-systest-{os.getpid()}-{time.monotonic_ns()}"
    client = machine.popen("/usr/bin/python3", f"{TESTS_MOUNT}/ws_client.py", f"ws://{node}:8755",
                           "--until", marker, "--timeout", "30")
    try:
        assert client.stderr.readline().strip() == "connected"
        # Debian 12 has no /var/log/syslog: livelogd follows the journal,
        # which the unit lets it read through the systemd-journal group.
        machine.run("logger", "-t", "resolvix-systest", marker)
        out, err = client.communicate(timeout=40)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    assert client.returncode == 0, err
    line = json.loads(out.splitlines()[-1])
    assert line["type"] == "live_log" and marker in line["log"]
    pid = machine.status()["livelogs"]["pid"]
    entries = machine.wait_journal("livelogd logs the client's connection",
                                   lambda e: int(e.get("_PID", 0)) == pid and "connected" in e["MESSAGE"])
    conn = entry(entries, lambda e: int(e.get("_PID", 0)) == pid and "connected" in e["MESSAGE"])
    assert conn["SYSLOG_IDENTIFIER"] == "livelogd" and conn["RESOLVIX_WORKER"] == "livelogs", conn
    assert prio(conn) == INFO
    p = machine.sh("""curl --silent -X POST http://localhost:8754/control -H "Content-Type: application/json" """
                   """-d '{"command": "stop_livelogs"}'""")
    assert json.loads(p.stdout)["status"] == "stopped"


# ---- restart, reload, watchdog, stop ------------------------------------------------


def test_restart_returns_once_restored_workers_are_ready(machine):
    old = machine.show("MainPID")
    machine.run("systemctl", "restart", UNIT)
    assert machine.show("MainPID") != old
    # controld restored "telemetry on" from its state and said READY=1 only
    # once the worker was ready: no waiting here either.
    t = machine.status()["telemetry"]
    assert t["running"] is True and t["state"] == "running", t
    machine.telemetry_pid = t["pid"]




def test_reload_rereads_the_configuration(machine):
    main_pid = machine.show("MainPID")
    assert machine.status()["telemetry"]["interval"] == 60
    machine.run("sed", "-i", "s/^;interval = 60$/interval = 7/", CONFFILE)
    mark = machine.cursor()
    # Debug level makes systemd log each notification it gets.
    machine.run("systemd-analyze", "log-level", "debug")
    try:
        machine.run("systemctl", "reload", UNIT)
        entries = machine.wait_journal(
            "READY=1 after RELOADING=1 from controld",
            lambda e: re.search(rf"notification message from PID {main_pid} \(READY=1", e["MESSAGE"]), mark,
            unit=False)
    finally:
        machine.run("systemd-analyze", "log-level", "info")
    notes = [e["MESSAGE"] for e in entries if f"notification message from PID {main_pid} (" in e["MESSAGE"]]
    reloading = next(i for i, n in enumerate(notes) if "RELOADING=1" in n)
    assert any("READY=1" in n for n in notes[reloading + 1:]), notes
    machine.wait_journal("controld re-read its file",
                         by("resolvix-controld", rf"Configuration reloaded from {re.escape(CONFFILE)}"), mark)
    wait_for("the new interval in /status", lambda: machine.status()["telemetry"]["interval"] == 7)
    assert machine.show("MainPID") == main_pid, "a reload must not restart controld"
    assert machine.is_active() == "active"


def test_livelogd_reads_a_log_file_of_group_adm(machine):
    # As Debian keeps /var/log/syslog: root:adm 0640, unreadable to others.
    path = "/var/log/resolvix-systest.log"
    marker = f"resolvix-systest adm line {time.monotonic_ns()}"
    machine.sh(f"echo '{marker}' >{path} && chown root:adm {path} && chmod 0640 {path}")
    machine.run("sed", "-i", f"s|^;log_file = .*|log_file = {path}|", CONFFILE)
    mark = machine.cursor()
    machine.run("systemctl", "reload", UNIT)
    machine.wait_journal("controld re-read its file", by("resolvix-controld", r"Configuration reloaded"), mark)
    wait_for("the new log file in /status", lambda: machine.status()["log_file"] == path)
    p = machine.sh("""curl --silent -X POST http://localhost:8754/control -H "Content-Type: application/json" """
                   """-d '{"command": "start_livelogs"}'""")
    answer = json.loads(p.stdout)
    assert answer["status"] == "started" and answer["log_file"] == path, answer
    lines = json.loads(machine.run("curl", "--silent", "--fail", "http://localhost:8755/tail?n=5").stdout)
    assert any(marker in line["log"] for line in lines), lines
    p = machine.sh("""curl --silent -X POST http://localhost:8754/control -H "Content-Type: application/json" """
                   """-d '{"command": "stop_livelogs"}'""")
    assert json.loads(p.stdout)["status"] == "stopped"


def test_watchdog_restarts_a_frozen_controld(machine):
    machine.sh(f"mkdir -p /run/systemd/system/{UNIT}.d && printf '[Service]\\nWatchdogSec={TEST_WATCHDOG_SEC}s\\n' "
               f">/run/systemd/system/{UNIT}.d/50-systest-watchdog.conf")
    try:
        machine.run("systemctl", "daemon-reload")
        machine.run("systemctl", "restart", UNIT)
        assert machine.show("WatchdogUSec") == f"{TEST_WATCHDOG_SEC}s"
        frozen = machine.show("MainPID")
        restarts = int(machine.show("NRestarts"))
        # controld keeps pinging while it runs: more than one watchdog period alive.
        time.sleep(TEST_WATCHDOG_SEC * 1.5)
        assert machine.show("MainPID") == frozen and machine.is_active() == "active"
        mark = machine.cursor()
        machine.run("kill", "-STOP", frozen)
        wait_for("a new controld, active",
                 lambda: machine.show("MainPID") not in ("0", frozen) and machine.is_active() == "active",
                 timeout=TEST_WATCHDOG_SEC * 10)
        assert int(machine.show("NRestarts")) == restarts + 1
        entries = machine.journal(mark)
        assert any(by("systemd", r"Watchdog timeout")(e) for e in entries), entries
        assert any(by("systemd", r"Failed with result 'watchdog'")(e) for e in entries), entries
        # The new controld restored the saved state: telemetry is back.
        t = wait_for("telemetry restored", lambda: (lambda t: t if t["running"] else None)(
            machine.status()["telemetry"]))
        assert t["interval"] == 7
    finally:
        machine.run("rm", "-rf", f"/run/systemd/system/{UNIT}.d")
        machine.run("systemctl", "daemon-reload")


def resolvix_processes(machine):
    out = machine.sh("for e in /proc/[0-9]*/exe; do readlink \"$e\"; done 2>/dev/null; true").stdout
    return [p for p in out.splitlines() if "resolvix" in p]


def test_stop_leaves_no_resolvix_process(machine):
    assert resolvix_processes(machine), "nothing to stop: the service should be running"
    mark = machine.cursor()
    machine.run("systemctl", "stop", UNIT)
    assert machine.is_active() == "inactive"
    # A clean stop: controld stopped its workers and exited, nothing was killed.
    assert machine.show("Result") == "success"
    assert resolvix_processes(machine) == []
    entries = machine.journal(mark)
    assert any(by("resolvix-controld", r"^Stopped$")(e) for e in entries), entries
    assert not any(by("systemd", r"Killing process")(e) for e in entries), entries


# ---- resolvix-hub.service ------------------------------------------------------------
# The same package's hub, as the machine chosen as a fleet's hub runs it:
# enabled by the operator, ready when systemctl returns, reloaded, pushed
# to with curl, stopped with its queue committed.

HUB = "resolvix-hub.service"
INSTALLED_HUB = "/lib/systemd/system/resolvix-hub.service"
HUB_URL = "http://localhost:8757"
HUB_ENROLL = "systest-enroll-secret"


def hub_show(machine, prop):
    return machine.run("systemctl", "show", "-P", prop, HUB).stdout.strip()


def hub_journal(machine, after=None):
    return [e for e in machine.journal(after, unit=False)
            if e.get("_SYSTEMD_UNIT") == HUB or e.get("UNIT") == HUB]


def hub_curl(machine, args, check=True):
    p = machine.sh(f"curl --silent --show-error --max-time 30 {args}", check=check)
    return json.loads(p.stdout) if p.stdout.strip() else None


def hub_sample(seq, cpu):
    return {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "node_id": "systest-node",
            "interval": 10, "metrics": {"cpu": {"cpu_usage_percent": cpu}}, "stream": "boot-1", "seq": seq}


def test_hub_installed_disabled_and_hardened(machine):
    assert machine.run("systemctl", "is-enabled", HUB, check=False).stdout.strip() == "disabled"
    assert machine.run("systemctl", "is-active", HUB, check=False).stdout.strip() == "inactive"
    machine.run("man", "-w", "resolvix-hub")
    p = machine.run("systemd-analyze", "verify", HUB, check=False)
    assert p.returncode == 0 and "resolvix" not in p.stderr, p.stderr
    out = machine.run("systemd-analyze", "security", "--offline=yes", INSTALLED_HUB).stdout
    level = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out).group(1))
    print(f"systemd-analyze security --offline=yes resolvix-hub: {level}")
    assert level <= SECURITY_LIMIT, out


def test_hub_enable_now_returns_once_ready(machine):
    machine.run("sed", "-i", rf"/^\[hub\]/,/^\[/ s/^;enroll_token =$/enroll_token = {HUB_ENROLL}/", CONFFILE)
    mark = machine.cursor()
    machine.run("systemctl", "enable", "--now", HUB)
    # Type=notify: systemctl returned, so the hub answers now.
    assert machine.run("systemctl", "is-active", HUB).stdout.strip() == "active"
    health = hub_curl(machine, f"--fail {HUB_URL}/health")
    assert health["status"] == "healthy" and health["database"] == "sqlite", health
    assert hub_show(machine, "StatusText").startswith("listening on 0.0.0.0:8757"), hub_show(machine, "StatusText")
    assert hub_show(machine, "WatchdogUSec") == "30s"
    assert machine.run("systemctl", "is-enabled", HUB).stdout.strip() == "enabled"
    entries = hub_journal(machine, mark)
    listening = next(i for i, e in enumerate(entries) if by("resolvix-hub", r"^Listening on 0\.0\.0\.0:8757")(e))
    started = next(i for i, e in enumerate(entries) if by("systemd", r"^Started resolvix-hub\.service")(e))
    assert listening < started, "systemd called the hub started before it listened"
    main_pid = int(hub_show(machine, "MainPID"))
    mine = [e for e in entries if e.get("SYSLOG_IDENTIFIER") == "resolvix-hub"]
    assert mine and all(int(e["_PID"]) == main_pid and prio(e) > ERR for e in mine), mine
    # The database is the dynamic user's, in its StateDirectory=.
    owner = machine.run("stat", "-c", "%U %a", "/var/lib/private/resolvix-hub/hub.sqlite").stdout.split()
    assert owner[0] != "root" and owner[1] == "600", owner


def test_hub_enrol_and_push_with_curl(machine):
    node = hub_curl(machine, f"--fail -X POST {HUB_URL}/api/v1/enroll -H 'Authorization: Bearer {HUB_ENROLL}' "
                             """-d '{"node_id": "systest-node", "hostname": "systest", "machine_id": "m1"}'""")
    token = node["token"]
    body = "".join(json.dumps(hub_sample(s, 10.0 * s)) + "\n" for s in (1, 2))
    machine.sh(f"printf '%s' '{body}' >/tmp/push.ndjson")
    answer = hub_curl(machine, f"--fail -X POST {HUB_URL}/api/v1/push -H 'Authorization: Bearer {token}' "
                               "-H 'Content-Type: application/x-ndjson' --data-binary @/tmp/push.ndjson")
    assert answer == {"acked": 2, "duplicates": 0, "last_seq": 2}, answer
    again = hub_curl(machine, f"--fail -X POST {HUB_URL}/api/v1/push -H 'Authorization: Bearer {token}' "
                              "-H 'Content-Type: application/x-ndjson' --data-binary @/tmp/push.ndjson")
    assert again == {"acked": 0, "duplicates": 2, "last_seq": 2}, again
    q = hub_curl(machine, f"--fail '{HUB_URL}/api/v1/query?node=systest-node&metric=cpu.cpu_usage_percent'")
    assert [v for _, v in q["series"][0]["points"]] == [10.0, 20.0], q
    # A one-time token made from a root shell, straight into the running
    # hub's database.
    p = machine.run("resolvix-hub", "--state-dir", "/var/lib/resolvix-hub", "--new-enroll-token",
                    "--token-note", "systest")
    once = p.stdout.strip()
    assert len(once) == 64, p
    listed = hub_curl(machine, f"--fail {HUB_URL}/api/v1/enroll-tokens")
    assert [t["note"] for t in listed] == ["systest"], listed
    enrol = f"-X POST {HUB_URL}/api/v1/enroll -H 'Authorization: Bearer {once}' -d '{{\"node_id\": \"second\"}}'"
    assert hub_curl(machine, f"--fail {enrol}")["node_id"] == "second"
    assert hub_curl(machine, enrol)["detail"] == "unauthorized"
    entries = hub_journal(machine)
    enrolled = entry(entries, by("resolvix-hub", r"^Enrolled node systest-node \(systest\)"))
    assert prio(enrolled) == INFO
    assert any(by("resolvix-hub", r"^Spent the one-time enroll token")(e) for e in entries), entries


def test_hub_reload_applies_the_token(machine):
    main_pid = hub_show(machine, "MainPID")
    assert machine.sh(f"curl --silent --fail {HUB_URL}/api/v1/nodes").returncode == 0
    machine.run("sed", "-i", r"/^\[hub\]/,/^\[/ s/^;token =$/token = systest-query/", CONFFILE)
    mark = machine.cursor()
    machine.run("systemctl", "reload", HUB)
    machine.wait_journal("the hub re-read its file", by("resolvix-hub", r"^Configuration reloaded"), mark,
                         unit=False)
    assert hub_show(machine, "MainPID") == main_pid, "a reload must not restart the hub"
    assert hub_show(machine, "StatusText") == "configuration reloaded"
    # Queries need the token now, even from loopback.
    r = hub_curl(machine, f"{HUB_URL}/api/v1/nodes")
    assert r["detail"] == "unauthorized", r
    nodes = hub_curl(machine, f"--fail -H 'Authorization: Bearer systest-query' {HUB_URL}/api/v1/nodes")
    assert sorted(n["node_id"] for n in nodes) == ["second", "systest-node"]


def test_hub_stop_commits_and_restart_keeps_the_data(machine):
    mark = machine.cursor()
    machine.run("systemctl", "stop", HUB)
    assert machine.run("systemctl", "is-active", HUB, check=False).stdout.strip() == "inactive"
    assert hub_show(machine, "Result") == "success"
    entries = hub_journal(machine, mark)
    assert any(by("resolvix-hub", r"^Stopped after storing 2 samples$")(e) for e in entries), entries
    assert not any(by("systemd", r"Killing process")(e) for e in entries), entries
    machine.run("systemctl", "start", HUB)
    q = hub_curl(machine, "--fail -H 'Authorization: Bearer systest-query' "
                          f"'{HUB_URL}/api/v1/query?node=systest-node&metric=cpu.cpu_usage_percent'")
    assert [v for _, v in q["series"][0]["points"]] == [10.0, 20.0], q
    machine.run("systemctl", "disable", "--now", HUB)
    assert [p for p in resolvix_processes(machine) if p.endswith("resolvix-hub")] == []
