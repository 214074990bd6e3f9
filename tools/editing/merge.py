"""Turning a located match into replacement text: the model's change is replayed onto the file's own lines.

Lines the model meant to keep come from the file, byte for byte, so whitespace slips in its copy of them never
reach the file; only the lines it adds or changes come from its new text, re-indented by the shift found.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

Span = tuple[int, int]


@dataclass(frozen=True)
class Shift:
    """How the file's indentation differs from the model's: `prefix` added (+1) or removed (-1)."""

    sign: int = 0
    prefix: str = ""

    @staticmethod
    def between(pairs: list[tuple[str, str]]) -> Shift | None:
        """The one shift that turns every old line's indentation into its file line's, or None if none does."""
        shifts = {_shift(file_line, old_line) for file_line, old_line in pairs if old_line.strip() and file_line.strip()}
        if len(shifts) > 1 or None in shifts:
            return None
        return shifts.pop() if shifts else Shift()

    def apply(self, line: str) -> str:
        if not line.strip() or self.sign == 0:
            return line
        if self.sign > 0:
            return self.prefix + line
        if line.startswith(self.prefix):
            return line[len(self.prefix) :]
        lead = len(line) - len(line.lstrip())
        return line[min(lead, len(self.prefix)) :]


def _shift(file_line: str, old_line: str) -> Shift | None:
    have = file_line[: len(file_line) - len(file_line.lstrip())]
    said = old_line[: len(old_line) - len(old_line.lstrip())]
    if have == said:
        return Shift()
    if have.endswith(said):
        return Shift(1, have[: len(have) - len(said)])
    if said.endswith(have):
        return Shift(-1, said[: len(said) - len(have)])
    return None


def span_of(mapping: tuple[int | None, ...]) -> Span:
    placed = [m for m in mapping if m is not None]
    return min(placed), max(placed) + 1


def build_replacement(lines: list[str], span: Span, old: list[str], new: list[str], mapping: tuple[int | None, ...], shift: Shift) -> list[str]:
    """The file lines of `span` after replaying the old->new change onto them."""
    region = lines[span[0] : span[1]]
    strip_trailing = any(o != o.rstrip() for o in old) and all(line == line.rstrip() for line in region)
    out: list[str] = []
    cursor = span[0]
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        placed = [mapping[k] for k in range(i1, i2) if mapping[k] is not None and mapping[k] >= cursor]
        if tag == "equal":
            if placed:
                out.extend(lines[cursor : placed[-1] + 1])
                cursor = placed[-1] + 1
            continue
        if placed:
            out.extend(lines[cursor : placed[0]])
            cursor = placed[-1] + 1
        for line in new[j1:j2]:
            line = shift.apply(line)
            out.append(line.rstrip() if strip_trailing else line)
    out.extend(lines[cursor : span[1]])
    return out


def ends_of(lines: list[str], span: Span, out: list[str], final_newline: bool) -> tuple[int, int, str]:
    """The character span of `span` in the text and the text replacing it (deleting whole lines eats a newline)."""
    first, last = span
    start = sum(len(line) + 1 for line in lines[:first])
    end = start + sum(len(line) + 1 for line in lines[first:last]) - 1
    if out:
        return start, end, "\n".join(out)
    if last < len(lines) or final_newline:
        return start, end + 1, ""
    return max(0, start - 1), end, ""
