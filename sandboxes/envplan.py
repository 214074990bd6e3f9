"""The plan of a project's test environment: what to install, in which order of fallbacks, and why.

Made on the host from the project's files alone (see project.py, deps.py); the setup phase (envsetup.py)
carries it out. The plan installs what the tests need and nothing more: the project itself, editable,
with its test extras; its test requirement files (never docs, lint, typing or minimum-version pins);
tox's test dependencies; its test dependency group; and pytest. When that fails it falls back step by
step (FALLBACKS), so the tests run with as much as could be installed.

Public: `InstallStep`, `EnvPlan`, `make_plan`, `RECIPE_VERSION`, FULL, TESTS, PROJECT, NOTHING.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, UTC
from dataclasses import dataclass, field
from pathlib import Path

from loopwright.sandboxes import hostfs
from loopwright.sandboxes.deps import RequirementFile, Staged, ToxEnv, choose_files, find_requirement_files, read_tox, requirement_name, stage
from loopwright.sandboxes.project import MANIFEST_BYTES, Project, normalize, read_project, source_roots, top_level_packages
from loopwright.sandboxes.ciinstalls import ci_installs, git_source
from loopwright.sandboxes.testimports import optional_imports

RECIPE_VERSION = "6"
"""Bump when the setup recipe changes, so environments built by an older one are not reused."""
FULL, TESTS, PROJECT, NOTHING = "project+tests", "tests", "project", "nothing"
FALLBACKS = (FULL, TESTS, PROJECT, NOTHING)
DEFINING_FILES = ("pyproject.toml", "setup.py", "setup.cfg", "tox.ini", "Pipfile")
_TEST_EXTRA = re.compile(r"^(tests?|testing|unit|pytest|test[-_][\w-]+|[\w-]+[-_]tests?)$", re.IGNORECASE)
_DEV_EXTRA = re.compile(r"^(dev|devel|develop|development)$", re.IGNORECASE)
_SELF_REFERENCE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*\[([^\]]*)\]\s*$")


@dataclass(frozen=True)
class InstallStep:
    """One installer call of the fallback ladder."""

    level: str
    """project+tests, tests, project or nothing (FALLBACKS)."""
    editable: str | None = None
    """The project as the installer names it (`.[test]`), installed editable; None leaves it uninstalled."""
    requirement_files: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    path_entries: tuple[str, ...] = ()
    """Folders of the repository put on sys.path by a .pth file when the project itself is not installed."""

    def describe(self) -> str:
        parts = []
        if self.editable:
            parts.append(f"the project editable ({self.editable})")
        parts += [f"-r {name}" for name in self.requirement_files]
        parts += list(self.requirements)
        if self.path_entries:
            parts.append("the repository on sys.path (" + ", ".join(self.path_entries) + ")")
        return ", ".join(parts) or "nothing"


@dataclass(frozen=True)
class EnvPlan:
    project: Project
    steps: tuple[InstallStep, ...]
    staged: Staged
    """Chosen requirement files as the installer reads them."""
    extras: tuple[str, ...]
    decisions: tuple[str, ...]
    """Why each choice, one line each."""
    skipped_files: tuple[RequirementFile, ...] = ()
    setup_commands: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    """Import names of the project's own code (to check that tests import it from the workspace)."""
    defining: dict[str, bytes] = field(default_factory=dict)
    """Every file that shapes the environment, with its content: part of the cache key."""
    as_of: str = ""
    """Resolve dependencies as they were at this moment first (see `resolution_date`); "" for the newest."""
    as_of_python: str = ""
    """Tried next when the commit is older than the chosen Python's first months: the moment its dependencies
    had wheels for that Python (a 2020 commit on Python 3.9 cannot build the numpy of its time)."""
    optional: tuple[str, ...] = ()
    """Optional packages the tests use (see testimports), installed on top where they can be; none is a must."""

    def cache_key(self, base_image_id: str, python: str) -> str:
        """12 hex digits that change with anything that changes what the setup phase would make."""
        digest = hashlib.sha256(f"{RECIPE_VERSION}\0{base_image_id}\0{python}\0".encode())
        for name in sorted(self.defining):
            digest.update(name.encode() + b"\0" + self.defining[name] + b"\0")
        for name, content in sorted(self.staged.files().items()):
            digest.update(name.encode() + b"\0" + content + b"\0")
        for step in self.steps:
            digest.update(repr(step).encode())
        digest.update("\0".join(self.setup_commands).encode())
        digest.update(f"\0as of {self.as_of}".encode())
        if self.as_of_python:
            digest.update(f"\0then as of {self.as_of_python}".encode())
        if self.optional:
            digest.update(("\0optional " + "\0".join(self.optional)).encode())
        return digest.hexdigest()[:12]


def is_python_project(root: Path) -> bool:
    """Whether the repository declares anything the setup phase would install."""
    if any((root / name).is_file() for name in DEFINING_FILES):
        return True
    return bool(find_requirement_files(root))


def resolution_date(commit_date: str) -> str:
    """The moment dependencies are resolved as of for a commit made at `commit_date`: the start of the next
    month (UTC), so that commits of one month share an environment; "" when the date is unknown.

    The project's tests were written against the versions of their time: a newer release that dropped an
    argument or a feature (click's `mix_stderr`, pytest's nose support) fails them though nothing is wrong."""
    try:
        when = datetime.fromisoformat(commit_date.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return ""
    year, month = (when.year + 1, 1) if when.month == 12 else (when.year, when.month + 1)
    return f"{year:04d}-{month:02d}-01T00:00:00Z"


def make_plan(root: Path, python: str = "", setup_commands: tuple[str, ...] = (), as_of: str = "", as_of_python: str = "") -> EnvPlan:
    """The environment for `root`'s tests on Python `python` (major.minor), resolved as of `as_of` first, then as of
    `as_of_python` (when that is later: see `EnvPlan.as_of_python`)."""
    project = read_project(root)
    decisions: list[str] = list(project.notes)
    files = find_requirement_files(root)
    chosen, skipped = choose_files(files)
    tox = read_tox(root, python)
    tox_files = [f for f in tox.requirement_files if f not in {c.path for c in chosen} and (root / f).is_file()]
    staged = stage(root, [f.path for f in chosen] + tox_files + [f for f in project.requirement_files if (root / f).is_file()])
    for item in chosen:
        decisions.append(f"installs {item.path}: {item.kind} requirements ({item.why})")
    for item in skipped:
        decisions.append(f"leaves out {item.path}: {item.kind} requirements ({item.why})")
    for name in tox_files:
        decisions.append(f"installs {name}: tox's test environment uses it")
    extras, extra_reasons = _choose_extras(project, tox, staged)
    decisions += extra_reasons
    group, group_reason = _choose_group(project)
    if group_reason:
        decisions.append(group_reason)
    own = normalize(project.name) if project.name else ""
    test_requirements = _without_self(list(tox.deps) + list(project.groups.get(group, ())) + list(project.tests_require), own)
    test_requirements = [_local_editable(root, requirement) for requirement in test_requirements]
    if tox.deps:
        decisions.append(f"installs tox's test dependencies from {tox.source}: {', '.join(tox.deps)}")
    if project.tests_require:
        decisions.append(f"installs tests_require: {', '.join(project.tests_require)}")
    declares_pytest = "pytest" in staged.names() | {requirement_name(r) for r in test_requirements} | {
        requirement_name(r) for e in extras for r in project.extras.get(e, ())
    }
    if not declares_pytest:
        decisions.append("adds pytest: the project does not declare it")
    pytest = ("pytest",)
    roots = source_roots(root)
    if roots == ("src",):
        decisions.append("src layout: the code under src/ is what the tests import")
    steps = _steps(project, staged, extras, test_requirements, pytest, roots)
    packages = top_level_packages(root)
    asked = staged.names() | {requirement_name(r) or "" for r in (*project.dependencies, *test_requirements, *pytest)}
    asked |= {requirement_name(r) or "" for e in extras for r in project.extras.get(e, ())}
    optional = optional_imports(root, project, packages, asked)
    for needed in optional:
        decisions.append(f"adds {needed.requirement} if it installs: the tests import {needed.name} where it may be missing ({needed.where}); {needed.source}")
    from_ci = ci_installs(root, asked | {requirement_name(n.requirement) or "" for n in optional}, own)
    for ci in from_ci:
        source = git_source(ci.requirement)
        stand_in = f"; where that repository cannot be fetched, the index's {source.release} if it names {source.home} as its home" if source else ""
        decisions.append(f"adds {ci.requirement} if it installs: the project's CI installs it before running the tests ({ci.where}){stand_in}")
    return EnvPlan(
        project=project,
        steps=steps,
        staged=staged,
        extras=tuple(extras),
        decisions=tuple(decisions),
        skipped_files=tuple(skipped),
        setup_commands=tuple(setup_commands),
        packages=packages,
        defining=_defining(root, [f.path for f in files] + list(staged.lines)),
        as_of=as_of,
        as_of_python=as_of_python if as_of and as_of_python > as_of else "",
        optional=tuple(needed.requirement for needed in optional) + tuple(ci.requirement for ci in from_ci),
    )


def _steps(project: Project, staged: Staged, extras: list[str], tests: list[str], pytest: tuple[str, ...], roots: tuple[str, ...]) -> tuple[InstallStep, ...]:
    files = tuple(staged.entry_points)
    editable = f".[{','.join(extras)}]" if extras else "."
    extra_requirements = [r for e in extras for r in project.extras.get(e, ())]
    static = _unique(tests + list(project.dependencies) + extra_requirements + list(pytest))
    steps: list[InstallStep] = []
    if project.installable:
        steps.append(InstallStep(FULL, editable, files, tuple(_unique(tests + list(pytest)))))
    steps.append(InstallStep(TESTS, None, files, tuple(static), roots))
    if project.installable:
        steps.append(InstallStep(PROJECT, ".", (), pytest))
    steps.append(InstallStep(NOTHING, None, (), pytest, roots))
    unique: list[InstallStep] = []
    for step in steps:
        if all((s.editable, s.requirement_files, s.requirements) != (step.editable, step.requirement_files, step.requirements) for s in unique):
            unique.append(step)
    return tuple(unique)


def _choose_extras(project: Project, tox: ToxEnv, staged: Staged) -> tuple[list[str], list[str]]:
    declared = list(project.extras)
    asked = list(dict.fromkeys([*tox.extras, *staged.self_extras]))
    if declared:
        unknown = [e for e in asked if e not in declared]
        asked = [e for e in asked if e in declared]
    else:
        unknown = []
    reasons = []
    if tox.extras:
        reasons.append(f"tox's test environment asks for extras {', '.join(tox.extras)}")
    if staged.self_extras:
        reasons.append(f"requirement files install the project with extras {', '.join(staged.self_extras)}")
    if unknown:
        reasons.append(f"the project declares no extra {', '.join(unknown)}; left out")
    test_named = [e for e in declared if _TEST_EXTRA.match(e)]
    chosen = list(dict.fromkeys(asked + test_named))
    if test_named:
        reasons.append(f"test extras: {', '.join(test_named)}")
    if not chosen:
        dev = [e for e in declared if _DEV_EXTRA.match(e)]
        if dev:
            chosen = dev[:1]
            reasons.append(f"no test extra; uses the {dev[0]} extra")
    skipped = [e for e in declared if e not in chosen]
    if skipped:
        reasons.append(f"leaves out extras {', '.join(skipped)}")
    return chosen, reasons


def _choose_group(project: Project) -> tuple[str, str]:
    groups = list(project.groups)
    test = [g for g in groups if _TEST_EXTRA.match(g)]
    if test:
        return test[0], f"installs dependency group {test[0]}"
    dev = [g for g in groups if _DEV_EXTRA.match(g)]
    if dev:
        return dev[0], f"no test dependency group; installs the {dev[0]} group"
    return "", ""


def _local_editable(root: Path, requirement: str) -> str:
    """A folder of the repository named as a requirement (tox's `plugins/example`) is installed editable, as the
    project is: a copy in site-packages would keep testing the code as it was before any edit."""
    path = requirement.strip()
    if "://" in path or path.startswith(("-", "/", "~")) or any(c in path for c in " ;<>=!@[") or ".." in Path(path).parts:
        return requirement
    folder = root / path
    if folder.is_dir() and not folder.is_symlink() and any((folder / name).is_file() for name in ("pyproject.toml", "setup.py", "setup.cfg")):
        return "-e ./" + Path(path).as_posix().removeprefix("./")
    return requirement


def _without_self(requirements: list[str], own: str) -> list[str]:
    """Requirements that name the project itself are dropped: it is installed on its own."""
    kept = []
    for requirement in requirements:
        match = _SELF_REFERENCE.match(requirement)
        name = requirement_name(requirement)
        if own and (name == own or (match and normalize(match.group(1)) == own)):
            continue
        kept.append(requirement)
    return _unique(kept)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _defining(root: Path, requirement_files: list[str]) -> dict[str, bytes]:
    found = {}
    for name in [*DEFINING_FILES, ".python-version", *requirement_files]:
        try:
            found[name] = hostfs.read_bytes(root, root / name, MANIFEST_BYTES)
        except OSError:
            continue
    return found
