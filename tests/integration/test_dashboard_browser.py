"""The dashboard controld serves at / (docs/control-api.md), in headless Chromium:
charts fill from the telemetry stream, log lines arrive and the filter
works, the start/stop buttons change /status, a token is asked for when one
is set, and the history and log stay within their bounds. The live test
keeps a screenshot in tests/artifacts/dashboard.png.

The client reports what a person sees (visible elements, rendered text),
not DOM attributes: a filtered-out line carried the hidden attribute while
a style rule kept it on screen, and a test of the attribute passed."""
import re

import pytest

from ctl_support import NODE_ID
from support import ROOT, TOKEN_DIALOG_LOOK, browse_with

CLIENT = ROOT / "tests" / "integration" / "clients" / "dashboard-browser.js"
ARTIFACTS = ROOT / "tests" / "artifacts"


def browse(scenario, tmp_path, **config):
    config.setdefault("nodeId", NODE_ID)
    return browse_with(CLIENT, scenario, tmp_path, **config)


@pytest.fixture
def node(nodes):
    return nodes()


def test_live_charts_log_filter_and_buttons(node, tmp_path):
    node.start(interval=1)
    node.append("before the page opened")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    shot.unlink(missing_ok=True)

    r = browse("live", tmp_path, url=f"http://127.0.0.1:{node.port}/", controlPort=node.port,
               logFile=str(node.log), screenshot=str(shot))

    # Every chart holds at least two samples; the CPU chart has a line per core.
    assert all(n >= 2 for n in r["points"].values()), r["points"]
    cores = sum(1 for line in open("/proc/stat") if re.match(r"cpu\d", line))
    assert r["cores"] == cores
    assert r["cpuDatasets"] == ["total"] + [f"cpu{i}" for i in range(cores)]
    assert 1 <= r["processes"] <= 5
    # Each top process with its CPU (percent of one CPU) next to its memory.
    assert all(re.search(r"\t\d+\.\d %\t", row) for row in r["processRows"]), r["processRows"]
    assert "/" in r["mounts"] or r["mounts"] == ["no block-device filesystems"]

    # The log: the backlog, then what was written while the page was open.
    fresh = [f"dashboard line {i} {'alpha' if i % 2 else 'beta'} shard-{i}" for i in range(1, 7)]
    assert r["logAll"][0] == "before the page opened"
    assert r["logAll"][-6:] == fresh
    assert r["filterBeta"] == [line for line in fresh if "beta" in line]  # case-insensitive text
    assert r["filterRegex"] == [fresh[0], fresh[4]]
    assert r["filterMarks"] == ["shard-1", "shard-5"]
    assert r["filterBad"] == [] and r["filterBadColor"] == r["badColor"]  # and the box turns red
    assert r["filterLive"] == [line for line in fresh if "beta" in line] + ["dashboard line 8 beta late"]
    assert r["gammaShown"] is False
    assert r["logCount"] == "4 of 9 lines"
    assert len(r["filterCleared"]) == 9

    # The buttons went through /control: /status, read apart from the page, agrees.
    assert r["afterStop"]["running"] is False and r["afterStop"]["state"] == "stopped"
    assert r["streamAfterStop"] == "offline"
    assert r["afterStart"]["running"] is True and r["afterStart"]["interval"] == 2
    assert shot.stat().st_size > 10000


def test_token_is_asked_for_and_used(nodes, tmp_path):
    node = nodes(token="s3cret-dashboard")
    r = browse("token", tmp_path, url=f"http://127.0.0.1:{node.port}/", controlPort=node.port,
               token=node.token, logFile=str(node.log))
    assert r["refusedShownFirst"] is False  # "That token was refused." only after one was
    assert r["dialogLook"] == TOKEN_DIALOG_LOOK
    assert r["askedAgain"] and r["dialogAfterToken"] is False and r["stored"] == node.token
    assert r["afterStart"]["running"] is True
    assert r["points"] >= 1
    assert r["dialogAfterReload"] is False


def test_history_and_log_lines_stay_bounded(node, tmp_path):
    node.start(interval=1)
    r = browse("bounds", tmp_path, url=f"http://127.0.0.1:{node.port}/?history=5&lines=50", controlPort=node.port,
               logFile=str(node.log), logLines=120, samples=9)
    assert r["domLines"] == 50 and r["shownLines"] == 50
    assert r["firstLine"] == "bounded line 71"
    assert r["points"] == {"chart-cpu": 5, "chart-memory": 5, "chart-disk": 5, "chart-network": 5}
    assert set(r["cpuSeriesLengths"]) == {5}


def test_reload_fills_the_charts_from_history(node, tmp_path):
    node.start(interval=1)
    r = browse("reload", tmp_path, url=f"http://127.0.0.1:{node.port}/", controlPort=node.port,
               logFile=str(node.log), samples=6)
    assert r["before"] >= 6
    # Without the history a reloaded page starts with one point (the
    # get_metrics answer) and grows by one a second.
    assert r["afterReload"] >= r["before"], r
    assert r["afterReloadMemory"] == r["afterReload"]
    assert all(isinstance(v, (int, float)) for v in r["cpuValues"])
    assert r["rangeVisible"] and r["rangeOptions"] == ["5 min", "15 min", "30 min", "1 h"]
    assert r["rangeAfterReload"] == "300"


@pytest.mark.parametrize("width,scheme", [(390, "light"), (390, "dark"), (1440, "light")])
def test_rates_theme_and_phone_width(node, tmp_path, width, scheme):
    node.start(interval=1)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"dashboard-{width}-{scheme}.png"
    r = browse("looks", tmp_path, url=f"http://127.0.0.1:{node.port}/", controlPort=node.port,
               logFile=str(node.log), width=width, height=844, colorScheme=scheme, screenshot=str(shot))
    # Per-interface and per-disk rates, and IOPS, as the operator reads them.
    assert r["ifaceHeaders"] == ["interface", "in/s", "out/s", "errors"]
    assert r["diskHeaders"] == ["disk", "read/s", "write/s", "IOPS"]
    ifaces = [line for line in open("/proc/net/dev").read().splitlines()[2:] if not line.strip().startswith("lo:")]
    assert len(r["ifaces"]) == max(1, len(ifaces))
    rate = r"\d+(\.\d+)? (KiB|MiB)/s"
    for row in r["ifaces"]:
        if ifaces:
            assert len(re.findall(rate, row)) == 2, row
    for row in r["disks"]:
        assert row == "no whole disks" or len(re.findall(rate, row)) == 2, row
    assert re.match(r"IOPS\s+\d+\s+reads/s\s+\d+\s+writes/s\s+\d+$", r["diskFacts"].replace("\n", " ")), r["diskFacts"]
    # Nothing wider than the window; every table header readable.
    assert r["innerWidth"] == width
    assert r["scrollWidth"] <= width and r["scrollWidthAfterToggle"] <= width, r
    assert r["cramped"] == [], r["cramped"]
    assert r["procHeaders"] == ["pid", "user", "name", "CPU", "memory"]
    assert r["rangeVisible"]
    # The theme follows the system until the toggle picks one, which stays.
    assert r["theme"] == scheme
    other = "dark" if scheme == "light" else "light"
    assert r["toggle"] == other.capitalize()
    assert r["themeAfterToggle"] == other and r["themeAfterReload"] == other
    assert r["toggleAfterToggle"] == scheme.capitalize()
    assert r["background"] != r["backgroundAfterToggle"]
    light_bg, dark_bg = "rgb(244, 246, 250)", "rgb(10, 15, 26)"
    assert r["background"] == (light_bg if scheme == "light" else dark_bg)
    assert r["pointsAfterReload"] >= 3  # the history, at once
