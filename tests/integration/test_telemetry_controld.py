"""telemetryd under resolvix-controld (docs/control-api.md): start with an interval,
a new interval applied to the running worker, restart, stop, /status, and
a port in use reported as such, never "started"."""
import asyncio
import socket

import websockets

from support import binary, control, free_port, get_status as status, start_controld
from telemetry_support import NODE_ID, connect, recv_sample


def controld(procs, tmp_path, ws_port):
    """controld with a worker directory holding only the telemetryd under test."""
    return start_controld(procs, tmp_path, {"telemetryd": binary("telemetryd/telemetryd")},
                          {"RESOLVIX_NODE_ID": NODE_ID, "RESOLVIX_TELEMETRY_LISTEN": "127.0.0.1",
                           "RESOLVIX_TELEMETRY_PORT": str(ws_port), "RESOLVIX_TELEMETRY_INGEST_PORT": "0"})


def samples(url, n):
    async def go():
        async with connect(url) as ws:
            return [await recv_sample(ws, timeout=5) for _ in range(n)]

    return asyncio.run(go())


def test_start_reconfigure_restart_stop(procs, tmp_path):
    ws_port = free_port()
    port = controld(procs, tmp_path, ws_port)
    url = f"ws://127.0.0.1:{ws_port}/"

    code, body = control(port, "start_telemetry", interval=1)
    assert code == 200
    assert body["status"] == "started" and body["ws_port"] == ws_port and body["interval"] == 1
    s = status(port)
    assert s["node_id"] == NODE_ID
    assert s["telemetry"]["running"] is True and s["telemetry"]["pid"] == body["pid"]
    assert s["telemetry"]["interval"] == 1
    # "started" means accepting clients, and the first frame is a sample
    first, second = samples(url, 2)
    assert first["node_id"] == NODE_ID and first["interval"] == 1
    assert second["seq"] > first["seq"]

    # a new interval reaches the running worker: same pid, samples say so
    code, body2 = control(port, "start_telemetry", interval=2)
    assert code == 200 and body2["status"] == "reconfigured" and body2["pid"] == body["pid"]
    assert body2["interval"] == 2
    assert samples(url, 2)[1]["interval"] == 2
    code, body3 = control(port, "start_telemetry")
    assert code == 200 and body3["status"] == "already_running" and body3["pid"] == body["pid"]

    code, again = control(port, "restart_telemetry")
    assert code == 200 and again["status"] == "restarted" and again["pid"] != body["pid"]
    assert samples(url, 1)[0]["interval"] == again["interval"]

    async def closed_by_stop():
        async with connect(url) as ws:
            await recv_sample(ws)
            stop = await asyncio.get_running_loop().run_in_executor(None, control, port, "stop_telemetry")
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            except websockets.exceptions.ConnectionClosed as e:
                return stop, e.rcvd.code if e.rcvd else None

    stop, code = asyncio.run(closed_by_stop())
    assert stop == (200, {"status": "stopped"})
    assert code == 1001
    assert status(port)["telemetry"]["running"] is False
    assert control(port, "stop_telemetry") == (200, {"status": "already_stopped"})


def test_port_in_use_is_named(procs, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ws_port = taken.getsockname()[1]
        port = controld(procs, tmp_path, ws_port)
        code, body = control(port, "start_telemetry")
    assert code == 409
    assert body["status"] == "error" and body["detail"] == "port_in_use"
    assert str(ws_port) in body["message"]
    assert status(port)["telemetry"]["running"] is False
