"""Syntax checks with tree-sitter: does an edit leave the file with parse errors it did not have before?"""

from __future__ import annotations

import importlib
from collections import Counter
from functools import cache
from pathlib import PurePosixPath

from tree_sitter import Language, Node, Parser

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


def problems(path: str, text: str) -> list[tuple[int, str]]:
    """(1-based line, description) of every syntax error tree-sitter finds; empty when fine or not checked."""
    found = _problems(path, text)
    other = EITHER.get(PurePosixPath(path).suffix.lower())
    if found and other:
        second = _problems(str(PurePosixPath(path).with_suffix(other)), text)
        return second if len(second) < len(found) else found
    return found


def _problems(path: str, text: str) -> list[tuple[int, str]]:
    parser = parser_for(path)
    if parser is None:
        return []
    root = parser.parse(text.encode("utf-8")).root_node
    if not root.has_error:
        return []
    found: list[tuple[int, str]] = []
    _collect(root, found)
    return found


def _collect(node: Node, found: list[tuple[int, str]]) -> None:
    if node.is_missing:
        found.append((node.start_point.row + 1, f"missing '{node.type}'"))
        return
    if node.is_error:
        found.append((node.start_point.row + 1, "syntax error"))
        return
    for child in node.children:
        if child.has_error:
            _collect(child, found)


def new_problems(path: str, before: str, after: str) -> list[tuple[int, str]]:
    """Errors in `after` beyond those `before` already had (compared by kind and line text, not line number)."""
    after_found = problems(path, after)
    if not after_found:
        return []
    old_lines, new_lines = before.split("\n"), after.split("\n")
    seen = Counter((kind, _line(old_lines, row)) for row, kind in problems(path, before))
    fresh = []
    for row, kind in after_found:
        key = (kind, _line(new_lines, row))
        if seen[key]:
            seen[key] -= 1
        else:
            fresh.append((row, kind))
    return fresh


def _line(lines: list[str], row: int) -> str:
    return lines[row - 1].strip() if 0 < row <= len(lines) else ""


def describe(path: str, found: list[tuple[int, str]], text: str) -> str:
    lines = text.split("\n")
    parts = [f"line {row}: {kind} in `{_line(lines, row)[:80]}`" for row, kind in found[:MAX_REPORTED]]
    more = f" (and {len(found) - MAX_REPORTED} more)" if len(found) > MAX_REPORTED else ""
    return f"{path}: the edit would introduce syntax errors, so it was not applied: {'; '.join(parts)}{more}"
