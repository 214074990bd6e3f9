"""Repository map: tree-sitter tags, a def/ref graph ranked toward the task, rendered within a token budget.

    initial_map(root, task, tokens)        the map for the system prompt at session start
    render_map(root, query, tokens)        the map for `loopwright map` and the repo_map tool
    make_repo_map_tool(root)               the repo_map tool, bound to this repository
"""

from __future__ import annotations

from pathlib import Path

from loopwright.repomap.index import Progress, RepoIndex
from loopwright.repomap.rank import rank
from loopwright.repomap.render import CHARS_PER_TOKEN, estimate_tokens, render
from loopwright.tools.repo_map import RepoMapTool

__all__ = [
    "CHARS_PER_TOKEN",
    "RepoIndex",
    "RepoMapError",
    "estimate_tokens",
    "initial_map",
    "make_repo_map_tool",
    "render_map",
]


class RepoMapError(Exception):
    """A map cannot be made for this path; the message is one line for the user."""


def render_map(root: Path, query: str = "", tokens: int = 1024, progress: Progress | None = None) -> str:
    """The map of `root` ranked toward `query`, at most `tokens` (estimated) long; updates the cache first."""
    root = Path(root)
    if not root.is_dir():
        raise RepoMapError(f"{root}: not a directory")
    if tokens <= 0:
        raise RepoMapError(f"token budget must be positive, got {tokens}")
    index = RepoIndex.open(root, progress=progress)
    ranking = rank(index.graph, index.idents, index.ident_shape, query)
    return render(index.root, index.graph, ranking, tokens)


def initial_map(root: Path, task: str, tokens: int = 1024, progress: Progress | None = None) -> str:
    """The map for the system prompt: computed once at session start and then kept, so the prompt prefix stays cacheable."""
    return render_map(root, task, tokens, progress)


def make_repo_map_tool(root: Path) -> RepoMapTool:
    """The `repo_map` tool for this repository; each call sees the current files (changed ones are re-parsed)."""
    bound = Path(root)
    return RepoMapTool(lambda query, tokens: render_map(bound, query, tokens))
