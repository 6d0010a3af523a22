"""A client of the custom-metrics protocol (docs/custom-metrics.md): what
applications already use against the reference server, written from the
description alone, so that the server is tested against it rather than
against itself.

    client = Client("127.0.0.1", 8888, timeout=15)
    client.put("palm.cpu", 0.5, timestamp=1150864247)
    client.get("palm.cpu")   # {"palm.cpu": [(1150864247, 0.5)]}
    client.get("*")          # every metric
"""
import socket
import time


class ClientError(Exception):
    pass


class Client:
    def __init__(self, host, port, timeout=None):
        try:
            self._sock = socket.create_connection((host, port), timeout)
        except OSError as e:
            raise ClientError(f"cannot connect to {host}:{port}: {e}") from e
        self._buf = b""

    def close(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _ask(self, request):
        """Send one request; the reply's lines between the status and the
        empty line that ends it."""
        try:
            self._sock.sendall(request.encode())
            while b"\n\n" not in self._buf:
                chunk = self._sock.recv(65536)
                if not chunk:
                    raise ClientError("the server closed the connection")
                self._buf += chunk
        except OSError as e:
            raise ClientError(str(e)) from e
        reply, self._buf = self._buf.split(b"\n\n", 1)
        status, *lines = reply.decode().split("\n")
        if status == "error":
            raise ClientError(lines[0] if lines else "error")
        if status != "ok":
            raise ClientError(f"unexpected reply {reply!r}")
        return lines

    def put(self, metric, value, timestamp=None):
        if timestamp is None:
            timestamp = int(time.time())
        self._ask(f"put {metric} {value} {timestamp}\n")

    def get(self, metric):
        data = {}
        for line in self._ask(f"get {metric}\n"):
            try:
                name, value, timestamp = line.split()
                data.setdefault(name, []).append((int(timestamp), float(value)))
            except ValueError as e:
                raise ClientError(f"bad line {line!r}") from e
        for points in data.values():
            points.sort(key=lambda p: p[0])
        return data
