"""The core loop: ask the model, validate its tool calls, execute them, feed back what happened.

    run -> step -> ask the model -> validate -> execute -> observe -> (repeat | end)

A run is one or more turns: `run` starts a conversation with a task, `run_turn` adds a request and goes on
until the turn ends. Every way out of a turn is a `RunEnded` exception with a named reason. The loop never
touches the terminal: what the user sees and whether they approve a call come in through `Hooks`; the final
test run and the fitting of the context window come in through `seams`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from loopwright.deadline import Deadline, DeadlinePassed, bounded
from loopwright.ending import Answered, Interrupted, LimitsExceeded, ModelFailed, RepeatedFailure, RunEnded, SandboxFailed, Submitted
from loopwright.hooks import Deny, Hooks
from loopwright.config import Limits
from loopwright.messages import Message, ModelResponse, ToolCall, ToolSpec, Usage
from loopwright.model import Model, ModelError, one_line
from loopwright.prompting import render
from loopwright.sandboxes.base import SandboxError
from loopwright.seams import ContextFitter, FinalTests
from loopwright.tools.base import Tool, ToolArgs, ToolContext, ToolFailure, ToolOutput, schema_of
from loopwright.trajectory import StepRecord, ToolEvent, Trajectory, elapsed


@dataclass
class RunResult:
    reason: str
    detail: str
    steps: int
    usage: Usage
    duration_s: float
    changed_files: list[str] = field(default_factory=list)
    tests_passed: bool | None = None
    """True/False from the last test run of the final state; None when tests never ran."""
    test_summary: str = ""
    test_command: str = ""
    """The command of that last test run."""
    test_run: dict[str, Any] | None = None
    """That run's structured report, as the test tool recorded it; None when tests never ran."""
    submitted_summary: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "detail": self.detail,
            "steps": self.steps,
            "usage": self.usage.model_dump(),
            "duration_s": round(self.duration_s, 3),
            "changed_files": self.changed_files,
            "tests_passed": self.tests_passed,
            "test_summary": self.test_summary,
            "test_command": self.test_command,
            "test_run": self.test_run,
            "submitted_summary": self.submitted_summary,
        }


class Agent:
    def __init__(
        self,
        model: Model,
        tools: Sequence[Tool],
        ctx: ToolContext,
        limits: Limits,
        trajectory: Trajectory,
        hooks: Hooks | None = None,
        *,
        final_tests: FinalTests | None = None,
        fit_context: ContextFitter | None = None,
        person_present: bool = False,
    ) -> None:
        self.model = model
        self.use_tools(tools)
        self.ctx = ctx
        self.limits = limits
        """Budgets of one turn (a run without a person has one turn)."""
        self.trajectory = trajectory
        self.hooks = hooks or Hooks()
        self.final_tests = final_tests
        """Run at the end when files changed after the last test run, so the result's verdict is true; None: never."""
        self.fit_context = fit_context
        """Compacts the conversation before it overflows the model's window; None: sent as it is."""
        self.person_present = person_present
        """A person reads the answers: a plain answer (no tool call) ends the turn instead of being sent back as an error."""
        self.messages: list[Message] = []
        self.usage = Usage()
        self.steps = 0
        self.consecutive_errors = 0
        self.changed: dict[str, None] = {}
        self.last_tests_passed: bool | None = None
        """The verdict of the last test run; None before any."""
        self.changed_since_tests = False
        self.last_test_line = ""
        self.last_test_command = ""
        self.last_test_run: dict[str, Any] | None = None
        self.submitted_summary = ""
        self._turn_first_step = 0
        self._turn_first_tokens = 0
        self._start_clock()

    # -- the run ---------------------------------------------------------------------------------


    def use_tools(self, tools: Sequence[Tool]) -> None:
        """Offer these tools from the next model turn on (a new model may want another edit format)."""
        self.tools = {tool.name: tool for tool in tools}
        self.specs = [ToolSpec(name=t.name, description=t.description, parameters=schema_of(t)) for t in tools]

    def run(self, system_prompt: str, task: str) -> RunResult:
        """A new conversation with one task: its only turn."""
        self.messages = [Message.system(system_prompt)]
        return self.run_turn(render("task.j2", task=task))

    def run_turn(self, text: str, after_step: Callable[[], None] | None = None) -> RunResult:
        """Add the request `text` and go on until the turn ends, with fresh step, token and time budgets.

        `after_step` is called after every step, also one that ended the turn or was interrupted."""
        self.messages.append(Message.user(text))
        self.submitted_summary = ""
        self.consecutive_errors = 0
        self._turn_first_step = self.steps
        self._turn_first_tokens = self.usage.total_tokens
        return self._drive(after_step)

    def _drive(self, after_step: Callable[[], None] | None) -> RunResult:
        self._start_clock()
        try:
            while True:
                try:
                    self.step()
                finally:
                    if after_step is not None:
                        after_step()
        except RunEnded as ended:
            outcome = ended
        except KeyboardInterrupt:
            outcome = Interrupted("stopped by the user")
        return self._finish(outcome)

    def close_open_calls(self, note: str) -> None:
        """After an interrupted step, answer every tool call left without a result, so the conversation stays valid."""
        answered = {m.tool_call_id for m in self.messages if m.role == "tool"}
        for message in reversed(self.messages):
            if message.role == "assistant":
                for call in message.tool_calls:
                    if call.id not in answered:
                        self.messages.append(Message.tool(call, note))
                break
        self.trajectory.record_messages(self.messages)
        self.trajectory.save()

    def step(self) -> None:
        self._check_limits()
        self.steps += 1
        started = time.time()
        clock = time.monotonic()
        compacted = self._fit_context()
        response = self._ask_model()
        record = StepRecord(step=self.steps, started_at=started, model_duration_s=elapsed(clock), usage=response.usage, note=compacted)
        self.usage += response.usage
        self.messages.append(response.message)
        record.assistant_text = response.message.content
        self.hooks.on_assistant(response.message)
        self.hooks.on_usage(self.steps, response.usage, self.usage)

        answered = self.person_present and not response.format_error and not response.message.tool_calls
        if answered:
            record.note = "; ".join(filter(None, [record.note, "answer"]))
        elif not response.message.tool_calls:
            self._complain_no_call(response.format_error, record)
        else:
            # Every call gets its answer, even in a turn that also held one the adapter could not read:
            # the next request must not carry an unanswered call (provider APIs reject it).
            for call in response.message.tool_calls:
                record.tools.append(self._execute(call))
            if response.format_error:
                self._complain_unread_call(response.format_error, record)
        self._warn_when_budget_low()
        self.trajectory.record_messages(self.messages)
        self.trajectory.add_step(record)
        if self.submitted_summary:
            raise Submitted(self.submitted_summary)
        if answered:
            raise Answered(response.message.content)
        if self.consecutive_errors >= self.limits.max_consecutive_errors:
            raise RepeatedFailure(f"{self.consecutive_errors} invalid actions in a row")

    def _ask_model(self) -> ModelResponse:
        """The model's next turn, given up on at the run's deadline whatever the server does."""
        try:
            return bounded(self._deadline, lambda: self.model.complete(self.messages, self.specs))
        except ModelError as exc:
            raise ModelFailed(str(exc)) from None
        except DeadlinePassed:
            raise LimitsExceeded("time_limit", f"ran past {self.limits.max_seconds:g}s waiting for the model") from None
        except Exception as exc:  # noqa: BLE001 - whatever a server's answer breaks in an adapter ends the run as a model error
            raise ModelFailed(f"{self.model.name}: {type(exc).__name__}: {one_line(exc)}") from None

    # -- one tool call ---------------------------------------------------------------------------

    def _execute(self, call: ToolCall) -> ToolEvent:
        clock = time.monotonic()
        tool = self.tools.get(call.name)
        args: ToolArgs | None = None
        if tool is None:
            output = self._invalid(call, f"unknown tool {call.name!r}", f"Available tools: {', '.join(self.tools)}.")
        else:
            checked = self._validate(call, tool)
            if isinstance(checked, ToolOutput):
                output = checked
            else:
                args = checked
                try:
                    output, args = self._approve_and_run(call, tool, args)
                except ToolFailure as failure:
                    output = ToolOutput(text=render("tool_error.j2", tool=call.name, error=str(failure), hint=""), is_error=True)
        self.consecutive_errors = self.consecutive_errors + 1 if output.is_error and output.data.get("invalid") else 0
        for path in output.changed_files:
            self.changed[path] = None
        if output.changed_files:
            self.changed_since_tests = True
        if output.ends_run:
            self.submitted_summary = output.data.get("summary", "") or "done"
        self.messages.append(Message.tool(call, output.text))
        self.hooks.on_tool_end(call, output)
        return ToolEvent(
            call_id=call.id,
            tool=call.name,
            arguments=call.arguments,
            output=output.text,
            is_error=output.is_error,
            duration_s=elapsed(clock),
            data=output.data,
            described=tool.describe(args) if tool is not None and args is not None else "",
            test_report=bool(tool is not None and tool.reports_tests and args is not None and not output.is_error),
        )

    def _validate(self, call: ToolCall, tool: Tool) -> ToolArgs | ToolOutput:
        """The call's arguments as the tool's typed Args, or the error that goes back to the model."""
        try:
            raw = json.loads(call.arguments or "{}")
        except json.JSONDecodeError as exc:
            return self._invalid(call, f"arguments are not valid JSON ({exc.msg} at position {exc.pos})", "Send the arguments as one JSON object.")
        if not isinstance(raw, dict):
            return self._invalid(call, "arguments must be a JSON object", "")
        try:
            return tool.Args.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
            return self._invalid(call, f"bad arguments: {problems}", "Check the tool's parameters and call it again.")

    def _approve_and_run(self, call: ToolCall, tool: Tool, args: ToolArgs) -> tuple[ToolOutput, ToolArgs]:
        """Ask the approver, then run the call with the arguments it allowed; returns the output and those arguments."""
        approval = self.hooks.approve(call, tool, args, self.ctx)
        if isinstance(approval, Deny):
            return ToolOutput(text=approval.reason, is_error=True), args
        if approval.args is not None:
            args = approval.args
        self.hooks.on_tool_start(call, tool, args)
        if tool.unseen_changes:
            self.changed_since_tests = True
        try:
            output = tool.run(args, self.ctx)
        except SandboxError as exc:
            raise SandboxFailed(str(exc)) from None
        except ToolFailure:
            raise
        except (OSError, UnicodeError) as exc:
            raise ToolFailure(f"{type(exc).__name__}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a broken tool must not end the session; the model and trajectory see it
            raise ToolFailure(f"internal error in {call.name}: {type(exc).__name__}: {exc}") from None
        if tool.reports_tests:
            self._note_test_run(output)
        if approval.args is not None:
            # The person changed the call while approving it; the model must know what really ran.
            note = render("edited_call.j2", arguments=args.model_dump_json())
            output = replace(output, text=f"{note}\n{output.text}")
        return output, args

    def _fit_context(self) -> str:
        """Compact the middle of the conversation when it would overflow the model's window.

        The only place earlier turns are rewritten: otherwise messages only grow at the end, so server-side
        prefix caches keep hitting. Returns the note for the trajectory, or "" when nothing changed."""
        if self.fit_context is None:
            return ""
        try:
            fitted = self.fit_context(self.model, self.messages, self.specs)
        except ModelError as exc:
            raise ModelFailed(str(exc)) from None
        if fitted is None:
            return ""
        self.messages = list(fitted.messages)
        return fitted.note

    def _invalid(self, call: ToolCall, error: str, hint: str) -> ToolOutput:
        return ToolOutput(text=render("tool_error.j2", tool=call.name, error=error, hint=hint), is_error=True, data={"invalid": True})

    def _note_test_run(self, output: ToolOutput) -> None:
        self.changed_since_tests = False
        self.last_tests_passed = bool(output.data.get("passed"))
        self.last_test_line = output.text.splitlines()[0] if output.text else ""
        self.last_test_command = output.data.get("command", "")
        self.last_test_run = dict(output.data)

    def _complain_no_call(self, format_error: str | None, record: StepRecord) -> None:
        self.consecutive_errors += 1
        text = render("no_tool_call.j2", detail=format_error or "", tools=list(self.tools))
        self.messages.append(Message.user(text))
        record.note = "; ".join(filter(None, [record.note, "no tool call" + (f": {format_error}" if format_error else "")]))

    def _complain_unread_call(self, format_error: str, record: StepRecord) -> None:
        self.consecutive_errors += 1
        self.messages.append(Message.user(render("unread_call.j2", detail=format_error, tools=list(self.tools))))
        record.note = "; ".join(filter(None, [record.note, f"a call could not be read: {format_error}"]))

    # -- budgets and the end ---------------------------------------------------------------------

    def _start_clock(self) -> None:
        self._started = time.monotonic()
        self._deadline = Deadline(self._started + self.limits.max_seconds)

    def _check_limits(self) -> None:
        if self.steps - self._turn_first_step >= self.limits.max_steps:
            raise LimitsExceeded("max_steps", f"reached {self.limits.max_steps} steps")
        used = self.usage.total_tokens - self._turn_first_tokens
        if used >= self.limits.max_tokens:
            raise LimitsExceeded("max_tokens", f"used {used} of {self.limits.max_tokens} tokens")
        if self._deadline.passed:
            raise LimitsExceeded("time_limit", f"ran past {self.limits.max_seconds:g}s")

    def _warn_when_budget_low(self) -> None:
        left = self.limits.max_steps - (self.steps - self._turn_first_step)
        last = self.messages[-1]
        if left in (1, 3) and last.role in ("tool", "user"):
            note = render("budget_warning.j2", left=left)
            self.messages[-1] = last.model_copy(update={"content": f"{last.content}\n\n{note}"})

    def _finish(self, outcome: RunEnded) -> RunResult:
        tests_passed, test_summary, test_command = self.last_tests_passed, self.last_test_line, self.last_test_command
        test_run = self.last_test_run
        interrupted = isinstance(outcome, Interrupted)
        if self.final_tests is not None and not interrupted and (self.changed_since_tests or (self.changed and tests_passed is None)):
            test_command = self.ctx.test_command
            try:
                verdict = self.final_tests()
                tests_passed, test_summary, test_command, test_run = verdict.passed, verdict.summary, verdict.command, verdict.report
            except (SandboxError, KeyboardInterrupt) as exc:
                test_summary = f"final test run failed: {exc}"
                tests_passed, test_run = None, None
        return RunResult(
            reason=outcome.reason,
            detail=outcome.detail,
            steps=self.steps,
            usage=self.usage,
            duration_s=time.monotonic() - self._started,
            changed_files=list(self.changed),
            tests_passed=tests_passed,
            test_summary=test_summary,
            test_command=test_command,
            test_run=test_run,
            submitted_summary=self.submitted_summary,
        )
