"""The linter and the type checker, run over the whole repository as CI runs the tests.

ruff reads its rules from pyproject.toml. mypy needs the import layout (agent/ is `loopwright`, tools/ is
`loopwright.tools`, ...), which the folders only have once installed; it runs on a tree of links laid out
from pyproject's `package-dir`, and its findings are shown under the repository's own paths.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: it comes with the test extra (pip install -e '.[test]')")
    return found


def test_ruff_finds_nothing():
    done = subprocess.run([_tool("ruff"), "check", "--no-cache", "--output-format", "concise", "."], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def package_tree(target: Path) -> dict[str, str]:
    """Links laid out as the installed package; returns the prefixes to show findings under (tree -> repository)."""
    folders = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    shown: dict[str, str] = {}
    for package, folder in sorted(folders.items(), key=lambda item: item[0].count(".")):
        place = target.joinpath(*package.split("."))
        place.mkdir(parents=True, exist_ok=True)
        shown[place.relative_to(target).as_posix() + "/"] = folder.rstrip("/") + "/"
        for entry in sorted((ROOT / folder).iterdir()):
            nested = f"{package}.{entry.name}" in folders
            if entry.name == "__pycache__" or nested or (place / entry.name).exists():
                continue
            if entry.suffix == ".py" or entry.is_dir():
                (place / entry.name).symlink_to(entry)
    return shown


def test_mypy_finds_nothing(tmp_path):
    shown = package_tree(tmp_path)
    done = subprocess.run(
        [_tool("mypy"), "--config-file", str(ROOT / "pyproject.toml"), "--no-incremental", "-p", "loopwright"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )
    findings = done.stdout + done.stderr
    for inside, outside in sorted(shown.items(), key=lambda item: -len(item[0])):
        findings = findings.replace(inside, outside)
    assert done.returncode == 0, findings
