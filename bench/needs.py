"""What a benchmark needs before it runs, set up here or asked for by name:
the programs it drives from the build tree (brought up to date first, so no
figure comes from a stale binary), Debian packages, the Node clients. Each
bench script starts with these calls, so that it works from a fresh clone
after the README's two commands."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_option(ap):
    """--build DIR: the meson build directory (default build/, the one
    packaging/run-from-source.sh makes, or RESOLVIX_BUILD_DIR)."""
    ap.add_argument("--build", default=os.environ.get("RESOLVIX_BUILD_DIR", str(ROOT / "build")),
                    help="meson build directory (default: %(default)s)")


def built(build, *targets):
    """The paths of targets ('telemetryd/telemetryd', 'bench/...') in the
    build directory, after ninja has brought them up to date."""
    build = Path(build).resolve()
    if not (build / "build.ninja").exists():
        sys.exit(f"no build in {build}: run packaging/run-from-source.sh (or meson setup {build})")
    r = subprocess.run(["ninja", "-C", str(build), *targets], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"ninja -C {build} {' '.join(targets)} failed:\n{r.stdout}{r.stderr}")
    return [build / t for t in targets]


def debian(*packages):
    """Stop, naming them, if any of the Debian packages is not installed."""
    missing = [p for p in packages if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True).stdout != "install ok installed"]
    if missing:
        sys.exit(f"missing Debian packages: {' '.join(missing)}; install them with packaging/deps.sh test")


def node_clients():
    """NODE_PATH for the Node clients (ws), installed by tests/node-clients.sh
    if they are not yet."""
    if not shutil.which("node"):
        sys.exit("node is missing: install it with packaging/deps.sh test")
    # Its output (npm's, when it installs) goes to stderr: stdout is the figures.
    subprocess.run([str(ROOT / "tests" / "node-clients.sh")], check=True, stdout=sys.stderr)
    return str(ROOT / "tests" / "node_modules")
