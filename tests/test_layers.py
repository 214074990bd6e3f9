"""The layering of STYLE.md, checked on the source: data flows cli -> loop -> tools -> sandboxes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = {"agent": "loopwright", "tools": "loopwright.tools", "sandboxes": "loopwright.sandboxes"}


def modules():
    for folder, package in PACKAGE_DIRS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            yield ".".join([package, *rel.parts]).removesuffix(".__init__"), path


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def top(name: str) -> str:
    return name.split(".")[0]


def is_cli(module: str) -> bool:
    return module.endswith(".cli") or ".ui" in module or module.endswith("__main__")


ALL = list(modules())


@pytest.mark.parametrize("module, path", ALL, ids=[m for m, _ in ALL])
def test_layering(module, path):
    imported = imports_of(path)
    ours = {name for name in imported if top(name) == "loopwright"}
    if module.startswith("loopwright.sandboxes"):
        assert all(name.startswith("loopwright.sandboxes") for name in ours), ours
    elif module.startswith("loopwright.tools"):
        # The sandbox's seam: its protocol, and how the host reads and writes the workspace the sandbox can write.
        assert all(name.startswith(("loopwright.tools", "loopwright.sandboxes.base", "loopwright.sandboxes.hostfs")) for name in ours), ours
    if {"openai", "anthropic"} & {top(n) for n in imported}:
        assert module.startswith("loopwright.models."), f"{module} imports a provider SDK"
    if "git" in {top(n) for n in imported}:
        assert module in GIT_MODULES, f"{module} imports gitpython"
    if {"typer", "rich", "prompt_toolkit"} & {top(n) for n in imported}:
        assert is_cli(module), f"{module} imports a terminal library"


GIT_MODULES = {"loopwright.gitstate", "loopwright.github.gitops"}


def test_only_the_entry_point_imports_the_main_cli():
    # Command groups (github, bench, env, models) are registered by the main CLI; importing it back would be a cycle.
    importers = {module for module, path in ALL if "loopwright.cli" in imports_of(path) or _imports_cli_module(path)}
    assert importers == {"loopwright.__main__"}


def _imports_cli_module(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        isinstance(node, ast.ImportFrom) and node.module == "loopwright" and any(alias.name == "cli" for alias in node.names)
        for node in ast.walk(tree)
    )
