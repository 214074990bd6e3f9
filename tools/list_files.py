from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from loopwright.tools.base import ToolArgs, ToolContext, ToolFailure, ToolKind, ToolOutput
from loopwright.tools.workspace import iter_files, relative, resolve

MAX_ENTRIES = 500


class ListFilesArgs(ToolArgs):
    path: str = Field(".", description="Directory relative to the repository root.")


class ListFiles:
    name: ClassVar[str] = "list_files"
    description: ClassVar[str] = "List the files under a directory (recursively), skipping what .gitignore excludes."
    Args: ClassVar[type[ToolArgs]] = ListFilesArgs

    kind: ClassVar[ToolKind] = "read"
    reports_tests: ClassVar[bool] = False
    unseen_changes: ClassVar[bool] = False
    editable: ClassVar[str | None] = None

    def describe(self, args: ListFilesArgs) -> str:
        return f"list {args.path}"

    def preview(self, args: ListFilesArgs, ctx: ToolContext) -> str | None:
        return None

    def run(self, args: ListFilesArgs, ctx: ToolContext) -> ToolOutput:
        directory = resolve(ctx.root, ctx.local(args.path))
        if not directory.is_dir():
            raise ToolFailure(f"{args.path}: not a directory")
        names = []
        for path in iter_files(ctx.root, directory):
            names.append(relative(ctx.root, path) if not path.is_symlink() else path.relative_to(ctx.root.resolve()).as_posix())
            if len(names) > MAX_ENTRIES:
                break
        if not names:
            return ToolOutput(text=f"No files under {args.path}.")
        note = f"\n[more than {MAX_ENTRIES} files; list a subdirectory]" if len(names) > MAX_ENTRIES else ""
        return ToolOutput(text="\n".join(names[:MAX_ENTRIES]) + note)
