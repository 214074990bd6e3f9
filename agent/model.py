"""The seam between the loop and a model backend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from loopwright.messages import Message, ModelResponse, ToolSpec

TextHook = Callable[[str], None]
"""Receives text as the model streams it."""


@runtime_checkable
class Model(Protocol):
    name: str

    def complete(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ModelResponse:
        """Return the next assistant turn for this conversation."""
        ...


class ModelError(Exception):
    """A backend failed for good (after its retries); the message is one line for the user."""


def one_line(text: object, limit: int = 300) -> str:
    """`text` on one line, cut at `limit` characters: how a model's failure is told."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit] + "..."
