"""The text tool-call protocol: for models or servers without native tool calls.

The model writes `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` (the Qwen/Hermes convention). Small
models miss it in predictable ways, so the parser also accepts fenced JSON, a bare JSON object naming a known tool,
and llama.cpp's `functions.NAME:` prefix, and repairs near-miss JSON before it gives up with an error the loop can
send back to the model.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files

import jinja2

from loopwright.messages import Message, ToolSpec

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCE = re.compile(r"```[a-zA-Z_]*\s*\n?(.*?)```", re.DOTALL)
_FUNCTIONS_PREFIX = re.compile(r"functions\.([A-Za-z_][\w-]*)\s*:?\s*")
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_PY_LITERALS = re.compile(r"\b(True|False|None)\b")


@dataclass(frozen=True)
class TextCall:
    name: str
    arguments: str
    """Arguments as canonical JSON text."""


@dataclass(frozen=True)
class TextParse:
    content: str
    """The text without the call blocks."""
    calls: tuple[TextCall, ...] = ()
    error: str | None = None
    """Why a block that looked like a call could not be used; meant to go back to the model."""
    repaired: bool = False


@cache
def _template() -> jinja2.Template:
    source = files("loopwright.models").joinpath("text_tool_protocol.j2").read_text(encoding="utf-8")
    return jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False).from_string(source)


def tool_protocol_prompt(tools: Sequence[ToolSpec]) -> str:
    """The system-prompt section that teaches the text protocol and lists the tools."""
    rendered = [
        {"name": t.name, "json": json.dumps({"name": t.name, "description": t.description, "parameters": t.parameters})}
        for t in tools
    ]
    return _template().render(tools=rendered).strip()


def render_calls(message: Message) -> str:
    """An assistant turn with calls, written back in the protocol so the history shows the model its own format."""
    blocks = [
        "<tool_call>\n" + json.dumps({"name": c.name, "arguments": _loads_or_raw(c.arguments)}) + "\n</tool_call>"
        for c in message.tool_calls
    ]
    return "\n".join(part for part in [message.content.strip(), *blocks] if part)


def render_result(message: Message) -> str:
    return f"<tool_response>\n{message.content}\n</tool_response>"


def _loads_or_raw(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text


def repair_json(text: str) -> tuple[object, bool]:
    """Parse JSON that a model nearly got right; returns (value, whether it needed repair). Raises ValueError."""
    text = text.strip()
    fenced = _FENCE.fullmatch(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        return json.loads(text), False
    except ValueError:
        pass
    candidate = _balance(_TRAILING_COMMA.sub(r"\1", text))
    for attempt in (
        candidate,
        _PY_LITERALS.sub(lambda m: {"True": "true", "False": "false", "None": "null"}[m.group(1)], candidate),
    ):
        try:
            return json.loads(attempt), True
        except ValueError:
            pass
    try:
        # Single quotes and Python literals: the model wrote a Python dict.
        value = ast.literal_eval(candidate)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ValueError(f"not valid JSON: {_first_line(text)}") from None
    if not isinstance(value, (dict, list)):
        raise ValueError(f"not a JSON object: {_first_line(text)}")
    return value, True


def _balance(text: str) -> str:
    """Close braces and brackets the model forgot at the end (it stopped early or dropped the last one)."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped = char == "\\" and not escaped
            if char == '"' and not escaped:
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]" and stack and stack[-1] == char:
            stack.pop()
    return text + "".join(reversed(stack))


def _first_line(text: str, limit: int = 80) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit] + "..."


def _json_objects(text: str) -> list[tuple[int, int]]:
    """Spans of top-level {...} objects in free text (string-aware brace matching)."""
    spans: list[tuple[int, int]] = []
    depth = 0
    start = -1
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            escaped = char == "\\" and not escaped
            if char == '"' and not escaped:
                in_string = False
            continue
        if char == '"' and depth:
            in_string = True
        elif char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                spans.append((start, index + 1))
    return spans


def _as_call(value: object, names: frozenset[str], *, name: str | None = None) -> TextCall:
    """Turn a parsed object into a call, or raise ValueError saying what is wrong with it."""
    if name is None:
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            raise ValueError('a call needs {"name": ..., "arguments": {...}}')
        name = value["name"]
        arguments = value.get("arguments", value.get("parameters", {}))
    else:
        arguments = value
    if name not in names:
        raise ValueError(f"unknown tool {name!r} (tools: {', '.join(sorted(names))})")
    if isinstance(arguments, str):
        arguments, _ = repair_json(arguments) if arguments.strip() else ({}, False)
    if not isinstance(arguments, dict):
        raise ValueError(f"arguments of {name} must be a JSON object")
    return TextCall(name=name, arguments=json.dumps(arguments))


@dataclass
class _Scan:
    names: frozenset[str]
    calls: list[tuple[int, TextCall]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    repaired: bool = False

    def take(self, span: tuple[int, int], body: str, *, name: str | None = None, strict: bool = True) -> None:
        try:
            value, repaired = repair_json(body)
            call = _as_call(value, self.names, name=name)
        except ValueError as error:
            if strict:
                self.errors.append(str(error))
                self.spans.append(span)
            return
        self.calls.append((span[0], call))
        self.spans.append(span)
        self.repaired |= repaired

    def overlaps(self, start: int, end: int) -> bool:
        return any(start < e and s < end for s, e in self.spans)


def parse_text_calls(text: str, tool_names: Sequence[str]) -> TextParse:
    """Find the tool calls written in `text`. Blocks that are clearly meant as calls but broken yield an error."""
    scan = _Scan(frozenset(tool_names))
    for match in _TAGGED.finditer(text):
        scan.take(match.span(), match.group(1))
    for match in _FUNCTIONS_PREFIX.finditer(text):
        if scan.overlaps(*match.span()) or match.group(1) not in scan.names:
            continue
        objects = [
            (s, e) for s, e in _json_objects(text[match.end() :]) if s == 0 or not text[match.end() :][:s].strip()
        ]
        if not objects:
            scan.errors.append(f"functions.{match.group(1)} has no JSON arguments")
            scan.spans.append(match.span())
            continue
        start, end = objects[0]
        scan.take(
            (match.start(), match.end() + end), text[match.end() + start : match.end() + end], name=match.group(1)
        )
    for match in _FENCE.finditer(text):
        if not scan.overlaps(*match.span()):
            scan.take(match.span(), match.group(1), strict=False)
    for start, end in _json_objects(text):
        if not scan.overlaps(start, end):
            scan.take((start, end), text[start:end], strict=False)
    content = text
    for start, end in sorted(scan.spans, reverse=True):
        content = content[:start] + content[end:]
    error = None
    if scan.errors:
        error = (
            "Your tool call could not be used: "
            + "; ".join(scan.errors)
            + ('. Write each call as <tool_call>{"name": "TOOL", "arguments": {...}}</tool_call> with valid JSON.')
        )
    calls = tuple(call for _, call in sorted(scan.calls, key=lambda item: item[0]))
    return TextParse(content=content.strip(), calls=calls, error=error, repaired=scan.repaired)


class StreamFilter:
    """Passes streamed text on, holding back everything from a `<tool_call>` tag on when calls are written as text."""

    _TAG = "<tool_call>"

    def __init__(self, sink: Callable[[str], None], *, hide_calls: bool) -> None:
        self._sink = sink
        self._hide = hide_calls
        self._held = ""
        self._closed = False

    def feed(self, piece: str) -> None:
        if not self._hide:
            self._sink(piece)
            return
        if self._closed:
            return
        self._held += piece
        tag = self._held.find(self._TAG)
        if tag >= 0:
            self._emit(self._held[:tag])
            self._closed = True
            return
        # Keep back a tail that could still grow into the tag.
        keep = next((n for n in range(len(self._TAG) - 1, 0, -1) if self._held.endswith(self._TAG[:n])), 0)
        self._emit(self._held[: len(self._held) - keep])
        self._held = self._held[len(self._held) - keep :]

    def close(self) -> None:
        if self._hide and not self._closed:
            self._emit(self._held)
        self._held = ""

    def _emit(self, text: str) -> None:
        if text:
            self._sink(text)
