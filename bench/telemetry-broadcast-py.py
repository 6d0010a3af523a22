#!/usr/bin/python3
"""The Python peer for bench/telemetry-broadcast.py: a websockets server
that sends the same frame to every client on SIGUSR1 with
websockets.broadcast(), the library's own fan-out.

Usage: telemetry-broadcast-py.py PORT FRAME_FILE"""
import asyncio
import signal
import sys

import websockets

CLIENTS = set()


async def handler(ws, path=None):
    CLIENTS.add(ws)
    try:
        await ws.wait_closed()
    finally:
        CLIENTS.discard(ws)


async def main(port, frame):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, lambda: websockets.broadcast(CLIENTS, frame))
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with websockets.serve(handler, "127.0.0.1", port, compression=None, max_size=4096, ping_interval=None):
        await stop


if __name__ == "__main__":
    with open(sys.argv[2]) as f:
        asyncio.run(main(int(sys.argv[1]), f.read()))
