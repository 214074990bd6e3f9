from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from loopwright.tools import runner_report, test_formats, testreport
from loopwright.tools.base import ToolArgs, ToolContext, ToolKind, ToolOutput, clip

MAX_LISTED = 200
"""Failing node ids kept in the trajectory's record of a run."""
MESSAGE_CHARS = 500
"""Of each failure's message in the record: enough for an editor's one-line problem; the model reads it all."""


class RunTestsArgs(ToolArgs):
    selector: str | None = Field(
        None, description="Optional extra arguments for the test command, e.g. a test file or node id to run only those tests."
    )


class RunTests:
    name: ClassVar[str] = "run_tests"
    description: ClassVar[str] = (
        "Run the project's tests in the sandbox. Returns the command, pass/fail, the failing tests with their full messages "
        "and the frames in the project's code, and errors collecting tests with their cause."
    )
    Args: ClassVar[type[ToolArgs]] = RunTestsArgs

    kind: ClassVar[ToolKind] = "command"
    reports_tests: ClassVar[bool] = True
    unseen_changes: ClassVar[bool] = False
    editable: ClassVar[str | None] = None

    def describe(self, args: RunTestsArgs) -> str:
        return "run tests" + (f" {args.selector}" if args.selector else "")

    def preview(self, args: RunTestsArgs, ctx: ToolContext) -> str | None:
        return "$ " + test_command_line(ctx, args.selector)

    def run(self, args: RunTestsArgs, ctx: ToolContext) -> ToolOutput:
        report = run_test_command(ctx, args.selector)
        return ToolOutput(text=clip(report.render(), ctx.max_output_chars), data=record(report))


def record(report: testreport.TestReport) -> dict[str, Any]:
    """What the trajectory keeps of a test run, and what the loop reads back for the run's end."""
    return {
        "command": report.command,
        "passed": report.passed,
        "problem": report.problem,
        "exit_code": report.exit_code,
        "counts": report.counts,
        "collected": report.collected,
        "structured": report.structured,
        "failing": [f.test_id for f in report.failures][:MAX_LISTED],
        "failures": [_failure(f) for f in report.failures[:MAX_LISTED]],
        "collection_errors": [e.node_id for e in report.collection_errors][:MAX_LISTED],
        "build_errors": [f"{e.location}: {e.message}"[:300] for e in report.build_errors][:MAX_LISTED],
        "outside_imports": [i.name for i in report.outside_imports][:MAX_LISTED],
    }


def _failure(failure: testreport.Failure) -> dict[str, Any]:
    message = failure.message if len(failure.message) <= MESSAGE_CHARS else failure.message[: MESSAGE_CHARS - 3] + "..."
    where = failure.where
    return {"test_id": failure.test_id, "outcome": failure.outcome, "message": message, "path": where.path if where else None, "line": where.line if where else None}


def run_test_command(ctx: ToolContext, selector: str | None = None) -> testreport.TestReport:
    """Run the test command (with `selector`) in the sandbox; the verdict comes from the runner's own report
    where it wrote one (pytest, through loopwright's plugin; `go test -json`, libtest, JUnit XML: test_formats.py),
    else from the exit code."""
    command = test_command_line(ctx, selector)
    reader = test_formats.reader_for(command)
    if reader is not None:
        return reader(ctx.sandbox, command, ctx.test_timeout_s, ctx.env)
    slot = runner_report.prepare(ctx.sandbox)
    if slot is None:
        result = ctx.sandbox.exec(command, timeout_s=ctx.test_timeout_s, env=ctx.env)
        return testreport.parse(result.output, result.exit_code, result.timed_out, command=command, note="the report plugin could not be set up in the sandbox")
    env = {**ctx.env, **slot.environment(ctx.sandbox.workdir)}
    try:
        result = ctx.sandbox.exec(slot.wrap(command), timeout_s=ctx.test_timeout_s, env=env)
    except Exception:
        runner_report.discard(ctx.sandbox, slot)
        raise
    documents, note = runner_report.collect(ctx.sandbox, slot)
    tail = "\n".join(result.output.rstrip().splitlines()[-40:])
    if note or result.timed_out:
        return testreport.parse(result.output, result.exit_code, result.timed_out, command=command, note=note or "the run was killed")
    return testreport.from_documents(documents, command, result.exit_code, result.timed_out, tail)


def test_command_line(ctx: ToolContext, selector: str | None = None) -> str:
    return ctx.test_command + (f" {selector}" if selector else "")
