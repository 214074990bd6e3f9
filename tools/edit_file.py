"""Edits by old/new text and by line number, both placed and checked by the edit engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from loopwright.tools.base import ToolArgs, ToolContext, ToolFailure, ToolKind, ToolOutput, clip
from loopwright.tools.editing import (
    AppliedEdit,
    EditRefused,
    FileEdit,
    apply_edits,
    insert_at,
    str_replace,
)
from pydantic import Field


class EditFileArgs(ToolArgs):
    path: str = Field(description="File path relative to the repository root.")
    old_string: str = Field(description="The text to replace, copied from the file; it must occur once. Include a few unchanged lines around the change to make it unique.")
    new_string: str = Field(description="The replacement text.")


class EditFile:
    name: ClassVar[str] = "edit_file"
    description: ClassVar[str] = (
        "Replace one unique occurrence of old_string in a file with new_string. Copy old_string from the file, "
        "with enough surrounding lines to make it unique. The edit is refused, with the reason, if it does not "
        "match exactly one place or would break the file's syntax."
    )
    Args: ClassVar[type[ToolArgs]] = EditFileArgs
    kind: ClassVar[ToolKind] = "edit"
    reports_tests: ClassVar[bool] = False
    unseen_changes: ClassVar[bool] = False
    editable: ClassVar[str | None] = None

    def describe(self, args: EditFileArgs) -> str:
        return f"edit {args.path}"

    def preview(self, args: EditFileArgs, ctx: ToolContext) -> str | None:
        return diff_of(self._apply(args, ctx, dry_run=True))

    def run(self, args: EditFileArgs, ctx: ToolContext) -> ToolOutput:
        return report(self._apply(args, ctx), ctx)

    def _apply(self, args: EditFileArgs, ctx: ToolContext, dry_run: bool = False) -> list[AppliedEdit]:
        if not args.old_string:
            raise ToolFailure("old_string is empty; use write_file to create a file, or insert_text to add lines")
        if args.old_string == args.new_string:
            raise ToolFailure("old_string and new_string are the same; nothing to change")
        try:
            return apply_edits(ctx.root, [str_replace(ctx.local(args.path), args.old_string, args.new_string)], dry_run=dry_run)
        except EditRefused as err:
            raise ToolFailure(str(err).replace("the old text was not found", "old_string not found").replace("the old text", "old_string")) from None


class InsertTextArgs(ToolArgs):
    path: str = Field(description="File path relative to the repository root.")
    line: int = Field(ge=1, description="1-based line number the text goes before; one past the last line appends.")
    text: str = Field(description="The lines to insert.")


class InsertText:
    name: ClassVar[str] = "insert_text"
    description: ClassVar[str] = "Insert lines into a file before a given line number (read the file first to know the numbers)."
    Args: ClassVar[type[ToolArgs]] = InsertTextArgs
    kind: ClassVar[ToolKind] = "edit"
    reports_tests: ClassVar[bool] = False
    unseen_changes: ClassVar[bool] = False
    editable: ClassVar[str | None] = None

    def describe(self, args: InsertTextArgs) -> str:
        return f"insert into {args.path} at line {args.line}"

    def preview(self, args: InsertTextArgs, ctx: ToolContext) -> str | None:
        return diff_of(apply_edits(ctx.root, self._edits(args, ctx), dry_run=True))

    def run(self, args: InsertTextArgs, ctx: ToolContext) -> ToolOutput:
        return report(apply_edits(ctx.root, self._edits(args, ctx)), ctx)

    def _edits(self, args: InsertTextArgs, ctx: ToolContext) -> list[FileEdit]:
        if not args.text:
            raise ToolFailure("text is empty; nothing to insert")
        return [insert_at(ctx.local(args.path), args.line, args.text)]


def diff_of(applied: Sequence[AppliedEdit]) -> str:
    """The unified diff of edits, as the person approving them sees it before anything is written."""
    return "".join(edit.diff for edit in applied)


def edited_paths(edits: Sequence[FileEdit]) -> str:
    return ", ".join(dict.fromkeys(edit.path for edit in edits)) or "nothing"


def report(applied: Sequence[AppliedEdit], ctx: ToolContext) -> ToolOutput:
    """The tool result for applied edits: what changed, how each hunk was placed, and the unified diff."""
    diff = diff_of(applied)
    lines = []
    for edit in applied:
        loose = sorted({s for s in edit.stages if s not in ("exact", "insert", "whole-file")})
        note = f" (placed by {', '.join(loose)} matching; check the diff)" if loose else ""
        verb = f"Renamed {edit.renamed_from} to" if edit.renamed_from else ("Created" if edit.created else "Edited")
        lines.append(f"{verb} {edit.path}{note}.")
    text = "\n".join(lines) + ("\n" + diff if diff else "\nNo change.")
    return ToolOutput(
        text=clip(text, ctx.max_output_chars),
        changed_files=tuple(dict.fromkeys(path for edit in applied if edit.diff for path in (edit.renamed_from, edit.path) if path)),
        data={"diff": diff, "stages": {edit.path: list(edit.stages) for edit in applied}},
    )
