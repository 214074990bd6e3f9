"""How the loop reaches a person: rendering and approval are passed in, never done by the core."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from loopwright.messages import ToolCall


class Approver(Protocol):
    def __call__(self, call: ToolCall, args: Any) -> str | None:
        """None to go ahead; otherwise the reason to give the model for not running the call."""
        ...


def _approve_all(call: ToolCall, args: Any) -> str | None:
    return None


def _ignore(*_: Any) -> None:
    return None


@dataclass
class Hooks:
    on_assistant: Any = _ignore
    """Called with each assistant Message."""
    on_tool_start: Any = _ignore
    """Called with (ToolCall, validated args) just before a tool runs."""
    on_tool_end: Any = _ignore
    """Called with (ToolCall, ToolOutput) after a tool ran."""
    approve: Approver = _approve_all
