"""The dashboard's files as controld serves them: from a fixed table only,
with their content types, an ETag that turns a reload into a 304, a
Content-Security-Policy on the page, and no token needed for the page
itself while the API still asks for it."""
import pytest

from support import ROOT

FILES = {
    "/": ("text/html; charset=utf-8", ROOT / "controld" / "dashboard" / "index.html"),
    "/dashboard/": ("text/html; charset=utf-8", ROOT / "controld" / "dashboard" / "index.html"),
    "/dashboard/app.js": ("text/javascript; charset=utf-8", ROOT / "controld" / "dashboard" / "app.js"),
    "/dashboard/style.css": ("text/css; charset=utf-8", ROOT / "controld" / "dashboard" / "style.css"),
    # Shared with the hub's fleet view: one copy for both (shared/dashboard/).
    "/dashboard/common.js": ("text/javascript; charset=utf-8", ROOT / "shared" / "dashboard" / "common.js"),
    "/dashboard/common.css": ("text/css; charset=utf-8", ROOT / "shared" / "dashboard" / "common.css"),
    "/dashboard/chart.min.js": ("text/javascript; charset=utf-8", "/usr/share/javascript/chart.js/chart.min.js"),
}


@pytest.fixture
def node(nodes):
    return nodes()


def test_each_file_with_its_type_and_cache_headers(node):
    for path, (ctype, source) in FILES.items():
        status, headers, body = node.request("GET", path)
        assert status == 200, (path, status, body[:200])
        assert headers["Content-Type"] == ctype, path
        assert headers["Cache-Control"] == "no-cache", path
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert body == open(source, "rb").read(), path
        # Unchanged: a 304 with no body.
        status, again, body = node.request("GET", path, headers={"If-None-Match": headers["ETag"]})
        assert status == 304 and body == b"" and again["ETag"] == headers["ETag"], path
        status, _, body = node.request("GET", path, headers={"If-None-Match": '"stale"'})
        assert status == 200 and len(body) > 0
        # As browsers and caches also send it: in a list, or weak.
        for match in (f'"stale", {headers["ETag"]}', f'W/{headers["ETag"]}', "*"):
            status, _, body = node.request("GET", path, headers={"If-None-Match": match})
            assert status == 304 and body == b"", (path, match)


def test_the_page_is_locked_to_its_own_files(node):
    _, headers, _ = node.request("GET", "/")
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self' ws: wss:" in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["Referrer-Policy"] == "no-referrer"


def test_head(node):
    status, headers, body = node.request("HEAD", "/dashboard/app.js")
    assert status == 200 and body == b""
    assert int(headers["Content-Length"]) == (ROOT / "controld" / "dashboard" / "app.js").stat().st_size


@pytest.mark.parametrize("path", ["/index.html", "/dashboard", "/dashboard/../dashboard/app.js", "/dashboard/app.js/",
                                  "/dashboard/%2e%2e/meson.build", "/dashboard/../../../../etc/passwd",
                                  "/dashboard/chart.js", "/dashboard/meson.build", "//", "/dashboard/app.jsx"])
def test_nothing_outside_the_table(node, path):
    status, headers, body = node.request("GET", path)
    assert status == 404, (path, status)
    assert headers["Content-Type"] == "application/json"
    assert b"root:" not in body


def test_only_get_and_head(node):
    for method in ("POST", "PUT", "DELETE"):
        status, headers, _ = node.request(method, "/")
        assert status == 405, method
        assert set(h.strip() for h in headers["Allow"].split(",")) == {"GET", "HEAD"}


def test_the_page_needs_no_token_the_api_does(nodes):
    node = nodes(token="page-token")
    status, _, _ = node.request("GET", "/", headers={"Authorization": "Bearer wrong"})
    assert status == 200
    status, _, _ = node.request("GET", "/status", headers={"Authorization": "Bearer wrong"})
    assert status == 401
