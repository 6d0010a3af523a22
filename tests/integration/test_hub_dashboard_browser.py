"""The hub's fleet dashboard at / (docs/fleet.md, "The fleet dashboard"), in
headless Chromium, with a few hundred nodes pushed through the native API:
the list with its figures, online state, filter, sort and sparklines, a
sample pushed while the page is open, a node's page with its charts, a drag
to zoom and its latest sample, the token prompt, both themes and a phone's
width. The client reports what a person sees (clients/hub-dashboard-browser.js)."""
import sqlite3
import time

import pytest

from hub_support import sample
from support import ROOT, TOKEN_DIALOG_LOOK, browse_with

CLIENT = ROOT / "tests" / "integration" / "clients" / "hub-dashboard-browser.js"
ARTIFACTS = ROOT / "tests" / "artifacts"
ONLINE = 280   # web-000 … web-279, reporting now
OFFLINE = 20   # gone-00 … gone-19, last heard of two hours ago
TOTAL = ONLINE + OFFLINE
sqlite_only = pytest.mark.parametrize("hub_factory", ["sqlite"], indirect=True)


def browse(scenario, tmp_path, **config):
    return browse_with(CLIENT, scenario, tmp_path, timeout=180, **config)


def cpu_of(i):
    """web-NNN's CPU in its newest sample: all different, none at 99.5."""
    return round((i * 37) % 997 / 10.5, 1)


def fleet(hub_factory, env=None, token=None):
    """A hub holding ONLINE nodes that report now and OFFLINE ones whose last
    sample is two hours old. Returns the hub and the node tokens."""
    h = hub_factory()
    h.env.update(env or {})
    h.start()
    tokens = {}
    now = time.time()
    for i in range(OFFLINE):
        node = f"gone-{i:02d}"
        tokens[node] = h.enroll(node)
        r = h.push(tokens[node], [sample(s, node_id=node, ts=now - 7200 - 600 * (3 - s), cpu=5.0) for s in range(3)])
        assert r.status == 200, r
    # The hub counts a node online from when it last heard of it: for the
    # gone ones that must be two hours ago, as after a restart without them.
    assert h.stop() == 0
    db = sqlite3.connect(h.state_dir / "hub.sqlite")
    with db:
        db.execute("UPDATE nodes SET last_seen = last_seen - 7200000, first_seen = first_seen - 7200000"
                   " WHERE node_id LIKE 'gone-%'")
    db.close()
    h.start()
    for i in range(ONLINE):
        node = f"web-{i:03d}"
        tokens[node] = h.enroll(node)
        # The last hour, every ten minutes; the newest is now.
        points = [sample(s, node_id=node, ts=now - 600 * (6 - s), cpu=cpu_of(i) if s == 6 else float((i + s) % 50))
                  for s in range(7)]
        # A 2-minute interval: online for three of them after this push,
        # longer than the test takes.
        for p in points:
            p["interval"] = 120
        r = h.push(tokens[node], points)
        assert r.status == 200, r
    return h, tokens


@sqlite_only
@pytest.mark.parametrize("width,scheme", [(1440, "dark"), (390, "light")])
def test_fleet_list_node_page_and_zoom(hub_factory, tmp_path, width, scheme):
    h, tokens = fleet(hub_factory)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"hub-dashboard-{width}-{scheme}.png"
    r = browse("fleet", tmp_path, url=h.url("/"), total=TOTAL, online=ONLINE, width=width, height=844, colorScheme=scheme,
               filter="web-01", nodeId="web-007", screenshot=str(shot),
               nodeScreenshot=str(ARTIFACTS / f"hub-dashboard-node-{width}-{scheme}.png"),
               live={"node": "web-123", "token": tokens["web-123"], "cpu": 99.5})

    # Every node, with its state; by name at first.
    assert r["summary"] == f"{TOTAL} nodes · {ONLINE} online · {OFFLINE} offline"
    hosts = sorted([f"host-web-{i:03d}" for i in range(ONLINE)] + [f"host-gone-{i:02d}" for i in range(OFFLINE)])
    assert r["byName"] == hosts
    first = r["firstRow"]  # host-gone-00: offline, with its last figures
    assert "host-gone-00" in first and "offline" in first and "5.0 %" in first and "53.1 %" in first, first
    assert r["sparklines"] >= ONLINE  # the last hour, at once
    if width > 700:
        assert r["headers"] == ["node", "state", "CPU", "memory", "load", "CPU, last hour", "last seen"]

    # The filter narrows, by name and by state.
    assert r["filterCount"] == f"10 of {TOTAL} nodes"
    assert r["filtered"] == [f"host-web-{i:03d}" for i in range(10, 20)]
    assert r["offlineCount"] == f"{OFFLINE} of {TOTAL} nodes"
    assert r["offlineStates"] == ["offline"]

    # Sorted by CPU, busiest first (and reversed by the button).
    figures = [float(c.replace("CPU", "").replace("%", "").strip()) for c in r["byCpu"]]
    assert figures == sorted(figures, reverse=True) and figures[0] == max(cpu_of(i) for i in range(ONLINE))
    low = [float(c.replace("CPU", "").replace("%", "").strip()) for c in r["byCpuAscending"]]
    assert low == sorted(low) and low[0] <= 5.0
    # A sample pushed while the page is open: live, and at the top.
    assert r["pushStatus"] == 200
    assert "host-web-123" in r["liveTop"] and "99.5 %" in r["liveTop"] and "7.25" in r["liveTop"], r["liveTop"]
    assert r["live"] == "live"

    # Both themes; the toggle switches; nothing wider than the window.
    other = "light" if scheme == "dark" else "dark"
    assert r["theme"] == scheme and r["toggle"] == other.capitalize()
    assert r["themeAfterToggle"] == other and r["background"] != r["backgroundAfterToggle"]
    assert r["background"] == ("rgb(10, 15, 26)" if scheme == "dark" else "rgb(244, 246, 250)")
    assert r["innerWidth"] == width
    assert r["scrollWidth"] <= width and r["scrollWidthAfterToggle"] <= width and r["nodeScrollWidth"] <= width, r

    # The node's page: charts with data, the latest sample, its dashboard.
    assert "host-web-007" in r["title"] and "web-007" in r["title"]
    assert r["state"] == "online"
    assert r["link"].startswith("node dashboard") and r["linkHref"] == "http://host-web-007:8754/"
    assert [t.split(" ")[0] for t in r["chartTitles"]] == ["CPU", "Memory", "Load", "Disk", "Network"]
    assert r["chartTitles"][0] == f"CPU {cpu_of(7)} %"  # the newest point of the range
    assert r["noData"] == []
    assert r["sample"].get("cpu.cpu_usage_percent") == str(cpu_of(7)), r["sample"]
    assert r["sample"]["memory.memory_usage_percent"] == "53.1"
    assert r["sample"]["processes.top_memory_processes[0].name"] == "chrome"
    assert r["rangeOptions"] == ["1 h", "6 h", "24 h", "7 days", "30 days"]
    # The drag zoomed in: a shorter window at a finer step, and a way back.
    assert not r["zoomResetBefore"] and r["zoomReset"]

    def step(text):
        return int(text.rsplit("step ", 1)[1].split(" ")[0])
    assert step(r["windowZoomed"]) < step(r["windowBefore"])
    # 30 days in at most 600 points a series: well under the hub's 11,000.
    assert step(r["windowMonth"]) == 30 * 86400 // 600
    assert r["noDataMonth"] == []
    assert r["backCount"] == f"1 of {TOTAL} nodes"  # the filter is kept


@sqlite_only
def test_token_is_asked_for_and_kept(hub_factory, tmp_path):
    h = hub_factory()
    h.env["RESOLVIX_HUB_TOKEN"] = "fleet-secret"
    h.start()
    for node in ["alpha", "beta"]:
        t = h.enroll(node)
        assert h.push(t, [sample(1, node_id=node)]).status == 200
    # The page itself is served without the token; the data is not.
    assert h.get("/").status == 200 and "resolvix fleet" in h.get("/").body
    assert h.get("/api/v1/nodes").status == 401
    r = browse("token", tmp_path, url=h.url("/"), total=2, token="fleet-secret", wrongToken="nope")
    assert r["dialog"] == "Token required"
    assert not r["refusedFirst"]
    assert r["dialogLook"] == TOKEN_DIALOG_LOOK  # as on controld's page
    assert r["refused"] == "That token was refused."
    assert not r["dialogAfter"] and r["names"] == ["host-alpha", "host-beta"]
    assert r["live"] == "live"
    assert not r["dialogAfterReload"]


@sqlite_only
def test_the_dashboard_files(hub_factory):
    h = hub_factory()
    h.start()
    for path, kind in [("/", "text/html"), ("/dashboard/fleet.js", "text/javascript"),
                       ("/dashboard/fleet.css", "text/css"), ("/dashboard/chart.min.js", "text/javascript"),
                       ("/dashboard/common.js", "text/javascript"), ("/dashboard/common.css", "text/css")]:
        r = h.get(path)
        assert r.status == 200 and r.headers["Content-Type"].startswith(kind), (path, r)
        # As controld serves its dashboard (shared/base/webasset.h): revalidated on
        # each load, an unchanged file a 304 with no body, never sniffed.
        assert r.headers["Cache-Control"] == "no-cache" and r.headers["X-Content-Type-Options"] == "nosniff", path
        etag = r.headers["ETag"]
        again = h.request("GET", path, headers={"If-None-Match": etag})
        assert again.status == 304 and again.body == "" and again.headers["ETag"] == etag, (path, again)
        stale = h.request("GET", path, headers={"If-None-Match": '"stale"'})
        assert stale.status == 200 and stale.body == r.body, path
    # The page may load only its own files and talk only to its own server.
    for path in ("/", "/dashboard/"):
        headers = h.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self' ws: wss:" in csp
        assert "frame-ancestors 'none'" in csp and headers["Referrer-Policy"] == "no-referrer", path
    assert "Content-Security-Policy" not in h.get("/dashboard/fleet.js").headers
    # The API's answers stay uncached.
    assert h.get("/health").headers["Cache-Control"] == "no-store"
    # The files controld's dashboard loads too: the one copy in shared/dashboard/.
    for name in ("common.js", "common.css"):
        assert h.get(f"/dashboard/{name}").body == (ROOT / "shared" / "dashboard" / name).read_text(), name
    assert "Chart.js v3" in h.get("/dashboard/chart.min.js").body
    assert h.get("/dashboard/../hub.sqlite").status == 404
    assert h.get("/dashboard/nothing.js").status == 404
    assert h.request("POST", "/", b"x").status == 405
