"""resolvixctl's own bounds, hit by servers that break them: a WebSocket
message over 4 MiB closes the stream with 1009, an HTTP answer over 64 MiB
is not read; just under each bound is fine."""
import asyncio
import http.server
import json
import threading

import websockets

from ctl_support import ctl
from support import poll

MESSAGE_MAX = 4 << 20
REPLY_MAX = 64 << 20


class StreamServer:
    """A WebSocket server on loopback that sends one given message to each
    client and records how the client closed."""

    def __init__(self, message):
        self.message = message
        self.closes = []
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_until_complete, args=(self.main(),), daemon=True).start()
        assert self.ready.wait(10)

    async def handler(self, ws, *args):
        await ws.send(self.message)
        try:
            await ws.wait_closed()
        finally:
            self.closes.append(ws.close_code)

    async def main(self):
        self.stop = asyncio.Event()
        async with websockets.serve(self.handler, "127.0.0.1", 0, max_size=None) as srv:
            self.port = srv.sockets[0].getsockname()[1]
            self.ready.set()
            await self.stop.wait()

    def close(self):
        self.loop.call_soon_threadsafe(self.stop.set)


def sample_of_size(size):
    head = json.dumps({"timestamp": "2024-01-15T10:30:45Z", "node_id": "big", "metrics": {"cpu": {}}, "pad": ""})
    return head[:-2] + "x" * (size - len(head)) + '"}'


def test_a_message_just_under_the_bound_is_read():
    msg = sample_of_size(MESSAGE_MAX - 16)
    srv = StreamServer(msg)
    try:
        r = ctl("watch", "--json", "-n", "1", f"ws://127.0.0.1:{srv.port}")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["pad"] == json.loads(msg)["pad"]
    finally:
        srv.close()


def test_a_message_over_the_bound_closes_with_1009():
    srv = StreamServer(sample_of_size(MESSAGE_MAX + 1))
    try:
        r = ctl("watch", "--json", "-n", "1", f"ws://127.0.0.1:{srv.port}")
        assert r.returncode == 1, r
        assert r.stdout == ""
        assert f"telemetryd at 127.0.0.1:{srv.port} sent a message over 4 MiB; closing" in r.stderr
        poll(lambda: srv.closes, 5, "the server seeing the close")
        assert srv.closes == [1009]
    finally:
        srv.close()


class BigStatus(http.server.BaseHTTPRequestHandler):
    size = 0

    def do_GET(self):
        body = json.dumps({"node_id": "big", "pad": ""})
        body = (body[:-2] + "y" * (self.size - len(body)) + '"}').encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


def serve_status(size):
    handler = type("Handler", (BigStatus,), {"size": size})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_an_answer_just_under_the_bound_is_read():
    srv = serve_status(REPLY_MAX - 1)
    try:
        r = ctl("status", "--json", f"http://127.0.0.1:{srv.server_address[1]}")
        assert r.returncode == 0, r.stderr
        assert len(r.stdout) == REPLY_MAX  # the body and a newline
    finally:
        srv.shutdown()


def test_an_answer_over_the_bound_is_not_read():
    srv = serve_status(REPLY_MAX + 1)
    try:
        r = ctl("status", "--json", f"http://127.0.0.1:{srv.server_address[1]}")
        assert r.returncode == 1, r.stderr
        assert f"the answer from 127.0.0.1:{srv.server_address[1]} is over 64 MiB; not reading it" in r.stderr
        assert r.stdout == ""
    finally:
        srv.shutdown()
