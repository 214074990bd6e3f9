"""What the MCP server's tools return: typed results (their JSON Schema is each tool's output schema) and the
text a client shows beside them.

Everything in a result that the workspace, the sandbox or the model wrote (test messages, diffs, the model's
summary, the map) is hostile text that a client may print to a person: hidden characters are written as
escapes (see visible.py) in the structured result and in the text alike.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from loopwright.events import Summary, Tokens
from loopwright.tools.base import clip
from loopwright.tools.testreport import MAX_MESSAGE_CHARS, TestReport
from loopwright.visible import visible

MAX_FAILURES = 100
"""Failing tests listed one by one; the counts still cover all of them."""
MAX_DIFF_CHARS = 100_000
"""Longer diffs keep head and tail; the save point holds the whole change (`git diff SAVE_POINT`)."""
MAX_TEXT_CHARS = 20_000


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class FailedTest(_Result):
    test_id: str
    """The runner's id, e.g. tests/test_calc.py::test_add."""
    outcome: str
    """failed (the test itself) or error (its setup or teardown)."""
    message: str
    """What the runner reported: the assertion with its values, the exception."""
    location: str
    """path:line where it was raised, or the test's file when the runner did not say."""


class CollectionError(_Result):
    node_id: str
    """The test file that could not be collected."""
    cause: str
    """The error that stopped it (an ImportError, a SyntaxError...)."""
    location: str


class TestsResult(_Result):
    """The project's tests as run in loopwright's sandbox."""

    __test__ = False
    repo: str
    """The folder the tests ran in."""
    command: str
    passed: bool
    """The verdict: true only when tests ran and none failed (a run that tested nothing is not a pass)."""
    problem: str
    """Why the run is not a pass; "" when it is one."""
    exit_code: int
    counts: dict[str, int]
    """Outcome -> number of tests (passed, failed, error, skipped ...)."""
    collected: int | None
    """How many tests the runner collected; null without the runner's own report."""
    structured: bool
    """Whether the results come from the runner's own report rather than the exit code alone."""
    failures: list[FailedTest]
    failures_not_listed: int
    """Failing tests beyond the ones listed."""
    collection_errors: list[CollectionError]
    summary: str
    """One line: the verdict and the counts."""


class TaskResult(_Result):
    """The end of a sandboxed fix loop in the repository, and what it changed there."""

    run_id: str
    """Names the trajectory and the save point (refs/loopwright/runs/<run_id>)."""
    reason: str
    """Why the run stopped: submitted, max_steps, max_tokens, time_limit, repeated_failure, model_error, sandbox_error or interrupted."""
    detail: str
    steps: int
    tests_passed: bool | None
    """The verdict of the last test run on the final state; null when tests never ran."""
    test_summary: str
    test_command: str
    submitted_summary: str
    """The model's own account of what it did."""
    changed_files: list[str]
    diff: str
    """The work tree against the save point: every change the run made, created files included."""
    diff_truncated: bool
    """Whether `diff` lost its middle to MAX_DIFF_CHARS; `git diff <save_point>` shows all of it."""
    save_point: str | None
    """Commit of the work tree as it was before the run; `git restore --source=<save_point> --worktree -- .` puts it back."""
    trajectory: str | None
    """Path of the run's trajectory file (`loopwright replay` reads it)."""
    usage: Tokens
    duration_s: float


class RepoMap(_Result):
    repo: str
    query: str
    tokens: int
    map: str
    """The most relevant definitions, bodies elided, within about `tokens` tokens."""


def tests_result(report: TestReport, repo: str) -> TestsResult:
    failures = [
        FailedTest(
            test_id=visible(failure.test_id),
            outcome=failure.outcome,
            message=visible(_clip(failure.message)),
            location=visible(failure.crash or failure.test_id.split("::")[0]),
        )
        for failure in report.failures
    ]
    return TestsResult(
        repo=repo,
        command=visible(report.command),
        passed=report.passed,
        problem=report.problem,
        exit_code=report.exit_code,
        counts=dict(report.counts),
        collected=report.collected,
        structured=report.structured,
        failures=failures[:MAX_FAILURES],
        failures_not_listed=max(0, len(failures) - MAX_FAILURES),
        collection_errors=[
            CollectionError(node_id=visible(error.node_id), cause=visible(_clip(error.cause)), location=visible(error.location))
            for error in report.collection_errors[:MAX_FAILURES]
        ],
        summary=visible(report.render().splitlines()[0]),
    )


def tests_text(report: TestReport) -> str:
    """The report as loopwright's own run_tests tool shows it to a model."""
    return visible(clip(report.render(), MAX_TEXT_CHARS))


def task_result(summary: Summary, diff: str, save_point: str | None) -> TaskResult:
    return TaskResult(
        run_id=summary.run_id,
        reason=summary.reason,
        detail=visible(summary.detail),
        steps=summary.steps,
        tests_passed=summary.tests_passed,
        test_summary=visible(summary.test_summary),
        test_command=visible(summary.test_command),
        submitted_summary=visible(summary.submitted_summary),
        changed_files=[visible(path) for path in summary.changed_files],
        diff=visible(clip(diff, MAX_DIFF_CHARS)),
        diff_truncated=len(diff) > MAX_DIFF_CHARS,
        save_point=save_point,
        trajectory=summary.trajectory,
        usage=summary.usage,
        duration_s=summary.duration_s,
    )


def task_text(result: TaskResult) -> str:
    verdict = {True: "passed", False: "FAILED", None: "not run"}[result.tests_passed]
    lines = [
        f"stop reason: {result.reason}" + (f" ({result.detail})" if result.detail else ""),
        f"tests: {verdict}" + (f" - {result.test_summary}" if result.test_summary else ""),
        f"changed: {', '.join(result.changed_files) or 'nothing'}",
        f"run: {result.run_id}, {result.steps} steps, {result.duration_s:.1f}s",
    ]
    if result.save_point:
        lines.append(f"save point: {result.save_point} (undo: git restore --source={result.save_point} --worktree -- .)")
    if result.trajectory:
        lines.append(f"trajectory: {result.trajectory}")
    if result.submitted_summary:
        lines.append(f"\n{result.submitted_summary}")
    if result.diff:
        lines.append(f"\n{clip(result.diff, MAX_TEXT_CHARS)}")
    return "\n".join(lines)


def shown(data: Any) -> Any:
    """JSON data with every string in it escaped for a person's eyes."""
    if isinstance(data, str):
        return visible(data)
    if isinstance(data, dict):
        return {key: shown(value) for key, value in data.items()}
    if isinstance(data, list):
        return [shown(item) for item in data]
    return data


def _clip(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return f"{text[:MAX_MESSAGE_CHARS]}\n[... {len(text) - MAX_MESSAGE_CHARS} characters of the message cut]"
