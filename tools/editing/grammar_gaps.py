"""Constructs the compilers accept that the installed tree-sitter grammars report as syntax errors.

The edit check must not refuse code the compiler takes. Before an error counts, the file is read again with
each known gap on the erroneous lines neutralised: the construct's characters swapped for as many characters
the grammar does parse (spaces, or one identifier), so every position and line stays put and the code around
the construct is still judged. A macro beside an unclosed brace does not hide the unclosed brace.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

Span = tuple[int, int, str]
"""Character offsets [start, end) and what goes there instead: a text of the same length, newlines kept."""


@dataclass(frozen=True)
class Gap:
    """One construct a grammar gets wrong: where upstream tracks it, and how to find its spans in a text."""

    name: str
    upstream: str
    languages: frozenset[str]
    spans: Callable[[str], Iterator[Span]]


def neutralised(gap: Gap, text: str, lines: Collection[int]) -> str:
    """`text` with the gap's spans that start on one of `lines` (1-based) replaced; the same text when none do."""
    starts = _line_starts(text)
    out, done = [], 0
    for start, end, replacement in gap.spans(text):
        if start < done or bisect_right(starts, start) not in lines:
            continue
        out += [text[done:start], replacement]
        done = end
    return "".join(out) + text[done:] if out else text


def gaps_for(language: str) -> list[Gap]:
    return [gap for gap in GAPS if language in gap.languages]


def _line_starts(text: str) -> list[int]:
    return [0] + [match.end() for match in re.finditer("\n", text)]


def _blank(text: str) -> str:
    return re.sub(r"[^\r\n]", " ", text)


# `Box<dyn 'a + Fn(&[T]) -> T>`: tree-sitter-rust takes only a trait right after `dyn`.
_LIFETIME_FIRST = re.compile(r"\bdyn\s+('[A-Za-z_][A-Za-z0-9_]*\s*\+)", re.ASCII)


def _lifetime_first_bounds(text: str) -> Iterator[Span]:
    for match in _LIFETIME_FIRST.finditer(text):
        yield match.start(1), match.end(1), _blank(match.group(1))


# `unsafe extern "C" { safe fn abs(x: i32) -> i32; }`: Rust 2024's `safe` items, which the grammar has no word for.
_SAFE_ITEM = re.compile(r"\b(safe)[ \t]+(?=(?:fn|static)\b)", re.ASCII)


def _safe_items(text: str) -> Iterator[Span]:
    for match in _SAFE_ITEM.finditer(text):
        yield match.start(1), match.end(1), "    "


# `it->operator*()`, `a.operator==(b)`, `p->Base::operator[](i)`, `x.operator bool()`: an operator function named
# after `.` or `->`. Swapped for one identifier of the same length: `it->xxxxxxxxx()` is a plain member call.
_OPERATOR_MEMBER = re.compile(
    r"(?:\.|->)[ \t]*"
    r"((?:[A-Za-z_]\w*[ \t]*::[ \t]*)*operator\b[ \t]*"
    r"(?:\(\)|\[\]|(?:new|delete)\b(?:[ \t]*\[\])?|[A-Za-z_][\w:]*|[-+*/%^&|~!=<>,]+))"
    r"(?=[ \t]*\()",
    re.ASCII,
)


def _operator_member_calls(text: str) -> Iterator[Span]:
    for match in _OPERATOR_MEMBER.finditer(text):
        yield match.start(1), match.end(1), "x" * len(match.group(1))


# The grammars read C and C++ unpreprocessed, so a macro that expands to part of a statement or declaration
# (`std::transform(PAR_UNSEQ v.begin(), ...)` with `#define PAR_UNSEQ std::execution::par_unseq,`) cannot be
# judged. Macros are the names #defined in the file, and names in the macro style (CAPITALS, as headers' are).
_DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(\()?", re.ASCII | re.MULTILINE)
_NAME = re.compile(r"\b[A-Za-z_]\w*\b", re.ASCII)
_MACRO_STYLE = re.compile(r"[A-Z_][A-Z0-9_]*[A-Z][A-Z0-9_]*", re.ASCII)
_DIRECTIVE = re.compile(r"^[ \t]*#.*$", re.MULTILINE)
_OPENING = re.compile(r"[ \t]*\(")


def _macro_uses(text: str) -> Iterator[Span]:
    defined = {match.group(1): match.group(2) is not None for match in _DEFINE.finditer(text)}
    directives = [(match.start(), match.end()) for match in _DIRECTIVE.finditer(text)]
    directive_starts = [start for start, _ in directives]
    closing = _closing_parentheses(text)
    for match in _NAME.finditer(text):
        name = match.group()
        takes_arguments = defined.get(name)
        if takes_arguments is None and not (len(name) >= 3 and _MACRO_STYLE.fullmatch(name)):
            continue
        directive = bisect_right(directive_starts, match.start()) - 1
        if directive >= 0 and match.start() < directives[directive][1]:
            continue
        end = match.end()
        arguments = _OPENING.match(text, end)
        if takes_arguments is not False and arguments is not None:
            end = closing.get(arguments.end() - 1, end)
        yield match.start(), end, _blank(text[match.start():end])


def _closing_parentheses(text: str) -> dict[int, int]:
    """For each `(` that is closed, the offset just after its `)`."""
    pairs, open_at = {}, []
    for match in re.finditer(r"[()]", text):
        if match.group() == "(":
            open_at.append(match.start())
        elif open_at:
            pairs[open_at.pop()] = match.end()
    return pairs


GAPS = (
    Gap("a lifetime as the first bound of a trait object", "https://github.com/tree-sitter/tree-sitter-rust/issues/229",
        frozenset({"rust"}), _lifetime_first_bounds),
    Gap("a `safe` item in an extern block", "https://github.com/tree-sitter/tree-sitter-rust/issues/250",
        frozenset({"rust"}), _safe_items),
    # Fixed upstream (tree-sitter-cpp#329) after 0.23.4, the newest release: drop once a release has it.
    Gap("an operator function called as a member", "https://github.com/tree-sitter/tree-sitter-cpp/issues/252",
        frozenset({"cpp"}), _operator_member_calls),
    Gap("a preprocessor macro", "https://github.com/tree-sitter/tree-sitter-c/issues/7",
        frozenset({"c", "cpp"}), _macro_uses),
)
"""Tried in this order, each kept only where it leaves fewer errors."""
