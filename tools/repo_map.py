"""`repo_map`: a focused map of the repository's most relevant definitions for a query.

The map itself is built on the agent side; this tool receives the function that renders it, so
tools/ keeps importing nothing of ours but the sandbox interface.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from pydantic import Field

from loopwright.tools.base import ToolArgs, ToolContext, ToolFailure, ToolKind, ToolOutput

MIN_TOKENS = 64
MAX_TOKENS = 16_384


class RepoMapArgs(ToolArgs):
    query: str = Field(description="What you are looking for: identifiers, file names, an error message or the task in your words.")
    tokens: int = Field(1024, ge=MIN_TOKENS, le=MAX_TOKENS, description="Size of the map in tokens.")


class RepoMapTool:
    name: ClassVar[str] = "repo_map"
    description: ClassVar[str] = (
        "Show a map of the repository: the files and definitions (signatures, bodies elided, with line numbers) "
        "most relevant to a query, ranked by how the code references them. Use it to find where things are before reading files."
    )
    Args: ClassVar[type[ToolArgs]] = RepoMapArgs

    kind: ClassVar[ToolKind] = "read"
    reports_tests: ClassVar[bool] = False
    unseen_changes: ClassVar[bool] = False
    editable: ClassVar[str | None] = None

    def describe(self, args: RepoMapArgs) -> str:
        return f"map the repository for: {args.query}"

    def preview(self, args: RepoMapArgs, ctx: ToolContext) -> str | None:
        return None

    def __init__(self, render: Callable[[str, int], str]) -> None:
        self._render = render

    def run(self, args: RepoMapArgs, ctx: ToolContext) -> ToolOutput:
        if not args.query.strip():
            raise ToolFailure("query is empty: name identifiers, files or describe what you look for")
        text = self._render(args.query, args.tokens)
        if not text.strip():
            return ToolOutput(text="The repository map is empty: no source files were found.")
        return ToolOutput(text=text)
