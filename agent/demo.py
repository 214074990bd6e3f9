"""The demo: a small repository with a failing test, copied out of the package for the agent to fix."""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources
from pathlib import Path

DEMO_TASK = "The test test_add fails. Find the bug in the code and fix it so that all tests pass."


def make_demo_repo(target: Path) -> Path:
    """Copy the bundled example into `target` (which must not exist) and make it a git repository."""
    if target.exists():
        raise FileExistsError(f"{target} already exists; choose another --path")
    with resources.as_file(resources.files("loopwright").joinpath("examples", "calc")) as source:
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    identity = ["-c", "user.name=loopwright demo", "-c", "user.email=demo@localhost"]
    for args in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-q", "-m", "calculator with a bug"]):
        subprocess.run(["git", *args], cwd=target, check=True, capture_output=True)
    return target
