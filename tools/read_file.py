from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from loopwright.tools.base import ToolArgs, ToolContext, ToolFailure, ToolKind, ToolOutput
from loopwright.tools.workspace import read_bytes, resolve

MAX_LINES = 400
MAX_BYTES = 16 << 20
"""Larger files are refused (page through them with run_shell and sed): the host never reads a file whole
that the sandbox may have made any size."""


class ReadFileArgs(ToolArgs):
    path: str = Field(description="File path relative to the repository root.")
    start_line: int = Field(1, ge=1, description="First line to show (1-based).")
    end_line: int | None = Field(None, ge=1, description="Last line to show, inclusive; default: up to 400 lines from start_line.")


class ReadFile:
    name: ClassVar[str] = "read_file"
    description: ClassVar[str] = "Show a file's lines with line numbers. Use start_line/end_line to page through long files."
    Args: ClassVar[type[ToolArgs]] = ReadFileArgs

    kind: ClassVar[ToolKind] = "read"
    reports_tests: ClassVar[bool] = False
    unseen_changes: ClassVar[bool] = False
    editable: ClassVar[str | None] = None

    def describe(self, args: ReadFileArgs) -> str:
        span = f":{args.start_line}-{args.end_line}" if args.end_line else ""
        return f"read {args.path}{span}"

    def preview(self, args: ReadFileArgs, ctx: ToolContext) -> str | None:
        return None

    def run(self, args: ReadFileArgs, ctx: ToolContext) -> ToolOutput:
        path = resolve(ctx.root, ctx.local(args.path))
        if path.is_dir():
            raise ToolFailure(f"{args.path} is a directory; use list_files")
        if not path.is_file():
            raise ToolFailure(f"{args.path}: no such file")
        raw = read_bytes(ctx.root, path, MAX_BYTES, args.path)
        if b"\x00" in raw[:8192]:
            raise ToolFailure(f"{args.path}: binary file ({len(raw)} bytes)")
        lines = raw.decode("utf-8", errors="replace").splitlines()
        if not lines:
            return ToolOutput(text=f"{args.path} is empty.")
        if args.start_line > len(lines):
            raise ToolFailure(f"{args.path} has {len(lines)} lines; start_line {args.start_line} is past the end")
        end = min(args.end_line or args.start_line + MAX_LINES - 1, len(lines), args.start_line + MAX_LINES - 1)
        if end < args.start_line:
            raise ToolFailure("end_line is before start_line")
        width = len(str(end))
        body = "\n".join(f"{n:>{width}}\t{lines[n - 1]}" for n in range(args.start_line, end + 1))
        more = f"\n[lines {args.start_line}-{end} of {len(lines)}; read on with start_line={end + 1}]" if end < len(lines) else ""
        return ToolOutput(text=f"{args.path}\n{body}{more}")
