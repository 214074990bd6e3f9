from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from loopwright.tools.base import ToolArgs, ToolContext, ToolKind, ToolOutput


class SubmitArgs(ToolArgs):
    summary: str = Field("", description="One or two sentences on what you changed and why.")


class Submit:
    name: ClassVar[str] = "submit"
    description: ClassVar[str] = "Finish the task. Call it once the tests pass (or when you cannot make progress), with a short summary."
    Args: ClassVar[type[ToolArgs]] = SubmitArgs

    kind: ClassVar[ToolKind] = "read"
    reports_tests: ClassVar[bool] = False
    unseen_changes: ClassVar[bool] = False
    editable: ClassVar[str | None] = None

    def describe(self, args: SubmitArgs) -> str:
        return f"submit: {args.summary}"

    def preview(self, args: SubmitArgs, ctx: ToolContext) -> str | None:
        return None

    def run(self, args: SubmitArgs, ctx: ToolContext) -> ToolOutput:
        return ToolOutput(text="Submitted.", ends_run=True, data={"summary": args.summary})
