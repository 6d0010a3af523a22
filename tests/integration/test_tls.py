"""TLS on every listener (docs/tls.md): controld's https, the wss:// of
telemetryd and livelogd, the hub's https and wss with client certificates;
TLS 1.1, plain HTTP and a wrong CA refused; a replaced certificate served
after SIGHUP while a connected client stays; files that cannot be used
refused at start and by --check. Certificates are made by openssl here
(tls_support.py)."""
import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from types import SimpleNamespace

import pytest
import websockets

import livelogs_support
from ctl_support import ctl
from hub_support import ENROLL, Hub, sample, ndjson
from support import MEMORY_ERROR, binary, free_port, poll, wait_port
from telemetry_support import CLIENTS, TESTS, recv_json
from tls_support import CA, client_context, curl, https, no_sanitizer_reports, served_serial, tls_env  # noqa: F401


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = CA(d / "ca")
    cert, key, serial = ca.issue("server")
    return SimpleNamespace(dir=d, ca=ca, other=CA(d / "other", "other CA"), cert=cert, key=key, serial=serial)


def run_ctl(*args, **kw):
    """resolvixctl, with no sanitizer report whatever its exit status."""
    r = ctl(*args, **kw)
    assert not MEMORY_ERROR.search(r.stderr), r.stderr
    return r


def tls11_context(ca):
    """A client that offers TLS 1.0 and 1.1 only (and allows their old
    ciphers), trusting ca."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.load_verify_locations(str(ca.cert))
    return ctx


def handshake(port, ctx, host="127.0.0.1"):
    """The TLS version agreed with the server on port (raises on refusal)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            return s.version()


def plain_get(port, path="/"):
    """What a plain-HTTP request to the port gets back (bytes, maybe none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        got = b""
        try:
            while chunk := s.recv(4096):
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        return got


def assert_tls_only(port, pki, path="/"):
    """TLS 1.2+ with the right CA and either host name; TLS 1.1, another CA
    and plain HTTP get nothing usable."""
    assert handshake(port, pki.ca.context()) in ("TLSv1.2", "TLSv1.3")
    assert handshake(port, pki.ca.context(), host="localhost") in ("TLSv1.2", "TLSv1.3")
    tls12 = pki.ca.context()
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    assert handshake(port, tls12) == "TLSv1.2"
    with pytest.raises(ssl.SSLError):
        handshake(port, tls11_context(pki.ca))
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(port, pki.other.context())
    got = plain_get(port, path)
    assert not got.startswith(b"HTTP/1.1 2"), got[:200]
    assert b"{" not in got


def test_the_tls11_client_can_speak_tls11(pki, tmp_path):
    """The refusals above are the servers' doing: the same TLS 1.1 client
    gets through to an openssl s_server that allows it."""
    port = free_port()
    server = subprocess.Popen(["openssl", "s_server", "-accept", str(port), "-cert", str(pki.cert), "-key",
                               str(pki.key), "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", "-quiet"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc=server)
        assert handshake(port, tls11_context(pki.ca)) == "TLSv1.1"
    finally:
        server.kill()
        server.wait()


# ---- telemetryd and livelogd ------------------------------------------------

def test_telemetryd_https_and_wss(start_telemetryd, pki):
    t = start_telemetryd(env=tls_env("TELEMETRY", pki.cert, pki.key))
    assert "TLS on 127.0.0.1" in t.log()

    r = curl(f"https://127.0.0.1:{t.port}/sample", "--cacert", pki.ca.cert)
    assert r.returncode == 0, r.stderr
    assert "metrics" in json.loads(r.stdout)
    r = curl(f"https://localhost:{t.port}/sample", "--cacert", pki.ca.cert)
    assert r.returncode == 0 and "metrics" in json.loads(r.stdout), r.stderr
    r = curl(f"https://127.0.0.1:{t.port}/sample", "--cacert", pki.other.cert)
    assert r.returncode == 60, r  # the peer's certificate is not trusted
    r = curl(f"http://127.0.0.1:{t.port}/sample")
    assert r.returncode != 0 and r.stdout == "", r
    assert_tls_only(t.port, pki, "/sample")

    async def go():
        async with websockets.connect(f"wss://127.0.0.1:{t.port}/", ssl=pki.ca.context(), open_timeout=10) as ws:
            return await recv_json(ws, timeout=10)
    assert asyncio.run(go())["node_id"]

    async def plain():
        async with websockets.connect(f"ws://127.0.0.1:{t.port}/", open_timeout=10):
            pass
    with pytest.raises((websockets.exceptions.InvalidMessage, ConnectionError, EOFError, OSError)):
        asyncio.run(plain())


def test_livelogd_wss(procs, notify_socket, tmp_path, pki):
    log = tmp_path / "app.log"
    log.write_text("")
    w = livelogs_support.start(procs, notify_socket, log, env=tls_env("LIVELOGS", pki.cert, pki.key))

    async def go():
        async with websockets.connect(f"wss://localhost:{w.port}/", ssl=pki.ca.context(), open_timeout=10) as ws:
            with open(log, "a") as f:
                f.write("over tls\n")
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if frame.get("log") == "over tls":
                    return frame
    assert asyncio.run(go())["log"] == "over tls"
    assert_tls_only(w.port, pki, "/tail")


def test_node_client_over_wss(start_telemetryd, pki):
    t = start_telemetryd(env=tls_env("TELEMETRY", pki.cert, pki.key))
    run = lambda env: subprocess.run(["node", str(CLIENTS / "telemetry-node.js"), f"wss://localhost:{t.port}/", "2"],
                                     cwd=TESTS, capture_output=True, text=True, timeout=60,
                                     env={"PATH": os.environ["PATH"], **env})
    out = run({"NODE_EXTRA_CA_CERTS": str(pki.ca.cert)})
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(got["seq"]) == 2 and got["seq"][1] > got["seq"][0]
    # Without the CA, Node refuses the certificate.
    out = run({})
    assert out.returncode == 1 and "certificate" in out.stderr, out.stderr


def replace_pair(ca, name, cert, key):
    """Issue a new certificate and put it where cert and key are: returns its serial."""
    new_cert, new_key, serial = ca.issue(name)
    shutil.copyfile(new_key, key)
    shutil.copyfile(new_cert, cert)
    return serial


def test_telemetryd_reload_keeps_clients(start_telemetryd, pki, tmp_path):
    cert, key = tmp_path / "t.crt", tmp_path / "t.key"
    shutil.copyfile(pki.cert, cert)
    shutil.copyfile(pki.key, key)
    t = start_telemetryd(env=tls_env("TELEMETRY", cert, key))
    assert served_serial(t.port, pki.ca) == pki.serial

    async def go():
        async with websockets.connect(f"wss://127.0.0.1:{t.port}/", ssl=pki.ca.context(), open_timeout=10,
                                      ping_interval=None) as ws:
            first = await recv_json(ws, timeout=10)
            serial = replace_pair(pki.ca, "renewed-telemetry", cert, key)
            os.kill(t.pid, signal.SIGHUP)
            deadline = time.monotonic() + 10
            while served_serial(t.port, pki.ca) != serial:
                assert time.monotonic() < deadline, "the new certificate is not served"
                await asyncio.sleep(0.1)
            # The client connected before the reload still gets samples.
            later = await recv_json(ws, timeout=10)
            return first, later, serial
    first, later, serial = asyncio.run(go())
    assert later["seq"] > first["seq"]
    assert "TLS certificate reloaded from" in t.log()

    # A key that does not match: logged, and the pair in use stays.
    other_cert, other_key, _ = pki.ca.issue("stray")
    shutil.copyfile(other_key, key)
    os.kill(t.pid, signal.SIGHUP)
    poll(lambda: "Keeping the TLS certificate in use" in t.log(), 10, "the refused reload logged")
    assert "does not match" in t.log()
    assert served_serial(t.port, pki.ca) == serial


# ---- files that cannot be used ----------------------------------------------

PROGRAMS = {
    "telemetryd": ("telemetryd/telemetryd", "TELEMETRY"),
    "livelogd": ("livelogd/livelogd", "LIVELOGS"),
    "resolvix-controld": ("controld/resolvix-controld", "CONTROL"),
    "resolvix-hub": ("hub/resolvix-hub", "HUB"),
}


@pytest.mark.parametrize("program", PROGRAMS)
def test_unusable_files_refused_at_start_and_by_check(program, pki, tmp_path):
    exe, section = PROGRAMS[program]
    stranger_cert, stranger_key, _ = pki.ca.issue(f"stranger-{program}")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = [
        (tls_env(section, tmp_path / "missing.crt", pki.key), ["missing.crt", "No such file"]),
        (tls_env(section, garbage, pki.key), ["garbage.pem", "no PEM certificate"]),
        (tls_env(section, pki.cert, garbage), ["garbage.pem", "private key"]),
        (tls_env(section, pki.cert, stranger_key), [str(stranger_key), "does not match", str(pki.cert)]),
        ({f"RESOLVIX_{section}_TLS_CERT": str(pki.cert)}, ["tls_key"]),
    ]
    base = {"PATH": os.environ["PATH"], "RESOLVIX_CONFIG": "", "RESOLVIX_CONTROL_STATE_DIR": str(tmp_path / "s"),
            "RESOLVIX_TELEMETRY_INGEST_PORT": "0", "RESOLVIX_LIVELOGS_LOG_FILE": str(garbage),
            f"RESOLVIX_{section}_PORT": str(free_port()), f"RESOLVIX_{section}_LISTEN": "127.0.0.1"}
    base.update({k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")})
    for env, words in cases:
        for args in (["--check"], []):
            r = subprocess.run([binary(exe), *args], env={**base, **env}, capture_output=True, text=True,
                               timeout=30)
            assert r.returncode == 1, (program, args, env, r.stderr)
            assert not MEMORY_ERROR.search(r.stderr), r.stderr
            for w in words:
                assert w in r.stderr, (program, args, w, r.stderr)


def test_worker_with_unusable_files_fails_to_start_under_controld(nodes, pki, tmp_path):
    n = nodes(env=tls_env("TELEMETRY", tmp_path / "nowhere.crt", pki.key))
    status, _, body = n.request("POST", "/control", {"command": "start_telemetry"})
    answer = json.loads(body)
    assert status == 500 and answer["detail"] == "worker_exited", answer
    assert "nowhere.crt" in answer["message"], answer


# ---- controld ---------------------------------------------------------------

def start_https_node(nodes, pki, tmp_path):
    cert, key = tmp_path / "c.crt", tmp_path / "c.key"
    shutil.copyfile(pki.cert, cert)
    shutil.copyfile(pki.key, key)
    env = {**tls_env("CONTROL", cert, key), **tls_env("TELEMETRY", cert, key), **tls_env("LIVELOGS", cert, key)}
    # start_controld waits for READY=1 only: it does not speak to the port.
    return nodes(env=env), cert, key


def test_controld_https(nodes, pki, tmp_path):
    n, cert, key = start_https_node(nodes, pki, tmp_path)
    ctx = pki.ca.context()
    status, body = https(n.port, "/status", ctx)
    assert status == 200 and json.loads(body)["telemetry"]["running"] is False
    r = curl(f"https://localhost:{n.port}/health", "--cacert", pki.ca.cert)
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "healthy", r
    r = curl(f"https://127.0.0.1:{n.port}/status", "--cacert", pki.other.cert)
    assert r.returncode == 60, r
    r = curl(f"http://127.0.0.1:{n.port}/status")
    assert r.returncode != 0 and r.stdout == "", r
    assert_tls_only(n.port, pki, "/status")

    # The workers' ports speak TLS too, started through the control API.
    status, body = https(n.port, "/control", ctx, "POST", json.dumps({"command": "start_telemetry", "interval": 1}),
                         {"Content-Type": "application/json"})
    assert status == 200 and json.loads(body)["status"] == "started", body
    status, body = https(n.port, "/control", ctx, "POST", json.dumps({"command": "start_livelogs"}),
                         {"Content-Type": "application/json"})
    assert status == 200, body
    for port in n.ws.values():
        assert handshake(port, ctx) in ("TLSv1.2", "TLSv1.3")

    # SIGHUP: controld and both workers serve the renewed certificate; a
    # keep-alive connection to controld and a stream client stay.
    conn = http.client.HTTPSConnection("127.0.0.1", n.port, context=ctx, timeout=10)
    conn.request("GET", "/status")
    assert conn.getresponse().read()

    async def go():
        async with websockets.connect(f"wss://127.0.0.1:{n.ws['telemetry']}/", ssl=ctx, open_timeout=10,
                                      ping_interval=None) as ws:
            first = await recv_json(ws, timeout=10)
            serial = replace_pair(pki.ca, "renewed-node", cert, key)
            n.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            for port in (n.port, *n.ws.values()):
                while served_serial(port, pki.ca) != serial:
                    assert time.monotonic() < deadline, f"port {port} does not serve the new certificate"
                    await asyncio.sleep(0.1)
            later = await recv_json(ws, timeout=10)
            return first, later
    first, later = asyncio.run(go())
    assert later["seq"] > first["seq"]
    conn.request("GET", "/status")
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read())["telemetry"]["running"] is True
    conn.close()
    log = (tmp_path / "controld.log").read_text()
    assert "TLS certificate reloaded" in log
    # Failed handshakes (plain HTTP, untrusting clients) are no warning each.
    assert "handshake" not in log, log


# ---- resolvixctl ------------------------------------------------------------

def test_resolvixctl_verifies(nodes, pki, tmp_path):
    n, cert, key = start_https_node(nodes, pki, tmp_path)
    url = f"https://127.0.0.1:{n.port}"

    r = run_ctl("status", url)
    assert r.returncode == 1 and "not trusted" in r.stderr and "--ca-file" in r.stderr, r.stderr
    r = run_ctl("--ca-file", pki.other.cert, "status", url)
    assert r.returncode == 1 and "not trusted" in r.stderr, r.stderr
    r = run_ctl("--ca-file", pki.ca.cert, "--json", "status", url)
    assert r.returncode == 0 and json.loads(r.stdout)["node_id"], r.stderr
    r = run_ctl("--json", "status", url, env={"RESOLVIX_CA_FILE": str(pki.ca.cert)})
    assert r.returncode == 0, r.stderr
    r = run_ctl("--insecure", "--json", "status", url)
    assert r.returncode == 0 and "warning: --insecure" in r.stderr, r.stderr
    # [push] ca_file is the configuration's CA; and a configuration whose
    # [control] has a certificate makes https:// the default.
    conf = tmp_path / "ctl.conf"
    conf.write_text(f"[control]\nport = {n.port}\ntls_cert = {cert}\ntls_key = {key}\n"
                    f"[push]\nca_file = {pki.ca.cert}\n")
    r = run_ctl("--config", conf, "--json", "status")
    assert r.returncode == 0 and json.loads(r.stdout)["node_id"], r.stderr

    r = run_ctl("--config", conf, "start", "telemetry", "--interval", "1")
    assert r.returncode == 0 and f"stream wss://127.0.0.1:{n.ws['telemetry']}" in r.stdout, (r.stdout, r.stderr)
    r = run_ctl("--config", conf, "watch", "--count", "1", "--json")
    assert r.returncode == 0 and json.loads(r.stdout.splitlines()[0])["node_id"], r.stderr
    ws = f"wss://localhost:{n.ws['telemetry']}/"
    r = run_ctl("--ca-file", pki.ca.cert, "watch", "--count", "1", "--json", ws)
    assert r.returncode == 0 and json.loads(r.stdout.splitlines()[0])["node_id"], r.stderr
    r = run_ctl("--ca-file", pki.other.cert, "watch", "--count", "1", "--json", ws)
    assert r.returncode != 0 and r.stdout == "", r


def test_resolvixctl_checks_host_names(start_telemetryd, pki, tmp_path):
    cert, key, _ = pki.ca.issue("elsewhere", sans=("DNS:elsewhere.example",))
    t = start_telemetryd(env=tls_env("TELEMETRY", cert, key))
    r = run_ctl("--ca-file", pki.ca.cert, "watch", "--count", "1", "--json", f"wss://127.0.0.1:{t.port}/")
    assert r.returncode != 0 and r.stdout == "", r
    r = run_ctl("--ca-file", pki.ca.cert, "--insecure", "watch", "--count", "1", "--json", f"wss://127.0.0.1:{t.port}/")
    assert r.returncode == 0 and json.loads(r.stdout.splitlines()[0])["node_id"], r.stderr
    r = run_ctl("--ca-file", pki.ca.cert, "status", f"https://127.0.0.1:{t.port}")
    assert r.returncode == 1 and "not trusted" in r.stderr, r.stderr


# ---- the hub ----------------------------------------------------------------

def hub_request(port, ctx, method, path, body=None, headers=None):
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    return https(port, path, ctx, method, body, headers)


def enroll(port, ctx, node_id):
    status, body = hub_request(port, ctx, "POST", "/api/v1/enroll",
                               {"node_id": node_id, "hostname": f"host-{node_id}", "machine_id": f"m-{node_id}"},
                               {"Authorization": f"Bearer {ENROLL}", "Content-Type": "application/json"})
    assert status == 201, body
    return json.loads(body)["token"]


def test_hub_https_and_wss(procs, tmp_path, pki):
    cert, key = tmp_path / "hub.crt", tmp_path / "hub.key"
    shutil.copyfile(pki.cert, cert)
    shutil.copyfile(pki.key, key)
    hub = Hub(procs, tmp_path)
    hub.start(env=tls_env("HUB", cert, key))
    ctx = pki.ca.context()
    status, body = hub_request(hub.port, ctx, "GET", "/health")
    assert status == 200, body
    token = enroll(hub.port, ctx, "n1")
    status, body = hub_request(hub.port, ctx, "POST", "/api/v1/push", ndjson([sample(1)]),
                               {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})
    assert status == 200 and json.loads(body)["acked"] == 1, body
    status, body = hub_request(hub.port, ctx, "GET", "/api/v1/nodes")
    assert status == 200 and json.loads(body)[0]["tls_subject"] is None, body
    assert_tls_only(hub.port, pki, "/health")
    # An empty answer (check_system_id's 204) ends its request over HTTP/2
    # as over HTTP/1.1.
    check = json.dumps({"action": "check_system_id", "system_id": "never-seen", "url": "x", "interval": 1,
                        "epoch": int(time.time())})
    for version, shown in (("--http2", "2"), ("--http1.1", "1.1")):
        r = curl(f"https://127.0.0.1:{hub.port}/system-monitor", "--cacert", pki.ca.cert, version, "-o", "/dev/null",
                 "-w", "%{http_code} %{http_version}", "-H", "Content-Type: application/json", "--data", check)
        assert r.returncode == 0 and r.stdout == f"204 {shown}", r
    # The dashboard's headers and its 304 hold over HTTP/2 too.
    for version, shown in (("--http2", "2"), ("--http1.1", "1.1")):
        r = curl(f"https://127.0.0.1:{hub.port}/", "--cacert", pki.ca.cert, version, "-D", "-", "-o", "/dev/null")
        assert r.returncode == 0, r
        etag = re.search(r"^etag: (\S+)", r.stdout, re.M | re.I).group(1)
        assert re.search(r"^content-security-policy: default-src 'none'", r.stdout, re.M | re.I), r.stdout
        r = curl(f"https://127.0.0.1:{hub.port}/", "--cacert", pki.ca.cert, version, "-H", f"If-None-Match: {etag}",
                 "-o", "/dev/null", "-w", "%{http_code} %{http_version} %{size_download}")
        assert r.returncode == 0 and r.stdout == f"304 {shown} 0", r

    async def go():
        async with websockets.connect(f"wss://127.0.0.1:{hub.port}/echo", ssl=ctx, open_timeout=10) as ws:
            await ws.send(json.dumps({"type": "HELLO"}))
            return json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert asyncio.run(go())["type"] == "WELCOME"

    # SIGHUP: the renewed certificate is served, the rest of the reload as before.
    serial = replace_pair(pki.ca, "renewed-hub", cert, key)
    hub.proc.send_signal(signal.SIGHUP)
    poll(lambda: served_serial(hub.port, pki.ca) == serial, 10, "the hub serving the new certificate")
    assert hub_request(hub.port, ctx, "GET", "/health")[0] == 200


def test_hub_mtls(procs, tmp_path, pki):
    hub = Hub(procs, tmp_path)
    hub.start(env={**tls_env("HUB", pki.cert, pki.key), "RESOLVIX_HUB_TLS_CLIENT_CA": str(pki.ca.cert)})
    assert "client certificates from" in hub.log()
    node_cert, node_key, _ = pki.ca.issue("node-a", client=True, subject="/O=resolvix tests/CN=node-a")
    renewed_cert, renewed_key, _ = pki.ca.issue("node-a2", client=True, subject="/O=resolvix tests/CN=node-a v2")
    rogue_cert, rogue_key, _ = pki.other.issue("rogue", client=True)

    # Refused: no client certificate, one another CA signed.
    for ctx in (client_context(pki.ca), client_context(pki.ca, rogue_cert, rogue_key)):
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            hub_request(hub.port, ctx, "GET", "/health")
    r = curl(f"https://127.0.0.1:{hub.port}/health", "--cacert", pki.ca.cert)
    assert r.returncode != 0 and r.stdout == "", r
    r = curl(f"https://127.0.0.1:{hub.port}/health", "--cacert", pki.ca.cert, "--cert", node_cert, "--key", node_key)
    assert r.returncode == 0 and json.loads(r.stdout), r

    # Accepted, and the subject recorded on enrolment and on a push with a
    # renewed certificate.
    ctx = client_context(pki.ca, node_cert, node_key)
    token = enroll(hub.port, ctx, "node-a")
    nodes = json.loads(hub_request(hub.port, ctx, "GET", "/api/v1/nodes")[1])
    assert nodes[0]["tls_subject"] == "CN=node-a,O=resolvix tests", nodes
    ctx2 = client_context(pki.ca, renewed_cert, renewed_key)
    status, body = hub_request(hub.port, ctx2, "POST", "/api/v1/push", ndjson([sample(1, node_id="node-a")]),
                               {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})
    assert status == 200, body
    nodes = json.loads(hub_request(hub.port, ctx, "GET", "/api/v1/nodes")[1])
    assert nodes[0]["tls_subject"] == "CN=node-a v2,O=resolvix tests", nodes

    async def go(ctx):
        async with websockets.connect(f"wss://127.0.0.1:{hub.port}/echo", ssl=ctx, open_timeout=10) as ws:
            await ws.send(json.dumps({"type": "HELLO"}))
            return json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert asyncio.run(go(ctx))["type"] == "WELCOME"
    with pytest.raises((ssl.SSLError, ConnectionResetError, websockets.exceptions.InvalidMessage, EOFError)):
        asyncio.run(go(client_context(pki.ca)))

    # The subject is kept in the database: a restarted hub still shows it.
    assert hub.stop() == 0
    hub.start(env={**tls_env("HUB", pki.cert, pki.key), "RESOLVIX_HUB_TLS_CLIENT_CA": str(pki.ca.cert)})
    nodes = json.loads(hub_request(hub.port, ctx, "GET", "/api/v1/nodes")[1])
    assert nodes[0]["tls_subject"] == "CN=node-a v2,O=resolvix tests", nodes


def test_unmasked_frame_over_tls_ends_the_connection(start_telemetryd, pki):
    """The masking rule holds over TLS too (docs/telemetry-stream.md,
    "Access"): an unmasked frame is never acted on, and the connection ends."""
    from test_stream_access import PING, frame, handshake
    t = start_telemetryd(env=tls_env("TELEMETRY", pki.cert, pki.key))

    with socket.create_connection(("127.0.0.1", t.port), timeout=10) as raw:
        with pki.ca.context().wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(handshake())
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(1)
            assert head.startswith(b"HTTP/1.1 101"), head
            s.sendall(frame(PING) + frame(PING, masked=False) + frame(PING))
            got, ended = b"", False
            try:
                while chunk := s.recv(65536):
                    got += chunk
                ended = True
            except (ssl.SSLError, ConnectionResetError):
                ended = True
            except socket.timeout:
                pass
    # The masked ping before it is answered; the unmasked one and what
    # follows are not, and the server hung up.
    assert got.count(b'"pong"') == 1, got
    assert ended, got
