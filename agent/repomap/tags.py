"""Definitions and references of one source file, read with tree-sitter.

Runs inside worker processes: takes a path, returns plain data (strings and ints) that pickles cheaply.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from tree_sitter import QueryCursor

from loopwright.repomap.languages import parser_and_query

MAX_PARSE_BYTES = 1_000_000
"""Larger files (generated code, bundles) are shown by path only: parsing them costs more than they tell."""
MAX_SIGNATURE_LINES = 6
MINIFIED_LINE_CHARS = 400


@dataclass(frozen=True)
class Definition:
    name: str
    kind: str
    line: int
    """0-based first line of the definition."""
    signature_end: int
    """0-based last line shown when rendering: the lines before the body starts."""
    parent: int
    """Index of the enclosing definition in the same file, or -1."""


@dataclass(frozen=True)
class FileTags:
    definitions: tuple[Definition, ...]
    references: dict[str, int]
    """Referenced identifier -> how often."""


def extract(data: bytes, language: str) -> FileTags:
    """Tags of one file's bytes. Syntax errors are tolerated: tree-sitter recovers and we keep what it found."""
    parser, query, definition_patterns = parser_and_query(language)
    root = parser.parse(data).root_node
    found: list[tuple[int, int, int, str, str]] = []  # (start, end, signature_end, kind, name)
    seen: set[tuple[int, str]] = set()
    counts: Counter[bytes] = Counter()
    for pattern, captures in QueryCursor(query).matches(root):
        if pattern >= definition_patterns:
            for nodes in captures.values():
                counts.update(node.text or b"" for node in nodes)
            continue
        for capture, nodes in captures.items():
            if not capture.startswith("name."):
                continue
            kind = capture[len("name.definition.") :]
            outer = captures.get(f"definition.{kind}", nodes)[0]
            for node in nodes:
                name = (node.text or b"").decode("utf-8", errors="replace").strip()
                start = outer.start_point.row
                if not name or (start, name) in seen:
                    continue
                seen.add((start, name))
                found.append((start, outer.end_point.row, _signature_end(outer), kind, name))
    found.sort(key=lambda d: (d[0], -d[1]))
    references = {raw.decode("utf-8", errors="replace"): n for raw, n in counts.items() if raw}
    return FileTags(definitions=_with_parents(found), references=references)


def _signature_end(node) -> int:
    """The last line before the body: multi-line signatures stay whole, bodies are elided."""
    start = node.start_point.row
    body = node.child_by_field_name("body")
    if body is not None and body.start_point.row > start:
        end = body.start_point.row - 1
    else:
        end = start
    return min(end, start + MAX_SIGNATURE_LINES - 1)


def _with_parents(found: list[tuple[int, int, int, str, str]]) -> tuple[Definition, ...]:
    definitions: list[Definition] = []
    open_scopes: list[tuple[int, int]] = []  # (index, end row) of definitions still enclosing the current line
    for start, end, signature_end, kind, name in found:
        while open_scopes and open_scopes[-1][1] < start:
            open_scopes.pop()
        parent = open_scopes[-1][0] if open_scopes else -1
        definitions.append(Definition(name, kind, start, signature_end, parent))
        if end > start:
            open_scopes.append((len(definitions) - 1, end))
    return tuple(definitions)


def extract_file(path: str, language: str) -> FileTags | None:
    """Tags of the file at `path`, or None when it is unreadable, binary or too large to parse."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PARSE_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_PARSE_BYTES or b"\x00" in data[:8192] or _minified(data):
        return None
    try:
        return extract(data, language)
    except (ValueError, RuntimeError, RecursionError):
        return None


def _minified(data: bytes) -> bool:
    """Bundled or minified code: a few enormous lines whose "signatures" would swamp the map."""
    return len(data) > 20_000 and len(data) / (data.count(b"\n") + 1) > MINIFIED_LINE_CHARS


def extract_batch(batch: list[tuple[str, str]]) -> list[FileTags | None]:
    """Worker entry point: one result per (path, language), in order."""
    return [extract_file(path, language) for path, language in batch]
