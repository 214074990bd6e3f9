"""The one internal representation every edit format is parsed into."""

from __future__ import annotations

from dataclasses import dataclass, field

from loopwright.tools.base import ToolFailure


class EditRefused(ToolFailure):
    """An edit that was not applied, with a one-line reason the model can act on; nothing was written."""


@dataclass(frozen=True)
class Hunk:
    """Replace the text `search` with `replace`.

    `whole_lines` says `search` stands for complete lines (search/replace blocks, diff hunks); otherwise it may
    be any substring (str_replace). An empty `search` with `at_line` set inserts `replace` before that line.
    """

    search: str
    replace: str
    whole_lines: bool = True
    at_line: int | None = None
    """1-based line the model believes the text starts at: a tie-breaker hint for diffs, the position for inserts."""
    counted: bool = False
    """The diff's hunk header gave line counts that agree with its body, as diffs a tool made do: then `at_line`
    is trusted on its own to pick among several matches (see ordering)."""


@dataclass(frozen=True)
class FileEdit:
    """All changes to one file; `content` set means a whole-file write (and `hunks` is empty)."""

    path: str
    hunks: tuple[Hunk, ...] = ()
    content: str | None = None
    renamed_from: str | None = None
    """The file's path before the edit, when the edit moves it there (a diff's `rename from`)."""


@dataclass(frozen=True)
class AppliedEdit:
    path: str
    created: bool
    diff: str
    stages: tuple[str, ...] = field(default=())
    """Which matching stage placed each hunk (exact, trailing-whitespace, ...)."""
    renamed_from: str | None = None
    """The path the file had before, when the edit moved it (that path is gone after)."""
