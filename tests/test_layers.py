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
    return module.endswith((".cli", "__main__")) or ".ui" in module


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


GIT_MODULES = {"loopwright.gitstate", "loopwright.github.gitops", "loopwright.pullbranch"}


# -- the import graph: one direction, no cycles ---------------------------------------------------------------

KNOWN = {module for module, _ in ALL}
CORE = ("loopwright.loop", "loopwright.messages", "loopwright.model", "loopwright.hooks", "loopwright.ending", "loopwright.tools.base", "loopwright.sandboxes.base")
"""The loop and the seams it talks through: they name protocols, never a concrete tool, model, sandbox or front end."""
OUTER = ("loopwright.cli", "loopwright.ui", "loopwright.github", "loopwright.bench", "loopwright.session", "loopwright.models.", "loopwright.sandboxes.docker")


def graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports anywhere in its code (functions too), `TYPE_CHECKING` blocks aside."""
    edges: dict[str, set[str]] = {}
    for module, path in ALL:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        hidden = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) for b in node.body for n in ast.walk(b)}
        found = set()
        for node in ast.walk(tree):
            if id(node) in hidden:
                continue
            if isinstance(node, ast.Import):
                found.update(_resolve(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.update(_resolve(f"{node.module}.{alias.name}") or _resolve(node.module) for alias in node.names)
        edges[module] = {name for name in found if name and name != module}
    return edges


def _resolve(name: str) -> str:
    """The module of ours `name` is, or is inside; "" for others."""
    while name:
        if name in KNOWN:
            return name
        name = name.rpartition(".")[0]
    return ""


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert cycles(graph()) == []


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_no_front_end_and_no_concrete_part(module):
    outer = sorted(name for name in graph()[module] if name.startswith(OUTER) or (name.startswith("loopwright.tools.") and name != "loopwright.tools.base"))
    assert outer == [], f"{module} imports {outer}"


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


def test_the_command_line_starts_without_the_mcp_sdk():
    """The MCP SDK is most of the command line's start-up time: only a session that starts servers, `loopwright
    config` and `loopwright mcp` import it."""
    import subprocess
    import sys

    check = "import sys, loopwright.cli, loopwright.session, loopwright.ui.chat; print(sorted(m for m in sys.modules if m.split('.')[0] == 'mcp'))"
    shown = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout.strip()
    assert shown == "[]"
