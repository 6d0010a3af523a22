"""resolvixctl's man page and bash completion: the page is clean roff and
documents every command, option and exit status the program has; the
completion offers the commands, each command's options and the workers."""
import re
import subprocess

import pytest

from ctl_support import ctl
from support import ROOT, binary

MAN = ROOT / "packaging" / "resolvixctl.1"
COMPLETION = ROOT / "packaging" / "resolvixctl.bash-completion"


def commands():
    out = ctl("--help").stdout
    return re.findall(r"^  ([a-z]+) ", out.split("Commands:\n")[1].split("\n\n")[0], re.M)


def options_of(command):
    return set(re.findall(r"(--[a-z-]+)", ctl(command, "--help").stdout))


def test_man_page_is_clean_roff():
    r = subprocess.run(["groff", "-ww", "-z", "-man", str(MAN)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_man_page_documents_everything():
    text = subprocess.run(["groff", "-man", "-Tutf8", "-P", "-cbou", str(MAN)], capture_output=True,
                          text=True).stdout
    for name in commands():
        assert re.search(rf"^ {{7}}([a-z]+, )*{name}\b", text, re.M), name
        for opt in options_of(name):
            assert opt in text, (name, opt)
    for code in range(5):
        assert re.search(rf"^ {{7}}{code}\s", text, re.M), code
    for var in ("RESOLVIX_HOST", "RESOLVIX_TOKEN", "RESOLVIX_STREAM_TOKEN"):
        assert var in text


def complete(*words):
    """What bash offers after `resolvixctl WORDS...` (the last word is being typed)."""
    script = f"""
source {COMPLETION}
COMP_WORDS=({binary("resolvixctl/resolvixctl")} {" ".join(repr(w) if w else "''" for w in words)})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
_resolvixctl
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return set(r.stdout.split())


def test_completion_offers_the_commands():
    assert complete("") == set(commands()) | {"help"}
    assert complete("st") == {"status", "start", "stop"}
    assert complete("-p", "8754", "wa") == {"watch"}
    assert complete("help", "lo") == {"logs"}


@pytest.mark.parametrize("command", ["status", "start", "stop", "restart", "watch", "logs", "cpu", "disks", "put", "get"])
def test_completion_offers_each_commands_options(command):
    offered = complete(command, "--")
    assert offered == options_of(command) | {"--help"}, command


def test_completion_offers_the_workers_once():
    assert complete("start", "") == {"telemetry", "livelogs", "push"}
    assert complete("--host", "h", "stop", "l") == {"livelogs"}
    assert complete("restart", "telemetry", "") == set()
