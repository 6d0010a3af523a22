"""What the benchmarks read of a process they started, a free port to
start it on, and the wait until it listens or answers."""
import os
import socket
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20):
    """Once the server proc accepts a connection on the loopback port;
    SystemExit if it exits first or does not listen in timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"port {port}: server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing listening on port {port} after {timeout} s")
            time.sleep(0.05)


def wait_http(url, proc, timeout=20):
    """The body of url once the server proc answers there; SystemExit if
    it exits first, the last error if it does not answer in timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: server exited with {proc.returncode}")
        try:
            return urllib.request.urlopen(url, timeout=5).read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def cpu_seconds(pid):
    """utime + stime of the whole process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid, field="VmRSS"):
    """A size line of /proc/<pid>/status (VmRSS, RssAnon, VmHWM ...) in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


SMAPS_KEYS = ("Rss", "Private_Dirty", "Private_Clean", "Shared_Clean", "Shared_Dirty")


def smaps_by_object(pid):
    """Resident KiB per mapped object of a process, from /proc/<pid>/smaps:
    {name: {key: KiB for key in SMAPS_KEYS}}. A library's text, relocated
    data and its bss (the anonymous mapping right after its file) add up
    under its file name; other anonymous memory under "[anon]"."""
    out, name, prev_end, prev_file = {}, None, None, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split(None, 1)[0]
            if not head.endswith(":"):  # address perms offset dev inode [path]
                parts = line.split(None, 5)
                start, end = (int(x, 16) for x in parts[0].split("-"))
                path = parts[5].strip() if len(parts) > 5 else ""
                if path.startswith("/"):
                    name = prev_file = os.path.basename(path)
                elif path:
                    name, prev_file = path, None
                else:
                    name = prev_file if prev_file and start == prev_end else "[anon]"
                    prev_file = None
                prev_end = end
                out.setdefault(name, dict.fromkeys(SMAPS_KEYS, 0))
            elif head[:-1] in SMAPS_KEYS:
                out[name][head[:-1]] += int(line.split()[1])
    return out
