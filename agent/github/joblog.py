"""The PR bot's job log tells the run as its events: one short line per event of `loopwright.events`.

The lines are built from the event objects, the same ones `--output stream-json` prints, never from text a
tool showed the model. Their untrusted parts (model text, call ids, arguments, file and test names) are
masked of secrets before they are cut, so no piece of a secret survives a cut; the log shows each line
escaped and on one line (see `runner.job_log`).
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from loopwright.events import Assistant, RunStart, Summary, TestRun, Tokens, ToolCallEvent, ToolResult, UsageEvent
from loopwright.eventstream import Sink

PIECE_CHARS = 160
"""Of each untrusted piece of a line; the whole is in the trajectory."""
LISTED = 3
"""Failing tests and changed files named on one line."""

Redact = Callable[[str], str]


def lines(write: Callable[[str], None], redact: Redact) -> Sink:
    """A sink that writes each event as its line."""

    def log(event: BaseModel) -> None:
        text = line(event, redact)
        if text:
            write(text)

    return log


def line(event: BaseModel, redact: Redact) -> str:
    def shown(text: str) -> str:
        return _shown(text, redact)

    match event:
        case RunStart():
            return f"run {event.run_id}: model {shown(event.model)}, {event.sandbox} sandbox, tests: {shown(event.test_command)}"
        case Assistant():
            calls = len(event.tool_call_ids)
            return f"step {event.step}: {shown(event.text) or '(no text)'} [{calls} call{'s' if calls != 1 else ''}]"
        case ToolCallEvent():
            what = shown(event.description) if event.arguments is not None else "refused: not a tool, or arguments not valid for it"
            return f"call {shown(event.id)}: {shown(event.tool)}: {what}"
        case ToolResult():
            if event.test_run is not None:
                outcome = verdict_line(event.test_run, redact)
            elif event.is_error:
                outcome = f"error: {shown(event.text.strip().splitlines()[0] if event.text.strip() else '')}"
            else:
                outcome = "ok" + (f", changed {_listed(event.changed_files, redact)}" if event.changed_files else "")
            return f"result {shown(event.id)}: {shown(event.tool)}: {outcome}"
        case UsageEvent():
            return f"usage step {event.step}: {_tokens(event.step_usage)}; run {_tokens(event.total)}"
        case Summary():
            tests = verdict_line(event.test_run, redact) if event.test_run else {True: "passed", False: "not passed", None: "not run"}[event.tests_passed]
            changed = _listed(event.changed_files, redact) if event.changed_files else "nothing"
            return f"end: {event.reason} after {event.steps} steps ({shown(event.detail)}); tests {tests}; changed {changed}"
    return ""


def verdict_line(run: TestRun, redact: Redact) -> str:
    """A test run's verdict from its structured report, with the first failing tests."""
    return f"{'passed' if run.passed else 'not passed'} ({_shown(run.outline(), redact, 2 * PIECE_CHARS)})"


def _shown(text: str, redact: Redact, limit: int = PIECE_CHARS) -> str:
    text = " ".join(redact(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _listed(items: list[str], redact: Redact) -> str:
    more = f" and {len(items) - LISTED} more" if len(items) > LISTED else ""
    return ", ".join(_shown(item, redact) for item in items[:LISTED]) + more


def _tokens(usage: Tokens) -> str:
    cost = "" if usage.cost_usd is None else f", ${usage.cost_usd:.4f}"
    return f"{usage.input_tokens:,} in, {usage.output_tokens:,} out{cost}"
