"""Requirement files and tox test environments: which a project has, what each is for, and what to install of them.

A project's `requirements*.txt` serve different ends (running, testing, docs, linting, minimum-version
pins); handed to one installer call they conflict. Each file is classified by its name, then by its
content, and only the test ones (with the runtime ones they build on) are installed. The text of a
chosen file is kept as the installer reads it, with the project's own line (`-e .[test]`) taken out:
the project is installed once, on its own, with the extras such lines asked for.

Public: `RequirementFile`, `find_requirement_files`, `choose_files`, `Staged`, `stage`, `ToxEnv`,
`read_tox`, `requirement_name`.
"""

from __future__ import annotations

import configparser
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from loopwright.sandboxes import hostfs
from loopwright.sandboxes.project import MANIFEST_BYTES, normalize

REQUIREMENTS_BYTES = 1 << 20
"""Larger requirement files are read as empty: the host reads nothing of unbounded size from the workspace."""
FOLDERS = ("requirements", "reqs", "requirements.d")
"""Folders whose every .txt is a requirement file."""
NEAR_FOLDERS = ("tests", "test", "ci", ".ci", "docs", "doc", "dev", "tools")
"""Folders whose requirement-named files count too."""
_REQUIREMENT_NAME = re.compile(r"(^|[-_.])req(uirement)?s?([-_.]|$)", re.IGNORECASE)
_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)(\s+|=)?(\S+)")
_EDITABLE = re.compile(r"^(-e|--editable)(\s+|=)")
_SELF = re.compile(r"^(?:file:)?\.(?:/)?(?:\[([^\]]*)\])?(?:\s*;.*)?$")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

KINDS = {
    "docs": {"doc", "docs", "sphinx", "rtd", "readthedocs", "documentation", "mkdocs"},
    "lint": {"lint", "linting", "linters", "flake8", "style", "typing", "mypy", "types", "typecheck", "pre", "precommit", "format", "pylint", "ruff", "black", "isort", "static", "quality"},
    "pins": {"min", "mins", "minimum", "minimal", "oldest", "lowest", "lower", "constraints", "constraint", "pins", "mindeps", "upstream", "nightly"},
    "platform": {"win", "windows", "osx", "macos", "darwin", "py2", "py27", "pypy", "gpu", "cuda", "conda", "rtd", "binder", "heroku", "benchmark", "benchmarks", "bench", "profiling", "release", "publish", "build", "security", "audit", "wheels"},
    "test": {"test", "tests", "testing", "ci", "pytest", "unit", "tox"},
    "dev": {"dev", "develop", "development", "contrib", "local", "all", "optional", "extras", "extra", "full"},
    "base": {"requirements", "base", "install", "runtime", "prod", "production", "main", "core", "common", "default", "deps", "requires", "reqs", "req"},
}
"""Words in a requirement file's path, by what they say it is for; the first kind whose words match wins."""


@dataclass(frozen=True)
class RequirementFile:
    path: str
    """Relative to the repository, with forward slashes."""
    kind: str
    """test, dev, base, docs, lint, pins, platform or other."""
    why: str


def find_requirement_files(root: Path) -> list[RequirementFile]:
    """Every requirement file of the repository, classified; `x.in` left out where `x.txt` (its compiled pins) exists."""
    paths: list[str] = []
    for folder in ("", *FOLDERS, *NEAR_FOLDERS):
        directory = root / folder if folder else root
        if not directory.is_dir() or directory.is_symlink():
            continue
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if not entry.is_file(follow_symlinks=False) or not entry.name.endswith((".txt", ".in")):
                continue
            if folder in FOLDERS or _REQUIREMENT_NAME.search(entry.name.rsplit(".", 1)[0]):
                paths.append(f"{folder}/{entry.name}" if folder else entry.name)
    paths = [p for p in paths if not (p.endswith(".in") and p[:-3] + ".txt" in paths)]
    return [_classify(root, path) for path in paths]


def choose_files(files: list[RequirementFile]) -> tuple[list[RequirementFile], list[RequirementFile]]:
    """(chosen, left out): the test files and the runtime files, or the dev files when there is no test file."""
    tests = [f for f in files if f.kind == "test"]
    wanted = {"test", "base"} if tests else {"dev", "base"}
    chosen = [f for f in files if f.kind in wanted]
    return chosen, [f for f in files if f not in chosen]


@dataclass
class Staged:
    """Chosen requirement files as the installer will read them."""

    lines: dict[str, list[str]] = field(default_factory=dict)
    """Path -> the file's logical lines (comments and continuations gone, the project's own line out)."""
    entry_points: list[str] = field(default_factory=list)
    """Files handed to the installer with -r; the others are only included by them."""
    self_extras: list[str] = field(default_factory=list)
    """Extras that `-e .[extra]` lines in them asked for."""
    installs_self: bool = False
    """Whether a file asked for the project itself."""

    def files(self) -> dict[str, bytes]:
        return {path: ("\n".join(lines) + "\n").encode() for path, lines in self.lines.items()}

    def names(self) -> set[str]:
        return {name for lines in self.lines.values() for line in lines if (name := requirement_name(line))}

    def without(self, name: str) -> Staged:
        """The same files with every line that asks for package `name` removed."""
        kept = {path: [line for line in lines if requirement_name(line) != name] for path, lines in self.lines.items()}
        return Staged(kept, list(self.entry_points), list(self.self_extras), self.installs_self)


def stage(root: Path, paths: list[str]) -> Staged:
    staged = Staged()
    for path in paths:
        if path not in staged.lines:
            staged.entry_points.append(path)
        _collect(root, path, staged)
    return staged


def requirement_name(line: str) -> str | None:
    """The normalized package name a requirement line asks for; None for options, paths and URLs without a name."""
    line = _EDITABLE.sub("", line).strip()
    if line.startswith("-") or not line:
        return None
    egg = re.search(r"#egg=([A-Za-z0-9._-]+)", line)
    if egg:
        return normalize(egg.group(1))
    if "://" in line or line.startswith((".", "/", "~")):
        at = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*@", line)
        return normalize(at.group(1)) if at else None
    match = _NAME.match(line)
    return normalize(match.group(1)) if match else None


@dataclass(frozen=True)
class ToxEnv:
    """tox's base test environment: what it installs besides the project."""

    deps: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    requirement_files: tuple[str, ...] = ()
    source: str = ""


def read_tox(root: Path, python: str = "") -> ToxEnv:
    """`[testenv]` deps and extras from tox.ini, setup.cfg or pyproject.toml; factor-conditional lines kept when they
    name `python` (pyXY) or no Python at all."""
    for name, section in (("tox.ini", "testenv"), ("setup.cfg", "testenv")):
        text = hostfs.read_text(root, root / name, MANIFEST_BYTES)
        parser = _parse_ini(text)
        if parser is not None and parser.has_section(section):
            return _tox_env(parser, section, python, name)
    text = hostfs.read_text(root, root / "pyproject.toml", MANIFEST_BYTES)
    try:
        legacy = tomllib.loads(text or "").get("tool", {}).get("tox", {}).get("legacy_tox_ini")
    except (tomllib.TOMLDecodeError, AttributeError):
        legacy = None
    parser = _parse_ini(legacy if isinstance(legacy, str) else None)
    if parser is not None and parser.has_section("testenv"):
        return _tox_env(parser, "testenv", python, "pyproject.toml [tool.tox]")
    return ToxEnv()


def _tox_env(parser: configparser.RawConfigParser, section: str, python: str, source: str) -> ToxEnv:
    factor = "py" + python.replace(".", "") if python else ""
    deps, files = [], []
    for line in _substitute(parser, parser.get(section, "deps", fallback="")).splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        condition, colon, rest = line.partition(":")
        if colon and re.fullmatch(r"[!\w,.-]+", condition.strip()) and not rest.startswith("//"):
            if not _factor_matches(condition.strip(), factor):
                continue
            line = rest.strip()
        if "{" in line:
            continue
        upgrade = re.match(r"^(?:-U|--upgrade)(?:\s+|(?=-)|$)(\S*)|^-U(\w\S*)", line)
        if upgrade:
            # `-U` asks pip for the newest versions; the setup phase decides that. `-Urfile` is `-U -r file`.
            rest = upgrade.group(1) or upgrade.group(2) or ""
            line = ("-" + rest if upgrade.group(2) else rest).strip()
            if not line:
                continue
        include = _INCLUDE.match(line)
        if include and include.group(1) in ("-r", "--requirement"):
            files.append(_relative(include.group(3)))
        elif line.startswith("-") and not _EDITABLE.match(line):
            continue  # other installer options (`--pre`, `-i URL`) are the setup phase's to choose
        elif not _SELF.match(_EDITABLE.sub("", line)):
            deps.append(line)
    extras = [e.strip() for e in re.split(r"[,\s]+", parser.get(section, "extras", fallback="")) if e.strip() and ":" not in e]
    return ToxEnv(tuple(deps), tuple(extras), tuple(files), source)


def _factor_matches(condition: str, factor: str) -> bool:
    """tox factor conditions: `py38,py39: dep`, `!py27: dep`; any other factor (a Django version) is not ours."""
    for alternative in condition.split(","):
        names = alternative.split("-")
        if all((name.startswith("!") and name[1:] != factor) or name == factor for name in names):
            return True
    return False


def _substitute(parser: configparser.RawConfigParser, value: str) -> str:
    """tox's `{[section]key}` and `{toxinidir}` references; others are left and the line dropped later."""
    value = value.replace("{toxinidir}/", "").replace("{toxinidir}", ".")
    return re.sub(
        r"\{\[([^\]]+)\]([\w-]+)\}",
        lambda m: parser.get(m.group(1), m.group(2), fallback=m.group(0)).replace("{toxinidir}/", ""),
        value,
    )


def _parse_ini(text: str | None) -> configparser.RawConfigParser | None:
    if not text:
        return None
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return parser


def _classify(root: Path, path: str) -> RequirementFile:
    words = [w.lower() for w in re.split(r"[^A-Za-z0-9]+", PurePosixPath(path).with_suffix("").as_posix()) if w]
    for kind, vocabulary in KINDS.items():
        if kind == "base":
            continue
        hits = [w for w in words if w in vocabulary]
        if hits:
            return RequirementFile(path, kind, f"named {hits[0]!r}")
    names = {requirement_name(line) for line in _logical_lines(_read(root, path))}
    if "pytest" in names or "nose" in names:
        return RequirementFile(path, "test", "lists pytest")
    if "sphinx" in names or "mkdocs" in names:
        return RequirementFile(path, "docs", "lists a docs builder")
    if any(w in KINDS["base"] for w in words):
        return RequirementFile(path, "base", "the project's runtime requirements")
    return RequirementFile(path, "other", "its name says nothing of tests")


def _read(root: Path, path: str) -> str:
    return hostfs.read_text(root, root / path, REQUIREMENTS_BYTES) or ""


def _collect(root: Path, path: str, staged: Staged) -> None:
    """Stage `path` and every requirement file it includes that lies inside `root`."""
    staged.lines[path] = []
    kept: list[str] = []
    for line in _logical_lines(_read(root, path)):
        include = _INCLUDE.match(line)
        if include:
            target = _relative(str(PurePosixPath(path).parent / include.group(3)))
            if target and (root / target).is_file() and hostfs.read_text(root, root / target, REQUIREMENTS_BYTES) is not None:
                if target not in staged.lines:
                    _collect(root, target, staged)
                kept.append(f"{include.group(1)} {os.path.relpath(target, PurePosixPath(path).parent.as_posix() or '.')}")
            continue
        itself = _SELF.match(_EDITABLE.sub("", line))
        if itself:
            staged.installs_self = True
            staged.self_extras.extend(e.strip() for e in (itself.group(1) or "").split(",") if e.strip())
            continue
        kept.append(line)
    staged.lines[path] = kept


def _relative(path: str) -> str:
    """A repository-relative path, or "" for one that leaves the repository."""
    normal = os.path.normpath(path).replace(os.sep, "/")
    return "" if normal.startswith(("../", "/")) or normal == ".." else normal


def _logical_lines(text: str) -> list[str]:
    joined = re.sub(r"\\\n", "", text)
    lines = []
    for line in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            lines.append(line)
    return lines
