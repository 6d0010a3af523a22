"""docs/ kept honest against the code, without running anything: every
configuration key of the key table is documented with its default, range and
environment name; every error word controld can answer is in the control API
page, with its status where the code pairs them; the pages link to pages and
headings that exist; and nothing in the tree cites a document outside it."""
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

# Source trees that are not controld's: the CLI, tests and benchmarks, and
# the workers' own directories (their error words are not controld's).
NOT_CONTROLD = ("tests", "bench", "resolvixctl", "telemetryd", "livelogd", "packaging", "docs", "node_modules")


def c_sources(top):
    """Every .c and .h under top, skipping build trees."""
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if not is_skipped_dir(Path(dirpath) / d)]
        for name in filenames:
            if name.endswith((".c", ".h")):
                yield Path(dirpath) / name


def is_skipped_dir(path):
    """.git, node_modules, caches and meson build directories."""
    return (path.name in (".git", "node_modules", "__pycache__")
            or (path / "meson-private").is_dir() or (path / "meson-info").is_dir())


def read(path):
    return path.read_text(encoding="utf-8", errors="replace")


# ---- configuration -------------------------------------------------------

KEY_ENTRY = re.compile(
    r'\{\s*"(\w+)"\s*,\s*"(\w+)"\s*,\s*CONF_(\w+)\s*,\s*F\([^)]*\)\s*,\s*(\d+)\s*,\s*(\d+)\s*,'
    r'\s*(NULL|"[^"]*")\s*,\s*(NULL|"[^"]*")\s*\}')


def conf_keys():
    """(section, key, type, min, max, default or None, env alias or None) for
    each entry of the configuration key table, wherever shared/ keeps it."""
    tables = [p for p in c_sources(ROOT / "shared") if "conf_keys[] = {" in read(p)]
    assert len(tables) == 1, f"expected one configuration key table under shared/, found {tables}"
    keys = []
    for section, key, kind, lo, hi, default, alias in KEY_ENTRY.findall(read(tables[0])):
        keys.append((section, key, kind, int(lo), int(hi),
                     None if default == "NULL" else default[1:-1],
                     None if alias == "NULL" else alias[1:-1]))
    # A table whose entries changed shape would otherwise pass with nothing checked.
    assert len(keys) >= 25, f"only {len(keys)} keys parsed from {tables[0]}: update KEY_ENTRY"
    return keys


def documented_keys():
    """{(section, key): [cells]} from the key tables of docs/configuration.md."""
    text = read(DOCS / "configuration.md")
    rows = {}
    for block in re.split(r"^### ", text, flags=re.M)[1:]:
        m = re.match(r"\[(\w+)\]", block)
        if not m:
            continue
        for line in block.splitlines():
            row = re.match(r"\|\s*`(\w+)`\s*\|(.*)\|\s*$", line)
            if row:
                rows[(m.group(1), row.group(1))] = [c.strip() for c in row.group(2).split("|")]
    return rows


def test_every_configuration_key_is_documented_with_its_default():
    rows = documented_keys()
    keys = conf_keys()
    for section, key, kind, lo, hi, default, alias in keys:
        where = f"[{section}] {key}"
        assert (section, key) in rows, f"{where} is missing from docs/configuration.md"
        _kind, rng, doc_default, env, meaning = rows[(section, key)]
        if default is None:
            assert doc_default and doc_default != "(empty)", f"{where}: say how its default is found"
        elif default == "":
            assert doc_default == "(empty)", f"{where}: default is empty, docs say {doc_default}"
        else:
            assert f"`{default}`" in doc_default, f"{where}: default is {default}, docs say {doc_default}"
        if kind in ("PORT", "UINT"):
            assert rng == f"{lo}..{hi}", f"{where}: range is {lo}..{hi}, docs say {rng}"
        assert f"`RESOLVIX_{section.upper()}_{key.upper()}`" in env, f"{where}: environment name"
        if alias:
            assert f"`{alias}`" in env, f"{where}: environment alias {alias}"
        assert meaning, f"{where}: no meaning given"
    documented = set(rows)
    real = {(k[0], k[1]) for k in keys}
    assert documented <= real, f"docs/configuration.md documents keys that do not exist: {documented - real}"


# ---- control API error words ---------------------------------------------

WORD = r"([a-z][a-z0-9_]*)"
STATUS = r"(MHD_HTTP_\w+|[1-5]\d\d)"
HTTP_STATUS = {
    "MHD_HTTP_BAD_REQUEST": 400, "MHD_HTTP_UNAUTHORIZED": 401, "MHD_HTTP_FORBIDDEN": 403,
    "MHD_HTTP_NOT_FOUND": 404, "MHD_HTTP_METHOD_NOT_ALLOWED": 405, "MHD_HTTP_CONFLICT": 409,
    "MHD_HTTP_MISDIRECTED_REQUEST": 421,
    "MHD_HTTP_CONTENT_TOO_LARGE": 413, "MHD_HTTP_PAYLOAD_TOO_LARGE": 413,
    "MHD_HTTP_REQUEST_ENTITY_TOO_LARGE": 413, "MHD_HTTP_UNSUPPORTED_MEDIA_TYPE": 415,
    "MHD_HTTP_INTERNAL_SERVER_ERROR": 500, "MHD_HTTP_SERVICE_UNAVAILABLE": 503,
}
# Where a detail word stands in controld's sources.
DETAIL_IN_CONTROLD = [
    re.compile(r"set_error\(\s*[^,()]+,\s*[^,()]+,\s*\"" + WORD + r"\""),  # set_error(r, status, "word", ...)
    re.compile(r"fail\(\s*err\s*,\s*\"" + WORD + r"\""),                  # the request parser's fail(err, "word", ...)
    re.compile(r"detail\s*=\s*\"" + WORD + r"\""),                          # .detail = "word"
    re.compile(r"streq\(\s*detail\s*,\s*\"" + WORD + r"\"\)"),              # status_for_detail()
    re.compile(r"\\\"detail\\\"\s*:\s*\\\"" + WORD + r"\\\""),              # a JSON answer spelled in C
]
# Anywhere but the workers, the CLI, tests and benches: the shared words.
DETAIL_SHARED = [
    re.compile(r"#\s*define\s+ERROR_\w+\s+\"" + WORD + r"\""),
    re.compile(r"\{\s*\"" + WORD + r"\"\s*,\s*" + STATUS),                  # a { "word", status } table
]
# Pairs of word and status that the code states in one place.
PAIRED = [
    re.compile(r"set_error\(\s*[^,()]+,\s*(MHD_HTTP_\w+)\s*,\s*\"" + WORD + r"\""),
    re.compile(r"\{\s*\"" + WORD + r"\"\s*,\s*" + STATUS),
]


def controld_sources():
    for path in c_sources(ROOT / "controld"):
        if not path.name.startswith(("ctl-", "ctl.", "resolvixctl")) and "dashboard" not in path.parts:
            yield path


def shared_sources():
    for path in c_sources(ROOT):
        if path.relative_to(ROOT).parts[0] not in NOT_CONTROLD and not path.name.startswith(("ctl-", "ctl.")):
            yield path


def error_words():
    """{word: set of statuses the code pairs it with} for every detail word
    controld can answer."""
    words = {}
    for path in controld_sources():
        text = read(path)
        for pattern in DETAIL_IN_CONTROLD:
            for w in pattern.findall(text):
                words.setdefault(w, set())
    for path in shared_sources():
        text = read(path)
        for pattern in DETAIL_SHARED:
            for m in pattern.findall(text):
                words.setdefault(m[0] if isinstance(m, tuple) else m, set())
    for path in list(controld_sources()) + list(shared_sources()):
        text = read(path)
        for m in PAIRED[0].findall(text):
            words.setdefault(m[1], set()).add(HTTP_STATUS.get(m[0], m[0]))
        for w, status in PAIRED[1].findall(text):
            words.setdefault(w, set()).add(HTTP_STATUS.get(status, int(status) if status.isdigit() else status))
    # The sources changing shape must not turn this into a test of nothing.
    assert len(words) >= 15, f"only {sorted(words)} found: update the patterns of test_docs.py"
    return words


def test_every_error_word_controld_answers_is_documented():
    doc = read(DOCS / "control-api.md")
    lines = doc.splitlines()
    words = error_words()
    missing = sorted(w for w in words if f"`{w}`" not in doc)
    assert not missing, f"error words missing from docs/control-api.md: {missing}"
    for word, statuses in sorted(words.items()):
        for status in statuses:
            assert any(f"`{word}`" in line and str(status) in line for line in lines), \
                f"docs/control-api.md: `{word}` is answered with {status}, but no line says so"


# ---- links ---------------------------------------------------------------

def anchors(path):
    """The heading anchors of a Markdown page, as GitHub spells them."""
    out = set()
    for line in read(path).splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            title = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            out.add(title.replace(" ", "-"))
    return out


def test_docs_link_to_pages_and_headings_that_exist():
    pages = sorted(DOCS.glob("*.md"))
    assert len(pages) >= 8
    index = read(DOCS / "README.md")
    for page in pages:
        if page.name != "README.md":
            assert f"]({page.name})" in index, f"docs/README.md does not list {page.name}"
        for target, anchor in re.findall(r"\]\(([\w\-]*\.md)?(?:#([\w\-]+))?\)", read(page)):
            if not target and not anchor:
                continue
            dest = DOCS / target if target else page
            assert dest.is_file(), f"{page.name} links to {target}, which does not exist"
            if anchor:
                assert anchor in anchors(dest), f"{page.name} links to {target}#{anchor}: no such heading"


# ---- citations -----------------------------------------------------------

# Built from pieces so that this file does not match itself.
OUTSIDE = re.compile("|".join([
    "SPEC" + r" ?\u00a7",
    "SPEC" + r"\.md",
    re.escape("../" + "shared/"),
    "seed" + r"[ -]?00\d",
]), re.I)


def test_nothing_cites_a_document_outside_the_repository():
    offenders = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if not is_skipped_dir(Path(dirpath) / d)]
        for name in filenames:
            path = Path(dirpath) / name
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if b"\0" in data:
                continue
            for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                if OUTSIDE.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "cite docs/ instead:\n" + "\n".join(offenders)
