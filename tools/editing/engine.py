"""Applying `FileEdit`s to a workspace: locate every hunk, check syntax, write all files or none."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import loopwright.sandboxes.hostfs as hostfs
from loopwright.tools.base import ToolFailure
from loopwright.tools.editing import syntax, textfile
from loopwright.tools.editing.ordering import in_sequence, place_all
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
        state = pending.get(path) or _load(root, path, rel, creating=edit.content is not None)
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
        _write_all(root, list(pending.values()))
    return results


def _load(root: Path, path: Path, rel: str, creating: bool) -> _Pending:
    if path.is_symlink() or path.exists() or not creating:
        before = textfile.read(root, path, rel)
        return _Pending(path, rel, textfile.to_bytes(before), before, before, [])
    empty = textfile.new_file("")
    return _Pending(path, rel, None, empty, empty, [])


def edit_text(name: str, before: TextFile, edit: FileEdit) -> tuple[TextFile, list[str]]:
    """The file after `edit`, all hunks placed against `before`; refuses overlapping hunks.

    Where each hunk goes is `ordering.place_all`'s to say; hunks without line numbers that overlap are read in
    sequence (`ordering.in_sequence`).
    """
    if edit.content is not None:
        content = edit.content
        if "\r" not in content and before.newline == "\r\n":
            content = content.replace("\n", "\r\n")
        textfile.check_bytes(content.encode("utf-8"), name)
        created = textfile.new_file(content)
        return TextFile(created.text, created.endings, before.bom), ["whole-file"]
    placed = place_all(name, before.text, edit)
    placements = [(number, p) for number in sorted(placed) for p in placed[number]]
    placements.sort(key=lambda item: (item[1].start, item[1].end))
    for (n1, p1), (n2, p2) in pairwise(placements):
        if p2.start < p1.end or (p2.start == p1.end and n1 != n2 and p1.start == p1.end == p2.start):
            overlap = EditRefused(f"{name}: edits {n1} and {n2} overlap (both change line {p2.first_line}); merge them into one edit")
            return in_sequence(before, edit, overlap)
    after = before
    for _, placement in reversed(placements):
        after = textfile.splice(after, placement.start, placement.end, placement.replacement)
    return after, [p.stage for _, p in placements]


def unified(rel: str, before: str, after: str, created: bool = False) -> str:
    old = "/dev/null" if created else f"a/{rel}"
    return "".join(_diff_lines(before.splitlines(True), after.splitlines(True), old, f"b/{rel}"))


def _diff_lines(before: list[str], after: list[str], old: str, new: str) -> Iterator[str]:
    for line in difflib.unified_diff(before, after, old, new):
        yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def _write_all(root: Path, states: list[_Pending]) -> None:
    """Write each file through a temporary sibling (never through a link out, see hostfs); on any failure put
    back what was already written."""
    done: list[_Pending] = []
    try:
        for state in states:
            hostfs.write_atomic(root, state.path, textfile.to_bytes(state.after))
            done.append(state)
    except OSError as err:
        for state in done:
            if state.original is None:
                hostfs.unlink(root, state.path)
            else:
                hostfs.write_atomic(root, state.path, state.original)
        raise EditRefused(f"{state.rel}: could not write ({err.strerror or err}); no file was changed") from None
