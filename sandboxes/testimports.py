"""Optional packages a project's tests use: without them whole classes of tests skip, and a test that was
skipped never counts as passing.

Tests import such packages where a missing one is expected: inside `try: ... except ImportError`, or through
`pytest.importorskip("name")` (pvlib's `ephem`, pydicom's `numpy`). Those names are read from the test files'
syntax trees (parsed, never run). A name becomes a requirement only when the project itself names a
distribution of that name (in any extra, dependency group or `tests_require`; its own version limits kept), or
when it is one of a few packages known under their import name (COMMON). Names the project defines itself,
the standard library's, and anything else stay out: an import name alone does not say which package of the
index is meant.

Public: `OptionalImport`, `optional_imports`.
"""

from __future__ import annotations

import ast
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from loopwright.sandboxes import hostfs
from loopwright.sandboxes.deps import requirement_name
from loopwright.sandboxes.project import Project, normalize

COMMON = {
    "numpy": "numpy", "scipy": "scipy", "pandas": "pandas", "matplotlib": "matplotlib", "PIL": "pillow",
    "yaml": "pyyaml", "lxml": "lxml", "dateutil": "python-dateutil", "pytz": "pytz", "simplejson": "simplejson",
}
"""Import name -> distribution, for packages whose import name is theirs beyond doubt."""
MAX_FILES = 3000
MAX_FILE_BYTES = 1 << 20
SKIP_FOLDERS = frozenset({"node_modules", "build", "dist", "site-packages", "venv", "env", "__pycache__"})
IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


@dataclass(frozen=True)
class OptionalImport:
    requirement: str
    """What the installer is asked for (the project's own line where it names the package)."""
    name: str
    """The import name the tests use."""
    where: str
    """The first test file that imports it."""
    source: str
    """Why this distribution, in words: where the project names it, or that it is the well-known one."""


def optional_imports(root: Path, project: Project, own: tuple[str, ...], asked: set[str]) -> list[OptionalImport]:
    """The optional packages `root`'s tests import, that the project (or COMMON) names; `own` are the project's
    own import names, `asked` the normalized names the plan installs already."""
    declared = _declared(project)
    found: dict[str, OptionalImport] = {}
    for relative in _test_files(root):
        text = hostfs.read_text(root, root / relative, MAX_FILE_BYTES)
        if text is None:
            continue
        for name in sorted(_guarded_imports(text)):
            if name in found or name in own or name in sys.stdlib_module_names:
                continue
            key = normalize(name)
            if key in declared:
                requirement, source = declared[key]
            elif name in COMMON:
                requirement, source = COMMON[name], f"{COMMON[name]} is the well-known package of that name"
            else:
                continue
            if normalize(requirement_name(requirement) or "") in asked:
                continue
            found[name] = OptionalImport(requirement, name, relative, source)
    return list(found.values())


def _declared(project: Project) -> dict[str, tuple[str, str]]:
    """Normalized name -> (the project's requirement line, where it is declared)."""
    found: dict[str, tuple[str, str]] = {}
    sources = [(f"extra '{name}'", reqs) for name, reqs in project.extras.items()]
    sources += [(f"group '{name}'", reqs) for name, reqs in project.groups.items()]
    sources.append(("tests_require", project.tests_require))
    for source, requirements in sources:
        for line in requirements:
            name = requirement_name(line)
            if name and name not in found:
                found[name] = (line.split(";")[0].strip(), f"{source} names it")
    return found


def _test_files(root: Path) -> list[str]:
    """Test modules and conftest files, relative to `root`; links and hidden or generated folders left out."""
    files: list[str] = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d not in SKIP_FOLDERS and not os.path.islink(os.path.join(folder, d)))
        relative = os.path.relpath(folder, root)
        in_tests = any(part in ("test", "tests", "testing") for part in Path(relative).parts)
        for name in sorted(names):
            if not name.endswith(".py") or os.path.islink(os.path.join(folder, name)):
                continue
            if in_tests or name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py"):
                files.append(os.path.normpath(os.path.join(relative, name)).replace(os.sep, "/"))
                if len(files) >= MAX_FILES:
                    return files
    return files


def _guarded_imports(text: str) -> set[str]:
    """Top-level names imported where a missing package is handled: in a `try` whose handlers catch an import
    error, or by `pytest.importorskip`."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(_catches_import_error(handler) for handler in node.handlers):
            for inner in node.body:
                for child in ast.walk(inner):
                    if isinstance(child, ast.Import):
                        names.update(alias.name.split(".")[0] for alias in child.names)
                    elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                        names.add(child.module.split(".")[0])
        elif isinstance(node, ast.Call) and _is_importorskip(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value.split(".")[0])
    return {name for name in names if name.isidentifier()}


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(kind, ast.Name) and kind.id in IMPORT_ERRORS for kind in kinds)


def _is_importorskip(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "importorskip") or (isinstance(func, ast.Name) and func.id == "importorskip")
