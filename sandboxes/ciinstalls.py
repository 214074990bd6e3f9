"""Packages the project's own CI installs before it runs the tests, read from its GitHub workflows.

A person setting up a project reads how its CI does it. Some tests need what only the CI names: pydicom 2's
tests find their data files through the `pydicom-data` package its workflow installs (without it they try to
download each file, and in the sandbox's agent phase there is no network). Only steps that always run (no
`if:`) of jobs that run pytest count; each `pip install` argument that names a package becomes an optional
requirement, installed where it can be. The workflow files are data: parsed as YAML, their commands split
into words, never run.

A `git+https://github.com/OWNER/REPO` requirement is tried as it is; where the repository cannot be fetched it
is replaced by the release of the package index that names that same repository as its home (see
`GitSource`), as CI would get that repository's newest state.

Public: `CiInstall`, `GitSource`, `ci_installs`, `git_source`.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

from loopwright.sandboxes import hostfs
from loopwright.sandboxes.deps import requirement_name

WORKFLOW_BYTES = 256 << 10
INFRASTRUCTURE = frozenset({"pip", "setuptools", "wheel", "uv", "virtualenv", "tox", "nox"})
"""The installer and its tools: the environment has its own."""
TAKES_VALUE = frozenset(
    {"-e", "--editable", "-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url", "-f",
     "--find-links", "-t", "--target", "--prefix", "--root", "--upgrade-strategy", "--only-binary", "--no-binary",
     "--python", "--cache-dir", "--src", "--progress-bar", "--log"}
)  # fmt: skip
_PIP = re.compile(r"pip3?(?:\.\d+)?(?:\.exe)?")
_GIT = re.compile(r"git\+https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?(?:@[\w./-]+)?(?:#egg=([\w.-]+))?")


@dataclass(frozen=True)
class CiInstall:
    requirement: str
    where: str
    """The workflow file that installs it."""


@dataclass(frozen=True)
class GitSource:
    """A requirement on a GitHub repository, and the index package that can stand in for it."""

    url: str
    release: str
    """The index's package of that name (the `#egg=` name, else the repository's)."""
    home: str
    """`github.com/owner/repo`, lowercase: the release counts only when its metadata names this as its home."""


def git_source(requirement: str) -> GitSource | None:
    match = _GIT.fullmatch(requirement)
    if not match:
        return None
    owner, repo, egg = match.groups()
    return GitSource(requirement, egg or repo, f"github.com/{owner}/{repo}".lower())


def ci_installs(root: Path, asked: set[str], own: str) -> list[CiInstall]:
    """What the workflows under `root` install for their test jobs, less what the plan installs already (`asked`,
    normalized names), the project itself (`own`) and the installer's own tools; in the order first met."""
    folder = root / ".github" / "workflows"
    if not folder.is_dir() or folder.is_symlink() or folder.parent.is_symlink():
        return []
    found: dict[str, CiInstall] = {}
    names = sorted(e.name for e in os.scandir(folder) if e.name.endswith((".yml", ".yaml")) and e.is_file(follow_symlinks=False))
    for name in names:
        text = hostfs.read_text(root, folder / name, WORKFLOW_BYTES)
        for requirement in _test_job_installs(text or ""):
            key = requirement_name(requirement) or requirement
            if key in found or key in asked or key == own or key in INFRASTRUCTURE:
                continue
            found[key] = CiInstall(requirement, f".github/workflows/{name}")
    return list(found.values())


def _test_job_installs(text: str) -> list[str]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    jobs = document.get("jobs") if isinstance(document, dict) else None
    if not isinstance(jobs, dict):
        return []
    # YAML aliases let a short file name one script thousands of times over: each list of steps, each step and
    # each script is read once, so the work stays in proportion to the file.
    installs: dict[str, None] = {}
    lists: set[int] = set()
    read: set[str] = set()
    tests: dict[str, bool] = {}
    for job in jobs.values():
        listed = job.get("steps") if isinstance(job, dict) else None
        if not isinstance(listed, list) or id(listed) in lists:
            continue
        lists.add(id(listed))
        steps = [s for s in {id(s): s for s in listed}.values() if isinstance(s, dict) and isinstance(s.get("run"), str)]
        scripts = {s["run"] for s in steps}
        for run in scripts - tests.keys():
            tests[run] = re.search(r"\bpytest\b", run) is not None
        if not any(tests[run] for run in scripts):
            continue
        for run in dict.fromkeys(s["run"] for s in steps if "if" not in s):
            if run not in read:
                read.add(run)
                installs.update(dict.fromkeys(_pip_install_arguments(run)))
    return list(installs)


def _pip_install_arguments(script: str) -> list[str]:
    """The packages named by each `pip install` of a shell script: no options, files, local paths or variables."""
    named: list[str] = []
    for line in re.split(r"\n|&&|;|\|\|", script.replace("\\\n", " ")):
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        start = next((i + 2 for i in range(len(words) - 1) if _PIP.fullmatch(words[i].rsplit("/", 1)[-1]) and words[i + 1] == "install"), None)
        if start is None:
            continue
        value_of_option = False
        for word in words[start:]:
            if value_of_option:
                value_of_option = False
                continue
            if word in TAKES_VALUE:
                value_of_option = True
                continue
            if word.startswith(("-", ".", "/", "~")) or any(mark in word for mark in ("$", "{{", "*", "`")):
                continue
            if git_source(word) or requirement_name(word):
                named.append(word)
    return named
