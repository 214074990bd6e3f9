"""How the loop reaches a person: rendering and approval are passed in, never done by the core."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from loopwright.messages import ToolCall
from loopwright.tools.base import Tool, ToolArgs, ToolContext


@dataclass(frozen=True)
class Allow:
    """Run the call."""

    args: ToolArgs | None = None
    """Arguments the person changed, to run instead of the model's (a new validated object, never the
    model's edited in place); None runs the call as the model asked. The model is told what really ran."""


@dataclass(frozen=True)
class Deny:
    """Do not run the call; the reason goes to the model as the call's result."""

    reason: str


Approval = Allow | Deny


class Approver(Protocol):
    def __call__(self, call: ToolCall, tool: Tool, args: ToolArgs, ctx: ToolContext) -> Approval:
        """Whether a validated call may run; `tool` says what it is (kind, description, preview in `ctx`)."""
        ...


def _approve_all(call: ToolCall, tool: Tool, args: ToolArgs, ctx: ToolContext) -> Approval:
    return Allow()


def _ignore(*_: Any) -> None:
    return None


@dataclass
class Hooks:
    on_assistant: Any = _ignore
    """Called with each assistant Message."""
    on_tool_start: Any = _ignore
    """Called with (ToolCall, Tool, validated args) just before a tool runs; the args are the ones that run."""
    on_tool_end: Any = _ignore
    """Called with (ToolCall, ToolOutput) after a tool ran."""
    on_usage: Any = _ignore
    """Called with (step number, that step's Usage, the run's Usage so far) after each model turn."""
    approve: Approver = _approve_all


def chain(first: Hooks, then: Hooks) -> Hooks:
    """Hooks that tell every step to `first`, then to `then` (a printer and an event stream watching one run);
    approval is `first`'s alone."""

    def both(name: str) -> Any:
        one, other = getattr(first, name), getattr(then, name)

        def call(*args: Any) -> None:
            one(*args)
            other(*args)

        return call

    return Hooks(on_assistant=both("on_assistant"), on_tool_start=both("on_tool_start"), on_tool_end=both("on_tool_end"), on_usage=both("on_usage"), approve=first.approve)
