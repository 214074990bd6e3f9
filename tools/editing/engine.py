"""Applying `FileEdit`s to a workspace: locate every hunk, check syntax, write all files or none."""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from loopwright.tools.base import ToolFailure
from loopwright.tools.editing import syntax, textfile
from loopwright.tools.editing.matching import Ambiguous, Placement, place
from loopwright.tools.editing.patch import AppliedEdit, EditRefused, FileEdit
from loopwright.tools.editing.textfile import TextFile
from loopwright.tools.workspace import relative, resolve


@dataclass
class _Pending:
    path: Path
    rel: str
    original: bytes | None
    before: TextFile
    after: TextFile
    stages: list[str]


def apply_edits(root: Path, edits: Sequence[FileEdit], *, validate: bool = True, dry_run: bool = False) -> list[AppliedEdit]:
    """Apply every edit or none; raises `EditRefused` (a `ToolFailure`) with the reason and writes nothing then."""
    if not edits:
        raise EditRefused("no edit given")
    pending: dict[Path, _Pending] = {}
    for edit in edits:
        try:
            path = resolve(root, edit.path)
        except EditRefused:
            raise
        except ToolFailure as err:
            raise EditRefused(str(err)) from None
        rel = relative(root, path)
        state = pending.get(path) or _load(path, rel, creating=edit.content is not None)
        state.after, stages = edit_text(rel, state.after, edit)
        state.stages.extend(stages)
        pending[path] = state
    if validate:
        for state in pending.values():
            fresh = syntax.new_problems(state.rel, state.before.text, state.after.text)
            if fresh:
                raise EditRefused(syntax.describe(state.rel, fresh, state.after.text))
    results = [AppliedEdit(s.rel, s.original is None, unified(s.rel, s.before.text, s.after.text, s.original is None), tuple(s.stages)) for s in pending.values()]
    if not dry_run:
        _write_all(list(pending.values()))
    return results


def _load(path: Path, rel: str, creating: bool) -> _Pending:
    if path.is_symlink() or path.exists() or not creating:
        before = textfile.read(path, rel)
        return _Pending(path, rel, textfile.to_bytes(before), before, before, [])
    empty = textfile.new_file("")
    return _Pending(path, rel, None, empty, empty, [])


def edit_text(name: str, before: TextFile, edit: FileEdit) -> tuple[TextFile, list[str]]:
    """The file after `edit`, all hunks placed against `before`; refuses overlapping hunks.

    A hunk that matches several places is placed by its line number when other hunks confirm the numbers,
    else by the order of the hunks; one that stays ambiguous refuses the whole edit.
    """
    if edit.content is not None:
        content = edit.content
        if "\r" not in content and before.newline == "\r\n":
            content = content.replace("\n", "\r\n")
        textfile.check_bytes(content.encode("utf-8"), name)
        created = textfile.new_file(content)
        return TextFile(created.text, created.endings, before.bom), ["whole-file"]
    placed: dict[int, list[Placement]] = {}
    unresolved: dict[int, Ambiguous] = {}
    for number, hunk in enumerate(edit.hunks, 1):
        try:
            placed[number] = place(before.text, hunk)
        except Ambiguous as err:
            unresolved[number] = err
        except EditRefused as err:
            raise _refusal(name, number, edit, err) from None
    for number in [n for n in unresolved if edit.hunks[n - 1].at_line is not None]:
        try:
            placed[number] = place(before.text, edit.hunks[number - 1], _predicted(number, edit, placed))
            del unresolved[number]
        except Ambiguous:
            continue
        except EditRefused as err:
            raise _refusal(name, number, edit, err) from None
    _place_in_order(before.text, edit, placed, unresolved)
    if unresolved:
        number = min(unresolved)
        raise _refusal(name, number, edit, unresolved[number])
    placements = [(number, p) for number in sorted(placed) for p in placed[number]]
    placements.sort(key=lambda item: (item[1].start, item[1].end))
    for (n1, p1), (n2, p2) in pairwise(placements):
        if p2.start < p1.end or (p2.start == p1.end and n1 != n2 and p1.start == p1.end == p2.start):
            raise EditRefused(f"{name}: edits {n1} and {n2} overlap (both change line {p2.first_line}); merge them into one edit")
    after = before
    for _, placement in reversed(placements):
        after = textfile.splice(after, placement.start, placement.end, placement.replacement)
    return after, [p.stage for _, p in placements]


def _refusal(name: str, number: int, edit: FileEdit, err: EditRefused) -> EditRefused:
    where = f"edit {number} of {len(edit.hunks)}: " if len(edit.hunks) > 1 else ""
    return EditRefused(f"{name}: {where}{err}")


def _place_in_order(text: str, edit: FileEdit, placed: dict[int, list[Placement]], unresolved: dict[int, Ambiguous]) -> None:
    """Place ambiguous hunks between their neighbours: a model writes the hunks of one file in file order.

    Only when at least two hunks were placed without doubt, and in that order, does it count; a hunk is then
    placed when exactly one of its matches lies after the previous placed hunk and before the next one. Each
    placement narrows the room of the others, so it repeats until nothing changes; what stays ambiguous is
    refused by the caller.
    """
    starts = [min(p.start for p in placed[n]) for n in sorted(placed) if placed[n]]
    if len(starts) < 2 or starts != sorted(starts):
        return
    progress = True
    while unresolved and placed and progress:
        progress = False
        for number in sorted(unresolved):
            earlier = [p.end for n, ps in placed.items() if n < number for p in ps]
            later = [p.start for n, ps in placed.items() if n > number for p in ps]
            if not earlier and not later:
                continue
            within = (max(earlier, default=0), min(later, default=len(text)))
            try:
                placed[number] = place(text, edit.hunks[number - 1], within=within)
            except EditRefused:
                continue
            del unresolved[number]
            progress = True


def _predicted(number: int, edit: FileEdit, placed: dict[int, list[Placement]]) -> int | None:
    """Where a hunk's line number points once corrected by the offset that the nearest placed hunk showed.

    Without such a hunk the number is unverified (it may be stale), so it picks nothing.
    """
    at = edit.hunks[number - 1].at_line
    known = [(abs(edit.hunks[n - 1].at_line - at), n) for n in placed if edit.hunks[n - 1].at_line and placed[n]]
    if at is None or not known:
        return None
    _, nearest = min(known)
    offset = placed[nearest][0].first_line - edit.hunks[nearest - 1].at_line
    return at - 1 + offset


def unified(rel: str, before: str, after: str, created: bool = False) -> str:
    old = "/dev/null" if created else f"a/{rel}"
    return "".join(_diff_lines(before.splitlines(True), after.splitlines(True), old, f"b/{rel}"))


def _diff_lines(before: list[str], after: list[str], old: str, new: str):
    for line in difflib.unified_diff(before, after, old, new):
        yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def _write_all(states: list[_Pending]) -> None:
    """Write each file through a temporary sibling; on any failure put back what was already written."""
    done: list[_Pending] = []
    try:
        for state in states:
            state.path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(state.path, textfile.to_bytes(state.after))
            done.append(state)
    except OSError as err:
        for state in done:
            if state.original is None:
                state.path.unlink(missing_ok=True)
            else:
                _atomic_write(state.path, state.original)
        raise EditRefused(f"{state.rel}: could not write ({err.strerror or err}); no file was changed") from None


def _atomic_write(path: Path, data: bytes) -> None:
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
