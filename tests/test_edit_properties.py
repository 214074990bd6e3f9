"""Property tests: search/replace blocks and diffs derived from real diffs reproduce the post-image exactly."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
import unidiff
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from loopwright.tools.editing import (
    EditRefused,
    FileEdit,
    Hunk,
    edit_text,
    unified_diff,
)
from loopwright.tools.editing.textfile import parse, to_bytes

SWEBENCH = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "swebench"

indent = st.sampled_from(["", "    ", "        ", "\t"])
word = st.text(alphabet="abcdefgh(){}:=+ ", min_size=1, max_size=12).map(str.strip).filter(bool)


def apply(before: str, edit: FileEdit, name: str = "f.txt") -> str:
    after, _ = edit_text(name, parse(before.encode(), name), edit)
    return to_bytes(after).decode()


def hunks(before: str, after: str) -> list[unidiff.Hunk]:
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), "a/f.txt", "b/f.txt"))
    return list(unidiff.PatchSet(diff)[0]) if diff else []


def blocks_of(found: list[unidiff.Hunk]) -> FileEdit:
    return FileEdit("f.txt", tuple(Hunk("".join(ln.value for ln in h.source_lines()), "".join(ln.value for ln in h.target_lines())) for h in found))


@st.composite
def unique_files(draw):
    """A file of distinct non-blank lines (blank lines may repeat) and an edited copy of it."""
    count = draw(st.integers(3, 40))
    lines = [draw(st.one_of(st.just(""), indent.map(lambda i, n=n: f"{i}line {n}"))) for n in range(count)]
    edited = list(lines)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(edited)))
        kind = draw(st.sampled_from(["insert", "delete", "change"]))
        fresh = [f"{draw(indent)}new {draw(st.integers(0, 10**6))}" for _ in range(draw(st.integers(1, 3)))]
        if kind == "insert" or at == len(edited):
            edited[at:at] = fresh
        elif kind == "delete":
            del edited[at : at + draw(st.integers(1, 3))]
        else:
            edited[at : at + 1] = fresh
    return "".join(ln + "\n" for ln in lines), "".join(ln + "\n" for ln in edited)


@given(unique_files())
@settings(max_examples=150, deadline=None)
def test_blocks_from_a_diff_reproduce_the_post_image(pair):
    before, after = pair
    found = hunks(before, after)
    if not found:
        return
    if not all(any(x.value.strip() for x in h.source_lines()) for h in found):
        return  # a hunk of blank lines only has no unique anchor
    assert apply(before, blocks_of(found)) == after


@given(unique_files())
@settings(max_examples=100, deadline=None)
def test_a_diff_applies_even_with_shifted_line_numbers(pair):
    before, after = pair
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), "a/f.txt", "b/f.txt"))
    if not diff or not after:
        return  # a diff that empties the file reads as deleting it, which is refused
    shifted = "".join(
        line.replace("@@ -", "@@ -1", 1) if line.startswith("@@") else line for line in diff.splitlines(True)
    )
    [edit] = unified_diff(shifted)
    if not all(h.search.strip() for h in edit.hunks):
        return
    assert apply(before, edit) == after


@given(st.lists(st.sampled_from(["a", "b", "", "    a", "c"]), min_size=1, max_size=25), st.lists(st.sampled_from(["a", "b", "", "    a", "c", "d"]), max_size=25))
@settings(max_examples=200, deadline=None)
def test_with_repeated_lines_an_edit_is_applied_correctly_or_refused(old_lines, new_lines):
    before = "".join(ln + "\n" for ln in old_lines)
    after = "".join(ln + "\n" for ln in new_lines)
    found = hunks(before, after)
    if not found:
        return
    try:
        result = apply(before, blocks_of(found))
    except EditRefused:
        return
    assert result == after


def _slipped(found: list[unidiff.Hunk], which: int, at: int, drop: bool) -> FileEdit:
    """The blocks of `found`, with hunk `which` copied with a slip at its line `at`: that blank line dropped, or
    an extra blank line after it."""
    out = []
    for number, hunk in enumerate(found):
        lines = [(line.line_type, line.value) for line in hunk]
        if number == which:
            lines = lines[:at] + lines[at + 1 :] if drop else lines[: at + 1] + [(" ", "\n")] + lines[at + 1 :]
        out.append(Hunk("".join(v for t, v in lines if t != "+"), "".join(v for t, v in lines if t != "-")))
    return FileEdit("f.txt", tuple(out))


def _anchored(found: list[unidiff.Hunk]) -> bool:
    """Every hunk has a non-blank line to find it by (one of blank lines only has no unique anchor)."""
    return bool(found) and all(any(x.value.strip() for x in h.source_lines()) for h in found)


def _between_unchanged(hunk: unidiff.Hunk, at: int) -> bool:
    lines = list(hunk)
    return 0 < at < len(lines) - 1 and all(lines[k].is_context and lines[k].value.strip() for k in (at - 1, at + 1))


@given(unique_files(), st.data())
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
def test_a_blank_line_missing_between_unchanged_lines_changes_nothing(pair, data):
    before, after = pair
    found = hunks(before, after)
    spots = [(h, k) for h, hunk in enumerate(found) for k, line in enumerate(hunk) if line.is_context and not line.value.strip() and _between_unchanged(hunk, k)]
    assume(_anchored(found) and spots)
    which, at = data.draw(st.sampled_from(spots))
    assert apply(before, _slipped(found, which, at, drop=True)) == after


@given(unique_files(), st.data())
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
def test_an_extra_blank_line_between_unchanged_lines_changes_nothing(pair, data):
    before, after = pair
    found = hunks(before, after)
    spots = [(h, k) for h, hunk in enumerate(found) for k, line in enumerate(hunk) if line.is_context and line.value.strip() and k + 1 < len(hunk) and list(hunk)[k + 1].is_context and list(hunk)[k + 1].value.strip()]
    assume(_anchored(found) and spots)
    which, at = data.draw(st.sampled_from(spots))
    assert apply(before, _slipped(found, which, at, drop=False)) == after


def _swebench_files() -> list[tuple[str, str, FileEdit]]:
    out = []
    for data in sorted(SWEBENCH.glob("*.jsonl")):
        for line in data.read_text(encoding="utf-8").splitlines():
            for patched in unidiff.PatchSet(json.loads(line)["patch"]):
                if not patched.is_modified_file:
                    continue
                before = "".join(ln.value for h in patched for ln in h.source_lines())
                after = "".join(ln.value for h in patched for ln in h.target_lines())
                edit = FileEdit(patched.path, tuple(Hunk("".join(ln.value for ln in h.source_lines()), "".join(ln.value for ln in h.target_lines())) for h in patched))
                out.append((before, after, edit))
    return out


@pytest.mark.skipif(not SWEBENCH.is_dir(), reason="shared SWE-bench data not found at ../shared/data/swebench")
@given(st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_real_patches_apply_exactly_or_are_refused_as_ambiguous(data):
    files = _cached_files()
    before, after, edit = data.draw(st.sampled_from(files))
    try:
        result = apply(before, edit, name="f.py")
    except EditRefused as err:
        assert "places" in str(err) or "times" in str(err)
        return
    assert result == after


_FILES: list = []


def _cached_files():
    if not _FILES:
        _FILES.extend(_swebench_files())
    return _FILES
