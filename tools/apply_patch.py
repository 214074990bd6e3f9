"""Multi-file edits in one call: a unified diff, or search/replace blocks, applied all-or-nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, Literal

from loopwright.tools.base import Tool, ToolArgs, ToolContext, ToolFailure, ToolKind, ToolOutput
from loopwright.tools.edit_file import EditFile, InsertText, diff_of, edited_paths, report
from loopwright.tools.editing import (
    FileEdit,
    apply_edits,
    search_replace_blocks,
    unified_diff,
)
from pydantic import Field

EditFormat = Literal["str_replace", "search_replace", "udiff"]


class ApplyPatchArgs(ToolArgs):
    patch: str = Field(description="A unified diff: '--- a/path' and '+++ b/path' lines, then '@@' hunks with ' ', '-' and '+' lines.")


class ApplyPatch:
    name: ClassVar[str] = "apply_patch"
    description: ClassVar[str] = (
        "Apply a unified diff to one or more files. Each hunk's context and '-' lines must match the file; line "
        "numbers in '@@' headers are only hints. All hunks apply or none does; a refused patch says why and where."
    )
    Args: ClassVar[type[ToolArgs]] = ApplyPatchArgs
    kind: ClassVar[ToolKind] = "edit"
    reports_tests: ClassVar[bool] = False
    unseen_changes: ClassVar[bool] = False
    editable: ClassVar[str | None] = None

    def describe(self, args: ApplyPatchArgs) -> str:
        try:
            return f"patch {edited_paths(unified_diff(args.patch))}"
        except ToolFailure:
            return "patch (a diff that does not parse)"

    def preview(self, args: ApplyPatchArgs, ctx: ToolContext) -> str | None:
        return diff_of(apply_edits(ctx.root, self._edits(args, ctx), dry_run=True))

    def run(self, args: ApplyPatchArgs, ctx: ToolContext) -> ToolOutput:
        return report(apply_edits(ctx.root, self._edits(args, ctx)), ctx)

    def _edits(self, args: ApplyPatchArgs, ctx: ToolContext) -> list[FileEdit]:
        return [replace(e, path=ctx.local(e.path)) for e in unified_diff(args.patch)]


class ReplaceBlocksArgs(ToolArgs):
    blocks: str = Field(
        description=(
            "One or more blocks, each: the file path on its own line, then '<<<<<<< SEARCH', the exact lines to "
            "replace, '=======', the new lines, '>>>>>>> REPLACE'. An empty SEARCH part with a new path creates the file."
        )
    )


class ReplaceBlocks:
    name: ClassVar[str] = "replace_blocks"
    description: ClassVar[str] = (
        "Edit files with SEARCH/REPLACE blocks. Each SEARCH part must match one place in its file (copy the lines "
        "from the file); give the blocks of a file in file order, top to bottom. All blocks apply or none does; a "
        "refused block says why and where."
    )
    Args: ClassVar[type[ToolArgs]] = ReplaceBlocksArgs
    kind: ClassVar[ToolKind] = "edit"
    reports_tests: ClassVar[bool] = False
    unseen_changes: ClassVar[bool] = False
    editable: ClassVar[str | None] = None

    def describe(self, args: ReplaceBlocksArgs) -> str:
        try:
            return f"edit {edited_paths(search_replace_blocks(args.blocks))}"
        except ToolFailure:
            return "edit (blocks that do not parse)"

    def preview(self, args: ReplaceBlocksArgs, ctx: ToolContext) -> str | None:
        return diff_of(apply_edits(ctx.root, self._edits(args, ctx), dry_run=True))

    def run(self, args: ReplaceBlocksArgs, ctx: ToolContext) -> ToolOutput:
        return report(apply_edits(ctx.root, self._edits(args, ctx)), ctx)

    def _edits(self, args: ReplaceBlocksArgs, ctx: ToolContext) -> list[FileEdit]:
        edits = [replace(e, path=ctx.local(e.path)) for e in search_replace_blocks(args.blocks)]
        creating = [e for e in edits if len(e.hunks) == 1 and not e.hunks[0].search.strip() and not (ctx.root / e.path).exists()]
        if creating:
            edits = [FileEdit(e.path, content=e.hunks[0].replace) if e in creating else e for e in edits]
        return edits


def edit_tools(edit_format: EditFormat = "str_replace") -> list[Tool]:
    """The edit tools a model gets for its configured edit format (write_file stays available for whole files)."""
    if edit_format == "udiff":
        return [ApplyPatch()]
    if edit_format == "search_replace":
        return [ReplaceBlocks()]
    return [EditFile(), InsertText()]
