"""The events of a run, as `loopwright run --output stream-json` writes them: one JSON object per line.

Consumers (the VS Code task, the PR bot, scripts) read these instead of the terminal text. Field names
are stable within a `schema_version`; a field is only ever added, and a removal or change of meaning raises
the version. docs/stream-json.schema.json is generated from these models by `schema_text` (a test keeps it
equal), and docs/stream-json.md describes each event.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

SCHEMA_VERSION: Literal[1] = 1
RESULT_TEXT_CHARS = 8_000
"""A tool result's `text` keeps this many characters (head and tail) plus a one-line note of what was cut."""


class _Model(BaseModel):
    # Every field is written, defaults too, so the schema can require them all.
    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_serialization_defaults_required=True, use_attribute_docstrings=True
    )


class _Event(_Model):
    schema_version: Literal[1] = SCHEMA_VERSION
    seq: int = Field(ge=0)
    """Position in the stream: 0 for run_start, then one more per event."""


class RunStart(_Event):
    """The run began: written before the sandbox is opened."""

    type: Literal["run_start"] = "run_start"
    run_id: str
    """Names the run's trajectory file and its save point (refs/loopwright/runs/<run_id>)."""
    task: str
    repo: str
    """The repository folder on this machine."""
    model: str
    sandbox: str
    """docker or local."""
    test_command: str
    started_at: str
    """ISO 8601, UTC."""


class Assistant(_Event):
    """One model turn's text, and the ids of the tool calls it made (each is then a tool_call event)."""

    type: Literal["assistant"] = "assistant"
    step: int
    text: str
    tool_call_ids: list[str]


class ToolCallEvent(_Event):
    """A tool call about to run, or one that could not run (then its tool_result follows at once)."""

    type: Literal["tool_call"] = "tool_call"
    id: str
    tool: str
    arguments: dict[str, Any] | None
    """The validated arguments that run; null when the model's arguments were not valid for the tool."""
    raw_arguments: str
    """The arguments as the model wrote them (JSON text, not necessarily valid)."""
    description: str
    """The tool's one line for a person (e.g. "edit calc.py"); "" when the call could not run."""


class TestFailure(_Model):
    """One failing test of a run, with where it failed."""

    __test__ = False
    test_id: str
    """The runner's id of the test (a pytest node id)."""
    outcome: str
    """failed (the test itself) or error (its setup or teardown)."""
    message: str
    """What the runner reported, cut to 500 characters."""
    path: str | None
    """Workspace-relative file of the failing line: the test's own file where the traceback passes through it,
    else the innermost frame in the project's code; null when the report does not say."""
    line: int | None


class TestRun(_Model):
    """The structured report of a test run, from the runner's own report where it wrote one."""

    __test__ = False
    command: str
    passed: bool
    problem: str
    """Why the run is not a pass; "" when it is one."""
    exit_code: int
    counts: dict[str, int]
    """Outcome -> number of tests (passed, failed, error, skipped ...)."""
    collected: int | None
    structured: bool
    """Whether the results come from the runner's own report rather than the exit code alone."""
    failing: list[str]
    failures: list[TestFailure]
    """The failing tests in the order of `failing`, with their messages and places. Read from the output text
    when `structured` is false, so then a test's own output can pose as a failure."""
    collection_errors: list[str]
    outside_imports: list[str]
    build_errors: list[str] = []
    """Compile errors that stopped the tests from building, each `path:line: message` (Go, Rust, C/C++)."""

    def outline(self, listed: int = 3) -> str:
        """One line: why it is not a pass, the counts and the first failing tests (e.g. "tests failed; 1 failed,
        1 passed; failing: tests/test_calc.py::test_add"). Names what the report holds, so untrusted."""
        counts = ", ".join(f"{number} {outcome}" for outcome, number in self.counts.items())
        more = f" and {len(self.failing) - listed} more" if len(self.failing) > listed else ""
        failing = f"failing: {', '.join(self.failing[:listed])}{more}" if self.failing else ""
        return "; ".join(part for part in (self.problem, counts, failing) if part) or "no tests counted"


class ToolResult(_Event):
    """What a tool call returned to the model."""

    type: Literal["tool_result"] = "tool_result"
    id: str
    """The id of its tool_call."""
    tool: str
    is_error: bool
    text: str
    """The result the model read, clipped to RESULT_TEXT_CHARS characters (head and tail) with a note."""
    truncated: bool
    changed_files: list[str]
    """Workspace-relative paths the call wrote."""
    test_run: TestRun | None
    """For a test run: its structured report; null otherwise."""


class Tokens(_Model):
    """Tokens in and out, and the cost where the model's price is known."""

    input_tokens: int
    output_tokens: int
    cached_tokens: int
    """Input tokens the server served from its prefix cache."""
    cost_usd: float | None
    """null when the model's price is unknown."""


class UsageEvent(_Event):
    """Tokens (and cost where the model's price is known) after a model turn."""

    type: Literal["usage"] = "usage"
    step: int
    step_usage: Tokens
    total: Tokens
    """Cumulative over the run."""


class Summary(_Event):
    """The end of the run: the fields of the terminal summary. The only object `--output json` writes."""

    type: Literal["summary"] = "summary"
    run_id: str
    reason: str
    """submitted, max_steps, max_tokens, time_limit, repeated_failure, model_error, sandbox_error or interrupted."""
    detail: str
    steps: int
    usage: Tokens
    duration_s: float
    changed_files: list[str]
    tests_passed: bool | None
    """The verdict of the last test run on the final state; null when tests never ran."""
    test_summary: str
    test_command: str
    test_run: TestRun | None
    """The report of the test run behind `tests_passed`: the model's last run_tests call, or the run made after
    it when files changed since; null when tests never ran or that run could not finish."""
    submitted_summary: str
    trajectory: str | None
    """Path of the run's trajectory file; null when none was saved."""


Event = Annotated[RunStart | Assistant | ToolCallEvent | ToolResult | UsageEvent | Summary, Field(discriminator="type")]
EVENTS: TypeAdapter[Event] = TypeAdapter(Event)


def to_line(event: BaseModel) -> str:
    """One event as one line of JSON: ASCII only, so no byte of untrusted text can act on a terminal."""
    fields = event.model_dump(mode="json")
    ordered = {"type": fields.pop("type"), **fields}
    return json.dumps(ordered, ensure_ascii=True).replace("\x7f", "\\u007f")


def json_schema() -> dict[str, Any]:
    """The JSON Schema every line of a stream-json run validates against."""
    schema = EVENTS.json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"loopwright stream-json event, schema version {SCHEMA_VERSION}",
        "description": "One line of `loopwright run --output stream-json`. See docs/stream-json.md.",
        **schema,
    }


def schema_text() -> str:
    """docs/stream-json.schema.json as it should read."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
