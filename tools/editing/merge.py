"""Turning a located match into replacement text: the model's change is replayed onto the file's own lines.

Lines the model meant to keep come from the file, byte for byte, so whitespace slips in its copy of them never
reach the file; only the lines it adds or changes come from its new text, re-indented by the shift found.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from loopwright.tools.editing.align import Opcode, alignment
from loopwright.tools.editing.patch import EditRefused

Span = tuple[int, int]
REWRITE_SIMILARITY = 0.7
"""How alike (difflib ratio, indentation aside) a new line must be to a removed one to count as its rewrite."""


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


@dataclass(frozen=True)
class Reading:
    """One way to read an edit where the file and the old text disagree on blank lines.

    `align` picks an old->new diff: "first" is difflib's from the start, "last" difflib's from the end, "lcs"
    a shortest diff (difflib's can pair a moved block instead), "up" and "down" that one with every run of
    added or removed lines slid as far as it goes that way (so an added blank line next to copied blank lines
    counts as any of them), "held" a shortest diff that pairs the old lines the file lacks where it can (so
    they drop out at their own place rather than a like line elsewhere standing in for them). `inserts_late`
    puts new lines after the file lines the old text skipped at that point instead of before them. An edit is
    applied only when every reading gives the same file.
    """

    align: str = "first"
    inserts_late: bool = False


READINGS = tuple(Reading(align, late) for align in ("first", "last", "lcs", "up", "down", "held") for late in (False, True))


def build_replacement(lines: list[str], span: Span, old: list[str], new: list[str], mapping: tuple[int | None, ...], shift: Shift, reading: Reading = READINGS[0], opcodes: list[Opcode] | None = None) -> list[str]:
    """The file lines of `span` after replaying the old->new change onto them, read the way `reading` says.

    File lines the old text left out are kept; old lines the file lacks are dropped. Where a change rewrites
    lines next to file lines the old text left out, which side of the change those belong on is mostly unknown,
    so the edit is then refused instead of guessed (`_refuse_uneven_gap`). `opcodes`, when given, are
    `alignment(old, new, reading.align)` worked out already.
    """
    region = lines[span[0] : span[1]]
    strip_trailing = any(o != o.rstrip() for o in old) and all(line == line.rstrip() for line in region)
    out: list[str] = []
    cursor = span[0]
    for tag, i1, i2, j1, j2 in opcodes if opcodes is not None else alignment(old, new, reading.align):
        placed = [m for m in mapping[i1:i2] if m is not None and m >= cursor]
        if tag == "equal":
            if placed:
                out.extend(lines[cursor : placed[-1] + 1])
                cursor = placed[-1] + 1
            continue
        _refuse_uneven_gap(lines, old, new, mapping, span, (i1, i2, j1, j2))
        if placed:
            out.extend(lines[cursor : placed[0]])
            out.extend(lines[n] for n in range(placed[0], placed[-1] + 1) if n not in placed)
            cursor = placed[-1] + 1
        elif reading.inserts_late:
            later = min((m for m in mapping[i2:] if m is not None and m >= cursor), default=span[1])
            out.extend(lines[cursor:later])
            cursor = later
        for line in new[j1:j2]:
            line = shift.apply(line)
            out.append(line.rstrip() if strip_trailing else line)
    out.extend(lines[cursor : span[1]])
    return out


def irregular(mapping: tuple[int | None, ...]) -> bool:
    """Whether the old text and the file differ in line count somewhere inside the match (a skipped or missing line)."""
    first, last = span_of(mapping)
    return None in mapping or last - first != len(mapping)


def _refuse_uneven_gap(lines: list[str], old: list[str], new: list[str], mapping: tuple[int | None, ...], span: Span, op: tuple[int, int, int, int]) -> None:
    """Refuse when a change rewrites old lines next to file lines the old text left out (a blank line it missed),
    unless the new lines plainly take the removed lines' place (see `_replaces_in_place`).

    Pure insertions and deletions are not judged here: the readings in `READINGS` settle those, and an old
    line the file lacks never decides anything, as it is dropped.
    """
    i1, i2, j1, j2 = op
    if i1 == i2 or j1 == j2:
        return
    before = next((k for k in range(i1 - 1, -1, -1) if old[k].strip() and mapping[k] is not None), None)
    after = next((k for k in range(i2, len(old)) if old[k].strip() and mapping[k] is not None), None)
    file_lo = _at(mapping, before) + 1 if before is not None else span[0]
    file_hi = _at(mapping, after) if after is not None else span[1]
    named = set(mapping[before if before is not None else 0 : after + 1 if after is not None else len(old)])
    if all(n in named for n in range(file_lo, file_hi)) or _replaces_in_place(lines, old, new, mapping, op):
        return  # the file has no line there that the old text left out, or the change rewrites in place
    placed = [k for k, m in enumerate(mapping) if m is not None]
    old_lo = before + 1 if before is not None else placed[0]
    old_hi = after if after is not None else placed[-1] + 1
    raise EditRefused(
        f"around the lines it changes, the old text has {max(0, old_hi - old_lo)} lines where the file has "
        f"{max(0, file_hi - file_lo)} (lines {file_lo + 1}-{file_hi}; a blank line too many or too few?), so where "
        "the new lines go is unclear; copy those lines exactly as the file has them"
    )


def _replaces_in_place(lines: list[str], old: list[str], new: list[str], mapping: tuple[int | None, ...], op: tuple[int, int, int, int]) -> bool:
    """Whether the change rewrites file lines it names, in place, so a blank line too many or too few beside it
    does not move the new lines: they take the removed lines' place and the file's blank lines around stay.

    On a side where the counts differ, the new edge line must be the removed edge line rewritten; otherwise some
    new lines may belong beyond that blank line. Not so either when the removed part begins or ends with blank
    lines (which of the file's blanks they are is unclear), or the file has lines inside the removed range that
    the old text does not mention.
    """
    i1, i2, j1, j2 = op
    removed = range(i1, i2)
    solid = [k for k in removed if old[k].strip()]
    if not solid or j1 == j2 or any(mapping[k] is None for k in solid) or not old[i1].strip() or not old[i2 - 1].strip():
        return False
    named = {mapping[k] for k in removed if mapping[k] is not None}
    if not all(n in named for n in range(_at(mapping, i1), _at(mapping, i2 - 1) + 1)):
        return False
    anchors = [k for k, line in enumerate(old) if line.strip() and mapping[k] is not None]
    before = max((k for k in anchors if k < i1), default=None)
    after = min((k for k in anchors if k >= i2), default=None)
    if before is not None and i1 - before != _at(mapping, i1) - _at(mapping, before) and not _rewritten(old[i1], new[j1]):
        return False
    return after is None or after - (i2 - 1) == _at(mapping, after) - _at(mapping, i2 - 1) or _rewritten(old[i2 - 1], new[j2 - 1])


def _at(mapping: tuple[int | None, ...], k: int) -> int:
    """The file line of old line `k`, which the caller knows the file has."""
    line = mapping[k]
    assert line is not None, f"old line {k} has no file line"
    return line


def _rewritten(old_line: str, new_line: str) -> bool:
    """Whether `new_line` reads as an edit of `old_line` rather than a line of its own."""
    return difflib.SequenceMatcher(None, old_line.strip(), new_line.strip(), autojunk=False).ratio() >= REWRITE_SIMILARITY


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
