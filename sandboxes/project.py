"""What a Python project declares about itself, read on the host as text: nothing of it is imported or run.

`read_project(root)` reads `pyproject.toml` (`[project]`, `[dependency-groups]`, Poetry's tables),
`setup.cfg` and `setup.py`. A setup.py is parsed with `ast` and its `setup(...)` call's arguments are
worked out from literals and the module-level names they use (`EXTRAS = {...}; EXTRAS["dev"] = ...`,
`setup(**opts)`); whatever is computed at run time is left out with a note, never executed.

Public: `Project`, `read_project`, `source_roots`, `normalize`.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from loopwright.sandboxes import hostfs

MANIFEST_BYTES = 1 << 20
"""Larger metadata files are read as missing: the host reads nothing of unbounded size from the workspace."""
NOT_CODE = frozenset({"tests", "test", "testing", "docs", "doc", "examples", "example", "benchmarks", "scripts", "build", "dist", "tools"})


@dataclass(frozen=True)
class Project:
    """The parts of a project's metadata that decide how its tests get an environment."""

    name: str = ""
    installable: bool = False
    """Whether pip can install the folder itself (a pyproject.toml with a build system, a setup.py or setup.cfg)."""
    dependencies: tuple[str, ...] = ()
    extras: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Optional dependencies by extra, references to the project's own extras expanded."""
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """PEP 735 dependency groups and Poetry groups, as plain requirements."""
    tests_require: tuple[str, ...] = ()
    requires_python: str = ""
    requires_python_from: str = ""
    classifiers: tuple[str, ...] = ()
    requirement_files: tuple[str, ...] = ()
    """Requirement files the metadata itself reads (`file:` directives, `open("requirements.txt")` in setup.py)."""
    notes: tuple[str, ...] = ()
    """What could not be read, one line each."""


def read_project(root: Path) -> Project:
    """The project's metadata; empty fields where a file is missing or unreadable."""
    facts: dict = {"notes": [], "extras": {}, "groups": {}, "requirement_files": []}
    _read_setup_py(root, facts)
    _read_setup_cfg(root, facts)
    _read_pyproject(root, facts)
    installable = facts.pop("installable", False)
    extras = {name: tuple(_expand(list(reqs), facts["extras"], facts.get("name", ""), set())) for name, reqs in facts["extras"].items()}
    return Project(
        name=facts.get("name", ""),
        installable=installable,
        dependencies=tuple(facts.get("dependencies", ())),
        extras=extras,
        groups={name: tuple(reqs) for name, reqs in facts["groups"].items()},
        tests_require=tuple(facts.get("tests_require", ())),
        requires_python=facts.get("requires_python", ""),
        requires_python_from=facts.get("requires_python_from", ""),
        classifiers=tuple(facts.get("classifiers", ())),
        requirement_files=tuple(dict.fromkeys(facts["requirement_files"])),
        notes=tuple(facts["notes"]),
    )


def source_roots(root: Path) -> tuple[str, ...]:
    """Where the project's importable code lies, relative to `root`: `src` for a src layout, else `.`."""
    src = root / "src"
    if src.is_dir() and not src.is_symlink() and _has_python(src):
        return ("src",)
    return (".",)


def top_level_packages(root: Path) -> tuple[str, ...]:
    """Import names of the project's own packages and modules (tests, docs and examples left out)."""
    names: list[str] = []
    for relative in source_roots(root):
        folder = root / relative
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.startswith((".", "_")) or entry.name in NOT_CODE or entry.is_symlink():
                continue
            if entry.is_dir() and os.path.isfile(os.path.join(entry.path, "__init__.py")) and entry.name.isidentifier():
                names.append(entry.name)
            elif relative == "src" and entry.is_file() and entry.name.endswith(".py") and entry.name[:-3].isidentifier():
                names.append(entry.name[:-3])
    return tuple(names)


def normalize(name: str) -> str:
    """A distribution name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _has_python(folder: Path) -> bool:
    for entry in os.scandir(folder):
        if entry.is_symlink():
            continue
        if entry.is_dir() and os.path.isfile(os.path.join(entry.path, "__init__.py")):
            return True
        if entry.is_file() and entry.name.endswith(".py"):
            return True
    return False


def _read(root: Path, name: str) -> str | None:
    return hostfs.read_text(root, root / name, MANIFEST_BYTES)


def _set(facts: dict, key: str, value, source: str = "") -> None:
    """Later files win (pyproject over setup.cfg over setup.py), as setuptools reads them."""
    if value:
        facts[key] = value
        if key == "requires_python":
            facts["requires_python_from"] = source


# pyproject.toml


def _read_pyproject(root: Path, facts: dict) -> None:
    text = _read(root, "pyproject.toml")
    if text is None:
        return
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        facts["notes"].append(f"pyproject.toml is not valid TOML: {error}")
        return
    project = _table(data, "project")
    build = _table(data, "build-system")
    poetry = _table(data, "tool", "poetry")
    if build.get("build-backend") or project or poetry:
        facts["installable"] = True
    _set(facts, "name", str(project.get("name") or poetry.get("name") or ""))
    _set(facts, "dependencies", _strings(project.get("dependencies")))
    _set(facts, "requires_python", str(project.get("requires-python") or ""), "pyproject.toml requires-python")
    _set(facts, "classifiers", _strings(project.get("classifiers")) or _strings(poetry.get("classifiers")))
    extras = project.get("optional-dependencies")
    if isinstance(extras, dict):
        facts["extras"].update({str(k): _strings(v) for k, v in extras.items()})
    dynamic = _table(data, "tool", "setuptools", "dynamic")
    for key, target in (("dependencies", "requirement_files"), ("optional-dependencies", None)):
        files = dynamic.get(key, {}).get("file") if isinstance(dynamic.get(key), dict) else None
        if files and target:
            facts[target].extend(_strings([files] if isinstance(files, str) else files))
    facts["groups"].update(_dependency_groups(data.get("dependency-groups")))
    if poetry:
        _read_poetry(poetry, facts)


def _dependency_groups(groups: object) -> dict[str, list[str]]:
    """PEP 735 groups with `{include-group = "x"}` entries expanded."""
    if not isinstance(groups, dict):
        return {}

    def expand(name: str, seen: frozenset[str]) -> list[str]:
        found: list[str] = []
        for item in groups.get(name) or []:
            if isinstance(item, str):
                found.append(item)
            elif isinstance(item, dict) and isinstance(item.get("include-group"), str) and item["include-group"] not in seen:
                found.extend(expand(item["include-group"], seen | {item["include-group"]}))
        return found

    return {str(name): expand(name, frozenset({name})) for name in groups}


def _read_poetry(poetry: dict, facts: dict) -> None:
    dependencies = _table(poetry, "dependencies")
    python = dependencies.get("python")
    if isinstance(python, str) and "requires_python" not in facts:
        _set(facts, "requires_python", _poetry_spec(python), "pyproject.toml [tool.poetry.dependencies] python")
    groups: dict[str, dict] = {}
    if isinstance(poetry.get("dev-dependencies"), dict):
        groups["dev"] = poetry["dev-dependencies"]
    for name, group in (poetry.get("group") or {}).items():
        if isinstance(group, dict) and isinstance(group.get("dependencies"), dict):
            groups[str(name)] = group["dependencies"]
    for name, table in groups.items():
        facts["groups"].setdefault(name, [_poetry_requirement(dep, spec) for dep, spec in table.items() if dep != "python"])
    extras = poetry.get("extras")
    if isinstance(extras, dict):
        for name, members in extras.items():
            facts["extras"].setdefault(str(name), [_poetry_requirement(m, dependencies.get(m, "*")) for m in _strings(members)])


def _poetry_requirement(name: str, spec: object) -> str:
    if isinstance(spec, dict):
        extras = ",".join(_strings(spec.get("extras")))
        name = f"{name}[{extras}]" if extras else name
        spec = spec.get("version", "*")
    return f"{name}{_poetry_spec(str(spec)) if isinstance(spec, str) else ''}"


def _poetry_spec(spec: str) -> str:
    """Poetry's `^1.2` and `~1.2` as PEP 440 ranges; other forms pass through."""
    parts = []
    for piece in (p.strip() for p in spec.split(",")):
        if piece in ("*", ""):
            continue
        match = re.fullmatch(r"([\^~])\s*(\d+(?:\.\d+)*)", piece)
        if not match:
            parts.append(piece if piece[0] in "<>=!~" else f"=={piece}")
            continue
        numbers = [int(n) for n in match.group(2).split(".")]
        if match.group(1) == "^":
            first = next((i for i, n in enumerate(numbers) if n), len(numbers) - 1)
            upper = numbers[: first + 1]
        else:
            upper = numbers[:2] if len(numbers) > 1 else numbers[:1]
        upper[-1] += 1
        parts.append(f">={match.group(2)},<{'.'.join(map(str, upper))}")
    return ",".join(parts)


# setup.cfg


def _read_setup_cfg(root: Path, facts: dict) -> None:
    text = _read(root, "setup.cfg")
    if text is None:
        return
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(text)
    except configparser.Error as error:
        facts["notes"].append(f"setup.cfg could not be read: {str(error).splitlines()[0]}")
        return
    if parser.has_section("metadata") or parser.has_section("options"):
        facts["installable"] = True
    _set(facts, "name", parser.get("metadata", "name", fallback="").strip())
    _set(facts, "classifiers", _cfg_list(parser.get("metadata", "classifiers", fallback="")))
    _set(facts, "requires_python", parser.get("options", "python_requires", fallback="").strip(), "setup.cfg python_requires")
    for key, target in (("install_requires", "dependencies"), ("tests_require", "tests_require")):
        value = parser.get("options", key, fallback="")
        if value.strip().startswith("file:"):
            facts["requirement_files"].extend(value.strip()[5:].replace(",", " ").split())
        else:
            _set(facts, target, _cfg_list(value))
    if parser.has_section("options.extras_require"):
        for name, value in parser.items("options.extras_require"):
            facts["extras"][name] = _cfg_list(value)


def _cfg_list(value: str) -> list[str]:
    """One item a line (setuptools' own format for requirement lists), comments left out."""
    items = []
    for line in value.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            items.append(line)
    return items


# setup.py


class _Unknown(Exception):
    """A value setup.py computes at run time."""


def _read_setup_py(root: Path, facts: dict) -> None:
    text = _read(root, "setup.py")
    if text is None:
        return
    facts["installable"] = True
    try:
        module = ast.parse(text)
    except (SyntaxError, ValueError) as error:
        facts["notes"].append(f"setup.py could not be parsed ({type(error).__name__}); its metadata was not read")
        return
    names: dict[str, object] = {}
    _bind(module.body, names)
    call = next((node for node in ast.walk(module) if isinstance(node, ast.Call) and _is_setup(node.func)), None)
    if call is None:
        facts["notes"].append("setup.py has no setup(...) call to read")
        return
    arguments = _arguments(call, names)
    wanted = {
        "name": "name",
        "install_requires": "dependencies",
        "tests_require": "tests_require",
        "python_requires": "requires_python",
        "classifiers": "classifiers",
        "extras_require": "extras",
    }
    for keyword, target in wanted.items():
        if keyword not in arguments:
            continue
        node = arguments[keyword]
        try:
            value = _value(node, names) if isinstance(node, ast.expr) else node
        except _Unknown:
            constants = _string_constants(node, names) if isinstance(node, ast.expr) else []
            files = [s for s in constants if s.endswith((".txt", ".in"))]
            facts["requirement_files"].extend(files)
            if not files:
                facts["notes"].append(f"setup.py computes {keyword} at run time; it was not read")
            continue
        if target == "extras":
            if isinstance(value, dict):
                facts["extras"].update({str(k): _strings(v) for k, v in value.items()})
        elif target == "requires_python":
            _set(facts, target, str(value), "setup.py python_requires")
        elif target == "name":
            _set(facts, target, str(value))
        else:
            _set(facts, target, _strings(value))


def _is_setup(func: ast.expr) -> bool:
    return (isinstance(func, ast.Name) and func.id == "setup") or (isinstance(func, ast.Attribute) and func.attr == "setup")


def _arguments(call: ast.Call, names: dict) -> dict[str, object]:
    """setup()'s keyword arguments: expressions, or values already worked out (from `**opts`)."""
    found: dict[str, object] = {}
    for keyword in call.keywords:
        if keyword.arg is not None:
            found[keyword.arg] = keyword.value
            continue
        try:
            spread = _value(keyword.value, names, raw=True)
        except _Unknown:
            continue
        if isinstance(spread, dict):
            found.update({k: v for k, v in spread.items() if isinstance(k, str)})
    return found


def _bind(body: list[ast.stmt], names: dict) -> None:
    """Module-level names bound to values that can be worked out; later bindings win."""
    for statement in body:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                _assign(target, statement.value, names)
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            _assign(statement.target, statement.value, names)
        elif isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name) and isinstance(statement.op, ast.Add):
            grown = ast.BinOp(left=ast.Name(id=statement.target.id, ctx=ast.Load()), op=ast.Add(), right=statement.value)
            _assign(statement.target, grown, names)
        elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            _mutate(statement.value, names)
        elif isinstance(statement, (ast.If, ast.Try, ast.With)):
            for part in ("body", "orelse", "finalbody"):
                _bind(getattr(statement, part, []) or [], names)
            for handler in getattr(statement, "handlers", []):
                _bind(handler.body, names)


def _assign(target: ast.expr, value: ast.expr, names: dict) -> None:
    if isinstance(target, ast.Name):
        try:
            names[target.id] = _value(value, names, raw=True)
        except _Unknown:
            names[target.id] = _Unknown
    elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and isinstance(names.get(target.value.id), dict):
        try:
            names[target.value.id][_value(target.slice, names)] = _value(value, names, raw=True)
        except (_Unknown, TypeError):
            pass


def _mutate(call: ast.Call, names: dict) -> None:
    """`REQUIRES.append(x)` and `.extend([...])` on a bound list."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.attr in ("append", "extend") and len(call.args) == 1):
        return
    current = names.get(func.value.id)
    if not isinstance(current, list):
        return
    try:
        value = _value(call.args[0], names)
    except _Unknown:
        names[func.value.id] = _Unknown
        return
    if func.attr == "append":
        current.append(value)
    elif isinstance(value, (list, tuple)):
        current.extend(value)


def _value(node: ast.expr, names: dict, raw: bool = False):
    """The value of an expression made of literals, bound names, `+`, subscripts and dict()/list() calls.

    With `raw`, dict values stay expressions where they cannot be worked out (for `setup(**opts)`).
    """
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_value(item, names) for item in node.elts]
    if isinstance(node, ast.Dict):
        return {_value(k, names): _maybe(v, names, raw) for k, v in zip(node.keys, node.values) if k is not None}
    if isinstance(node, ast.Name):
        value = names.get(node.id, _Unknown)
        if value is _Unknown:
            raise _Unknown(node.id)
        return _copy(value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _value(node.left, names), _value(node.right, names)
        if isinstance(left, list) and isinstance(right, list):
            return left + right
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        raise _Unknown("+")
    if isinstance(node, ast.Subscript):
        container = _value(node.value, names)
        try:
            return _copy(container[_value(node.slice, names)])
        except (KeyError, IndexError, TypeError):
            raise _Unknown("subscript") from None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("dict", "list", "tuple", "sorted", "set"):
        if node.func.id == "dict" and not node.args:
            return {k.arg: _maybe(k.value, names, raw) for k in node.keywords if k.arg}
        if len(node.args) == 1 and not node.keywords:
            return list(_value(node.args[0], names))
    raise _Unknown(type(node).__name__)


def _maybe(node: ast.expr, names: dict, raw: bool):
    try:
        return _value(node, names)
    except _Unknown:
        if raw:
            return node
        raise


def _copy(value):
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _string_constants(node: ast.expr, names: dict) -> list[str]:
    found = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    for name in (n.id for n in ast.walk(node) if isinstance(n, ast.Name)):
        value = names.get(name)
        if isinstance(value, str):
            found.append(value)
    return found


# shared


def _table(data: dict, *keys: str) -> dict:
    found: object = data
    for key in keys:
        found = found.get(key) if isinstance(found, dict) else None
    return found if isinstance(found, dict) else {}


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip() and not line.strip().startswith("#")]
    if isinstance(value, (list, tuple)):
        return [str(item).strip() for item in value if isinstance(item, str) and item.strip()]
    return []


_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[([^\]]*)\])?")


def _expand(requirements: list[str], extras: dict, own_name: str, seen: set[str]) -> list[str]:
    """Requirements with `own-project[extra]` replaced by that extra's requirements."""
    wanted: list[str] = []
    for requirement in requirements:
        match = _NAME.match(requirement)
        if match and own_name and normalize(match.group(1)) == normalize(own_name):
            for extra in (match.group(3) or "").split(","):
                extra = extra.strip()
                if extra and extra not in seen and extra in extras:
                    wanted.extend(_expand(list(extras[extra]), extras, own_name, seen | {extra}))
            continue
        if requirement not in wanted:
            wanted.append(requirement)
    return wanted
