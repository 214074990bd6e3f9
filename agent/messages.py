"""Typed messages of our own: provider shapes are converted into these at the adapter edge."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ToolCall(_Frozen):
    """One call the model asked for. `arguments` is the raw JSON text, validated by the loop."""

    id: str
    name: str
    arguments: str = "{}"


class Message(_Frozen):
    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    """For role "tool": the id of the call this message answers."""
    name: str | None = None
    """For role "tool": the tool's name."""

    @classmethod
    def system(cls, text: str) -> Message:
        return cls(role="system", content=text)

    @classmethod
    def user(cls, text: str) -> Message:
        return cls(role="user", content=text)

    @classmethod
    def tool(cls, call: ToolCall, text: str) -> Message:
        return cls(role="tool", content=text, tool_call_id=call.id, name=call.name)


class Usage(_Frozen):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens the server reports as served from its prefix cache."""
    cost_usd: float | None = None
    """None when the model's price is unknown."""

    def __add__(self, other: Usage) -> Usage:
        cost = None if self.cost_usd is None and other.cost_usd is None else (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cost_usd=cost,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class ModelResponse(_Frozen):
    """One assistant turn and what it cost."""

    message: Message
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    format_error: str | None = None
    """Set by adapters that parse tool calls out of text when the text held a call they could not parse."""


class ToolSpec(_Frozen):
    """What a model is told about a tool: name, description and the JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
