from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from loopwright.tools.base import ToolArgs, ToolContext, ToolKind, ToolOutput, clip


class RunShellArgs(ToolArgs):
    command: str = Field(description="Shell command, run in the repository root inside the sandbox.")
    timeout: int | None = Field(None, ge=1, le=3600, description="Seconds before the command is killed; default 120.")


class RunShell:
    name: ClassVar[str] = "run_shell"
    description: ClassVar[str] = "Run a shell command in the sandbox (no network). Output is capped; a command past its timeout is killed."
    Args: ClassVar[type[ToolArgs]] = RunShellArgs

    kind: ClassVar[ToolKind] = "command"
    reports_tests: ClassVar[bool] = False
    unseen_changes: ClassVar[bool] = True
    editable: ClassVar[str | None] = "command"

    def describe(self, args: RunShellArgs) -> str:
        return f"$ {args.command}"

    def preview(self, args: RunShellArgs, ctx: ToolContext) -> str | None:
        return None

    def run(self, args: RunShellArgs, ctx: ToolContext) -> ToolOutput:
        timeout = float(args.timeout or ctx.command_timeout_s)
        result = ctx.sandbox.exec(args.command, timeout_s=timeout, env=ctx.env)
        status = f"killed after {timeout:g}s timeout" if result.timed_out else f"exit code {result.exit_code}"
        text = clip(result.output.rstrip(), ctx.max_output_chars)
        return ToolOutput(
            text=f"[{status}, {result.duration_s:.1f}s]\n{text}" if text else f"[{status}, {result.duration_s:.1f}s, no output]",
            is_error=result.timed_out,
            data={"exit_code": result.exit_code, "timed_out": result.timed_out},
        )
