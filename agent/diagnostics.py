"""One-line diagnostics (`path:line: severity: message`) for editors: where a run changed files and what still fails.

The lines are rendered from the run's events, the objects `--output stream-json` prints: the summary's
changed files, and the failing tests of the structured report behind its verdict. Nothing is read back from
text a person or the model saw, so a line a test prints (`FAILED fake::id`) never becomes a problem. The
format is the one compilers use, so an editor's problem matcher (see loopwright.vscode) turns each line into
an entry in its Problems list.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from pydantic import BaseModel

from loopwright import gitstate
from loopwright.events import Summary, TestFailure
from loopwright.prompting import render
from loopwright.sandboxes import hostfs
from loopwright.visible import visible

PATTERN = r"^(.+?):(\d+): (error|warning|info): (.*)$"
"""Matches every diagnostic line; shared with the VS Code problem matcher."""


def with_editor_context(task: str, root: Path, file: str, line: int | None, selection: str | None) -> str:
    """The task text with where the person is in their editor."""
    path = Path(file)
    try:
        shown = path.resolve().relative_to(root).as_posix() if path.is_absolute() else file
    except ValueError:
        shown = file
    return render("editor_context.j2", task=task, path=shown, line=line, selection=(selection or "").strip())


def diagnostics_of(root: Path, events: Sequence[BaseModel], save_point: str | None) -> list[str]:
    """The lines for a finished run: one per changed file, then one per failing test of the run behind the
    verdict, when the runner reported them itself (`structured`). None before the run's summary."""
    summary = next((event for event in reversed(events) if isinstance(event, Summary)), None)
    if summary is None:
        return []
    tests = {True: "tests pass", False: "tests still fail", None: "tests not run"}[summary.tests_passed]
    severity = "warning" if summary.tests_passed is False or summary.reason != "submitted" else "info"
    what = _one_line(summary.submitted_summary or summary.detail or summary.reason)
    lines = [f"{_shown(path)}:{_first_changed_line(root, save_point, path)}: {severity}: changed by loopwright ({tests}): {what}" for path in summary.changed_files]
    run = summary.test_run
    if summary.tests_passed is False and run is not None and run.structured:
        lines += [line for failure in run.failures if (line := _failure(root, failure))]
    return lines


def _failure(root: Path, failure: TestFailure) -> str | None:
    """The failing test at its line; at the top of its file when the report has no line there; None when
    neither names a file of the workspace."""
    test_file, _, name = failure.test_id.partition("::")
    for path, line in ((failure.path, failure.line), (test_file, 1)):
        if path and _workspace_file(root, path):
            return f"{path}:{line or 1}: error: {_one_line(f'{name or test_file} {failure.outcome}: {failure.message}')}"
    return None


def _workspace_file(root: Path, path: str) -> bool:
    """Whether `path` (from the sandbox, so hostile) names a file inside the workspace, written as itself."""
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not path.isprintable() or path != relative.as_posix():
        return False
    try:
        return hostfs.inside(root, root / path).is_file()
    except OSError:
        return False


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


def _shown(path: str) -> str:
    """A changed file's path on one line, whatever characters its name holds."""
    return visible(path).replace("\n", "\\n")


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300] or "-"
