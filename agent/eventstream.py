"""A run told as events: the loop's hooks, and the run's start and end, turned into `loopwright.events`.

Where the events go is the caller's: `lines` writes each as a line of JSON as it happens (stream-json); a
caller that wants only the summary (json) keeps what `finished` returns. Nothing here touches the terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError

from loopwright.events import (
    RESULT_TEXT_CHARS,
    Assistant,
    RunStart,
    Summary,
    TestRun,
    ToolCallEvent,
    ToolResult,
    UsageEvent,
    to_line,
)
from loopwright.hooks import Hooks
from loopwright.loop import RunResult
from loopwright.messages import Message, ToolCall, Usage
from loopwright.tools.base import Tool, ToolArgs, ToolOutput, clip
from loopwright.trajectory import TrajectoryData

Sink = Callable[[BaseModel], None]
E = TypeVar("E", bound=BaseModel)


def lines(stream: IO[str]) -> Sink:
    """Each event as one line of JSON on `stream`, flushed at once so a reader sees it as it happens."""

    def write(event: BaseModel) -> None:
        stream.write(to_line(event) + "\n")
        stream.flush()

    return write


class EventStream:
    """Numbers the events of one run and hands each to `sink`."""

    def __init__(self, sink: Sink, sandbox: str) -> None:
        self.sink = sink
        self.sandbox = sandbox
        self.seq = 0
        self.step = 0
        self.run_id = ""
        self._open: dict[str, ToolCall] = {}
        """The calls whose tool_call event went out and whose result did not yet."""
        self._reports_tests: set[str] = set()

    def _emit(self, make: Callable[..., E], **fields: Any) -> E:
        event = make(seq=self.seq, **fields)
        self.seq += 1
        self.sink(event)
        return event

    def hooks(self) -> Hooks:
        return Hooks(on_assistant=self.on_assistant, on_tool_start=self.on_tool_start, on_tool_end=self.on_tool_end, on_usage=self.on_usage)

    def started(self, data: TrajectoryData, test_command: str) -> None:
        self.run_id = data.run_id
        self._emit(
            RunStart, run_id=data.run_id, task=data.task, repo=data.repo, model=data.model,
            sandbox=self.sandbox, test_command=test_command, started_at=data.started_at,
        )

    def on_assistant(self, message: Message) -> None:
        self.step += 1
        self._emit(Assistant, step=self.step, text=message.content, tool_call_ids=[call.id for call in message.tool_calls])

    def on_usage(self, step: int, usage: Usage, total: Usage) -> None:
        self._emit(UsageEvent, step=step, step_usage=usage.model_dump(), total=total.model_dump())

    def on_tool_start(self, call: ToolCall, tool: Tool, args: ToolArgs) -> None:
        self._call(call, args.model_dump(mode="json"), tool.describe(args))
        if tool.reports_tests:
            self._reports_tests.add(call.id)

    def on_tool_end(self, call: ToolCall, output: ToolOutput) -> None:
        if call.id not in self._open:
            # Refused before it ran (unknown tool, bad arguments): its call still comes before its result.
            self._call(call, None, "")
        del self._open[call.id]
        reports_tests = call.id in self._reports_tests
        self._reports_tests.discard(call.id)
        self._emit(
            ToolResult, id=call.id, tool=call.name, is_error=output.is_error,
            text=clip(output.text, RESULT_TEXT_CHARS), truncated=len(output.text) > RESULT_TEXT_CHARS,
            changed_files=list(output.changed_files),
            test_run=report_of(output.data) if reports_tests and not output.is_error else None,
        )

    def _call(self, call: ToolCall, arguments: dict[str, Any] | None, description: str) -> None:
        self._emit(ToolCallEvent, id=call.id, tool=call.name, arguments=arguments, raw_arguments=call.arguments, description=description)
        self._open[call.id] = call

    def finished(self, result: RunResult, trajectory: str | None) -> Summary:
        """The summary; first, a result for a call the run ended inside (the sandbox failed), so every call has one."""
        for call in list(self._open.values()):
            self.on_tool_end(call, ToolOutput(text=f"the run ended before the call returned: {result.reason}", is_error=True))
        fields = result.as_dict()
        report = fields.pop("test_run")
        return self._emit(Summary, run_id=self.run_id, trajectory=trajectory, test_run=report_of(report) if report else None, **fields)


def report_of(data: dict[str, Any]) -> TestRun | None:
    """The test report a test tool put in its output's data (see tools/run_tests.record); None when it holds none."""
    try:
        return TestRun.model_validate({name: data[name] for name in TestRun.model_fields if name in data})
    except ValidationError:
        return None
