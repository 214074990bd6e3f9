"""The command as a user gets it from `pip install loopwright`: only the declared dependencies, no extras.

typer 0.29 vendors click instead of depending on it, so a plain install has no `click` module; the test
environment usually has one (a test extra brings it), which is how a stray `import click` went unnoticed.
"""

from __future__ import annotations

import shutil
import subprocess
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TOP_LEVEL_ONLY = {".git", ".venv", "build", "dist", "tests", "benchmarks", ".pytest_cache", ".hypothesis"}


def _not_source(folder: str, names: list[str]) -> set[str]:
    # Top-level folders only: the bundled demo has a tests/ folder of its own.
    skip = {name for name in names if name == "__pycache__" or name.endswith(".egg-info")}
    return skip | (TOP_LEVEL_ONLY & set(names) if Path(folder) == ROOT else set())


@pytest.fixture(scope="module")
def plain_install(tmp_path_factory) -> Path:
    """A fresh virtual environment with loopwright and its declared dependencies only; pip's cache is reused."""
    where = tmp_path_factory.mktemp("plain")
    # A copy, so the build leaves nothing in the working tree.
    source = where / "source"
    shutil.copytree(ROOT, source, ignore=_not_source)
    env_dir = where / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    installed = subprocess.run([python, "-m", "pip", "install", "--quiet", str(source)], capture_output=True, text=True, timeout=1200)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    return env_dir / "bin" / "loopwright"


@pytest.mark.parametrize(
    "args, complaint",
    [(["nonexistent"], "No such command 'nonexistent'"), (["run", "--bogus"], "No such option: --bogus")],
)
def test_usage_errors_show_the_usage_and_exit_2(plain_install, tmp_path, args, complaint):
    proc = subprocess.run([plain_install, *args], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Usage: loopwright" in proc.stderr and complaint in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr and "internal error" not in proc.stderr


def test_other_bad_input_is_one_line(plain_install, tmp_path):
    proc = subprocess.run([plain_install, "run", "x", "--repo", str(tmp_path / "gone")], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"loopwright: error: {tmp_path / 'gone'}: no such directory"]
