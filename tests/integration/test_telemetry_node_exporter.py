"""/metrics as a drop-in for node_exporter: Debian's prometheus-node-exporter
(default collectors) and telemetryd run side by side on this machine, and what
a node_exporter dashboard queries must be in ours under the same name, TYPE
and label names, with the same values where they hold still."""
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from support import binary, free_port, wait_port

NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
PROMTOOL = shutil.which("promtool")

# Every node_* family that Grafana's "Node Exporter Full" dashboard (id 1860,
# github.com/rfmoz/grafana-dashboards prometheus/node-exporter-full.json) queries,
# in its panels and in its variables (node_uname_info), that node_exporter's
# default collectors read from /proc and /sys on Linux. Left out: what other
# sources give (timex: the adjtimex() call; textfile and scrape_collector:
# node_exporter's own workings), collectors that are off by default
# (processes, interrupts, systemd, tcpstat; netstat's TcpExt_TCPRcvQDrop,
# TcpExt_TCPOFOQueue and Tcp_MaxConn, which are not in its default field list),
# and the hardware ones a virtual machine has nothing for (hwmon, cooling
# devices, power supply, cpufreq). A family that node_exporter itself does not
# show on this machine (schedstat without CONFIG_SCHEDSTATS, conntrack without
# its module) is not compared.
DASHBOARD = """
node_arp_entries node_boot_time_seconds node_context_switches_total node_cpu_guest_seconds_total
node_cpu_seconds_total node_disk_discard_time_seconds_total node_disk_discards_completed_total
node_disk_discards_merged_total node_disk_io_now node_disk_io_time_seconds_total
node_disk_io_time_weighted_seconds_total node_disk_read_bytes_total node_disk_read_time_seconds_total
node_disk_reads_completed_total node_disk_reads_merged_total node_disk_write_time_seconds_total
node_disk_writes_completed_total node_disk_writes_merged_total node_disk_written_bytes_total
node_entropy_available_bits node_filefd_allocated node_filefd_maximum node_filesystem_avail_bytes
node_filesystem_device_error node_filesystem_files node_filesystem_files_free node_filesystem_free_bytes
node_filesystem_readonly node_filesystem_size_bytes node_forks_total node_intr_total node_load1 node_load5
node_load15
node_memory_Active_anon_bytes node_memory_Active_bytes node_memory_Active_file_bytes
node_memory_AnonHugePages_bytes node_memory_AnonPages_bytes node_memory_Bounce_bytes node_memory_Buffers_bytes
node_memory_Cached_bytes node_memory_CommitLimit_bytes node_memory_Committed_AS_bytes
node_memory_DirectMap1G_bytes node_memory_DirectMap2M_bytes node_memory_DirectMap4k_bytes
node_memory_Dirty_bytes node_memory_HardwareCorrupted_bytes node_memory_HugePages_Free
node_memory_HugePages_Rsvd node_memory_HugePages_Surp node_memory_HugePages_Total
node_memory_Hugepagesize_bytes node_memory_Inactive_anon_bytes node_memory_Inactive_bytes
node_memory_Inactive_file_bytes node_memory_KernelStack_bytes node_memory_Mapped_bytes
node_memory_MemAvailable_bytes node_memory_MemFree_bytes node_memory_MemTotal_bytes node_memory_Mlocked_bytes
node_memory_NFS_Unstable_bytes node_memory_PageTables_bytes node_memory_Percpu_bytes
node_memory_SReclaimable_bytes node_memory_SUnreclaim_bytes node_memory_ShmemHugePages_bytes
node_memory_ShmemPmdMapped_bytes node_memory_Shmem_bytes node_memory_Slab_bytes node_memory_SwapCached_bytes
node_memory_SwapFree_bytes node_memory_SwapTotal_bytes node_memory_Unevictable_bytes
node_memory_VmallocChunk_bytes node_memory_VmallocTotal_bytes node_memory_VmallocUsed_bytes
node_memory_WritebackTmp_bytes node_memory_Writeback_bytes
node_netstat_Icmp_InErrors node_netstat_Icmp_InMsgs node_netstat_Icmp_OutMsgs node_netstat_IpExt_InOctets
node_netstat_IpExt_OutOctets node_netstat_Ip_Forwarding node_netstat_TcpExt_ListenDrops
node_netstat_TcpExt_ListenOverflows node_netstat_TcpExt_SyncookiesFailed node_netstat_TcpExt_SyncookiesRecv
node_netstat_TcpExt_SyncookiesSent node_netstat_TcpExt_TCPSynRetrans node_netstat_Tcp_ActiveOpens
node_netstat_Tcp_CurrEstab node_netstat_Tcp_InErrs node_netstat_Tcp_InSegs node_netstat_Tcp_OutRsts
node_netstat_Tcp_OutSegs node_netstat_Tcp_PassiveOpens node_netstat_Tcp_RetransSegs
node_netstat_UdpLite_InErrors node_netstat_Udp_InDatagrams node_netstat_Udp_InErrors node_netstat_Udp_NoPorts
node_netstat_Udp_OutDatagrams node_netstat_Udp_RcvbufErrors node_netstat_Udp_SndbufErrors
node_network_carrier node_network_mtu_bytes node_network_receive_bytes_total
node_network_receive_compressed_total node_network_receive_drop_total node_network_receive_errs_total
node_network_receive_fifo_total node_network_receive_frame_total node_network_receive_multicast_total
node_network_receive_packets_total node_network_speed_bytes node_network_transmit_bytes_total
node_network_transmit_carrier_total node_network_transmit_colls_total node_network_transmit_compressed_total
node_network_transmit_drop_total node_network_transmit_errs_total node_network_transmit_fifo_total
node_network_transmit_packets_total node_network_transmit_queue_length node_network_up
node_nf_conntrack_entries node_nf_conntrack_entries_limit
node_pressure_cpu_waiting_seconds_total node_pressure_io_stalled_seconds_total
node_pressure_io_waiting_seconds_total node_pressure_memory_stalled_seconds_total
node_pressure_memory_waiting_seconds_total node_procs_blocked node_procs_running
node_schedstat_running_seconds_total node_schedstat_timeslices_total node_schedstat_waiting_seconds_total
node_sockstat_FRAG_inuse node_sockstat_FRAG_memory node_sockstat_RAW_inuse node_sockstat_TCP_alloc
node_sockstat_TCP_inuse node_sockstat_TCP_mem node_sockstat_TCP_mem_bytes node_sockstat_TCP_orphan
node_sockstat_TCP_tw node_sockstat_UDPLITE_inuse node_sockstat_UDP_inuse node_sockstat_UDP_mem
node_sockstat_UDP_mem_bytes node_sockstat_sockets_used
node_softnet_dropped_total node_softnet_processed_total node_softnet_times_squeezed_total
node_time_seconds node_uname_info node_vmstat_oom_kill node_vmstat_pgfault node_vmstat_pgmajfault
node_vmstat_pgpgin node_vmstat_pgpgout node_vmstat_pswpin node_vmstat_pswpout
process_cpu_seconds_total process_max_fds process_open_fds process_virtual_memory_bytes
process_virtual_memory_max_bytes
""".split()

# What every Linux node_exporter shows: if it lacks one, the comparison
# itself is broken.
ALWAYS = {"node_uname_info", "node_cpu_seconds_total", "node_memory_MemTotal_bytes", "node_filesystem_size_bytes",
          "node_network_receive_bytes_total", "node_disk_reads_completed_total", "node_boot_time_seconds",
          "node_netstat_Tcp_CurrEstab", "node_sockstat_sockets_used", "node_vmstat_pgfault", "process_open_fds"}

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


class Exposition:
    """Families of a text exposition: TYPE, and samples as (labels, value)."""

    def __init__(self, text):
        self.text = text
        self.types = {}
        self.samples = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                name, kind = line.split()[2:4]
                assert name not in self.types, f"{name} has two TYPE lines"
                self.types[name] = kind
            elif line and not line.startswith("#"):
                m = SAMPLE.match(line)
                assert m, f"not exposition format: {line!r}"
                name, labels, value = m.groups()
                self.samples.setdefault(name, []).append((dict(LABEL.findall(labels or "")), float(value)))

    def label_names(self, name):
        return {frozenset(labels) for labels, _ in self.samples.get(name, [])}

    def value(self, name, **labels):
        found = [v for lab, v in self.samples.get(name, []) if all(lab.get(k) == x for k, x in labels.items())]
        assert len(found) == 1, f"{name}{labels}: {len(found)} samples"
        return found[0]

    def series(self, name, *keys):
        """{tuple of the keys' label values: value}"""
        return {tuple(lab[k] for k in keys): v for lab, v in self.samples.get(name, [])}


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


@pytest.fixture
def node_exporter(procs, tmp_path):
    """Debian's node_exporter, default collectors, on a free loopback port."""
    if not NODE_EXPORTER:
        pytest.fail("prometheus-node-exporter is not installed (packaging/deps.sh test)")
    port = free_port()
    log = open(tmp_path / "node_exporter.log", "wb")
    p = procs.start([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log)
    log.close()
    deadline = time.monotonic() + 20
    while True:
        assert p.poll() is None, (tmp_path / "node_exporter.log").read_text()
        try:
            scrape(port)
            return port
        except OSError:
            assert time.monotonic() < deadline, "node_exporter not answering within 20 s"
            time.sleep(0.1)


@pytest.fixture
def both(node_exporter, start_telemetryd):
    """(ours, node_exporter's), scraped one right after the other."""
    t = start_telemetryd(interval=60)
    theirs = Exposition(scrape(node_exporter))
    return Exposition(scrape(t.port)), theirs


def test_dashboard_families_names_types_labels(both):
    ours, theirs = both
    assert not ALWAYS - set(theirs.types), f"node_exporter shows none of {ALWAYS - set(theirs.types)}"
    compared = 0
    for name in DASHBOARD:
        if name not in theirs.samples:
            continue
        compared += 1
        assert name in ours.types, f"{name} missing"
        assert ours.types[name] == theirs.types[name], \
            f"{name}: TYPE {ours.types[name]}, node_exporter's {theirs.types[name]}"
        assert name in ours.samples, f"{name} has no samples"
        assert ours.label_names(name) == theirs.label_names(name), \
            f"{name}: labels {ours.label_names(name)}, node_exporter's {theirs.label_names(name)}"
    assert compared >= 150, f"only {compared} of the dashboard's families compared"


def test_every_meminfo_field_and_same_series(both):
    ours, theirs = both
    memory = {n for n in theirs.types if n.startswith("node_memory_")}
    assert memory == {n for n in ours.types if n.startswith("node_memory_")}
    # The same devices, interfaces, CPUs and filesystems, so a dashboard's
    # variables offer the same choices.
    for name, keys in [("node_disk_reads_completed_total", ("device",)),
                       ("node_network_receive_bytes_total", ("device",)),
                       ("node_network_up", ("device",)),
                       ("node_cpu_seconds_total", ("cpu", "mode")),
                       ("node_softnet_processed_total", ("cpu",))]:
        assert set(ours.series(name, *keys)) == set(theirs.series(name, *keys)), name
    fs = ("device", "fstype", "mountpoint")
    assert set(theirs.series("node_filesystem_size_bytes", *fs)) <= set(ours.series("node_filesystem_size_bytes", *fs))


def test_values_agree(both):
    ours, theirs = both
    for name in ("node_memory_MemTotal_bytes", "node_memory_SwapTotal_bytes", "node_boot_time_seconds",
                 "node_filefd_maximum", "node_entropy_pool_size_bits", "process_virtual_memory_max_bytes"):
        assert ours.value(name) == theirs.value(name), name
    assert ours.samples["node_uname_info"][0][0] == theirs.samples["node_uname_info"][0][0]
    assert abs(ours.value("node_time_seconds") - theirs.value("node_time_seconds")) < 30
    cpus = {lab["cpu"] for lab, _ in theirs.samples["node_cpu_seconds_total"]}
    assert {lab["cpu"] for lab, _ in ours.samples["node_cpu_seconds_total"]} == cpus
    fs = ("device", "fstype", "mountpoint")
    theirs_fs = theirs.series("node_filesystem_size_bytes", *fs)
    ours_fs = ours.series("node_filesystem_size_bytes", *fs)
    for key, size in theirs_fs.items():
        assert ours_fs[key] == size, key
        assert ours.series("node_filesystem_readonly", *fs)[key] == theirs.series("node_filesystem_readonly", *fs)[key]
        assert abs(ours.series("node_filesystem_files", *fs)[key] - theirs.series("node_filesystem_files", *fs)[key]) \
            <= 0.001 * theirs.series("node_filesystem_files", *fs)[key]
    for name in ("node_network_mtu_bytes", "node_network_up", "node_network_transmit_queue_length",
                 "node_network_speed_bytes", "node_network_carrier"):
        assert ours.series(name, "device") == theirs.series(name, "device"), name
    assert ours.series("node_network_info", "device", "address", "operstate") == \
        theirs.series("node_network_info", "device", "address", "operstate")
    # Counters only grow: ours, read after node_exporter's, is not behind.
    for name in ("node_context_switches_total", "node_forks_total", "node_intr_total"):
        assert ours.value(name) >= theirs.value(name), name
    read = ("node_disk_reads_completed_total", "device")
    for key, v in theirs.series(*read).items():
        assert ours.series(*read)[key] >= v


def lint(text):
    """promtool check metrics: (exit code, {problem line})."""
    out = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    return out.returncode, {line.strip() for line in (out.stdout + out.stderr).splitlines() if line.strip()}


def test_promtool_finds_nothing_node_exporter_does_not(both):
    if not PROMTOOL:
        pytest.fail("promtool is not installed (Debian's prometheus, packaging/deps.sh test)")
    ours, theirs = both
    rc_theirs, problems_theirs = lint(theirs.text)
    rc_ours, problems_ours = lint(ours.text)
    assert rc_theirs in (0, 3), problems_theirs  # 3: lint problems, not a parse error
    assert rc_ours in (0, 3), problems_ours
    assert problems_ours - problems_theirs == set()


def root_read_only(mountinfo):
    """Whether / is read-only in a mountinfo (its mount's or its filesystem's options)."""
    for line in mountinfo.splitlines():
        fields = line.split()
        if fields[4] == "/":
            sep = fields.index("-")
            return "ro" in fields[5].split(",") or "ro" in fields[sep + 3].split(",")
    raise AssertionError("no / in mountinfo")


def test_readonly_is_the_systems_view_not_a_sandboxs(procs, notify_socket, tmp_path):
    """A service sandboxed with ProtectSystem= sees / read-only; the system,
    and node_exporter, do not: node_filesystem_readonly says what the system
    sees. Here the sandbox is a mount namespace with / remounted read-only."""
    if os.geteuid() != 0:
        pytest.skip("making a mount namespace needs root")
    with open("/proc/1/mountinfo") as f:
        if root_read_only(f.read()):
            pytest.skip("/ is read-only for the whole system here")
    port = free_port()
    log = open(tmp_path / "telemetryd.log", "wb")
    p = procs.start(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount -o remount,bind,ro / && exec "$0" "$@"',
         binary("telemetryd/telemetryd"), "--listen", "127.0.0.1", "--port", str(port), "--interval", "60"],
        env={"NOTIFY_SOCKET": notify_socket.path, "RESOLVIX_TELEMETRY_INGEST_PORT": "0"}, stdout=log, stderr=log)
    log.close()
    notify_socket.wait_for("READY", timeout=10)
    with open(f"/proc/{p.pid}/mountinfo") as f:
        assert root_read_only(f.read()), "the sandbox did not take"
    ours = Exposition(scrape(port))
    readonly = {lab["mountpoint"]: v for lab, v in ours.samples["node_filesystem_readonly"]}
    assert readonly["/"] == 0


def test_a_filesystem_that_cannot_be_read_is_a_device_error(procs, tmp_path):
    """A mount whose statistics cannot be had (here: its mount point is in a
    directory telemetryd, as nobody, may not enter) is reported with
    node_filesystem_device_error 1 and no sizes, as node_exporter does. The
    mount lives in a mount and PID namespace of the test's own, so that the
    system's view (that of the namespace's first process) has it."""
    if os.geteuid() != 0:
        pytest.skip("making mount and PID namespaces needs root")
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    hidden.chmod(0o700)
    mnt = hidden / "mnt"
    mnt.mkdir()
    port = free_port()
    log = open(tmp_path / "telemetryd.log", "wb")
    # sh stays the namespace's first process: telemetryd, having changed its
    # uid, would not get unshare's --kill-child signal, but every process in
    # the namespace dies with its first.
    p = procs.start(
        ["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc",
         "sh", "-c", 'mount -t tmpfs resolvix-test "$1" && shift && setpriv --reuid=65534 --regid=65534 '
                     '--clear-groups "$@" & wait', "sh", str(mnt),
         binary("telemetryd/telemetryd"), "--listen", "127.0.0.1", "--port", str(port), "--interval", "60"],
        env={"RESOLVIX_TELEMETRY_INGEST_PORT": "0"}, stdout=log, stderr=log)
    log.close()
    try:
        wait_port(port, proc=p)
        check_device_error(Exposition(scrape(port)), mnt)
    finally:
        # unshare blocks SIGTERM while it waits for its child: end the
        # namespace from its first process instead.
        with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
            for pid in f.read().split():
                os.kill(int(pid), signal.SIGKILL)
        p.wait(timeout=10)


def check_device_error(ours, mnt):
    fs = ("device", "fstype", "mountpoint")
    key = ("resolvix-test", "tmpfs", str(mnt))
    assert ours.series("node_filesystem_device_error", *fs)[key] == 1
    assert key in ours.series("node_filesystem_readonly", *fs)
    for name in ("node_filesystem_size_bytes", "node_filesystem_avail_bytes", "node_filesystem_files"):
        assert key not in ours.series(name, *fs), name
    root = [k for k in ours.series("node_filesystem_device_error", *fs) if k[2] == "/"]
    assert root and ours.series("node_filesystem_device_error", *fs)[root[0]] == 0
    assert ours.series("node_filesystem_size_bytes", *fs)[root[0]] > 0


IFACES_KEPT = 32  # telemetryd/nodemetrics.c: interfaces whose sysfs files stay open


def test_more_interfaces_than_kept_open_and_one_made_again(procs, notify_socket, tmp_path):
    """In a network namespace of the test's own with 40 veths and lo, more
    than telemetryd keeps files open for: every one is reported, the files
    it holds open stay bounded, and an interface deleted and made again
    under its name shows its new MTU."""
    if os.geteuid() != 0:
        pytest.skip("making a network namespace needs root")
    pairs = 20
    setup = ("mount -t sysfs sysfs /sys && ip link set lo up && "
             f"for i in $(seq 0 {pairs - 1}); do ip link add v$i type veth peer name w$i || exit 1; done && "
             f"ip link set w{pairs - 1} mtu 1400 && exec \"$@\"")
    port = free_port()
    log = open(tmp_path / "telemetryd.log", "wb")
    p = procs.start(["unshare", "--net", "--mount", "sh", "-c", setup, "sh", binary("telemetryd/telemetryd"),
                     "--listen", "127.0.0.1", "--port", str(port), "--interval", "60"],
                    env={"NOTIFY_SOCKET": notify_socket.path, "RESOLVIX_TELEMETRY_INGEST_PORT": "0"},
                    stdout=log, stderr=log)
    log.close()
    notify_socket.wait_for("READY", timeout=10)

    def inside(*argv):
        out = subprocess.run(["nsenter", "-t", str(p.pid), "-n", *argv], capture_output=True, text=True, timeout=20)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def scrape_inside():
        return Exposition(inside("curl", "-s", f"http://127.0.0.1:{port}/metrics"))

    fds_before = len(os.listdir(f"/proc/{p.pid}/fd"))
    ours = scrape_inside()
    names = {f"v{i}" for i in range(pairs)} | {f"w{i}" for i in range(pairs)} | {"lo"}
    assert len(names) > IFACES_KEPT
    mtu = ours.series("node_network_mtu_bytes", "device")
    assert set(mtu) == {(n,) for n in names}
    assert mtu[(f"w{pairs - 1}",)] == 1400 and mtu[("v0",)] == 1500
    assert set(ours.series("node_network_up", "device")) == {(n,) for n in names}
    assert set(ours.series("node_network_receive_bytes_total", "device")) == {(n,) for n in names - {"lo"}}
    # Nine attributes of each interface kept open, and the /proc files.
    opened = len(os.listdir(f"/proc/{p.pid}/fd")) - fds_before
    assert opened <= IFACES_KEPT * 9 + 32, f"{opened} descriptors opened by a scrape"

    inside("ip", "link", "del", "v0")
    inside("ip", "link", "add", "v0", "mtu", "1280", "type", "veth", "peer", "name", "w0")
    ours = scrape_inside()
    assert ours.series("node_network_mtu_bytes", "device")[("v0",)] == 1280
    assert len(ours.series("node_network_mtu_bytes", "device")) == len(names)
