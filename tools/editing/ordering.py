"""Where each hunk of one file goes: on its own, by its line number, or by the order of the hunks around it.

A model writes the hunks of one file in file order. When a hunk's old text matches several places, that order
(or line numbers the other hunks confirm) picks one; failing both, a match exactly at the line number of a hunk
whose header counts agree with its body (a diff a tool made); what stays open refuses the whole edit.
"""

from __future__ import annotations

from loopwright.tools.editing import textfile
from loopwright.tools.editing.matching import Ambiguous, Placement, place
from loopwright.tools.editing.patch import EditRefused, FileEdit
from loopwright.tools.editing.textfile import TextFile


def place_all(name: str, text: str, edit: FileEdit) -> dict[int, list[Placement]]:
    """Hunk number (1-based) -> its placements in `text`; refuses, naming the file and hunk, when one cannot be
    placed or stays ambiguous."""
    placed: dict[int, list[Placement]] = {}
    unresolved: dict[int, Ambiguous] = {}
    for number, hunk in enumerate(edit.hunks, 1):
        try:
            placed[number] = place(text, hunk)
        except Ambiguous as err:
            unresolved[number] = err
        except EditRefused as err:
            raise _refusal(name, number, edit, err) from None
    for number in [n for n in unresolved if edit.hunks[n - 1].at_line is not None]:
        try:
            placed[number] = place(text, edit.hunks[number - 1], _predicted(number, edit, placed))
            del unresolved[number]
        except Ambiguous:
            continue
        except EditRefused as err:
            raise _refusal(name, number, edit, err) from None
    _place_in_order(text, edit, placed, unresolved)
    for number in [n for n in unresolved if edit.hunks[n - 1].counted]:
        # Nothing confirmed the line number, but the diff's counts are exact (a tool made it): a match exactly there wins.
        try:
            placed[number] = place(text, edit.hunks[number - 1], (edit.hunks[number - 1].at_line or 1) - 1)
            del unresolved[number]
        except EditRefused:
            continue
    if unresolved:
        number = min(unresolved)
        raise _refusal(name, number, edit, unresolved[number])
    return placed


def in_sequence(before: TextFile, edit: FileEdit, overlap: EditRefused) -> tuple[TextFile, list[str]]:
    """Hunks without line numbers whose places overlap, read as a sequence instead: each against the file as the
    hunks before it left it (so a hunk's old text found inside a region an earlier hunk rewrote is gone from
    there), and, where it matches several places, at the one after the hunk before it. When that reading fails
    too, or the hunks have line numbers, the overlap is refused."""
    if len(edit.hunks) < 2 or any(h.at_line is not None for h in edit.hunks):
        raise overlap
    after, stages, cursor = before, [], 0
    for hunk in edit.hunks:
        try:
            placements = sorted(place(after.text, hunk, within=(cursor, len(after.text))), key=lambda p: p.start)
        except EditRefused:
            raise overlap from None
        grown = 0
        for placement in placements[:-1]:
            grown += len(placement.replacement) - (placement.end - placement.start)
        for placement in reversed(placements):
            after = textfile.splice(after, placement.start, placement.end, placement.replacement)
        cursor = placements[-1].start + grown + len(placements[-1].replacement)
        stages += [p.stage for p in placements]
    return after, stages


def _refusal(name: str, number: int, edit: FileEdit, err: EditRefused) -> EditRefused:
    where = f"edit {number} of {len(edit.hunks)}: " if len(edit.hunks) > 1 else ""
    return EditRefused(f"{name}: {where}{err}")


def _place_in_order(text: str, edit: FileEdit, placed: dict[int, list[Placement]], unresolved: dict[int, Ambiguous]) -> None:
    """Place ambiguous hunks between their neighbours: a model writes the hunks of one file in file order.

    Only when at least two hunks were placed without doubt, and in that order, does it count; a hunk is then
    placed when exactly one of its matches lies after the previous placed hunk and before the next one. Each
    placement narrows the room of the others, so it repeats until nothing changes; then hunks that are still
    ambiguous are placed if only one choice of their matches keeps all hunks in order (`_place_as_chain`).
    What stays ambiguous is refused by the caller.
    """
    starts = [min(p.start for p in placed[n]) for n in sorted(placed) if placed[n]]
    if len(starts) < 2 or (starts != sorted(starts) and not _replace_out_of_order(text, edit, placed)):
        return
    progress = True
    while unresolved and placed and progress:
        progress = False
        for number in sorted(unresolved):
            within = _room(text, number, placed)
            if within is None:
                continue
            try:
                placed[number] = place(text, edit.hunks[number - 1], within=within)
            except EditRefused:
                continue
            del unresolved[number]
            progress = True
    if unresolved:
        _place_as_chain(text, edit, placed, unresolved)


def _replace_out_of_order(text: str, edit: FileEdit, placed: dict[int, list[Placement]]) -> bool:
    """When a few placed hunks break the order the rest keep (a slip in their old text that happens to match
    elsewhere exactly, say), place each again between its in-order neighbours, counting only matches there.

    The hunks in order are the one longest run of increasing places; when there are several such runs, or the
    hunks out of order are as many as those in it, nothing is moved. True if the order was restored.
    """
    numbers = [n for n in sorted(placed) if placed[n]]
    starts = [min(p.start for p in placed[n]) for n in numbers]
    keep = _only_longest_increasing(starts)
    if keep is None or len(keep) < 2 or len(numbers) - len(keep) >= len(keep):
        return False
    kept = {numbers[k] for k in keep}
    for culprit in [n for n in numbers if n not in kept]:
        room = _room(text, culprit, {n: placed[n] for n in kept}) or (0, len(text))
        try:
            placed[culprit] = place(text, edit.hunks[culprit - 1], within=room, only_within=True)
        except EditRefused:
            return False
    return True


def _room(text: str, number: int, placed: dict[int, list[Placement]]) -> tuple[int, int] | None:
    """The character range between the placed hunks before hunk `number` and those after it, or None when
    no hunk is placed on either side."""
    earlier = [p.end for n, ps in placed.items() if n < number for p in ps]
    later = [p.start for n, ps in placed.items() if n > number for p in ps]
    if not earlier and not later:
        return None
    return max(earlier, default=0), min(later, default=len(text))


def _only_longest_increasing(values: list[int]) -> list[int] | None:
    """Indices of the longest strictly increasing subsequence of `values`, or None when more than one is longest."""
    size = len(values)
    length, ways, previous = [1] * size, [1] * size, [-1] * size
    for i in range(size):
        for j in range(i):
            if values[j] < values[i]:
                if length[j] + 1 > length[i]:
                    length[i], ways[i], previous[i] = length[j] + 1, ways[j], j
                elif length[j] + 1 == length[i]:
                    ways[i] += ways[j]
    if not size:
        return []
    best = max(length)
    if sum(ways[i] for i in range(size) if length[i] == best) != 1:
        return None
    at = next(i for i in range(size) if length[i] == best)
    out = []
    while at != -1:
        out.append(at)
        at = previous[at]
    return out[::-1]


CHAIN_STEPS = 20_000
"""How many partial orderings `_place_as_chain` tries before it gives up (and the hunks stay refused)."""


def _place_as_chain(text: str, edit: FileEdit, placed: dict[int, list[Placement]], unresolved: dict[int, Ambiguous]) -> None:
    """Place ambiguous hunks that each match several places when exactly one way of choosing among those
    places keeps every hunk of the edit in order without overlap (two hunks with the same old text, say, the
    first of them at the first match and the second at the second)."""
    options: dict[int, list[list[Placement]]] = {n: [ps] for n, ps in placed.items()}
    for number, err in unresolved.items():
        choices = []
        for first in err.firsts:
            try:
                choices.append(place(text, edit.hunks[number - 1], near=first))
            except EditRefused:
                return
        options[number] = choices
    order = sorted(options)
    found: list[list[list[Placement]]] = []
    steps = 0

    def extend(k: int, end: int, chosen: list[list[Placement]]) -> None:
        nonlocal steps
        steps += 1
        if len(found) > 1 or steps > CHAIN_STEPS:
            return
        if k == len(order):
            found.append(list(chosen))
            return
        for ps in options[order[k]]:
            if ps and min(p.start for p in ps) >= end:
                extend(k + 1, max(p.end for p in ps), [*chosen, ps])

    extend(0, 0, [])
    if len(found) == 1 and steps <= CHAIN_STEPS:
        for number, ps in zip(order, found[0]):
            if number in unresolved:
                placed[number] = ps
                del unresolved[number]


def _predicted(number: int, edit: FileEdit, placed: dict[int, list[Placement]]) -> int | None:
    """Where a hunk's line number points once corrected by the offset that the nearest placed hunk showed.

    Without such a hunk the number is unverified (it may be stale), so it picks nothing.
    """
    at = edit.hunks[number - 1].at_line
    if at is None:
        return None
    lines = {n: edit.hunks[n - 1].at_line for n in placed if placed[n]}
    known = [(abs(line - at), n, line) for n, line in lines.items() if line]
    if not known:
        return None
    _, nearest, line = min(known)
    offset = placed[nearest][0].first_line - line
    return at - 1 + offset
