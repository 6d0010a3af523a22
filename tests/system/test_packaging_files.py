"""The packaging files, checked without a machine: the default configuration
file, the man pages and the unit as systemd-analyze rates it offline.

The build controld comes from RESOLVIX_BUILD_DIR (tests/run-all.sh sets it),
else build/.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "packaging"
CONF = PKG / "resolvix.conf"
MAN_PAGES = sorted(PKG.glob("*.[158]"))
# Each program and its page.
PROGRAMS = {"controld/resolvix-controld": "resolvix-controld.8", "telemetryd/telemetryd": "telemetryd.8",
            "livelogd/livelogd": "livelogd.8", "resolvixctl/resolvixctl": "resolvixctl.1",
            "hub/resolvix-hub": "resolvix-hub.8", "pushd/pushd": "pushd.8"}
SECURITY_LIMIT = 2.0


@pytest.fixture(scope="module")
def controld():
    exe = Path(os.environ.get("RESOLVIX_BUILD_DIR", ROOT / "build")) / "controld" / "resolvix-controld"
    if not exe.exists():
        pytest.fail(f"{exe} is not built")
    return str(exe)


def check(controld, *args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESOLVIX_")}
    env.update(env_extra or {})
    p = subprocess.run([controld, *args, "--check"], capture_output=True, text=True, env=env, timeout=10)
    assert p.returncode == 0, p.stderr
    return p.stdout


def parse_dump(text, prefix=""):
    """--check output (or, with prefix ";", a file's commented-out
    assignments) as {(section, key): value}."""
    out, section = {}, None
    for line in text.splitlines():
        if m := re.fullmatch(r"\[(\w+)\]", line):
            section = m.group(1)
        elif m := re.fullmatch(re.escape(prefix) + r"(\w+) = ?(.*)", line):
            out[(section, m.group(1))] = m.group(2)
    return out


def test_default_conffile_parses(controld):
    out = check(controld, "--config", str(CONF))
    assert f"(file: {CONF})" in out.splitlines()[0]


def test_default_conffile_sets_nothing(controld):
    # Everything in it is commented out: it reads exactly like no file at all.
    with_file = parse_dump(check(controld, "--config", str(CONF)))
    without = parse_dump(check(controld, "--config", ""))
    assert with_file == without


def test_default_conffile_lists_every_key_with_its_default(controld, tmp_path):
    defaults = parse_dump(check(controld, "--config", ""))
    listed = parse_dump(CONF.read_text(), prefix=";")
    assert set(listed) == set(defaults), (
        f"missing: {sorted(set(defaults) - set(listed))}, unknown: {sorted(set(listed) - set(defaults))}")
    # Uncommented, the file must give the documented defaults back. Only the
    # worker directory differs for a build-tree controld, which finds its
    # workers beside itself; installed, /usr/libexec/resolvix is its default.
    uncommented = tmp_path / "resolvix.conf"
    uncommented.write_text(re.sub(r"(?m)^;(\w+ =)", r"\1", CONF.read_text()))
    got = parse_dump(check(controld, "--config", str(uncommented)))
    assert got.pop(("control", "worker_dir")) == "/usr/libexec/resolvix"
    defaults.pop(("control", "worker_dir"))
    assert got == defaults


@pytest.mark.parametrize("page", MAN_PAGES, ids=lambda p: p.name)
def test_man_page_renders_without_warnings(page):
    p = subprocess.run(["groff", "-ww", "-z", "-man", str(page)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    if shutil.which("man"):
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        p = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True, text=True, env=env,
                           timeout=30)
        assert p.returncode == 0 and p.stderr == "", p.stderr
        assert "NAME" in p.stdout and "SEE ALSO" in p.stdout


def test_conf_man_page_documents_every_key(controld):
    keys = parse_dump(check(controld, "--config", ""))
    page = (PKG / "resolvix.conf.5").read_text()
    sections = dict(re.findall(r"(?ms)^\.SH \[(\w+)\]\n(.*?)(?=^\.SH )", page))
    for section, key in keys:
        assert section in sections, f"no section [{section}] in resolvix.conf(5)"
        assert re.search(rf"(?m)^\.BR {key}\\ ", sections[section]), f"[{section}] {key} is not documented"


def build_dir():
    return Path(os.environ.get("RESOLVIX_BUILD_DIR", ROOT / "build"))


def rendered(page):
    env = dict(os.environ, LC_ALL="C.UTF-8")
    return subprocess.run(["groff", "-man", "-Tutf8", "-P", "-cbou", str(page)], capture_output=True, text=True,
                          env=env, timeout=30).stdout


def test_every_page_is_listed():
    assert {p.name for p in MAN_PAGES} == {*PROGRAMS.values(), "resolvix.conf.5"}
    install = re.search(r"install_man\(([^)]*)\)", (PKG / "meson.build").read_text()).group(1)
    assert sorted(re.findall(r"'([^']+)'", install)) == sorted(p.name for p in MAN_PAGES)


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.split("/")[1])
def test_man_page_documents_every_option(program):
    exe = build_dir() / program
    if not exe.exists():
        pytest.fail(f"{exe} is not built")
    help_text = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=10).stdout
    text = rendered(PKG / PROGRAMS[program])
    options = set(re.findall(r"(?<![\w-])--?[a-zA-Z][a-z-]*", help_text))
    assert "--help" in options
    for option in options:
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), \
            f"{option} is not in {PROGRAMS[program]}"


@pytest.mark.parametrize("page", MAN_PAGES, ids=lambda p: p.name)
def test_see_also_names_every_other_page(page):
    see_also = rendered(page).split("SEE ALSO", 1)[1]
    for other in MAN_PAGES:
        if other != page:
            name, section = other.name.rsplit(".", 1)
            assert f"{name}({section})" in see_also, f"{page.name} does not point to {other.name}"


def test_daemon_pages_have_every_part():
    for page in ("telemetryd.8", "livelogd.8"):
        text = rendered(PKG / page)
        for heading in ("SYNOPSIS", "OPTIONS", "ENDPOINTS", "SIGNALS", "FILES", "ENVIRONMENT", "EXIT STATUS"):
            assert re.search(rf"^{heading}$", text, re.M), f"{page} has no {heading}"


def test_hub_man_page_documents_every_option():
    exe = Path(os.environ.get("RESOLVIX_BUILD_DIR", ROOT / "build")) / "hub" / "resolvix-hub"
    if not exe.exists():
        pytest.fail(f"{exe} is not built")
    help_text = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=10).stdout
    page = (PKG / "resolvix-hub.8").read_text().replace("\\-", "-")
    for option in re.findall(r"--[a-z][a-z-]+", help_text):
        assert option in page, f"{option} is not in resolvix-hub(8)"


@pytest.mark.parametrize("unit", ["resolvix.service", "resolvix-hub.service"])
def test_unit_security_exposure_offline(unit):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(PKG / unit)],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", p.stdout)
    assert m, p.stdout + p.stderr
    print(f"systemd-analyze security --offline=yes packaging/{unit}: {m.group(1)}")
    assert float(m.group(1)) <= SECURITY_LIMIT, p.stdout


def unit_settings():
    """[Service] assignments of the unit, the last one of each key winning."""
    out, section = {}, None
    for line in (PKG / "resolvix.service").read_text().splitlines():
        if m := re.fullmatch(r"\[(\w+)\]", line.strip()):
            section = m.group(1)
        elif section == "Service" and (m := re.fullmatch(r"(\w+)=(.*)", line.strip())):
            out[m.group(1)] = m.group(2).strip()
    return out


def size_bytes(value):
    m = re.fullmatch(r"(\d+)([KMG]?)", value)
    assert m, f"not a size: {value!r}"
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)]


def test_unit_bounds_memory_tasks_and_files(controld):
    """controld and its two workers are bounded as a whole (MemoryMax=,
    TasksMax=), and every process may open what its configured clients need."""
    unit = unit_settings()
    for key in ("MemoryMax", "TasksMax", "LimitNOFILE"):
        assert key in unit, f"resolvix.service sets no {key}="
    conf = parse_dump(check(controld, "--config", str(CONF)))
    clients = int(conf[("telemetry", "max_clients")]) + int(conf[("livelogs", "max_clients")])
    ingest = int(conf[("telemetry", "ingest_max_clients")])
    control = int(conf[("control", "max_connections")])
    margin = 64  # listening sockets, signalfd, inotify, journal, /proc reads, the notify socket
    nofile = int(unit["LimitNOFILE"])
    assert nofile >= clients + ingest + control + margin, (nofile, clients, ingest, control)
    # What the three may hold at the configured maxima (the unit's comment
    # spells it out): the cap must leave room for it, and still be a cap.
    kib, mib = 1 << 10, 1 << 20
    budget = (3 * 6 * mib                                  # each process idle
              + clients * (6 + 64) * kib                   # a stream client: worker + socket buffers
              + ingest * (1 + 16) * kib                    # an ingest client: line + socket buffers
              + int(conf[("telemetry", "ingest_max_metrics")]) * int(conf[("telemetry", "ingest_max_points")]) * 16
              + control * (32 + 64) * kib)                 # a control connection: libmicrohttpd + body
    memory = size_bytes(unit["MemoryMax"])
    assert budget <= memory <= 2 * budget, (memory // mib, budget // mib)
    # Three single-threaded processes, plus ExecReload's kill.
    tasks = int(unit["TasksMax"])
    assert 4 <= tasks <= 64, tasks


# ---- the examples the package installs under /usr/share/doc/resolvix/examples

EXAMPLES = PKG / "examples"


def test_prometheus_example_is_a_valid_config_scraping_telemetryd():
    if not shutil.which("promtool"):
        pytest.fail("promtool is not installed (packaging/deps.sh test installs prometheus)")
    path = EXAMPLES / "prometheus.yml"
    p = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS" in p.stdout
    [job] = yaml.safe_load(path.read_text())["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["localhost:8756"]


def test_grafana_examples_provision_the_datasource_and_node_exporter_full():
    [ds] = yaml.safe_load((EXAMPLES / "grafana" / "datasource.yml").read_text())["datasources"]
    assert (ds["type"], ds["uid"], ds["url"]) == ("prometheus", "prometheus", "http://localhost:9090")
    text = (EXAMPLES / "grafana" / "dashboards.yml").read_text()
    [provider] = yaml.safe_load(text)["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    # The comment says how to put dashboard 1860 where the provider looks,
    # with the data source the other file provisions.
    assert "https://grafana.com/api/dashboards/1860/revisions/latest/download" in text
    assert f"{path}/node-exporter-full.json" in text
    assert f"s/${{DS_PROMETHEUS}}/{ds['uid']}/g" in text


def test_the_package_installs_the_examples_and_docs():
    debian = PKG / "debian"
    listed = (debian / "resolvix.examples").read_text().split()
    assert sorted(listed) == ["packaging/examples/grafana", "packaging/examples/prometheus.yml",
                              "packaging/examples/tls-dropin.conf"]
    for entry in listed + (debian / "resolvix.docs").read_text().split():
        assert (ROOT / entry).exists(), entry
    readme = (debian / "README.Debian").read_text()
    for needle in ("[control]\n  token =", "TLS", "not part of this package yet", "examples/",
                   "Node Exporter Full"):
        assert needle in readme, needle


def test_long_description_says_what_resolvix_is():
    control = (PKG / "debian" / "control").read_text()
    description = control.split("\nDescription: ", 1)[1]
    synopsis, long = description.split("\n", 1)
    assert len(synopsis) <= 80 and not synopsis.endswith(".")
    assert all(line.startswith(" ") for line in long.rstrip("\n").splitlines())
    for needle in ("CPU", "log file", "systemd journal", "dashboard", "resolvixctl", "Prometheus", "node_exporter"):
        assert needle in long, needle
