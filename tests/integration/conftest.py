"""Every fixture the integration tests share; a test asks for one by naming
it as a parameter, and imports nothing from here. What the fixtures build
on (and what tests call directly) is in support.py and the *_support.py
module of each area."""
from pathlib import Path

import pytest

import livelogs_support
from ctl_support import Node
from hub_support import BACKENDS, Hub, PostgreSQL
from ingest_support import Ingest
from support import Controld, NotifySocket, Processes, binary, free_port
from telemetry_support import NODE_ID as TELEMETRY_NODE_ID, Telemetryd


@pytest.fixture
def procs():
    ps = Processes()
    yield ps
    ps.stop_all()


@pytest.fixture
def notify_socket(tmp_path):
    ns = NotifySocket(tmp_path / "notify.sock")
    yield ns
    ns.close()


# ---- controld --------------------------------------------------------------

@pytest.fixture
def controld(procs, tmp_path):
    """A resolvix-controld harness (not started: call .start())."""
    c = Controld(procs, tmp_path)
    yield c
    c.cleanup()


# ---- a whole node, for resolvixctl and the dashboard -------------------------

@pytest.fixture
def nodes(procs, tmp_path):
    """nodes(**kw) starts a Node; each is stopped and its log checked at the end."""
    made = []

    def make(**kw):
        made.append(Node(procs, tmp_path, **kw))
        return made[-1]

    yield make
    for n in made:
        n.close()


# ---- telemetryd and its custom-metrics port --------------------------------

@pytest.fixture
def start_telemetryd(procs, notify_socket, tmp_path):
    """start_telemetryd(*args, env=...) -> a ready Telemetryd on a free port."""
    count = 0

    def start(*args, env=None, interval=1, port=None):
        nonlocal count
        count += 1
        # A file, not a pipe: nobody reads a pipe during the test, and a
        # full one would stop the worker at its next log line.
        log_path = tmp_path / f"telemetryd-{count}.log"
        port = port or free_port()
        full_env = {
            "NOTIFY_SOCKET": notify_socket.path,
            "RESOLVIX_NODE_ID": TELEMETRY_NODE_ID,
            "RESOLVIX_TELEMETRY_LISTEN": "127.0.0.1",
            # Off unless a test turns it on: the default port is shared
            # with whoever else runs tests, and so would its state be.
            "RESOLVIX_TELEMETRY_INGEST_PORT": "0",
        }
        full_env.update(env or {})
        with open(log_path, "wb") as log:
            p = procs.start(
                [binary("telemetryd/telemetryd"), "--port", str(port), "--interval", str(interval), *args],
                env=full_env,
                stdout=log,
                stderr=log,
            )
        pid, fields = notify_socket.wait_for("READY", timeout=10)
        assert pid == p.pid
        return Telemetryd(p, port, fields, log_path)

    return start


@pytest.fixture
def start_ingest(start_telemetryd, tmp_path):
    """start_ingest(max_line=..., state_dir=..., ...) -> a ready Ingest.
    Keyword arguments named after [telemetry] ingest_* keys set them."""

    def start(*args, state_dir=None, ingest_port=None, interval=1, env=None, **bounds):
        port = ingest_port or free_port()
        state = Path(state_dir or tmp_path / "state")
        full = {"RESOLVIX_TELEMETRY_INGEST_PORT": str(port), "RESOLVIX_CONTROL_STATE_DIR": str(state)}
        for key, value in bounds.items():
            full[f"RESOLVIX_TELEMETRY_INGEST_{key.upper()}"] = str(value)
        full.update(env or {})
        return Ingest(start_telemetryd(*args, interval=interval, env=full), port, state)

    return start


# ---- livelogd ----------------------------------------------------------------

@pytest.fixture(autouse=True)
def livelogd_exits_cleanly():
    """After every test: SIGTERM ends each worker livelogs_support.start()
    started with status 0, and no sanitizer (the CI runs an ASan+UBSan
    build) had anything to say. A test that started none has nothing to
    check; one that checks a worker's exit itself takes it out of
    livelogs_support.started."""
    started = livelogs_support.started
    started.clear()
    yield
    for w in started:
        if w.proc.poll() is None:
            w.proc.terminate()
        code = w.proc.wait(timeout=15)
        err = w.proc.stderr.read().decode(errors="replace")
        assert code == 0, f"livelogd exited with {code}: {err}"
        assert "Sanitizer" not in err and "runtime error" not in err, err


# ---- resolvix-hub -------------------------------------------------------------

@pytest.fixture(scope="module")
def pg_server():
    server = PostgreSQL()
    yield server
    server.cleanup()


@pytest.fixture(params=BACKENDS)
def hub_factory(request, procs, tmp_path):
    """Make Hub objects (not started) on the parametrized back end."""
    made = []

    def make(sub="a"):
        d = tmp_path / sub
        d.mkdir(exist_ok=True)
        if request.param == "postgresql":
            pg = request.getfixturevalue("pg_server")
            h = Hub(procs, d, pg.new_database())
        else:
            h = Hub(procs, d)
        h.backend = request.param
        made.append(h)
        return h

    yield make
    procs.stop_all()
    for h in made:
        h.check_logs()


@pytest.fixture
def hub(hub_factory):
    """A started hub on each back end in turn."""
    h = hub_factory()
    h.start()
    return h
