"""Certificates for the TLS tests, made with the openssl command at test
time: a CA, server certificates for 127.0.0.1 and localhost, client
certificates for the hub's mTLS. EC P-256 keys, which are quick to make."""
import base64
import hashlib
import http.client
import ssl
import subprocess
from pathlib import Path

import pytest

from support import MEMORY_ERROR


def _run(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


class CA:
    def __init__(self, directory, name="resolvix test CA"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        slug = name.replace(" ", "-")
        self.cert = self.dir / f"{slug}.crt"
        self.key = self.dir / f"{slug}.key"
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(self.key), "-out", str(self.cert), "-days", "2", "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.serial = 100

    def issue(self, name, client=False, sans=("IP:127.0.0.1", "DNS:localhost"), subject=None):
        """(cert path, key path, serial) of a new leaf certificate."""
        self.serial += 1
        cert, key, csr = (self.dir / f"{name}.crt", self.dir / f"{name}.key", self.dir / f"{name}.csr")
        ext = self.dir / f"{name}.ext"
        usage = "clientAuth" if client else "serverAuth"
        lines = [f"extendedKeyUsage={usage}", "basicConstraints=CA:FALSE"]
        if sans:
            lines.append("subjectAltName=" + ",".join(sans))
        ext.write_text("\n".join(lines) + "\n")
        _run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(key), "-out", str(csr), "-subj", subject or f"/O=resolvix tests/CN={name}")
        _run("x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
             "-set_serial", str(self.serial), "-days", "2", "-out", str(cert), "-extfile", str(ext))
        return cert, key, self.serial

    def context(self):
        """A client ssl context that trusts only this CA and checks host names."""
        ctx = ssl.create_default_context(cafile=str(self.cert))
        return ctx


def spki_hash(cert_path):
    """base64(sha256(SubjectPublicKeyInfo)), as Chromium's
    --ignore-certificate-errors-spki-list takes it."""
    pub = subprocess.run(["openssl", "x509", "-in", str(cert_path), "-noout", "-pubkey"], check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub, check=True,
                         capture_output=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def served_serial(port, ca, host="127.0.0.1"):
    """The serial number of the certificate the server on port presents."""
    import socket
    with socket.create_connection((host, port), timeout=10) as raw:
        with ca.context().wrap_socket(raw, server_hostname=host) as s:
            der = s.getpeercert(binary_form=True)
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"], input=der,
                         capture_output=True, check=True).stdout.decode()
    return int(out.strip().split("=", 1)[1], 16)


def client_context(ca, cert=None, key=None):
    """A client trusting ca, presenting cert and key when given (mTLS)."""
    ctx = ca.context()
    if cert:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def tls_env(section, cert, key):
    return {f"RESOLVIX_{section}_TLS_CERT": str(cert), f"RESOLVIX_{section}_TLS_KEY": str(key)}


def curl(url, *args):
    return subprocess.run(["curl", "-sS", "--max-time", "10", *map(str, args), url], capture_output=True, text=True)


def https(port, path, ctx, method="GET", body=None, headers=None, host="127.0.0.1"):
    """(status, body text) of one request over TLS."""
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def no_sanitizer_reports(tmp_path, procs):
    """Autouse in a module that imports it: after each test, with every
    process stopped, no sanitizer report (the CI runs an ASan+UBSan build) in
    any log a server of the test wrote."""
    yield
    procs.stop_all()
    for log in tmp_path.rglob("*.log"):
        m = MEMORY_ERROR.search(log.read_text(errors="replace"))
        assert not m, f"{log}: {m.group(0)}"
