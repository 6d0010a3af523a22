"""The one-shot commands (resolvixctl(1)): cpu, memory, processes,
disks and network read this machine with telemetryd's sampler and need no
daemon. --json prints the very subtree telemetryd sends under metrics."""
import json
import re
import shutil

import pytest

from ctl_support import ctl

SECTIONS = {"cpu": "cpu", "memory": "memory", "processes": "processes", "disks": "disk", "network": "network"}

# The keys docs/telemetry-stream.md fixes for each section (additive ones may come too).
SPEC_KEYS = {
    "cpu": {"cpu_usage_percent", "cpu_per_core_percent", "load_avg_1min", "load_avg_5min", "load_avg_15min"},
    "memory": {"memory_total_gb", "memory_used_gb", "memory_available_gb", "memory_usage_percent", "swap_total_gb",
               "swap_used_gb", "swap_usage_percent"},
    "disk": {"disk_usage", "disk_io"},
    "network": {"bytes_sent_mb_per_sec", "bytes_recv_mb_per_sec", "packets_sent", "packets_recv",
                "active_connections"},
    "processes": {"process_count", "top_memory_processes"},
}


def cpus():
    return sum(1 for line in open("/proc/stat") if re.match(r"cpu\d", line))


def meminfo_gib(key):
    for line in open("/proc/meminfo"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024 / 1024
    raise KeyError(key)


@pytest.mark.parametrize("command", sorted(SECTIONS))
def test_json_is_the_stream_subtree(command):
    r = ctl(command, "--json")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\n") == 1
    body = json.loads(r.stdout)
    assert set(body) >= SPEC_KEYS[SECTIONS[command]]


def test_cpu():
    body = json.loads(ctl("cpu", "--json").stdout)
    assert len(body["cpu_per_core_percent"]) == cpus() == body["count"]
    assert all(0 <= v <= 100 for v in body["cpu_per_core_percent"] + [body["cpu_usage_percent"]])
    text = ctl("cpu").stdout
    assert re.search(r"^usage\s+[\d.]+ %$", text, re.M), text
    assert re.search(rf"^cores\s+{cpus()}\b", text, re.M)
    rows = re.findall(r"^\s+(\d+)\s+([\d.]+)%\s+\[[| ]*\]$", text, re.M)
    assert [int(i) for i, _ in rows] == list(range(cpus())), text


def test_memory_matches_proc():
    body = json.loads(ctl("memory", "--json").stdout)
    assert body["memory_total_gb"] == pytest.approx(meminfo_gib("MemTotal"), abs=0.01)
    assert body["swap_total_gb"] == pytest.approx(meminfo_gib("SwapTotal"), abs=0.01)
    text = ctl("memory").stdout.splitlines()
    assert re.fullmatch(r"\s+TOTAL\s+USED\s+AVAILABLE\s+USE%", text[0]), text
    assert text[1].split()[0] == "memory" and text[2].split()[0] == "swap"
    assert re.fullmatch(r"\d+\.\d%", text[1].split()[4]), text[1]


def test_processes():
    body = json.loads(ctl("processes", "--json").stdout)
    pids = [p["pid"] for p in body["top_memory_processes"]]
    assert 1 <= len(pids) <= 5 and body["process_count"] >= len(pids)
    text = ctl("processes").stdout
    assert re.match(r"processes\s+\d+\n\n\s+PID\s+USER\s+CPU%\s+MEM%\s+NAME\n", text), text
    # CPU% (of one CPU, as top counts it) next to MEM%, for each.
    listed = re.findall(r"^\s*(\d+)\s+\S+\s+\d+\.\d\s+[\d.]+\s+\S", text, re.M)
    assert len(listed) == len(pids), text
    assert all(p["cpu_percent"] >= 0 for p in body["top_memory_processes"]), body


def test_disks_include_the_root_filesystem():
    body = json.loads(ctl("disks", "--json").stdout)
    st = shutil.disk_usage("/")
    if "/" in body["disk_usage"]:
        assert body["disk_usage"]["/"]["total_gb"] == pytest.approx(st.total / 2**30, abs=0.05)
    text = ctl("disks").stdout
    assert text.startswith("MOUNT")
    for mount in body["disk_usage"]:
        assert re.search(rf"^{re.escape(mount)}\s", text, re.M), (mount, text)
    assert re.search(r"^disk I/O\s+read [\d.]+ MiB/s\s+write [\d.]+ MiB/s$", text, re.M)


def test_network_lists_the_interfaces():
    body = json.loads(ctl("network", "--json").stdout)
    names = [line.split(":")[0].strip() for line in open("/proc/net/dev").readlines()[2:]]
    assert sorted(body["interfaces"]) == sorted(n for n in names if n != "lo")
    text = ctl("network").stdout
    assert re.match(r"network\s+recv [\d.]+ MiB/s\s+sent [\d.]+ MiB/s\s+packets \d+ in / \d+ out\s+\d+ TCP", text)
    for name in body["interfaces"]:
        assert re.search(rf"^{re.escape(name)}\s", text, re.M)


def test_no_daemon_and_no_network_needed():
    """Nothing to connect to: they work where nothing listens."""
    env = {"RESOLVIX_HOST": "127.0.0.1:1"}
    for command in SECTIONS:
        assert ctl(command, env=env).returncode == 0


def test_no_escape_sequences_into_a_pipe():
    for command in SECTIONS:
        assert "\x1b" not in ctl(command).stdout
