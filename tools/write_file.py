from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from loopwright.tools.base import ToolArgs, ToolContext, ToolFailure, ToolOutput
from loopwright.tools.workspace import relative, resolve


class WriteFileArgs(ToolArgs):
    path: str = Field(description="File path relative to the repository root.")
    content: str = Field(description="The complete new content of the file.")


class WriteFile:
    name: ClassVar[str] = "write_file"
    description: ClassVar[str] = "Create a file, or replace a file's whole content. Prefer edit_file for changes to existing files."
    Args: ClassVar[type[ToolArgs]] = WriteFileArgs

    def run(self, args: WriteFileArgs, ctx: ToolContext) -> ToolOutput:
        path = resolve(ctx.root, args.path)
        if path.is_dir():
            raise ToolFailure(f"{args.path} is a directory")
        existed = path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(args.content, encoding="utf-8", newline="")
        rel = relative(ctx.root, path)
        verb = "Replaced" if existed else "Created"
        return ToolOutput(text=f"{verb} {rel} ({len(args.content.splitlines())} lines).", changed_files=(rel,))
