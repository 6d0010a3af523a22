"""Who may connect to telemetryd: token, Origin and the client limit, all
decided at the handshake."""
import asyncio

from telemetry_support import (
    connect,
    handshake_status,
    node,
    raw_client,
    recv_json,
    recv_sample,
    split_frames,
)

TOKEN = "s3cret-token"


def accepted(url, **kw):
    async def go():
        async with connect(url, **kw) as ws:
            return await recv_sample(ws)

    return asyncio.run(go())


def test_token_required_when_set(start_telemetryd):
    t = start_telemetryd(env={"RESOLVIX_TELEMETRY_TOKEN": TOKEN})
    assert handshake_status(t.url()) == 401
    assert handshake_status(t.url("?token=wrong")) == 401
    assert handshake_status(t.url(), extra_headers={"Authorization": "Bearer wrong"}) == 401
    assert handshake_status(t.url(), extra_headers={"Authorization": f"Bearer {TOKEN}x"}) == 401
    assert accepted(t.url(f"?token={TOKEN}"))["metrics"]
    assert accepted(t.url(), extra_headers={"Authorization": f"Bearer {TOKEN}"})["metrics"]
    # a Node client, with the header
    r = node("telemetry-node.js", t.url(), 1, '{"Authorization": "Bearer %s"}' % TOKEN)
    assert len(r["cpu"]) == 1
    assert node("telemetry-node.js", t.url(), 1) == {"status": 401}


def test_token_flag_overrides_environment(start_telemetryd):
    t = start_telemetryd("--token", "from-flag", env={"RESOLVIX_TELEMETRY_TOKEN": TOKEN})
    assert handshake_status(t.url(f"?token={TOKEN}")) == 401
    assert accepted(t.url("?token=from-flag"))["metrics"]


def test_origin_checked_when_listed(start_telemetryd):
    t = start_telemetryd(env={"RESOLVIX_TELEMETRY_ALLOWED_ORIGINS": "https://ops.example.com http://127.0.0.1:3000"})
    assert handshake_status(t.url(), origin="https://evil.example.com") == 403
    assert handshake_status(t.url(), origin="https://ops.example.com.evil.com") == 403
    assert accepted(t.url(), origin="https://ops.example.com")["metrics"]
    assert accepted(t.url(), origin="http://127.0.0.1:3000")["metrics"]


def test_max_clients_refused_cleanly(start_telemetryd):
    t = start_telemetryd("--max-clients", "3")

    async def go():
        held = [await connect(t.url()).__aenter__() for _ in range(3)]
        for ws in held:
            await recv_sample(ws)
        refused = None
        try:
            async with connect(t.url()):
                pass
        except Exception as e:  # noqa: BLE001 - the refusal itself is what we look at
            refused = e
        # the three still get samples
        seqs = [(await recv_sample(ws, timeout=3))["seq"] for ws in held]
        await held[0].close()
        await asyncio.sleep(0.3)
        async with connect(t.url()) as again:
            after = await recv_sample(again)
        for ws in held[1:]:
            await ws.close()
        return refused, seqs, after

    refused, seqs, after = asyncio.run(go())
    assert refused is not None, "the fourth client was let in"
    assert getattr(refused, "status_code", 503) == 503
    assert len(seqs) == 3
    assert after["metrics"]


def test_silent_peers_dropped_by_ping_timeout(start_telemetryd):
    t = start_telemetryd(interval=86400, env={"RESOLVIX_TELEMETRY_PING_INTERVAL": "1"})
    silent = raw_client(t.port)  # reads, but never answers a ping
    silent.settimeout(15)

    async def go():
        async with connect(t.url()) as polite:  # websockets answers pings itself
            await recv_sample(polite)
            got = b""
            while True:
                chunk = await asyncio.get_running_loop().run_in_executor(None, silent.recv, 65536)
                if not chunk:
                    break
                got += chunk
            await polite.send('{"command":"ping"}')
            reply = await recv_json(polite)
            return got, reply

    got, reply = asyncio.run(go())
    silent.close()
    opcodes = [op for op, _ in split_frames(got)[0]]
    assert opcodes[0] == 1, "the sample came first"
    assert 9 in opcodes, "a ping was sent before the hang-up"
    assert reply == {"type": "pong"}
