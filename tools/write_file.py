from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from loopwright.tools.base import ToolArgs, ToolContext, ToolKind, ToolOutput
from loopwright.tools.edit_file import diff_of, report
from loopwright.tools.editing import apply_edits, whole_file


class WriteFileArgs(ToolArgs):
    path: str = Field(description="File path relative to the repository root.")
    content: str = Field(description="The complete new content of the file.")


class WriteFile:
    name: ClassVar[str] = "write_file"
    description: ClassVar[str] = "Create a file, or replace a file's whole content. Prefer the edit tools for changes to existing files."
    Args: ClassVar[type[ToolArgs]] = WriteFileArgs
    kind: ClassVar[ToolKind] = "edit"
    reports_tests: ClassVar[bool] = False
    unseen_changes: ClassVar[bool] = False
    editable: ClassVar[str | None] = None

    def describe(self, args: WriteFileArgs) -> str:
        return f"write {args.path}"

    def preview(self, args: WriteFileArgs, ctx: ToolContext) -> str | None:
        return diff_of(apply_edits(ctx.root, [whole_file(ctx.local(args.path), args.content)], dry_run=True))

    def run(self, args: WriteFileArgs, ctx: ToolContext) -> ToolOutput:
        # Through the edit engine: the same refusals (binary, outside the workspace, broken syntax) and a diff.
        return report(apply_edits(ctx.root, [whole_file(ctx.local(args.path), args.content)]), ctx)
