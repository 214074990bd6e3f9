from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from pydantic import Field

import loopwright.sandboxes.hostfs as hostfs
from loopwright.tools.base import ToolArgs, ToolContext, ToolFailure, ToolKind, ToolOutput
from loopwright.tools.workspace import iter_files, resolve

MAX_MATCHES = 200
MAX_FILE_BYTES = 2_000_000


class SearchArgs(ToolArgs):
    pattern: str = Field(description="Python regular expression to look for, line by line.")
    path: str = Field(".", description="Directory or file to search, relative to the repository root.")
    glob: str | None = Field(None, description="Only files whose path matches this glob, e.g. '*.py'.")
    ignore_case: bool = False


class Search:
    name: ClassVar[str] = "search"
    description: ClassVar[str] = "Search file contents with a regular expression; prints path:line: text for each match. Honours .gitignore."
    Args: ClassVar[type[ToolArgs]] = SearchArgs

    kind: ClassVar[ToolKind] = "read"
    reports_tests: ClassVar[bool] = False
    unseen_changes: ClassVar[bool] = False
    editable: ClassVar[str | None] = None

    def describe(self, args: SearchArgs) -> str:
        return f"search /{args.pattern}/ in {args.path}" + (f" ({args.glob})" if args.glob else "")

    def preview(self, args: SearchArgs, ctx: ToolContext) -> str | None:
        return None

    def run(self, args: SearchArgs, ctx: ToolContext) -> ToolOutput:
        try:
            regex = re.compile(args.pattern, re.IGNORECASE if args.ignore_case else 0)
        except re.error as exc:
            raise ToolFailure(f"bad regular expression: {exc}") from None
        target = resolve(ctx.root, ctx.local(args.path))
        root = ctx.root.resolve()
        files = [target] if target.is_file() else iter_files(ctx.root, target)
        hits: list[str] = []
        for path in files:
            rel = path.relative_to(root).as_posix() if root in path.parents else path.name
            if args.glob and not (path.match(args.glob) or _glob_full(rel, args.glob)):
                continue
            for number, line in _lines(root, path):
                if regex.search(line):
                    hits.append(f"{rel}:{number}: {line.strip()[:240]}")
                    if len(hits) >= MAX_MATCHES:
                        return ToolOutput(text="\n".join(hits) + f"\n[stopped at {MAX_MATCHES} matches; narrow the pattern or path]")
        return ToolOutput(text="\n".join(hits) if hits else f"No matches for /{args.pattern}/.")


def _glob_full(rel: str, pattern: str) -> bool:
    from fnmatch import fnmatch

    return fnmatch(rel, pattern)


def _lines(root: Path, path: Path) -> Iterator[tuple[int, str]]:
    try:
        raw = hostfs.read_bytes(root, path, MAX_FILE_BYTES)
    except OSError:
        return
    if b"\x00" in raw[:8192]:
        return
    yield from enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1)
