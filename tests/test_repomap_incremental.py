"""An incrementally updated repo map equals a fresh build of the same tree: the index and the rendered map.

The tree is a real git repository with code, tests, docs and config files; hypothesis draws sequences of
what happens to a work tree in a session (edits, new, deleted, copied and touched files, commits, checkouts
of earlier commits, a binary file where text was) and after each step the cached index is compared with one
built from nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopwright.repomap import RepoIndex, render_map
from loopwright.repomap.store import cache_path

BASE = {
    "pkg/__init__.py": "",
    "pkg/config.py": "class Settings:\n    def lookup(self, key):\n        return key\n\n\ndef parse_config(text):\n    return Settings()\n",
    "pkg/app.py": "from pkg.config import parse_config\n\n\ndef main(path):\n    return parse_config(path).lookup('mode')\n",
    "pkg/util.py": "def slugify(name):\n    return name.lower()\n\n\ndef main_helper():\n    return slugify('X')\n",
    "tests/test_config.py": "from pkg.config import parse_config\n\n\ndef test_parse_config():\n    assert parse_config('')\n",
    "docs/guide.rst": "Guide\n=====\n\nCall ``parse_config``.\n",
    "README.md": "# pkg\n",
    "setup.cfg": "[metadata]\nname = pkg\n",
    "tox.ini": "[tox]\nenvlist = py311\n",
}
EDITABLE = sorted(BASE)
BODIES = [
    "",
    "def parse_config(text, strict=False):\n    return text\n",
    "class Loader:\n    def load(self):\n        return slugify(self)\n\n\ndef slugify(x):\n    return x\n",
    "from pkg.util import slugify\n\n\nclass Settings:\n    def lookup(self, key):\n        return slugify(key)\n",
    "Plain words, no code at all.\n",
    "def main(path):\n    return main_helper(path)\n\n\ndef test_main():\n    main('x')\n",
]
NEW_NAMES = ["pkg/extra.py", "pkg/sub/deep.py", "docs/notes.md", "tests/test_extra.py", "conf/app.ini", "web/app.ts"]
QUERIES = ["", "parse_config ignores strict mode in pkg/config.py", "docs/guide.rst slugify Loader.load"]
BUDGETS = (200, 1500)

edits = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(EDITABLE + NEW_NAMES), st.integers(0, len(BODIES) - 1)),
    st.tuples(st.just("delete"), st.sampled_from(EDITABLE + NEW_NAMES), st.just(0)),
    st.tuples(st.just("copy"), st.sampled_from(EDITABLE), st.integers(0, len(NEW_NAMES) - 1)),
    st.tuples(st.just("touch"), st.sampled_from(EDITABLE), st.just(0)),
    st.tuples(st.just("binary"), st.sampled_from(EDITABLE + NEW_NAMES), st.just(0)),
    st.tuples(st.just("commit"), st.just(""), st.just(0)),
    st.tuples(st.just("checkout"), st.just(""), st.integers(0, 3)),
)


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), "-c", "user.email=t@example.com", "-c", "user.name=t", *args], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def make_tree(root: Path) -> list[str]:
    """The base tree committed, and a second commit on top; returns the commits, oldest first."""
    for rel, text in BASE.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    first = git(root, "rev-parse", "HEAD")
    (root / "pkg/config.py").write_text(BASE["pkg/config.py"] + "\n\ndef reload_config(path):\n    return parse_config(path)\n")
    (root / "docs/changes.rst").write_text("Changes\n=======\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "second")
    return [first, git(root, "rev-parse", "HEAD")]


def apply(root: Path, commits: list[str], edit: tuple[str, str, int]) -> None:
    action, rel, n = edit
    path = root / rel
    if action == "write":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(BODIES[n])
    elif action == "delete":
        path.unlink(missing_ok=True)
    elif action == "copy" and path.is_file():
        target = root / NEW_NAMES[n]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    elif action == "touch" and path.is_file():
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    elif action == "binary":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x00\x01binary\x00" * 10)
    elif action == "commit":
        git(root, "add", "-A")
        git(root, "commit", "-q", "--allow-empty", "-m", "step")
        commits.append(git(root, "rev-parse", "HEAD"))
    elif action == "checkout":
        git(root, "checkout", "-q", "--force", commits[n % len(commits)])
        git(root, "clean", "-q", "-f", "-d")


def named(index: RepoIndex) -> dict:
    """The index in terms of paths and names, independent of how identifiers happen to be numbered."""
    g = index.graph
    names = index.idents
    return {
        "files": list(zip(g.paths, g.keys, g.has_tags.tolist(), strict=True)),
        "refs": [(g.paths[f], names[i], float(c)) for f, i, c in zip(g.ref_file, g.ref_ident, g.ref_count, strict=True)],
        "defs": [
            (g.paths[f], names[i], int(line), int(end), names[g.def_ident[p]] if p >= 0 else None)
            for f, i, line, end, p in zip(g.def_file, g.def_ident, g.def_line, g.def_signature_end, g.def_parent, strict=True)
        ],
        "stems": g.stems,
        "shape": {names[i]: index.ident_shape[i] for i in {*g.ref_ident.tolist(), *g.def_ident.tolist()}},
    }


def maps(root: Path) -> list[str]:
    return [render_map(root, query, budget) for query in QUERIES for budget in BUDGETS]


def fresh(root: Path) -> tuple[RepoIndex, list[str]]:
    """A build from nothing, with the incremental cache put back afterwards."""
    cache = cache_path(root)
    kept = cache.read_bytes()
    cache.unlink()
    try:
        return RepoIndex.open(root), maps(root)
    finally:
        cache.write_bytes(kept)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(edits, min_size=1, max_size=7))
def test_incremental_index_and_map_equal_a_fresh_build(steps: list[tuple[str, str, int]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "tree"
        commits = make_tree(root)
        RepoIndex.open(root)
        for step in steps:
            apply(root, commits, step)
            incremental = RepoIndex.open(root)
            incremental_maps = maps(root)
            rebuilt, rebuilt_maps = fresh(root)
            assert named(incremental) == named(rebuilt), step
            assert incremental_maps == rebuilt_maps, step


def test_docs_and_config_files_stay_in_the_map_after_an_edit(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    make_tree(root)
    before = render_map(root, "", 2000)
    assert "docs/guide.rst\n" in before and "setup.cfg\n" in before and "tox.ini\n" in before
    (root / "pkg/util.py").write_text(BASE["pkg/util.py"] + "\n\ndef later():\n    return 1\n")
    after = render_map(root, "", 2000)
    assert "docs/guide.rst\n" in after and "setup.cfg\n" in after and "tox.ini\n" in after
    assert not RepoIndex.open(root).graph.has_tags[RepoIndex.open(root).graph.paths.index("docs/guide.rst")]


def test_map_is_the_same_in_every_process(tmp_path: Path) -> None:
    """No hash-seed dependence: two interpreters with different seeds, each building from nothing, agree."""
    root = tmp_path / "tree"
    make_tree(root)
    program = (
        "import sys; from pathlib import Path; from loopwright.repomap import render_map\n"
        "sys.stdout.write(render_map(Path(sys.argv[1]), 'parse_config slugify docs/guide.rst', 1500))\n"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "LOOPWRIGHT_STATE_DIR": str(tmp_path / f"state-{seed}")}
        outputs.append(subprocess.run([sys.executable, "-c", program, str(root)], env=env, check=True, capture_output=True, text=True).stdout)
    assert outputs[0] == outputs[1] and "pkg/config.py:" in outputs[0]
