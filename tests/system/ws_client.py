"""Receive messages from a resolvix stream, as an operator's client would.

Run inside the test machine with Debian's python3 (python3-websockets):
    ws_client.py URL [COUNT] [--until TEXT] [--timeout SECONDS]
Prints each received text message on its own line, stops after COUNT
messages, or at the first one containing TEXT, and exits 1 if that has not
happened within the timeout. With --until, prints "connected" on stderr once
the handshake is done, so that a caller knows when to produce TEXT.
"""
import argparse
import asyncio
import sys

import websockets


async def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("count", nargs="?", type=int, default=1)
    p.add_argument("--until")
    p.add_argument("--timeout", type=float, default=20.0)
    a = p.parse_args()

    async def receive() -> None:
        async with websockets.connect(a.url, max_size=None) as ws:
            print("connected", file=sys.stderr, flush=True)
            seen = 0
            async for message in ws:
                print(message, flush=True)
                seen += 1
                if a.until is not None:
                    if a.until in message:
                        return
                elif seen >= a.count:
                    return

    try:
        await asyncio.wait_for(receive(), a.timeout)
    except asyncio.TimeoutError:
        print(f"ws_client: nothing expected from {a.url} within {a.timeout:g} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
