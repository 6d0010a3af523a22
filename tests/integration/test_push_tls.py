"""pushd to a hub over https (docs/tls.md): the hub verified against
[push] ca_file, a hub another CA signed refused (nothing sent, the error in
last_error), insecure = true spelled out; client certificates: pushd's
[push] tls_cert/tls_key at a hub with tls_client_ca, and [hub]
tls_client_auth = certificate, where a node's certificate stands for its
token. Certificates are made by openssl here (tls_support.py)."""
import json
import sqlite3
import subprocess
from types import SimpleNamespace

import pytest

from hub_support import ENROLL, Hub, ndjson, sample
from push_support import Pushd
from support import MEMORY_ERROR, NotifySocket, binary, merged_env, poll
from tls_support import CA, client_context, curl, https, no_sanitizer_reports, tls_env  # noqa: F401


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = CA(d / "ca")
    cert, key, _ = ca.issue("hub")
    clients = {name: ca.issue(name, client=True, sans=(), subject=f"/O=resolvix tests/CN={name}")[:2]
               for name in ("n1", "n2", "p1")}
    other = CA(d / "other", "other CA")
    rogue = other.issue("rogue", client=True, sans=(), subject="/CN=n1")[:2]
    return SimpleNamespace(ca=ca, other=other, cert=cert, key=key, clients=clients, rogue=rogue)


def tls_hub(procs, tmp_path, pki, client_ca=False, auth=None):
    hub = Hub(procs, tmp_path / "hub")
    hub.dir.mkdir()
    env = tls_env("HUB", pki.cert, pki.key)
    if client_ca:
        env["RESOLVIX_HUB_TLS_CLIENT_CA"] = str(pki.ca.cert)
    if auth:
        env["RESOLVIX_HUB_TLS_CLIENT_AUTH"] = auth
    hub.start(env=env)
    return hub


def tls_pushd(procs, tmp_path, hub, node_id="n1", cert=None, **settings):
    if cert:
        settings.update(tls_cert=cert[0], tls_key=cert[1])
    d = tmp_path / f"node-{node_id}"
    d.mkdir()
    return Pushd(procs, d, f"https://127.0.0.1:{hub.port}", node_id=node_id, **settings)


def stored_seqs(hub, node_id):
    """Every seq the hub's database holds for node_id (twice if stored twice)."""
    db = sqlite3.connect(f"file:{hub.state_dir / 'hub.sqlite'}?mode=ro", uri=True, timeout=30)
    try:
        return [r[0] for r in db.execute("SELECT s.seq FROM samples s JOIN nodes n ON n.node_ref = s.node_ref "
                                         "WHERE n.node_id = ? ORDER BY s.seq", (node_id,))]
    finally:
        db.close()


def assert_all_arrived(hub, pushd):
    """Every seq pushd counts as done is stored once; none dropped."""
    pos = pushd.position()
    assert int(pos["dropped"]) == 0
    seqs = stored_seqs(hub, pushd.node_id)
    assert seqs == list(range(1, int(pos["done"]) + 1)), seqs
    return seqs


def nodes(hub, ctx):
    status, body = https(hub.port, "/api/v1/nodes", ctx)
    assert status == 200, body
    return {n["node_id"]: n for n in json.loads(body)}


def push_lines(n):
    return [sample(seq, node_id=n) for seq in (1, 2)]


def test_pushes_over_https_verified_by_ca_file(procs, tmp_path, pki):
    hub = tls_hub(procs, tmp_path, pki)
    p = tls_pushd(procs, tmp_path, hub, ca_file=pki.ca.cert)
    p.start()
    poll(lambda: int(p.figures.get("last_ack_seq", 0)) >= 3, 30, "three samples acknowledged over https")
    assert p.figures["connected"] == "1" and p.figures["last_error"] == ""
    p.stop()
    assert len(assert_all_arrived(hub, p)) >= 3
    assert "insecure" not in p.log()


def test_hub_signed_by_another_ca_is_not_sent_anything(procs, tmp_path, pki):
    hub = tls_hub(procs, tmp_path, pki)
    p = tls_pushd(procs, tmp_path, hub, ca_file=pki.other.cert)
    p.start()
    poll(lambda: p.figures.get("last_error") and int(p.figures.get("spooled", 0)) >= 2, 30,
         "pushd refusing the hub and spooling")
    assert "certificate" in p.figures["last_error"], p.figures
    assert p.figures["connected"] == "0" and p.figures["last_ack_seq"] == "0"
    p.stop()
    assert "certificate" in p.log()
    assert nodes(hub, pki.ca.context()) == {}
    assert stored_seqs(hub, "n1") == []


def test_insecure_connects_and_says_so(procs, tmp_path, pki):
    hub = tls_hub(procs, tmp_path, pki)
    # Neither ca_file nor the system's CAs know the test CA: only
    # insecure = true lets pushd through.
    p = tls_pushd(procs, tmp_path, hub, insecure="true")
    p.start()
    poll(lambda: int(p.figures.get("last_ack_seq", 0)) >= 2, 30, "samples acknowledged with insecure = true")
    p.stop()
    assert "[push] insecure = true: the hub's TLS certificate is not verified" in p.log()
    assert_all_arrived(hub, p)


def test_client_certificate_at_a_hub_with_tls_client_ca(procs, tmp_path, pki):
    hub = tls_hub(procs, tmp_path, pki, client_ca=True)
    p = tls_pushd(procs, tmp_path, hub, cert=pki.clients["n1"], ca_file=pki.ca.cert)
    p.start()
    poll(lambda: int(p.figures.get("last_ack_seq", 0)) >= 3, 30, "samples acknowledged with a client certificate")
    p.stop()
    assert_all_arrived(hub, p)
    ctx = client_context(pki.ca, *pki.clients["n2"])
    assert nodes(hub, ctx)["n1"]["tls_subject"] == "CN=n1,O=resolvix tests"

    # The default there is both: a certificate does not stand for the token.
    r = curl(f"https://127.0.0.1:{hub.port}/api/v1/push", "--cacert", pki.ca.cert, "--cert", pki.clients["n1"][0],
             "--key", pki.clients["n1"][1], "-H", "Content-Type: application/x-ndjson", "--data-binary",
             ndjson(push_lines("n1")).decode(), "-o", "/dev/null", "-w", "%{http_code}")
    assert r.stdout == "401", r


@pytest.mark.parametrize("cert", ["none", "other CA"])
def test_without_a_certificate_the_ca_signed_pushd_cannot_push(procs, tmp_path, pki, cert):
    hub = tls_hub(procs, tmp_path, pki, client_ca=True)
    p = tls_pushd(procs, tmp_path, hub, cert=None if cert == "none" else pki.rogue, ca_file=pki.ca.cert)
    p.start()
    poll(lambda: p.figures.get("last_error") and int(p.figures.get("spooled", 0)) >= 2, 30,
         "pushd refused by the hub and spooling")
    assert p.figures["connected"] == "0" and p.figures["last_ack_seq"] == "0", p.figures
    p.stop()
    assert nodes(hub, client_context(pki.ca, *pki.clients["n2"])) == {}
    assert stored_seqs(hub, "n1") == []


def curl_push(hub, pki, cert, token=None):
    args = ["--cacert", pki.ca.cert, "--cert", cert[0], "--key", cert[1], "-H", "Content-Type: application/x-ndjson",
            "--data-binary", ndjson(push_lines("x")).decode(), "-w", "\n%{http_code}"]
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    r = curl(f"https://127.0.0.1:{hub.port}/api/v1/push", *args)
    assert r.returncode == 0, r
    body, status = r.stdout.rsplit("\n", 1)
    return int(status), json.loads(body)


def enroll(hub, ctx, node_id):
    status, body = https(hub.port, "/api/v1/enroll", ctx, "POST",
                         json.dumps({"node_id": node_id, "hostname": node_id, "machine_id": f"m-{node_id}"}),
                         {"Authorization": f"Bearer {ENROLL}", "Content-Type": "application/json"})
    return status, json.loads(body)


def test_certificate_stands_for_the_token(procs, tmp_path, pki):
    hub = tls_hub(procs, tmp_path, pki, client_ca=True, auth="certificate")
    n1, n2 = pki.clients["n1"], pki.clients["n2"]

    # Enrolment still takes the enroll token, and only under the
    # certificate's own name.
    status, body = enroll(hub, client_context(pki.ca, *n1), "n2")
    assert status == 403 and body["message"] == "the client certificate names node n1, not n2", body
    status, tokens = enroll(hub, client_context(pki.ca, *n1), "n1")
    assert status == 201, tokens
    assert enroll(hub, client_context(pki.ca, *n2), "n2")[0] == 201

    # No token: the certificate names the node.
    status, body = curl_push(hub, pki, n1)
    assert status == 200 and body["acked"] == 2, body
    assert stored_seqs(hub, "n1") == [1, 2] and stored_seqs(hub, "n2") == []
    # A token of another node than the certificate names: refused.
    status, body = curl_push(hub, pki, n2, token=tokens["token"])
    assert status == 403 and body["message"] == "the client certificate names node n2, not n1", body
    # A certificate naming no enrolled node: refused.
    status, body = curl_push(hub, pki, pki.clients["p1"])
    assert status == 401, body
    assert stored_seqs(hub, "n1") == [1, 2] and stored_seqs(hub, "n2") == []

    # pushd enrols and pushes with its certificate.
    p = tls_pushd(procs, tmp_path, hub, node_id="p1", cert=pki.clients["p1"], ca_file=pki.ca.cert)
    p.start()
    poll(lambda: int(p.figures.get("last_ack_seq", 0)) >= 3, 30, "pushd's samples acknowledged")
    p.stop()
    assert_all_arrived(hub, p)
    # A pushd whose certificate names another node is not enrolled.
    q = tls_pushd(procs, tmp_path, hub, node_id="q1", cert=pki.clients["p1"], ca_file=pki.ca.cert)
    q.start()
    poll(lambda: "names node p1, not q1" in q.figures.get("last_error", ""), 30, "q1's enrolment refused")
    q.stop()
    assert "q1" not in nodes(hub, client_context(pki.ca, *n1))
    assert stored_seqs(hub, "q1") == []


def start_failure(tmp_path, env):
    """pushd's exit status and its supervisor message when it cannot start."""
    notify = NotifySocket(tmp_path / f"fail-{len(list(tmp_path.glob('fail-*.notify')))}.notify")
    try:
        full = merged_env({"RESOLVIX_CONFIG": "", "RESOLVIX_CONTROL_STATE_DIR": str(tmp_path / "state"),
                           "RESOLVIX_PUSH_HUB_URL": "https://127.0.0.1:9/", "NOTIFY_SOCKET": notify.path}, env)
        r = subprocess.run([binary("pushd/pushd")], env=full, capture_output=True, text=True, timeout=30)
        return r, notify.wait_for("RESOLVIX_ERROR", timeout=5)[1]
    finally:
        notify.close()


def test_unreadable_client_certificate_stops_the_start(tmp_path, pki):
    missing = tmp_path / "missing.key"
    r, fields = start_failure(tmp_path, {"RESOLVIX_PUSH_TLS_CERT": str(pki.clients["n1"][0]),
                                         "RESOLVIX_PUSH_TLS_KEY": str(missing)})
    assert r.returncode == 1 and fields["RESOLVIX_ERROR"] == "bad_config", (r, fields)
    assert fields["STATUS"] == f"[push] tls_key {missing} cannot be read: No such file or directory", fields
    assert not MEMORY_ERROR.search(r.stderr), r.stderr

    r, fields = start_failure(tmp_path, {"RESOLVIX_PUSH_TLS_CERT": str(pki.clients["n1"][0])})
    assert r.returncode == 1 and fields["RESOLVIX_ERROR"] == "bad_config", (r, fields)
    assert "tls_cert and tls_key must be set together" in fields["STATUS"], fields
    assert not (tmp_path / "state" / "push-spool").exists()


@pytest.mark.parametrize("auth, client_ca, words", [
    ("password", True, "expected token, certificate or both, got 'password'"),
    ("certificate", False, "tls_client_auth = certificate needs tls_client_ca"),
    ("both", False, "tls_client_auth = both needs tls_client_ca"),
    ("token", True, "tls_client_auth = token cannot go with tls_client_ca"),
])
def test_hub_refuses_a_bad_tls_client_auth(tmp_path, pki, auth, client_ca, words):
    env = {"RESOLVIX_CONFIG": "", "RESOLVIX_CONTROL_STATE_DIR": str(tmp_path), **tls_env("HUB", pki.cert, pki.key),
           "RESOLVIX_HUB_TLS_CLIENT_AUTH": auth}
    if client_ca:
        env["RESOLVIX_HUB_TLS_CLIENT_CA"] = str(pki.ca.cert)
    for args in (["--check"], ["--port", "9"]):
        r = subprocess.run([binary("hub/resolvix-hub"), *args], env=merged_env(env, {}), capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 1 and words in r.stderr, r


def test_without_ca_file_the_system_cas_are_read(procs, tmp_path, pki):
    """No ca_file: the CAs come from the system's, here the directory
    SSL_CERT_DIR names or the bundle SSL_CERT_FILE names; the hub is named
    by host name (SNI, and its certificate checked for that name)."""
    hub = tls_hub(procs, tmp_path, pki)
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "test-ca.pem").write_bytes(pki.ca.cert.read_bytes())
    subprocess.run(["openssl", "rehash", str(certs)], check=True, capture_output=True)
    d = tmp_path / "node"
    d.mkdir()
    p = Pushd(procs, d, f"https://localhost:{hub.port}")
    p.start(SSL_CERT_DIR=str(certs))
    poll(lambda: int(p.figures.get("last_ack_seq", 0)) >= 2, 30, "samples acknowledged, the CA found in SSL_CERT_DIR")
    assert p.figures["last_error"] == ""
    p.stop()
    assert_all_arrived(hub, p)
    # The same without the test CA in the directory: refused, and said why.
    p.start(SSL_CERT_DIR=str(tmp_path))
    poll(lambda: p.figures.get("last_error"), 30, "the hub refused")
    assert p.figures["last_error"] == ("TLS handshake with localhost: certificate verify failed: "
                                       "The certificate is not correctly signed by the trusted CA"), p.figures
    p.stop()
    # A bundle file instead of the directory.
    p.start(SSL_CERT_FILE=str(pki.ca.cert))
    poll(lambda: p.figures.get("connected") == "1" and p.figures.get("last_error") == "", 30,
         "samples acknowledged, the CA found in SSL_CERT_FILE")
    p.stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_certificate_for_another_name_is_refused(procs, tmp_path, pki, host):
    """mbedTLS names a certificate for another address or host name a
    CN mismatch, whichever of them the certificate names."""
    why = "The certificate Common Name (CN) does not match with the expected CN"
    cert, key, _ = pki.ca.issue(f"elsewhere-{host}", sans=("DNS:hub.example",))
    hub = Hub(procs, tmp_path / "hub")
    hub.dir.mkdir()
    hub.start(env=tls_env("HUB", cert, key))
    d = tmp_path / "node"
    d.mkdir()
    p = Pushd(procs, d, f"https://{host}:{hub.port}", ca_file=pki.ca.cert)
    p.start()
    poll(lambda: p.figures.get("last_error") and int(p.figures.get("spooled", 0)) >= 2, 30, "the hub refused")
    assert p.figures["last_error"] == f"TLS handshake with {host}: certificate verify failed: {why}", p.figures
    assert p.figures["last_ack_seq"] == "0"
    p.stop()
    assert stored_seqs(hub, "n1") == []
