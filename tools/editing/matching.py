"""Staged matching: where in a file a hunk's old text is, found exactly or by ever looser stages.

Each stage runs only when the earlier ones found nothing; a stage that finds several places refuses, so an
edit is never applied to a place the model may not have meant.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from loopwright.tools.editing.align import alignment
from loopwright.tools.editing.merge import (
    READINGS,
    Shift,
    Span,
    build_replacement,
    ends_of,
    irregular,
    span_of,
)
from loopwright.tools.editing.patch import EditRefused, Hunk

ELISION_MARKERS = {"...", "…", "# ...", "// ...", "/* ... */", "<!-- ... -->", "-- ..."}
ANCHOR_SIMILARITY = 0.85
Inside = Callable[[tuple[int | None, ...]], bool]
"""Whether a candidate (its old-line -> file-line mapping) lies in the room the caller allows."""


@dataclass(frozen=True)
class Placement:
    start: int
    end: int
    replacement: str
    stage: str
    first_line: int


@dataclass(frozen=True)
class _Candidate:
    first: int
    mapping: tuple[int | None, ...]
    shift: Shift
    others: tuple[tuple[int | None, ...], ...] = ()
    """Other mappings as likely as `mapping` (the old text's blank lines paired with the file's the other way)."""


def split_lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n")
    if not text:
        return []
    return (text.removesuffix("\n")).split("\n")


class Ambiguous(EditRefused):
    """The old text matches several places; `firsts` holds their 0-based first lines."""

    def __init__(self, message: str, firsts: list[int]) -> None:
        super().__init__(message)
        self.firsts = firsts


def place(text: str, hunk: Hunk, near: int | None = None, within: tuple[int, int] | None = None, only_within: bool = False) -> list[Placement]:
    """Where and with what `hunk` applies to `text` (LF newlines); refuses when it cannot be placed uniquely.

    `near` is a 0-based line the caller has good reason to expect the hunk at (from line numbers that proved
    right for the file's other hunks); of several matches, the one exactly there is taken. `within` is a
    character range the caller knows the hunk lies in (between the edits placed before and after it); of
    several matches, the only one inside it is taken. Neither ever turns a refusal into a looser match.
    `only_within` makes `within` binding: matches outside it do not count at any stage (for a hunk whose one
    match contradicts the places of the hunks around it).
    """
    search = hunk.search.replace("\r\n", "\n")
    if not search.strip():
        if hunk.at_line is None:
            raise EditRefused("the old text is empty; give the lines to replace, or a line number to insert at")
        return [_insert(text, hunk)]
    if not hunk.whole_lines:
        exact = _substring(text, search, hunk.replace.replace("\r\n", "\n"), within, near, only_within)
        if exact:
            return exact
    lines, final = split_lines(text), text.endswith("\n")
    old, new = split_lines(search), split_lines(hunk.replace)
    inside = _inside(lines, within)
    for stage, finder in _STAGES:
        found = finder(lines, old)
        if only_within and inside is not None:
            found = [c for c in found if inside(c.mapping)]
        if found:
            return [_placement(lines, final, old, new, _unique(found, len(old), near, inside), stage)]
    elided = _elided(lines, final, old, new, inside)
    if elided:
        return elided
    found = _anchored(lines, old)
    if only_within and inside is not None:
        found = [c for c in found if inside(c.mapping)]
    if found:
        return [_placement(lines, final, old, new, _unique(found, len(old), near, inside), "anchored")]
    raise EditRefused(_no_match(lines, old))


def _substring(text: str, search: str, replace: str, within: tuple[int, int] | None = None, near: int | None = None, only_within: bool = False) -> list[Placement]:
    hits, start = [], 0
    while (index := text.find(search, start)) != -1:
        hits.append(index)
        start = index + 1
    def fits(hit: int) -> bool:
        return within is not None and within[0] <= hit and hit + len(search) <= within[1]

    if only_within and within is not None:
        hits = [h for h in hits if fits(h)]
    if len(hits) > 1 and near is not None:
        there = [h for h in hits if text.count("\n", 0, h) == near]
        hits = there if len(there) == 1 else hits
    if len(hits) > 1 and within is not None:
        inside = [h for h in hits if fits(h)]
        hits = inside if len(inside) == 1 else hits
    if len(hits) > 1:
        where = ", ".join(str(text.count("\n", 0, h) + 1) for h in hits[:10])
        raise Ambiguous(f"the old text occurs {len(hits)} times (at lines {where}); include more surrounding lines to make it unique", [text.count("\n", 0, h) for h in hits])
    if not hits:
        return []
    return [Placement(hits[0], hits[0] + len(search), replace, "exact", text.count("\n", 0, hits[0]) + 1)]


def _insert(text: str, hunk: Hunk) -> Placement:
    lines = text.split("\n")
    count = len(lines) - 1 if text.endswith("\n") or not text else len(lines)
    at = hunk.at_line or 0
    if not 1 <= at <= count + 1:
        raise EditRefused(f"line {at} is outside the file (it has {count} lines; use {count + 1} to append)")
    body = hunk.replace.replace("\r\n", "\n")
    body = body if body.endswith("\n") else body + "\n"
    if at <= count:
        offset = sum(len(line) + 1 for line in lines[: at - 1])
        return Placement(offset, offset, body, "insert", at)
    if text and not text.endswith("\n"):
        return Placement(len(text), len(text), "\n" + body[:-1], "insert", at)
    return Placement(len(text), len(text), body, "insert", at)


def _unique(found: list[_Candidate], size: int, near: int | None = None, inside: Inside | None = None) -> _Candidate:
    if len(found) > 1:
        there = [c for c in found if c.first == near]
        if len(there) == 1:
            return there[0]
        there = [c for c in found if inside is not None and inside(c.mapping)]
        if len(there) == 1:
            return there[0]
        where = ", ".join(f"{c.first + 1}-{c.first + size}" for c in found[:10])
        raise Ambiguous(f"the old text matches {len(found)} places (lines {where}); include more surrounding lines to make it unique", [c.first for c in found])
    return found[0]


def _inside(lines: list[str], within: tuple[int, int] | None) -> Inside | None:
    """A test whether a candidate's lines lie within a character range, or None when no range is known."""
    if within is None:
        return None
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)

    def test(mapping: tuple[int | None, ...]) -> bool:
        first, last = span_of(mapping)
        return within[0] <= starts[first] and starts[last] - 1 <= within[1]

    return test


def _placement(lines: list[str], final: bool, old: list[str], new: list[str], found: _Candidate, stage: str) -> Placement:
    span: Span = span_of(found.mapping)
    replacement = build_replacement(lines, span, old, new, found.mapping, found.shift)
    if irregular(found.mapping) or found.others:
        _refuse_unsettled(lines, old, new, found, span, replacement)
    start, end, text = ends_of(lines, span, replacement, final)
    return Placement(start, end, text, stage, span[0] + 1)


def _refuse_unsettled(lines: list[str], old: list[str], new: list[str], found: _Candidate, span: Span, replacement: list[str]) -> None:
    """Refuse when the file and the old text differ in line count and the ways of reading that give different
    files: the new lines could go on either side of a blank line the old text missed, or the old text's extra
    blank line could be any of several in the new text."""
    every = [found.mapping, *found.others]
    lo = min(span_of(m)[0] for m in every)
    hi = max(span_of(m)[1] for m in every)
    first = lines[lo : span[0]] + replacement + lines[span[1] : hi]
    aligned = {align: alignment(old, new, align) for align in dict.fromkeys(r.align for r in READINGS) if align != "held"}
    for mapping in every:
        there = span_of(mapping)
        aligned["held"] = alignment(old, new, "held", frozenset(k for k, m in enumerate(mapping) if m is None))
        for reading in READINGS:
            if mapping is found.mapping and reading == READINGS[0]:
                continue  # that is `replacement` itself
            out = build_replacement(lines, there, old, new, mapping, found.shift, reading, aligned[reading.align])
            other = lines[lo : there[0]] + out + lines[there[1] : hi]
            if other != first:
                at = lo + next((k for k, (a, b) in enumerate(zip(first, other)) if a != b), min(len(first), len(other)))
                raise EditRefused(
                    f"the old text has a blank line too many or too few next to the change (near line {at + 1}), so "
                    "where the new lines go is unclear; copy those lines exactly as the file has them"
                )


def _exact(lines: list[str], old: list[str]) -> list[_Candidate]:
    return _scan(lines, old, lambda line: line)


def _trailing(lines: list[str], old: list[str]) -> list[_Candidate]:
    return _scan(lines, old, str.rstrip)


def _scan(lines: list[str], old: list[str], key: Callable[[str], str]) -> list[_Candidate]:
    want = [key(line) for line in old]
    size = len(want)
    return [
        _Candidate(i, tuple(range(i, i + size)), Shift())
        for i in range(len(lines) - size + 1)
        if key(lines[i]) == want[0] and [key(line) for line in lines[i : i + size]] == want
    ]


def _reindented(lines: list[str], old: list[str]) -> list[_Candidate]:
    size = len(old)
    want = [line.strip() for line in old]
    found = []
    for i in range(len(lines) - size + 1):
        if lines[i].strip() != want[0] or [line.strip() for line in lines[i : i + size]] != want:
            continue
        shift = Shift.between([(lines[i + k], old[k]) for k in range(size)])
        if shift is not None:
            found.append(_Candidate(i, tuple(range(i, i + size)), shift))
    return found


def _blank_tolerant(lines: list[str], old: list[str]) -> list[_Candidate]:
    """Match the non-blank lines only, so an extra or missing blank line in the old text does not matter."""
    solid = [k for k, line in enumerate(old) if line.strip()]
    if not solid:
        return []
    targets = [i for i, line in enumerate(lines) if line.strip()]
    want = [old[k].strip() for k in solid]
    found = []
    for t in range(len(targets) - len(want) + 1):
        window = targets[t : t + len(want)]
        if [lines[i].strip() for i in window] != want:
            continue
        shift = Shift.between([(lines[i], old[k]) for i, k in zip(window, solid)])
        if shift is None:
            continue
        mapping = _with_blanks(lines, old, solid, window)
        upward = _with_blanks(lines, old, solid, window, upward=True)
        found.append(_Candidate(window[0], mapping, shift, (upward,) if upward != mapping else ()))
    return found


def _with_blanks(lines: list[str], old: list[str], solid: list[int], window: list[int], upward: bool = False) -> tuple[int | None, ...]:
    """Map the old text's blank lines onto the file's blank lines in the same gap, as far as both have them:
    from the top of each gap down, or with `upward` from its bottom up."""
    mapping: list[int | None] = [None] * len(old)
    for k, i in zip(solid, window):
        mapping[k] = i
    for (k0, i0), (k1, i1) in zip(zip(solid, window), zip(solid[1:], window[1:])):
        pairs = zip(range(k0 + 1, k1), range(i0 + 1, i1))
        if upward:
            pairs = zip(range(k1 - 1, k0, -1), range(i1 - 1, i0, -1))
        for k, i in pairs:
            mapping[k] = i
    # Blank lines at either end too, or a change next to them would lose sight of the file's blank lines there.
    for k, i in zip(range(solid[0] - 1, -1, -1), range(window[0] - 1, -1, -1)):
        if lines[i].strip():
            break
        mapping[k] = i
    for k, i in zip(range(solid[-1] + 1, len(old)), range(window[-1] + 1, len(lines))):
        if lines[i].strip():
            break
        mapping[k] = i
    return tuple(mapping)


_STAGES = (("exact", _exact), ("trailing-whitespace", _trailing), ("indentation", _reindented), ("blank-lines", _blank_tolerant))


def _is_marker(line: str) -> bool:
    return line.strip() in ELISION_MARKERS


def _elided(lines: list[str], final: bool, old: list[str], new: list[str], inside: Inside | None = None) -> list[Placement]:
    """Old and new text with `...` lines standing for unchanged lines: place each piece in order."""
    old_parts, new_parts = _pieces(old), _pieces(new)
    if len(old_parts) == 1:
        return []
    if len(old_parts) != len(new_parts):
        raise EditRefused("the old text elides lines with '...' but the new text does not elide the same way; repeat the '...' lines in the new text at the same places, or give all lines")
    pairs = [(o, n) for o, n in zip(old_parts, new_parts) if o or n]
    if any(not o for o, _ in pairs):
        raise EditRefused("a piece of the new text between '...' lines has no old text to anchor it; give at least one unchanged line around it")
    options = [_first_stage(lines, o) for o, _ in pairs]
    chains = []
    for head in options[0]:
        chain, end = [head], max(m for m in head.mapping if m is not None)
        for later in options[1:]:
            nxt = next((c for c in later if c.first > end), None)
            if nxt is None:
                break
            chain.append(nxt)
            end = max(m for m in nxt.mapping if m is not None)
        else:
            chains.append(chain)
    if not chains:
        return []
    if len(chains) > 1 and inside is not None:
        there = [c for c in chains if inside(c[0].mapping) and inside(c[-1].mapping)]
        chains = there if len(there) == 1 else chains
    if len(chains) > 1:
        where = ", ".join(str(c[0].first + 1) for c in chains[:10])
        raise Ambiguous(f"the elided old text matches {len(chains)} places (starting at lines {where}); include more surrounding lines", [c[0].first for c in chains])
    return [_placement(lines, final, o, n, c, "elision") for (o, n), c in zip(pairs, chains[0])]


def _pieces(block: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for line in block:
        if _is_marker(line):
            parts.append([])
        else:
            parts[-1].append(line)
    return parts


def _first_stage(lines: list[str], old: list[str]) -> list[_Candidate]:
    for _, finder in _STAGES:
        found = finder(lines, old)
        if found:
            return found
    return []


def _anchored(lines: list[str], old: list[str]) -> list[_Candidate]:
    """First and last non-blank lines match and the lines between are similar enough."""
    solid = [line.strip() for line in old if line.strip()]
    if len(solid) < 3:
        return []
    body = "\n".join(solid)
    stripped = [line.strip() for line in lines]
    lo, hi = max(2, len(solid) // 2), len(solid) * 3 // 2 + 2
    found = []
    for i, line in enumerate(stripped):
        if line != solid[0]:
            continue
        for j in range(i + lo - 1, min(len(lines), i + hi + len(old) - len(solid))):
            if stripped[j] != solid[-1]:
                continue
            region = [s for s in stripped[i : j + 1] if s]
            matcher = difflib.SequenceMatcher(None, body, "\n".join(region), autojunk=False)
            if matcher.ratio() >= ANCHOR_SIMILARITY:
                found.append(_align(lines, old, i, j))
    return found


def _align(lines: list[str], old: list[str], first: int, last: int) -> _Candidate:
    region = [line.strip() for line in lines[first : last + 1]]
    mapping: list[int | None] = [None] * len(old)
    matcher = difflib.SequenceMatcher(None, [line.strip() for line in old], region, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for k in range(i2 - i1):
                mapping[i1 + k] = first + j1 + k
    pairs = [(lines[m], old[k]) for k, m in enumerate(mapping) if m is not None and old[k].strip()]
    shifts = Counter(s for s in (Shift.between([p]) for p in pairs) if s is not None)
    mapping[0], mapping[-1] = mapping[0] if mapping[0] is not None else first, mapping[-1] if mapping[-1] is not None else last
    return _Candidate(first, tuple(mapping), shifts.most_common(1)[0][0] if shifts else Shift())


def _no_match(lines: list[str], old: list[str]) -> str:
    closest = closest_region(lines, old)
    if closest is None:
        return "the old text was not found in the file, and no region looks like it; read the file and copy the lines exactly"
    first, last, ratio = closest
    shown = "\n".join(f"{n + 1:>5}\t{lines[n]}" for n in range(first, min(last + 1, first + 30)))
    return (f"the old text was not found; did you mean lines {first + 1}-{last + 1} ({ratio:.0%} similar)? "
            f"Copy them exactly:\n{shown}")


def closest_region(lines: list[str], old: list[str]) -> tuple[int, int, float] | None:
    """The 0-based (first, last, similarity) of the file region most like `old`, or None when nothing is alike."""
    wanted = {line.strip() for line in old if line.strip()}
    size = max(1, len(old))
    hits = [1 if line.strip() in wanted else 0 for line in lines]
    if not any(hits):
        return None
    window = sum(hits[:size])
    scores = [(window, 0)]
    for i in range(1, max(1, len(lines) - size + 1)):
        window += hits[i + size - 1] - hits[i - 1]
        scores.append((window, i))
    body = "\n".join(line.strip() for line in old)
    best = None
    for _, i in sorted(scores, key=lambda s: (-s[0], s[1]))[:8]:
        region = "\n".join(line.strip() for line in lines[i : i + size])
        ratio = difflib.SequenceMatcher(None, body, region, autojunk=False).ratio()
        if best is None or ratio > best[2]:
            best = (i, min(len(lines), i + size) - 1, ratio)
    return best
