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
    renamed_from: _Pending | None = None
    """The file this one is renamed from (written here, removed there)."""


def apply_edits(root: Path, edits: Sequence[FileEdit], *, validate: bool = True, dry_run: bool = False) -> list[AppliedEdit]:
    """Apply every edit or none; raises `EditRefused` (a `ToolFailure`) with the reason and writes nothing then."""
    if not edits:
        raise EditRefused("no edit given")
    pending: dict[Path, _Pending] = {}
    moved: dict[Path, _Pending] = {}
    """Files renamed away: gone once the edits are written."""
    for edit in edits:
        path = _resolve(root, edit.path)
        rel = relative(root, path)
        if edit.renamed_from is not None:
            state = _moved(root, path, rel, _resolve(root, edit.renamed_from), pending, moved)
        elif path in moved:
            raise EditRefused(f"{rel}: the diff renames it away, then changes it there")
        else:
            state = pending.get(path) or _load(root, path, rel, creating=edit.content is not None)
        state.after, stages = edit_text(rel, state.after, edit)
        state.stages.extend(stages)
        pending[path] = state
    if validate:
        for state in pending.values():
            fresh = syntax.new_problems(state.rel, state.before.text, state.after.text)
            if fresh:
                raise EditRefused(syntax.describe(state.rel, fresh, state.after.text))
    results = [_applied(s) for s in pending.values()]
    if not dry_run:
        _write_all(root, list(pending.values()), list(moved.values()))
    return results


def _resolve(root: Path, name: str) -> Path:
    try:
        return resolve(root, name)
    except EditRefused:
        raise
    except ToolFailure as err:
        raise EditRefused(str(err)) from None


def _moved(root: Path, path: Path, rel: str, source: Path, pending: dict[Path, _Pending], moved: dict[Path, _Pending]) -> _Pending:
    """The state of a file renamed from `source` to `path`: the source's text, to be written at the new path."""
    source_rel = relative(root, source)
    if path in pending or path.is_symlink() or path.exists():
        raise EditRefused(f"{rel}: already exists; the diff renames {source_rel} to it")
    if source in moved:
        raise EditRefused(f"{source_rel}: the diff renames it twice")
    old = pending.pop(source, None) or _load(root, source, source_rel, creating=False)
    moved[source] = old
    return _Pending(path, rel, None, old.after, old.after, [], renamed_from=old)


def _applied(state: _Pending) -> AppliedEdit:
    if state.renamed_from is None:
        created = state.original is None
        return AppliedEdit(state.rel, created, unified(state.rel, state.before.text, state.after.text, created), tuple(state.stages))
    old = state.renamed_from.rel
    body = "".join(_diff_lines(state.before.text.splitlines(True), state.after.text.splitlines(True), f"a/{old}", f"b/{state.rel}"))
    diff = f"diff --git a/{old} b/{state.rel}\nrename from {old}\nrename to {state.rel}\n{body}"
    return AppliedEdit(state.rel, True, diff, tuple(state.stages), renamed_from=old)


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


def _write_all(root: Path, states: Sequence[_Pending], moved: Sequence[_Pending] = ()) -> None:
    """Write each file through a temporary sibling (never through a link out, see hostfs), then remove the files
    renamed away; on any failure put back what was already written or removed."""
    done: list[_Pending] = []
    gone: list[_Pending] = []
    state: _Pending | None = None
    try:
        for state in states:
            hostfs.write_atomic(root, state.path, textfile.to_bytes(state.after))
            done.append(state)
        for state in moved:
            hostfs.unlink(root, state.path)
            gone.append(state)
    except OSError as err:
        for back in gone:
            if back.original is not None:
                hostfs.write_atomic(root, back.path, back.original)
        for back in done:
            if back.original is None:
                hostfs.unlink(root, back.path)
            else:
                hostfs.write_atomic(root, back.path, back.original)
        where = state.rel if state is not None else "the workspace"
        raise EditRefused(f"{where}: could not write ({err.strerror or err}); no file was changed") from None
