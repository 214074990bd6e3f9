"""Syntax checks with tree-sitter: does an edit leave the file with parse errors it did not have before?

The grammars are not the compilers: where one is known to reject valid code (`grammar_gaps`) the error does
not count, and errors in regions the grammar could not parse before the edit are not the edit's doing.
"""

from __future__ import annotations

import importlib
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cache
from pathlib import PurePosixPath

from tree_sitter import Language, Node, Parser

from loopwright.tools.editing import grammar_gaps

# extension -> (grammar module, function in it, language name in the language pack)
GRAMMARS = {
    ".py": ("tree_sitter_python", "language", "python"),
    ".pyi": ("tree_sitter_python", "language", "python"),
    ".js": ("tree_sitter_javascript", "language", "javascript"),
    ".mjs": ("tree_sitter_javascript", "language", "javascript"),
    ".cjs": ("tree_sitter_javascript", "language", "javascript"),
    ".jsx": ("tree_sitter_javascript", "language", "javascript"),
    ".ts": ("tree_sitter_typescript", "language_typescript", "typescript"),
    ".mts": ("tree_sitter_typescript", "language_typescript", "typescript"),
    ".tsx": ("tree_sitter_typescript", "language_tsx", "tsx"),
    ".go": ("tree_sitter_go", "language", "go"),
    ".rs": ("tree_sitter_rust", "language", "rust"),
    ".java": ("tree_sitter_java", "language", "java"),
    ".c": ("tree_sitter_c", "language", "c"),
    ".h": ("tree_sitter_c", "language", "c"),
    ".cc": ("tree_sitter_cpp", "language", "cpp"),
    ".cpp": ("tree_sitter_cpp", "language", "cpp"),
    ".cxx": ("tree_sitter_cpp", "language", "cpp"),
    ".hpp": ("tree_sitter_cpp", "language", "cpp"),
    ".hh": ("tree_sitter_cpp", "language", "cpp"),
}
MAX_REPORTED = 3
EITHER = {".h": ".hpp"}
"""A header that may be C or C++: checked with the C++ grammar too, and fine when either parses it."""


@cache
def parser_for(path: str) -> Parser | None:
    """A parser for the file's language, or None when the language is not checked (or its grammar is missing)."""
    grammar = GRAMMARS.get(PurePosixPath(path).suffix.lower())
    if grammar is None:
        return None
    module, function, pack_name = grammar
    try:
        return Parser(Language(getattr(importlib.import_module(module), function)()))
    except (ImportError, AttributeError):
        pass
    try:
        # The language pack fetches grammars on first use; offline it may have none, which just skips the check.
        from tree_sitter_language_pack import get_parser

        parser: Parser = get_parser(pack_name)
        return parser
    except Exception:  # noqa: BLE001 - any failure to get a grammar means "not checked", never a failed edit
        return None


@dataclass(frozen=True)
class Problem:
    """One syntax error: where it starts, what it is, and the lines of the construct it broke."""

    line: int
    kind: str
    first: int
    """First line of the region: the error's own, or the token's before it (a macro name ahead of the error)."""
    last: int


def problems(path: str, text: str) -> list[Problem]:
    """Every syntax error tree-sitter finds that no known grammar gap explains; empty when fine or not checked."""
    found = _problems(path, text)
    other = EITHER.get(PurePosixPath(path).suffix.lower())
    if found and other:
        second = _problems(str(PurePosixPath(path).with_suffix(other)), text)
        return second if len(second) < len(found) else found
    return found


def _problems(path: str, text: str) -> list[Problem]:
    parser = parser_for(path)
    if parser is None:
        return []
    found = _parse(parser, text)
    for gap in grammar_gaps.gaps_for(GRAMMARS[PurePosixPath(path).suffix.lower()][2]):
        if not found:
            break
        lines = {line for problem in found for line in range(problem.first, problem.last + 1)}
        neutral = grammar_gaps.neutralised(gap, text, lines)
        if neutral != text:
            again = _parse(parser, neutral)
            if len(again) < len(found):
                text, found = neutral, again
    return found


def _parse(parser: Parser, text: str) -> list[Problem]:
    root = parser.parse(text.encode("utf-8")).root_node
    found: list[Problem] = []
    if root.has_error:
        _collect(root, found)
    return found


def _collect(node: Node, found: list[Problem]) -> None:
    if node.is_missing or node.is_error:
        kind = f"missing '{node.type}'" if node.is_missing else "syntax error"
        start, end, before = node.start_point, node.end_point, node.prev_sibling
        first = min(start.row, before.start_point.row) if before is not None else start.row
        last = end.row - 1 if end.column == 0 and end.row > start.row else end.row
        found.append(Problem(start.row + 1, kind, first + 1, last + 1))
        return
    for child in node.children:
        if child.has_error:
            _collect(child, found)


def new_problems(path: str, before: str, after: str) -> list[Problem]:
    """Errors the edit introduced. Not those `before` had too: the same error on a line of the same text (moved
    code), or one lying wholly where `before` could not be parsed (a gap of the grammar, or old breakage). A new
    file (`before` empty) has every error checked."""
    after_found = problems(path, after)
    if not after_found:
        return []
    before_found = problems(path, before)
    if not before_found:
        return after_found
    old_lines, new_lines = before.split("\n"), after.split("\n")
    unparsed = _carried(before_found, old_lines, new_lines)
    seen = Counter(_same_error(problem, old_lines) for problem in before_found)
    fresh = []
    for problem in after_found:
        if unparsed.issuperset(range(problem.first, problem.last + 1)):
            continue
        key = _same_error(problem, new_lines)
        if seen[key]:
            seen[key] -= 1
        else:
            fresh.append(problem)
    return fresh


def _same_error(problem: Problem, lines: list[str]) -> tuple[str, str, int]:
    return problem.kind, _line(lines, problem.line), problem.last - problem.first


def _carried(found: list[Problem], old_lines: list[str], new_lines: list[str]) -> set[int]:
    """Lines of the new text (1-based) that stand where the old text had an unparsed region: unchanged lines
    map one to one, rewritten ones to their share of the lines they replace, and inserted ones count when
    the old lines on both sides were unparsed."""
    unparsed = {line - 1 for problem in found for line in range(problem.first, problem.last + 1)}
    carried: set[int] = set()
    for tag, i1, i2, j1, j2 in _blocks(old_lines, new_lines):
        if tag == "insert" and {i1 - 1, i1} <= unparsed:
            carried.update(range(j1 + 1, j2 + 1))
        if tag not in ("equal", "replace"):
            continue
        old, new = i2 - i1, j2 - j1
        for j in range(new):
            low = i1 + j * old // new
            high = max(low + 1, i1 + -(-(j + 1) * old // new))
            if not unparsed.isdisjoint(range(low, high)):
                carried.add(j1 + j + 1)
    return carried


def _blocks(old: list[str], new: list[str]) -> list[tuple[str, int, int, int, int]]:
    """difflib's opcodes, with the common head and tail taken off first: an edit usually changes one place."""
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    middle = SequenceMatcher(None, old[head:len(old) - tail], new[head:len(new) - tail]).get_opcodes()
    blocks = [("equal", 0, head, 0, head)] if head else []
    blocks += [(tag, i1 + head, i2 + head, j1 + head, j2 + head) for tag, i1, i2, j1, j2 in middle]
    if tail:
        blocks.append(("equal", len(old) - tail, len(old), len(new) - tail, len(new)))
    return blocks


def _line(lines: list[str], row: int) -> str:
    return lines[row - 1].strip() if 0 < row <= len(lines) else ""


def describe(path: str, found: list[Problem], text: str) -> str:
    lines = text.split("\n")
    parts = [f"line {p.line}: {p.kind} in `{_line(lines, p.line)[:80]}`" for p in found[:MAX_REPORTED]]
    more = f" (and {len(found) - MAX_REPORTED} more)" if len(found) > MAX_REPORTED else ""
    return f"{path}: the edit would introduce syntax errors, so it was not applied: {'; '.join(parts)}{more}"
