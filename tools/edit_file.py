from __future__ import annotations

import difflib
from typing import ClassVar

from pydantic import Field

from loopwright.tools.base import ToolArgs, ToolContext, ToolFailure, ToolOutput
from loopwright.tools.workspace import relative, resolve


class EditFileArgs(ToolArgs):
    path: str = Field(description="File path relative to the repository root.")
    old_string: str = Field(description="Exact text to replace; must occur exactly once in the file.")
    new_string: str = Field(description="Replacement text.")


class EditFile:
    name: ClassVar[str] = "edit_file"
    description: ClassVar[str] = "Replace one exact, unique occurrence of old_string in a file with new_string. Include enough context to make old_string unique."
    Args: ClassVar[type[ToolArgs]] = EditFileArgs

    def run(self, args: EditFileArgs, ctx: ToolContext) -> ToolOutput:
        path = resolve(ctx.root, args.path)
        if not path.is_file():
            raise ToolFailure(f"{args.path}: no such file")
        before = path.read_text(encoding="utf-8", newline="")
        if not args.old_string:
            raise ToolFailure("old_string is empty; use write_file to create a file")
        count = before.count(args.old_string)
        if count == 0:
            raise ToolFailure(f"{args.path}: old_string not found; read the file and copy the text exactly")
        if count > 1:
            lines = _lines_of(before, args.old_string)
            raise ToolFailure(f"{args.path}: old_string occurs {count} times (at lines {', '.join(map(str, lines))}); add context to make it unique")
        after = before.replace(args.old_string, args.new_string, 1)
        path.write_text(after, encoding="utf-8", newline="")
        rel = relative(ctx.root, path)
        diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"a/{rel}", f"b/{rel}"))
        return ToolOutput(text=f"Edited {rel}.\n{diff}", changed_files=(rel,), data={"diff": diff})


def _lines_of(text: str, needle: str) -> list[int]:
    lines, start = [], 0
    while (index := text.find(needle, start)) != -1:
        lines.append(text.count("\n", 0, index) + 1)
        start = index + 1
    return lines
