"""Numbered lines written across each kind of rotation arrive exactly once
and in order. The writer behaves like a daemon that reopens its log when
told to, and the rotations are what logrotate does."""
import asyncio
import json
import os
import shutil

import pytest

from livelogs_support import append, connect, run, start


class Writer:
    """A logging daemon: one open fd, appending numbered lines."""

    def __init__(self, path):
        self.path = path
        self.n = 0
        self.fd = None
        self.reopen()

    def reopen(self, flags=0):
        if self.fd is not None:
            os.close(self.fd)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | flags, 0o644)

    def write(self, count):
        data = "".join(f"line {i}\n" for i in range(self.n, self.n + count)).encode()
        self.n += count
        os.write(self.fd, data)


ROUNDS, PER_ROUND = 5, 2000


async def follow_rotations(url, log, mode):
    w = Writer(log)
    got = []
    caught_up = asyncio.Event()

    async with connect(url) as ws:
        async def read():
            while len(got) < ROUNDS * PER_ROUND:
                f = json.loads(await ws.recv())
                got.append(f["log"])
                if len(got) == w.n:
                    caught_up.set()

        reader = asyncio.create_task(read())
        for r in range(ROUNDS):
            for _ in range(PER_ROUND // 100 - 1):
                w.write(100)
                await asyncio.sleep(0.001)
            rotated = f"{log}.{r}"
            if mode == "rename":
                # logrotate's default: rename, (create,) tell the daemon to
                # reopen; the daemon goes on writing the old file until then
                os.rename(log, rotated)
                w.write(100)
                w.reopen()
            elif mode == "delete":
                os.unlink(log)
                w.write(100)  # to the deleted file, still open
                w.reopen()
            else:
                # What was written but not read before a truncation is gone
                # (copytruncate's documented race): truncate once caught up.
                w.write(100)
                caught_up.clear()
                if len(got) < w.n:
                    await asyncio.wait_for(caught_up.wait(), 20)
                if mode == "copytruncate":
                    shutil.copyfile(log, rotated)
                    os.truncate(log, 0)
                else:  # "> app.log" by a daemon that reopens with O_TRUNC
                    w.reopen(os.O_TRUNC)
        await asyncio.wait_for(reader, 30)
        # and nothing more comes
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.recv(), 1.5)
    os.close(w.fd)
    return got


@pytest.mark.parametrize("mode", ["rename", "delete", "copytruncate", "truncate"])
def test_numbered_lines_arrive_once_and_in_order(procs, notify_socket, tmp_path, mode):
    log = tmp_path / "app.log"
    append(log, "")
    w = start(procs, notify_socket, log, "--backlog", "0")
    got = run(follow_rotations(w.url(), log, mode))
    assert got == [f"line {i}" for i in range(ROUNDS * PER_ROUND)]

