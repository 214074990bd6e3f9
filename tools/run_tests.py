from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from loopwright.tools import testreport
from loopwright.tools.base import ToolArgs, ToolContext, ToolOutput, clip


class RunTestsArgs(ToolArgs):
    selector: str | None = Field(
        None, description="Optional extra arguments for the test command, e.g. a test file or node id to run only those tests."
    )


class RunTests:
    name: ClassVar[str] = "run_tests"
    description: ClassVar[str] = "Run the project's tests in the sandbox. Returns pass/fail, the failing tests with their assertion messages and last frames."
    Args: ClassVar[type[ToolArgs]] = RunTestsArgs

    def run(self, args: RunTestsArgs, ctx: ToolContext) -> ToolOutput:
        report = run_test_command(ctx, args.selector)
        return ToolOutput(
            text=clip(report.render(), ctx.max_output_chars),
            data={"passed": report.passed, "exit_code": report.exit_code, "counts": report.counts, "failing": [f.test_id for f in report.failures]},
        )


def run_test_command(ctx: ToolContext, selector: str | None = None) -> testreport.TestReport:
    command = ctx.test_command + (f" {selector}" if selector else "")
    result = ctx.sandbox.exec(command, timeout_s=ctx.test_timeout_s, env=ctx.env)
    return testreport.parse(result.output, result.exit_code, timed_out=result.timed_out)
