"""Trees that would break a naive map: binary files, symlink loops, broken syntax, huge trees."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from loopwright.repomap import RepoIndex, render_map


def _write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _bad_tree(root: Path) -> Path:
    _write(root, "good/finder.py", b"def locate_needle(haystack):\n    return haystack.index('needle')\n")
    _write(root, "good/user.py", b"from good.finder import locate_needle\n\nprint(locate_needle('a needle'))\n")
    _write(root, "bad/binary.py", b"\x00\x01\x02def x():\x00" * 100)
    _write(root, "bad/image.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    _write(root, "bad/data.bin", bytes(range(256)) * 10)
    _write(root, "bad/broken.py", b"def (((:\n  class ]]] =\n\tdef ok_after_errors(x):\n return x\n")
    _write(root, "bad/latin1.py", "def caf\xe9():\n    return '\xe9'\n".encode("latin-1"))
    _write(root, "bad/broken.ts", b"export class {{{ interface <<<< function")
    _write(root, "bad/empty.go", b"")
    _write(root, "bad/minified.js", b"var a=1;" * 200_000)
    _write(root, "bad/deep.py", b"x = " + b"(" * 5000 + b"1" + b")" * 5000 + b"\n")
    os.symlink(".", root / "bad" / "self_loop")
    os.symlink("loop_b", root / "bad" / "loop_a")
    os.symlink("loop_a", root / "bad" / "loop_b")
    os.symlink("/nonexistent/target.py", root / "bad" / "dangling.py")
    os.symlink("../good/finder.py", root / "bad" / "alias.py")
    return root


@pytest.mark.parametrize("git", [False, True])
def test_bad_files_do_not_crash_and_good_ones_still_rank(tmp_path: Path, git: bool) -> None:
    root = _bad_tree(tmp_path / "tree")
    if git:
        subprocess.run(["git", "-C", str(root), "init", "-q"], check=True)
        subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    text = render_map(root, "locate_needle fails", 400)
    assert text.splitlines()[0] == "good/finder.py:"
    paths = RepoIndex.open(root).graph.paths
    assert "bad/image.png" not in paths and "bad/data.bin" not in paths and "bad/binary.py" not in paths
    assert not any(p.startswith(("bad/self_loop/", "bad/loop_")) for p in paths)
    assert "bad/alias.py" not in paths  # symlinks are never followed
    assert "bad/broken.py" in paths
    assert "ok_after_errors" in render_map(root, "ok_after_errors", 400)


def test_unreadable_cache_directory_still_gives_a_map(tmp_path: Path) -> None:
    root = _bad_tree(tmp_path / "tree")
    (root / ".loopwright").write_text("a file where the cache directory would go")
    assert "good/finder.py:" in render_map(root, "locate_needle", 200)


@pytest.mark.slow
def test_hundred_thousand_files(tmp_path: Path) -> None:
    root = tmp_path / "huge"
    for d in range(400):
        folder = root / f"d{d:03}"
        folder.mkdir(parents=True)
        for f in range(250):
            (folder / f"note_{f}.txt").write_bytes(b"x\n")
        (folder / f"mod_{d}.py").write_text(f"def function_{d}():\n    return function_{(d + 1) % 400}()\n")
    seen: list[tuple[int, int]] = []
    text = render_map(root, "function_123 is slow", 1000, progress=lambda done, total: seen.append((done, total)))
    assert text.splitlines()[0] == "d123/mod_123.py:"
    assert seen[0] == (100_000, 100_400) and seen[-1] == (100_400, 100_400)  # text files count as done at once
    index = RepoIndex.open(root)
    assert index.reparsed == [] and len(index.graph.paths) == 100_400
