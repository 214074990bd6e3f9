"""A model that replays a fixed list of turns: the test double that drives the real loop."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from loopwright.messages import Message, ModelResponse, ToolCall, ToolSpec, Usage
from loopwright.model import ModelError


@dataclass(frozen=True)
class Turn:
    """One scripted assistant turn: some text and the tool calls it makes (name, arguments)."""

    text: str = ""
    calls: tuple[tuple[str, dict[str, Any] | str], ...] = ()
    format_error: str | None = None
    """What an adapter that parses calls out of text would report of a call it could not read."""


def call(name: str, /, **arguments: Any) -> Turn:
    return Turn(calls=((name, arguments),))


@dataclass
class ScriptedModel:
    turns: Sequence[Turn]
    name: str = "scripted"
    context_window: int | None = None
    """When set, the loop compacts the conversation to fit it, as with a real model."""
    seen: list[list[Message]] = field(default_factory=list)
    """Every conversation the model was asked to continue, for tests to inspect."""
    offered: list[list[str]] = field(default_factory=list)
    """The names of the tools offered with each of those conversations."""

    def complete(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ModelResponse:
        self.seen.append(list(messages))
        self.offered.append([tool.name for tool in tools])
        index = len(self.seen) - 1
        if index >= len(self.turns):
            raise ModelError(f"scripted model has no turn {index + 1} (script has {len(self.turns)})")
        turn = self.turns[index]
        calls = tuple(
            ToolCall(id=f"call_{index}_{n}", name=name, arguments=args if isinstance(args, str) else json.dumps(args))
            for n, (name, args) in enumerate(turn.calls)
        )
        prompt = sum(len(m.content) for m in messages) // 4
        completion = (len(turn.text) + sum(len(c.arguments) for c in calls)) // 4 + 1
        return ModelResponse(
            message=Message(role="assistant", content=turn.text, tool_calls=calls),
            usage=Usage(input_tokens=prompt, output_tokens=completion),
            model=self.name,
            format_error=turn.format_error,
        )


def load_script(path: str) -> ScriptedModel:
    """Read a script file: a JSON list of turns, each {"text": ..., "calls": [[name, {arguments}], ...]}."""
    from pathlib import Path

    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        turns = [Turn(text=t.get("text", ""), calls=tuple((c[0], c[1]) for c in t.get("calls", []))) for t in raw]
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise ModelError(f"cannot read model script {path}: {exc}") from None
    return ScriptedModel(turns=turns, name=f"scripted:{Path(path).name}")
