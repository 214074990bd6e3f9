"""Which Python a project's tests run on, chosen from what the project says and which interpreters exist.

The project speaks through `requires-python` (a hard limit), and softly through its trove classifiers,
its tox envlist, its CI matrices (.github/workflows, .travis.yml) and a `.python-version` pin. Among the
available interpreters (one per sandbox image) the choice is: the one asked for (`--python`,
`sandbox.python`), else the pinned one, else the newest that the project declares, else the one nearest
to what it declares, else the newest, always within `requires-python` when any is.

Public: `PythonHints`, `read_hints`, `Candidate`, `PythonChoice`, `choose`, `PythonChoiceError`, `parse_version`.
"""

from __future__ import annotations

import configparser
import itertools
import os
import re
import tomllib
from datetime import datetime, timedelta
from dataclasses import dataclass, field
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from loopwright.sandboxes import hostfs
from loopwright.sandboxes.project import MANIFEST_BYTES, Project

_VERSION = re.compile(r"^(\d)\.(\d{1,2})(?:\.(\d{1,3}))?$")
_CLASSIFIER = re.compile(r"^Programming Language :: Python :: (\d\.\d{1,2})$")
_TOX_FACTOR = re.compile(r"(?<![a-z])py(\d)(\d{1,2})(?!\d)")
_CI_KEY = re.compile(r"^(\s*)(?:-\s*)?(python-version|python_version|python-versions|python|PYTHON_VERSION|PYTHON)\s*:\s*(.*)$")
_CI_VERSION = re.compile(r"""(?<![\w.])["']?(\d\.\d{1,2})(?:\.\d+)?(?:\.x)?["']?(?![\w.])""")
WORKFLOW_BYTES = 256 << 10
RELEASES = {"bullseye": "3.9", "bookworm": "3.11", "trixie": "3.13"}
"""Debian release -> the Python it ships: one sandbox image each (see image)."""


class PythonChoiceError(Exception):
    """A Python version that cannot be had; the message is one line saying how to get it."""


def parse_version(text: str) -> tuple[int, int] | None:
    """(3, 9) from `3.9` or `3.9.7`; None when it is not such a version."""
    match = _VERSION.match(text.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def show(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


@dataclass(frozen=True)
class PythonHints:
    requires_python: str = ""
    requires_from: str = ""
    declared: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    """Source (classifiers, tox envlist, a CI file) -> the Python versions it names."""
    pin: tuple[int, int] | None = None
    """The version in `.python-version`."""
    notes: tuple[str, ...] = ()

    def specifier(self) -> SpecifierSet | None:
        try:
            return SpecifierSet(self.requires_python) if self.requires_python else None
        except InvalidSpecifier:
            return None

    def all_declared(self) -> set[tuple[int, int]]:
        return {version for versions in self.declared.values() for version in versions}


@dataclass(frozen=True)
class Candidate:
    """An available interpreter: the sandbox image that has it."""

    version: str
    """major.minor, or the full version when it is known."""
    image: str

    @property
    def key(self) -> tuple[int, int]:
        return parse_version(self.version) or (0, 0)


@dataclass(frozen=True)
class PythonChoice:
    candidate: Candidate
    reason: str
    """Why this one, in words."""


def read_hints(root: Path, project: Project) -> PythonHints:
    declared: dict[str, tuple[tuple[int, int], ...]] = {}
    notes: list[str] = []
    classifiers = sorted({v for c in project.classifiers if (m := _CLASSIFIER.match(c.strip())) and (v := parse_version(m.group(1)))})
    if classifiers:
        declared["classifiers"] = tuple(classifiers)
    tox = _tox_versions(root)
    if tox:
        declared["tox envlist"] = tox
    ci = _ci_versions(root)
    if ci:
        declared["CI matrix"] = ci
    pin = None
    text = hostfs.read_text(root, root / ".python-version", 4096)
    if text and text.strip():
        pin = parse_version(text.strip().splitlines()[0])
        if pin is None:
            notes.append(f".python-version names {text.strip().splitlines()[0][:40]!r}, not a CPython version; ignored")
    hints = PythonHints(project.requires_python, project.requires_python_from, declared, pin, tuple(notes))
    if project.requires_python and hints.specifier() is None:
        notes.append(f"{project.requires_python_from} {project.requires_python!r} is not a valid version specifier; ignored")
        hints = PythonHints("", "", declared, pin, tuple(notes))
    return hints


RELEASED = {(3, 7): "2018-06-27", (3, 8): "2019-10-14", (3, 9): "2020-10-05", (3, 10): "2021-10-04", (3, 11): "2022-10-24", (3, 12): "2023-10-02", (3, 13): "2024-10-07", (3, 14): "2025-10-07"}
"""Release dates of CPython versions: a version counts as current at a commit half a year after its release,
when the project's dependencies had wheels for it."""
SETTLED_DAYS = 183


def settled(version: tuple[int, int]) -> str:
    """The moment (ISO 8601, UTC) `version` counts as current, when its dependencies had wheels for it; "" when its
    release date is not known."""
    if version not in RELEASED:
        return ""
    when = datetime.fromisoformat(RELEASED[version]).date() + timedelta(days=SETTLED_DAYS)
    return f"{when.isoformat()}T00:00:00Z"


def current_at(candidates: list[Candidate], date: str) -> list[Candidate]:
    """The candidates that had been out for half a year at `date` (ISO 8601); the oldest one when none had; all
    of them when the date is unknown."""
    try:
        when = datetime.fromisoformat(date.replace("Z", "+00:00")).date()
    except ValueError:
        return candidates
    settled = [c for c in candidates if c.key in RELEASED and datetime.fromisoformat(RELEASED[c.key]).date() + timedelta(days=SETTLED_DAYS) <= when]
    unknown = [c for c in candidates if c.key not in RELEASED]
    if settled or unknown:
        return settled + unknown
    return [min(candidates, key=lambda c: c.key)] if candidates else candidates


def choose(candidates: list[Candidate], hints: PythonHints, requested: str | None = None, as_of: str = "") -> PythonChoice:
    """The interpreter the tests run on; PythonChoiceError when `requested` cannot be had.

    Without a pin, the newest Python the project allows that was current at the commit's date (`as_of`): an
    old commit's dependencies, resolved as of that date, have wheels for the Python of their time."""
    if not candidates:
        raise PythonChoiceError("no sandbox image found; run `loopwright sandbox build`")
    ordered = sorted(candidates, key=lambda c: c.key)
    if requested:
        return _requested(ordered, requested)
    specifier = hints.specifier()
    allowed = [c for c in ordered if specifier is None or _satisfies(c, specifier)]
    if as_of and allowed and not hints.pin:
        dated = current_at(allowed, as_of)
        if len(dated) < len(allowed):
            chosen = _choose_allowed(ordered, dated, hints, specifier)
            later = ", ".join(c.version for c in allowed if c not in dated)
            return PythonChoice(chosen.candidate, f"{chosen.reason}; {later} came out too late for the commit's date ({as_of[:10]})")
    return _choose_allowed(ordered, allowed, hints, specifier)


def _choose_allowed(ordered: list[Candidate], allowed: list[Candidate], hints: PythonHints, specifier: SpecifierSet | None) -> PythonChoice:
    limit = f"{hints.requires_from} {hints.requires_python}" if specifier is not None else ""
    if not allowed:
        too_old = _satisfies(Candidate("3.99", ""), specifier) and not _satisfies(Candidate("3.0", ""), specifier)
        chosen = ordered[-1] if too_old else ordered[0]
        have = ", ".join(c.version for c in ordered)
        return PythonChoice(chosen, f"{limit} matches no available Python (have {have}); {chosen.version} is the nearest. {_how_to_build(None)}")
    within = f" within {limit}" if limit else ""
    if hints.pin and (pinned := [c for c in allowed if c.key == hints.pin]):
        return PythonChoice(pinned[-1], f".python-version pins {show(hints.pin)}")
    declared = hints.all_declared()
    if not declared:
        return PythonChoice(allowed[-1], f"the newest available Python{within}" + ("" if limit else " (the project names no Python version)"))
    sources = "; ".join(f"{name} {_span(versions)}" for name, versions in hints.declared.items())
    named = [c for c in allowed if c.key in declared]
    if named:
        return PythonChoice(named[-1], f"the newest available Python the project names{within} ({sources})")
    nearest = min(allowed, key=lambda c: (min(_distance(c.key, v) for v in declared), -c.key[1]))
    return PythonChoice(nearest, f"no available Python is one the project names ({sources}); {nearest.version} is the nearest{within}")


def _requested(ordered: list[Candidate], requested: str) -> PythonChoice:
    wanted = parse_version(requested)
    if wanted is None:
        raise PythonChoiceError(f"{requested!r} is not a Python version; give one like 3.11")
    matching = [c for c in ordered if c.key == wanted]
    if not matching:
        have = ", ".join(c.version for c in ordered)
        raise PythonChoiceError(f"no sandbox image has Python {show(wanted)} (have {have}); {_how_to_build(show(wanted))}")
    return PythonChoice(matching[-1], f"Python {show(wanted)} was asked for")


def release_for(python: str) -> str | None:
    """The Debian release whose sandbox image has Python `python` (major.minor), if one does."""
    return next((release for release, version in RELEASES.items() if version == python), None)


def _how_to_build(version: str | None) -> str:
    if version is None:
        listed = ", ".join(f"--release {release} for {python}" for release, python in RELEASES.items())
        return f"more images: `loopwright sandbox build` ({listed})"
    release = release_for(version)
    if release:
        return f"build it with `loopwright sandbox build --release {release}`"
    return (
        f"build one from a registry with `docker build --build-arg PYTHON={version} -t loopwright-sandbox:py{version} - < Dockerfile.python`"
        " (the file ships in loopwright's sandboxes folder)"
    )


def _satisfies(candidate: Candidate, specifier: SpecifierSet | None) -> bool:
    if specifier is None:
        return True
    version = candidate.version if candidate.version.count(".") == 2 else f"{candidate.version}.0"
    return specifier.contains(Version(version), prereleases=True)


def _distance(a: tuple[int, int], b: tuple[int, int]) -> int:
    return abs((a[0] * 100 + a[1]) - (b[0] * 100 + b[1]))


def _span(versions: tuple[tuple[int, int], ...]) -> str:
    ordered = sorted(versions)
    return show(ordered[0]) if len(ordered) == 1 else f"{show(ordered[0])}-{show(ordered[-1])}"


def _tox_versions(root: Path) -> tuple[tuple[int, int], ...]:
    envlist = ""
    for name, section in (("tox.ini", "tox"), ("setup.cfg", "tox:tox")):
        text = hostfs.read_text(root, root / name, MANIFEST_BYTES)
        if text:
            parser = configparser.RawConfigParser(strict=False)
            try:
                parser.read_string(text)
            except configparser.Error:
                continue
            envlist = parser.get(section, "envlist", fallback="") or parser.get(section, "env_list", fallback="")
            if envlist:
                break
    if not envlist:
        text = hostfs.read_text(root, root / "pyproject.toml", MANIFEST_BYTES)
        try:
            tox = tomllib.loads(text or "").get("tool", {}).get("tox", {})
        except tomllib.TOMLDecodeError:
            tox = {}
        legacy = tox.get("legacy_tox_ini") if isinstance(tox, dict) else None
        if isinstance(legacy, str):
            parser = configparser.RawConfigParser(strict=False)
            try:
                parser.read_string(legacy)
                envlist = parser.get("tox", "envlist", fallback="")
            except configparser.Error:
                envlist = ""
        elif isinstance(tox, dict) and isinstance(tox.get("env_list"), list):
            envlist = ",".join(str(e) for e in tox["env_list"])
    found = {(int(m.group(1)), int(m.group(2))) for m in _TOX_FACTOR.finditer(_expand_braces(envlist))}
    return tuple(sorted(found))


def _expand_braces(envlist: str) -> str:
    """tox's `py{38,39}-django{3,4}, lint` into `py38-django3 py38-django4 py39-django3 py39-django4 lint`."""
    items, depth, current = [], 0, ""
    for char in envlist:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char in ",\n" and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    expanded: list[str] = []
    for item in (i.strip() for i in items if i.strip()):
        parts = re.split(r"(\{[^{}]*\})", item)
        choices = [p[1:-1].split(",") if p.startswith("{") else [p] for p in parts]
        expanded.extend("".join(c.strip() for c in combo) for combo in itertools.product(*choices))
    return " ".join(expanded)


def _ci_versions(root: Path) -> tuple[tuple[int, int], ...]:
    files = []
    workflows = root / ".github" / "workflows"
    if workflows.is_dir() and not workflows.is_symlink():
        files = sorted(f".github/workflows/{e.name}" for e in os.scandir(workflows) if e.name.endswith((".yml", ".yaml")) and e.is_file(follow_symlinks=False))
    files += [name for name in (".travis.yml", "azure-pipelines.yml", "appveyor.yml") if (root / name).is_file()]
    found: set[tuple[int, int]] = set()
    for name in files:
        found |= _yaml_python_versions(hostfs.read_text(root, root / name, WORKFLOW_BYTES) or "")
    return tuple(sorted(found))


def _yaml_python_versions(text: str) -> set[tuple[int, int]]:
    """Versions under `python-version:` (and the like) keys: inline lists, scalars or block lists after them."""
    found: set[tuple[int, int]] = set()
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = _CI_KEY.match(line)
        if not match:
            continue
        rest = match.group(3).split("#", 1)[0]
        values = [rest] if rest.strip() else []
        if not values:
            indent = len(match.group(1))
            for following in lines[index + 1 :]:
                stripped = following.strip()
                if not stripped or stripped.startswith("#"):
                    continue
                if len(following) - len(following.lstrip()) <= indent or not stripped.startswith("-"):
                    break
                values.append(stripped[1:])
        for value in values:
            if "pypy" in value.lower():
                value = re.sub(r"pypy[-\w.]*", "", value, flags=re.IGNORECASE)
            found.update((int(a), int(b)) for a, b in (v.split(".")[:2] for v in _CI_VERSION.findall(value)))
    return found
