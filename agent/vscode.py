"""`loopwright init vscode`: tasks for VS Code and a problem matcher for loopwright's diagnostics.

tasks.json is JSON with comments. An existing file is edited in place, text-wise: the loopwright
tasks and input are replaced or appended, and everything else (other tasks, comments, layout)
stays byte for byte as it was.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopwright.diagnostics import PATTERN
from loopwright.sandboxes import hostfs

FIX_TESTS = "loopwright: fix failing tests"
ON_FILE = "loopwright: do task on current file"
INPUT_ID = "loopwrightRequest"

PROBLEM_MATCHER = {
    "owner": "loopwright",
    "source": "loopwright",
    "fileLocation": ["relative", "${workspaceFolder}"],
    "pattern": {"regexp": PATTERN, "file": 1, "line": 2, "severity": 3, "message": 4},
}


class VscodeError(Exception):
    """tasks.json cannot be updated safely; the message is one line for the user."""


def tasks() -> list[dict[str, Any]]:
    common = {"type": "process", "command": "loopwright", "problemMatcher": PROBLEM_MATCHER, "presentation": {"reveal": "always", "panel": "dedicated"}}
    return [
        {
            "label": FIX_TESTS,
            **common,
            "args": ["run", "--repo", "${workspaceFolder}", "--diagnostics", "--", "Make the failing tests pass."],
        },
        {
            "label": ON_FILE,
            **common,
            "args": [
                "run", "--repo", "${workspaceFolder}", "--diagnostics",
                "--file=${file}", "--line=${lineNumber}", "--selection=${selectedText}",
                "--", "${input:" + INPUT_ID + "}",
            ],
        },
    ]


def inputs() -> list[dict[str, Any]]:
    return [{"id": INPUT_ID, "type": "promptString", "description": "What should loopwright do with this file?"}]


TASKS_BYTES = 1 << 20


def write_tasks(workspace: Path) -> tuple[Path, bool]:
    """Create or update .vscode/tasks.json; returns its path and whether it changed."""
    path = workspace / ".vscode" / "tasks.json"
    try:
        if not os.path.lexists(path):
            hostfs.write_atomic(workspace, path, _fresh().encode("utf-8"))
            return path, True
        text = hostfs.read_bytes(workspace, path, TASKS_BYTES).decode("utf-8")
        updated = merge(text)
        if updated == text:
            return path, False
        hostfs.write_atomic(workspace, path, updated.encode("utf-8"))
    except (OSError, UnicodeError) as exc:
        raise VscodeError(f"{path}: cannot read or write: {exc}") from None
    return path, True


def _fresh() -> str:
    body = json.dumps({"version": "2.0.0", "tasks": tasks(), "inputs": inputs()}, indent=4)
    return "// Tasks from `loopwright init vscode`; run it again to update them.\n" + body + "\n"


def merge(text: str) -> str:
    """`text` (a tasks.json) with the loopwright tasks and input in it, all else untouched."""
    root = _parse(text)
    if root.kind != "object":
        raise VscodeError("tasks.json: the top level is not an object; fix it by hand first")
    edits: list[tuple[int, int, str]] = []
    missing: dict[str, list[dict[str, Any]]] = {}
    for key, wanted, identity in (("tasks", tasks(), "label"), ("inputs", inputs(), "id")):
        array = root.member(key)
        if array is None:
            missing[key] = wanted
        elif array.kind != "array":
            raise VscodeError(f"tasks.json: {key!r} is not a list; fix it by hand first")
        else:
            edits += _upsert(text, array, wanted, identity)
    if missing:
        edits.append(_add_members(text, root, missing))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    loads(text)  # never write a file that does not parse
    return text


def loads(text: str) -> Any:
    """Parse JSON with comments and trailing commas (the dialect of VS Code's settings files)."""
    kept = []
    tokens = [t for t in _tokens(text) if t.kind not in ("ws", "comment")]
    for index, token in enumerate(tokens):
        if token.text == "," and index + 1 < len(tokens) and tokens[index + 1].text in ("]", "}"):
            continue
        kept.append(token.text)
    try:
        return json.loads(" ".join(kept))
    except json.JSONDecodeError as exc:
        raise VscodeError(f"tasks.json: not valid JSON with comments ({exc.msg})") from None


# -- a small JSONC reader that keeps character positions --------------------------------------------

_TOKEN = re.compile(
    r'(?P<ws>\s+)|(?P<comment>//[^\n]*|/\*.*?\*/)|(?P<str>"(?:[^"\\\n]|\\.)*")|(?P<punct>[{}\[\],:])|(?P<lit>[^\s{}\[\],:"/]+)',
    re.DOTALL,
)


@dataclass
class _Token:
    kind: str
    text: str
    start: int
    end: int


@dataclass
class _Node:
    kind: str
    start: int
    end: int
    items: list[_Node] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    key_starts: list[int] = field(default_factory=list)
    value: Any = None

    def member(self, key: str) -> _Node | None:
        return self.items[self.keys.index(key)] if key in self.keys else None


def _tokens(text: str) -> list[_Token]:
    found, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            line = text.count("\n", 0, position) + 1
            raise VscodeError(f"tasks.json: not valid JSON with comments (line {line})")
        found.append(_Token(match.lastgroup or "", match.group(), match.start(), match.end()))
        position = match.end()
    return found


def _parse(text: str) -> _Node:
    tokens = [t for t in _tokens(text) if t.kind not in ("ws", "comment")]
    if not tokens:
        raise VscodeError("tasks.json is empty; delete it and run again")
    node, _ = _value(tokens, 0)
    return node


def _value(tokens: list[_Token], index: int) -> tuple[_Node, int]:
    try:
        token = tokens[index]
    except IndexError:
        raise VscodeError("tasks.json: not valid JSON with comments (ends early)") from None
    if token.text not in ("{", "["):
        return _Node("scalar", token.start, token.end, value=token.text), index + 1
    closing = "}" if token.text == "{" else "]"
    node = _Node("object" if closing == "}" else "array", token.start, token.end)
    index += 1
    while index < len(tokens) and tokens[index].text != closing:
        if closing == "}":
            key = tokens[index]
            if key.kind != "str" or index + 1 >= len(tokens) or tokens[index + 1].text != ":":
                raise VscodeError(f"tasks.json: not valid JSON with comments (near {key.text[:30]!r})")
            node.keys.append(json.loads(key.text))
            node.key_starts.append(key.start)
            index += 2
        child, index = _value(tokens, index)
        node.items.append(child)
        if index < len(tokens) and tokens[index].text == ",":
            index += 1
    if index >= len(tokens):
        raise VscodeError("tasks.json: not valid JSON with comments (unclosed bracket)")
    node.end = tokens[index].end
    return node, index + 1


def _upsert(text: str, array: _Node, wanted: list[dict[str, Any]], identity: str) -> list[tuple[int, int, str]]:
    indent = _indent_of(text, array)
    existing = {}
    for item in array.items:
        if item.kind == "object":
            try:
                existing[loads(text[item.start : item.end]).get(identity)] = item
            except VscodeError:
                continue
    edits, appended = [], []
    for entry in wanted:
        current = existing.get(entry[identity])
        if current is None:
            appended.append(_render(entry, indent))
        elif loads(text[current.start : current.end]) != entry:
            edits.append((current.start, current.end, _render(entry, indent).lstrip()))
    if appended:
        if array.items:
            last = array.items[-1]
            edits.append((last.end, last.end, "".join(",\n" + block for block in appended)))
        else:
            edits.append((array.start + 1, array.start + 1, "\n" + ",\n".join(appended) + "\n" + indent[:-4]))
    return edits


def _add_members(text: str, obj: _Node, members: dict[str, list[dict[str, Any]]]) -> tuple[int, int, str]:
    inner = _indent_of(text, obj)
    blocks = [f'{inner}"{key}": ' + json.dumps(value, indent=4).replace("\n", "\n" + inner) for key, value in members.items()]
    if obj.items:
        last = obj.items[-1]
        return last.end, last.end, "".join(",\n" + block for block in blocks)
    return obj.start + 1, obj.start + 1, "\n" + ",\n".join(blocks) + "\n"


def _indent_of(text: str, node: _Node) -> str:
    """The indentation of the container's first entry, or one level deeper than the container."""
    if node.items:
        first = node.key_starts[0] if node.kind == "object" else node.items[0].start
        line_start = text.rfind("\n", 0, first) + 1
        prefix = text[line_start:first]
        if not prefix.strip():
            return prefix
    line_start = text.rfind("\n", 0, node.start) + 1
    own = len(text[line_start:node.start]) - len(text[line_start:node.start].lstrip())
    return " " * (own + 4)


def _render(entry: dict[str, Any], indent: str) -> str:
    return indent + json.dumps(entry, indent=4).replace("\n", "\n" + indent)
