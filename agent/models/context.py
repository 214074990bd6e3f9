"""Context-window accounting: estimate tokens, and compact the middle of a conversation before it overflows.

Compaction is the one sanctioned rewrite of earlier turns (it costs the prefix cache once): system prompt, task and
recent turns stay word for word; the middle becomes one summary message that says what happened.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from loopwright.messages import Message, ToolSpec
from loopwright.model import ModelError
from loopwright.seams import Fitted

Summarizer = Callable[[Sequence[Message]], str]

# Prompt windows in tokens; a server or config can say otherwise.
KNOWN_WINDOWS = {
    "openai:gpt-5": 272_000,
    "openai:gpt-5-mini": 272_000,
    "openai:gpt-4.1": 1_000_000,
    "openai:gpt-4o": 128_000,
    "anthropic:claude-sonnet-4-5": 200_000,
    "anthropic:claude-opus-4-1": 200_000,
    "anthropic:claude-haiku-4-5": 200_000,
}
LOCAL_DEFAULT_WINDOW = 8192


def context_window(model_name: str) -> int:
    """The window for a `provider:model` name, family prefixes included; local servers get a small safe default."""
    if model_name in KNOWN_WINDOWS:
        return KNOWN_WINDOWS[model_name]
    matches = [k for k in KNOWN_WINDOWS if model_name.startswith(k + "-")]
    return KNOWN_WINDOWS[max(matches, key=len)] if matches else LOCAL_DEFAULT_WINDOW


class TokenCounter:
    """Estimates tokens from characters, at a ratio learned from what a server actually counted.

    A tokenizer per provider would be exact but is not available for every local model. `observe` takes a server's
    count of a prompt it was sent; after one such answer, estimates of prompts like it are within a few percent (the
    Chat Completions adapter estimates this way for servers that stream without usage). Until then it assumes
    `chars_per_token`.
    """

    def __init__(self, chars_per_token: float = 3.5) -> None:
        self.chars_per_token = chars_per_token

    @staticmethod
    def characters(messages: Sequence[Message], tools: Sequence[ToolSpec] = ()) -> int:
        total = sum(len(m.content) + sum(len(c.name) + len(c.arguments) for c in m.tool_calls) + 16 for m in messages)
        return total + sum(len(t.name) + len(t.description) + len(json.dumps(t.parameters)) for t in tools)

    def count(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = ()) -> int:
        return int(self.characters(messages, tools) / self.chars_per_token) + 1

    def observe(self, messages: Sequence[Message], tools: Sequence[ToolSpec], input_tokens: int) -> None:
        """Learn the ratio from a server's count of the same prompt."""
        if input_tokens > 0:
            self.chars_per_token = max(self.characters(messages, tools) / input_tokens, 1.0)


@dataclass(frozen=True)
class Compaction:
    messages: tuple[Message, ...]
    summarized: int
    """How many messages the summary replaced."""
    note: str
    """One line for the trajectory."""


def summarize_extractive(messages: Sequence[Message]) -> str:
    """A summary without a model call: what was called, and the first line of each result."""
    lines = []
    for message in messages:
        if message.role == "assistant":
            if message.content.strip():
                lines.append(f"- assistant: {_clip(message.content)}")
            lines += [f"- called {c.name}({_clip(c.arguments, 120)})" for c in message.tool_calls]
        elif message.role == "tool":
            lines.append(f"  -> {_clip(message.content)}")
        elif message.role == "user":
            lines.append(f"- user: {_clip(message.content)}")
    return "\n".join(lines)


def _clip(text: str, limit: int = 160) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[:limit] + "..."


def _head_length(messages: Sequence[Message]) -> int:
    """System messages and the first user message (the task) are kept."""
    index = 0
    while index < len(messages) and messages[index].role == "system":
        index += 1
    if index < len(messages) and messages[index].role == "user":
        index += 1
    return index


def _tail_start(messages: Sequence[Message], head: int, keep_recent: int) -> int:
    """Start of the kept tail, moved back so no tool result loses the assistant turn that asked for it."""
    start = max(len(messages) - keep_recent, head)
    while start > head and messages[start].role == "tool":
        start -= 1
    return start


def fit_to_window(
    messages: Sequence[Message],
    *,
    window: int,
    tools: Sequence[ToolSpec] = (),
    reserve_output: int = 4096,
    keep_recent: int = 8,
    counter: TokenCounter | None = None,
    summarize: Summarizer = summarize_extractive,
) -> Compaction | None:
    """None when the conversation fits; otherwise a compacted copy. Raises ModelError when even that cannot fit."""
    counter = counter or TokenCounter()
    budget = window - reserve_output
    if counter.count(messages, tools) <= budget:
        return None
    head = _head_length(messages)
    for keep in range(keep_recent, 0, -1):
        start = _tail_start(messages, head, keep)
        middle = list(messages[head:start])
        if not middle:
            continue
        note = f"context compacted: {len(middle)} earlier messages summarized to stay within {window} tokens"
        summary = Message.user(f"[{note}]\n{summarize(middle)}")
        candidate = (*messages[:head], summary, *messages[start:])
        if counter.count(candidate, tools) <= budget:
            return Compaction(messages=candidate, summarized=len(middle), note=note)
    raise ModelError(
        f"the conversation does not fit the model's {window}-token window even after compaction "
        f"(system prompt, task and the last turn alone are about {counter.count([*messages[:head], messages[-1]], tools)} tokens)"
    )


def fit_for_model(model: object, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> Fitted | None:
    """The loop's `ContextFitter`: compact for the window the model declares (`context_window`); none, no fitting.
    Tokens are counted at the ratio the model's adapter learned from its server (`token_counter`), where it has one."""
    window = getattr(model, "context_window", None)
    if not window:
        return None
    counter = getattr(model, "token_counter", None)
    compaction = fit_to_window(messages, window=window, tools=tools, counter=counter if isinstance(counter, TokenCounter) else None)
    return None if compaction is None else Fitted(messages=compaction.messages, note=compaction.note)
