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


def graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (anywhere in the file, `TYPE_CHECKING` blocks included)."""
    names = {module for module, _ in ALL}
    edges: dict[str, set[str]] = {}
    for module, path in ALL:
        edges[module] = set()
        for name in imports_of(path):
            while name and name not in names:
                name = name.rpartition(".")[0]
            if name and name != module:
                edges[module].add(name)
    return edges


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for name in edges[todo.pop()] - seen:
            seen.add(name)
            todo.append(name)
    return seen


def test_the_slash_commands_do_not_import_the_chat_that_calls_them():
    edges = graph()
    assert "loopwright.ui.commands" in edges["loopwright.ui.chat"]
    assert "loopwright.ui.chat" not in reachable(edges, "loopwright.ui.commands")


def test_the_loop_imports_no_tool_and_no_context_fitting():
    """The final test run and the context fitting are handed to the loop by the session builder."""
    imported = imports_of(ROOT / "agent" / "loop.py")
    assert {name for name in imported if name.startswith("loopwright.tools.")} <= {"loopwright.tools.base"}
    assert "loopwright.models.context" not in imported
    assert not {"loopwright.session", "loopwright.ui"} & {".".join(name.split(".")[:2]) for name in reachable(graph(), "loopwright.loop")}
