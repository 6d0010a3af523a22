"""One-time enroll tokens: made through the API or `resolvix-hub
--new-enroll-token`, listed without their secret, spent by exactly one
enrolment (also with two hubs on one database), refused once expired,
revoked, and bounded."""
import http.client
import json
import subprocess
import threading
import time

from support import binary, merged_env
from hub_support import ENROLL, sample, two_hubs_one_database


def new_token(hub, body=None, headers=None):
    r = hub.request("POST", "/api/v1/enroll-tokens", body if body is not None else {}, headers)
    assert r.status == 201, r
    return r.json


def tokens(hub):
    r = hub.get("/api/v1/enroll-tokens")
    assert r.status == 200, r
    return r.json


def enroll_with(hub, token, node_id, machine_id=None):
    return hub.request("POST", "/api/v1/enroll",
                       {"node_id": node_id, "hostname": f"host-{node_id}", "machine_id": machine_id or f"m-{node_id}"},
                       {"Authorization": f"Bearer {token}"})


def test_spent_once(hub):
    made = new_token(hub, {"ttl": 600, "note": "rack 4"})
    assert len(made["token"]) == 64 and len(made["id"]) == 16
    assert made["expires"].endswith("Z")
    listed = tokens(hub)
    assert [t["id"] for t in listed] == [made["id"]]
    assert listed[0]["note"] == "rack 4" and listed[0]["expires"] == made["expires"]
    assert made["token"] not in json.dumps(listed)

    r = enroll_with(hub, made["token"], "n1")
    assert r.status == 201, r
    node_token = r.json["token"]
    assert hub.push(node_token, [sample(1)]).json == {"acked": 1, "duplicates": 0, "last_seq": 1}
    # Spent: a second enrolment with it, for any node id, is refused.
    for node_id in ["n2", "n1"]:
        r = enroll_with(hub, made["token"], node_id)
        assert r.status == 401, r
        assert r.json["detail"] == "unauthorized"
        assert r.headers["WWW-Authenticate"] == "Bearer"
    assert tokens(hub) == []
    assert [n["node_id"] for n in hub.get("/api/v1/nodes").json] == ["n1"]
    # The configured token is not spent by use.
    assert enroll_with(hub, ENROLL, "n3").status == 201
    assert enroll_with(hub, ENROLL, "n4").status == 201


def test_refused_enrolment_keeps_the_token(hub):
    hub.enroll("taken", machine_id="m-a")
    made = new_token(hub)
    r = enroll_with(hub, made["token"], "taken", machine_id="m-b")
    assert r.status == 409, r
    r = enroll_with(hub, made["token"], "bad/id")
    assert r.status == 400, r
    assert [t["id"] for t in tokens(hub)] == [made["id"]]
    assert enroll_with(hub, made["token"], "free").status == 201
    assert tokens(hub) == []


def test_expired_token_refused(hub):
    made = new_token(hub, {"ttl": 1})
    time.sleep(1.2)
    r = enroll_with(hub, made["token"], "late")
    assert r.status == 401, r
    assert r.json["detail"] == "unauthorized"
    assert tokens(hub) == []
    assert hub.get("/api/v1/nodes").json == []


def test_revoke(hub):
    keep, drop = new_token(hub, {"note": "keep"}), new_token(hub, {"note": "drop"})
    assert {t["note"] for t in tokens(hub)} == {"keep", "drop"}
    r = hub.request("DELETE", f"/api/v1/enroll-tokens/{drop['id']}")
    assert r.status == 200 and r.json == {"status": "revoked", "id": drop["id"]}, r
    assert [t["id"] for t in tokens(hub)] == [keep["id"]]
    assert enroll_with(hub, drop["token"], "n1").status == 401
    for bad in [drop["id"], "0" * 16, "short", "x" * 16, "0" * 17]:
        r = hub.request("DELETE", f"/api/v1/enroll-tokens/{bad}")
        assert r.status == 404, (bad, r)
        assert r.json["detail"] == "no_such_token"
    assert hub.request("PUT", "/api/v1/enroll-tokens").status == 405
    assert hub.request("GET", f"/api/v1/enroll-tokens/{keep['id']}").status == 405
    assert enroll_with(hub, keep["token"], "n2").status == 201


def test_bad_requests_change_nothing(hub):
    for bad in ["not json", [1], {"ttl": 0}, {"ttl": -5}, {"ttl": 1.5}, {"ttl": "60"}, {"ttl": 2592001},
                {"note": 5}, {"note": "x" * 256}, {"note": "two\nlines"}]:
        r = hub.request("POST", "/api/v1/enroll-tokens", bad)
        assert r.status == 400, (bad, r)
        assert r.json["detail"] == "bad_request"
    assert tokens(hub) == []
    # The largest ttl and note are fine; no body at all is too.
    assert new_token(hub, {"ttl": 2592000, "note": "y" * 255})
    r = hub.request("POST", "/api/v1/enroll-tokens")
    assert r.status == 201, r
    assert len(tokens(hub)) == 2


def test_query_token_rule(hub_factory):
    h = hub_factory()
    h.start(env={"RESOLVIX_HUB_TOKEN": "query-secret"})
    for method, path in [("POST", "/api/v1/enroll-tokens"), ("GET", "/api/v1/enroll-tokens"),
                         ("DELETE", "/api/v1/enroll-tokens/" + "0" * 16)]:
        for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {ENROLL}"}]:
            r = h.request(method, path, "{}" if method == "POST" else None, headers)
            assert r.status == 401, (method, headers, r)
    auth = {"Authorization": "Bearer query-secret"}
    made = new_token(h, {}, auth)
    r = h.request("GET", "/api/v1/enroll-tokens", None, auth)
    assert [t["id"] for t in r.json] == [made["id"]]
    # A node token or the query token is no enroll token.
    assert enroll_with(h, "query-secret", "n1").status == 401
    assert enroll_with(h, made["token"], "n1").status == 201


def test_without_a_configured_token(hub_factory):
    h = hub_factory()
    h.start(env={"RESOLVIX_HUB_ENROLL_TOKEN": None})
    assert enroll_with(h, "anything", "n1").status == 401
    assert enroll_with(h, "", "n1").status == 401
    made = new_token(h)
    assert enroll_with(h, made["token"], "n1").status == 201
    assert enroll_with(h, made["token"], "n2").status == 401


def test_concurrent_use_two_hubs_one_database(hub_factory):
    """Racing enrolments with one token, through two hubs on one database:
    exactly one gets a node token."""
    a, b = two_hubs_one_database(hub_factory)
    for attempt in range(3):
        made = new_token(a)
        answers = []
        start = threading.Barrier(8)

        def race(i):
            h = a if i % 2 else b
            conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
            body = json.dumps({"node_id": f"race{attempt}-{i}", "machine_id": f"m{i}"})
            start.wait()
            conn.request("POST", "/api/v1/enroll", body=body, headers={"Authorization": f"Bearer {made['token']}"})
            resp = conn.getresponse()
            answers.append((resp.status, json.loads(resp.read())))
            conn.close()

        threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(s for s, _ in answers) == [201] + [401] * 7, answers
        assert all(j["detail"] == "unauthorized" for s, j in answers if s == 401)
    assert len([n for n in a.get("/api/v1/nodes").json if n["node_id"].startswith("race")]) <= 3
    assert len([n for n in b.get("/api/v1/nodes").json if n["node_id"].startswith("race")]) <= 3


def run_cli(hub, *args, env=None):
    return subprocess.run([binary("hub/resolvix-hub"), *args], env=merged_env(hub.env, env),
                          capture_output=True, text=True, timeout=60)


def test_cli_while_the_hub_runs(hub):
    out = run_cli(hub, "--new-enroll-token", "--token-ttl", "600", "--token-note=from the shell")
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    assert len(token) == 64 and out.stdout == token + "\n"
    listed = tokens(hub)
    assert [t["note"] for t in listed] == ["from the shell"]
    assert listed[0]["id"] in out.stderr
    assert enroll_with(hub, token, "n1").status == 201
    assert enroll_with(hub, token, "n2").status == 401
    for bad in [["--new-enroll-token", "--token-ttl", "0"], ["--new-enroll-token", "--token-ttl", "x"],
                ["--new-enroll-token", "--token-ttl"], ["--token-note", "stray"]]:
        out = run_cli(hub, *bad)
        assert out.returncode == 2, (bad, out)
        assert out.stdout == ""
    out = run_cli(hub, "--new-enroll-token", "--token-note", "x" * 256)
    assert out.returncode == 1 and out.stdout == "", out
    assert tokens(hub) == []


def test_cli_needs_an_existing_sqlite_database(tmp_path):
    env = merged_env({"RESOLVIX_CONFIG": "", "RESOLVIX_HUB_DATABASE": "",
                      "RESOLVIX_CONTROL_STATE_DIR": str(tmp_path / "none")}, None)
    out = subprocess.run([binary("hub/resolvix-hub"), "--new-enroll-token"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 1 and out.stdout == ""
    assert "start the hub once first" in out.stderr
    assert not (tmp_path / "none").exists()


def test_at_most_1000_unspent(hub):
    conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=60)
    made = []
    for _ in range(1000):
        conn.request("POST", "/api/v1/enroll-tokens", body="{}")
        resp = conn.getresponse()
        body = json.loads(resp.read())
        assert resp.status == 201, body
        made.append(body)
    conn.close()
    r = hub.request("POST", "/api/v1/enroll-tokens", {})
    assert r.status == 429 and r.json["detail"] == "too_many_tokens", r
    assert len(tokens(hub)) == 1000
    # Spending one makes room for one.
    assert enroll_with(hub, made[0]["token"], "n1").status == 201
    assert new_token(hub)
    assert hub.request("POST", "/api/v1/enroll-tokens", {}).status == 429
