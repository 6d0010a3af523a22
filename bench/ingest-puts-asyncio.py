#!/usr/bin/python3
"""The peer of bench/ingest-puts: a minimal asyncio server of the put/get
protocol (docs/custom-metrics.md), the way its reference server is written (a dict of
metric -> {timestamp: value}, in memory), handling pipelined requests.

Usage: ingest-puts-asyncio.py PORT
"""
import asyncio
import sys

OK = b"ok\n\n"
ERROR = b"error\nwrong command\n\n"
store = {}


def handle(line):
    parts = line.decode("utf-8", "replace").split(" ")
    try:
        if parts[0] == "put" and len(parts) == 4:
            store.setdefault(parts[1], {})[int(parts[3])] = float(parts[2])
            return OK
        if parts[0] == "get" and len(parts) == 2:
            names = store if parts[1] == "*" else [parts[1]] if parts[1] in store else []
            lines = [f"{m} {v!r} {t}\n" for m in names for t, v in sorted(store[m].items())]
            return ("ok\n" + "".join(lines) + "\n").encode()
    except ValueError:
        pass
    return ERROR


class Session(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""

    def data_received(self, data):
        *lines, self.buf = (self.buf + data).split(b"\n")
        self.transport.write(b"".join(handle(line) for line in lines))


async def main(port):
    server = await asyncio.get_running_loop().create_server(Session, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
