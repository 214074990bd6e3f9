"""One-line diagnostics (`path:line: severity: message`) for editors: where a run changed files and what still fails.

The format is the one compilers use, so an editor's problem matcher (see loopwright.vscode) turns each
line into an entry in its Problems list.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from loopwright import gitstate
from loopwright.prompting import render
from loopwright.sandboxes import hostfs
from loopwright.trajectory import Trajectory

PATTERN = r"^(.+?):(\d+): (error|warning|info): (.*)$"
"""Matches every diagnostic line; shared with the VS Code problem matcher."""

_FAILED = re.compile(r"^FAILED (\S+?)(?:::\S*)?(?: - (.*))?$")
_FRAME = re.compile(r"^\s*([^\s:]+\.\w+):(\d+): ")


def with_editor_context(task: str, root: Path, file: str, line: int | None, selection: str | None) -> str:
    """The task text with where the person is in their editor."""
    path = Path(file)
    try:
        shown = path.resolve().relative_to(root).as_posix() if path.is_absolute() else file
    except ValueError:
        shown = file
    return render("editor_context.j2", task=task, path=shown, line=line, selection=(selection or "").strip())


def diagnostics_of(root: Path, outcome: Any) -> list[str]:
    result = outcome.result
    lines = []
    tests = {True: "tests pass", False: "tests still fail", None: "tests not run"}[result.tests_passed]
    severity = "warning" if result.tests_passed is False or result.reason != "submitted" else "info"
    what = result.submitted_summary or result.detail or result.reason
    for path in result.changed_files:
        line = _first_changed_line(root, outcome.save_point, path)
        lines.append(f"{path}:{line}: {severity}: changed by loopwright ({tests}): {_one_line(what)}")
    if result.tests_passed is False and outcome.trajectory:
        lines += _failures(outcome.trajectory, result.test_summary)
    return lines


def _first_changed_line(root: Path, save_point: str | None, path: str) -> int:
    current = root / path
    if save_point is None or not current.is_file():
        return 1
    top = gitstate.top_of(root) or root
    before = gitstate.file_at(root, save_point, (root / path).relative_to(top).as_posix()) or ""
    after = hostfs.read_text(root, current, 16 << 20) or ""
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    for tag, _, _, start, _ in matcher.get_opcodes():
        if tag != "equal":
            return start + 1
    return 1


def _failures(trajectory: Path, summary: str) -> list[str]:
    """Failing tests of the last test run, when that run is the one the summary reports."""
    try:
        data = Trajectory.load(trajectory)
    except ValueError:
        return []
    outputs = [event.output for step in data.steps for event in step.tools if event.test_report]
    if not outputs or outputs[-1].splitlines()[0] != summary:
        return []
    found = []
    current: tuple[str, str] | None = None
    located = False
    for text in outputs[-1].splitlines():
        failed = _FAILED.match(text)
        if failed:
            if current and not located:
                found.append(f"{current[0]}:1: error: {current[1]}")
            current, located = (failed.group(1), _one_line(failed.group(2) or "test failed")), False
            continue
        frame = _FRAME.match(text)
        if current and frame and not located and frame.group(1) == current[0]:
            found.append(f"{frame.group(1)}:{frame.group(2)}: error: {current[1]}")
            located = True
    if current and not located:
        found.append(f"{current[0]}:1: error: {current[1]}")
    return found


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300] or "-"
