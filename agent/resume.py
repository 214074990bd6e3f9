"""`loopwright resume TRAJECTORY`: pick up a PR bot run in the terminal.

The trajectory (a file, or the unpacked workflow artifact holding one) is untrusted data: it is read with a
size limit and validated, its repository must be the clone's own (compared with the clone's remotes, never
fetched from), and nothing in the person's work tree is touched unless the pull request's branch can be
checked out without overwriting their changes. The conversation then continues in an ordinary interactive
session, with a copy of the run's messages and steps recorded in this repository's own runs folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from loopwright import pullbranch
from loopwright.prompting import render
from loopwright.trajectory import PullRun, Trajectory, TrajectoryData

SEARCH_DEPTH = 3
"""How deep a folder is searched for the trajectory: `gh run download` puts each artifact in a folder of its own."""
RECAP_WIDTH = 200


class ResumeError(Exception):
    """The run cannot be picked up here; the message is one line. Nothing of the person's was changed."""


@dataclass(frozen=True)
class Resumed:
    earlier: TrajectoryData
    """The PR run's trajectory, validated."""
    pull: PullRun
    branch: str
    """The local branch now checked out."""
    recap: tuple[tuple[str, str], ...]
    """(label, text) lines about the run; the text is untrusted and must be escaped where it is shown."""
    note: str
    """What the model is told with the person's first request: where the conversation now goes on."""

    @property
    def task(self) -> str:
        return f"resumed {self.pull.repository}#{self.pull.number} from run {self.earlier.run_id}"


def find_trajectory(path: Path) -> Path:
    """`path` itself, or the one trajectory (`*.json`) in the folder `path`, searched a few levels deep."""
    if not path.is_dir():
        return path
    found: list[Path] = []
    for folder, subfolders, files in os.walk(path):
        depth = len(Path(folder).relative_to(path).parts)
        subfolders[:] = sorted(subfolders) if depth < SEARCH_DEPTH else []
        found += [Path(folder) / name for name in sorted(files) if name.endswith(".json")]
    if not found:
        raise ResumeError(f"{path}: no trajectory (*.json) in this folder; give the file or the unpacked artifact's folder")
    if len(found) > 1:
        names = ", ".join(str(p.relative_to(path)) for p in found[:3]) + (", ..." if len(found) > 3 else "")
        raise ResumeError(f"{path}: {len(found)} trajectories in this folder ({names}); give the one to resume")
    return found[0]


def read_pull_run(path: Path) -> TrajectoryData:
    """The trajectory at `path` (a file or folder), which must be a PR bot run."""
    file = find_trajectory(path)
    try:
        data = Trajectory.load(file)
    except ValueError as exc:
        raise ResumeError(str(exc)) from None
    if data.pull_request is None:
        raise ResumeError(f"{file}: not a pull-request run (no pull request recorded); `loopwright --resume` continues a session of this repository")
    return data


def resume(path: Path, root: Path) -> Resumed:
    """Check the trajectory belongs here, check out its pull request's branch, and prepare the conversation."""
    data = read_pull_run(path)
    pull = data.pull_request
    assert pull is not None  # read_pull_run refused the others
    try:
        remote = pullbranch.matching_remote(root, pull.clone_url)
        if remote is None:
            raise ResumeError(f"the run was made on {pull.repository}, which is not a remote of {root} ({_remote_list(root)}); run resume in a clone of {pull.repository}")
        head = pullbranch.PullHead(number=pull.number, head_ref=pull.head_ref, from_fork=pull.from_fork, commit=pull.pushed or pull.head_sha)
        checked_out = pullbranch.check_out_pull(root, remote, head)
    except pullbranch.BranchError as exc:
        raise ResumeError(str(exc)) from None
    note = render("resumed.j2", number=pull.number, pushed=pull.pushed or "", branch=checked_out.branch)
    recap = _recap(data, pull, remote.name, checked_out)
    return Resumed(earlier=data, pull=pull, branch=checked_out.branch, recap=recap, note=note)


def _remote_list(root: Path) -> str:
    found = pullbranch.remotes(root)
    return ", ".join(f"{remote.name}: {pullbranch.shown_url(remote.url)}" for remote in found[:3]) or "it has no remotes"


def _recap(data: TrajectoryData, pull: PullRun, remote: str, checked_out: pullbranch.CheckedOut) -> tuple[tuple[str, str], ...]:
    summary = data.summary or {}
    reason = str(summary.get("reason") or "unknown (the run did not finish)")
    detail = str(summary.get("detail") or "")
    passed = summary.get("tests_passed")
    tests = "passed" if passed is True else "failing" if passed is False else "not run"
    changed = summary.get("changed_files")
    lines = [
        ("pull request", f"{pull.repository}#{pull.number} ({pull.head_ref})"),
        ("request", pull.request or data.task),
        ("stop reason", f"{reason}: {detail}" if detail and reason != "submitted" else reason),
        ("summary", str(summary.get("submitted_summary") or "")),
        ("changed", ", ".join(map(str, changed)) if isinstance(changed, list) and changed else "no files"),
        ("tests after", tests),
        ("pushed", pull.pushed[:12] if pull.pushed else "nothing"),
        ("checked out", f"{checked_out.branch} at {checked_out.commit[:12]} (from {remote})"),
        *(("note", note) for note in checked_out.notes),
    ]
    return tuple((label, _one_line(text)) for label, text in lines if text)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= RECAP_WIDTH else line[: RECAP_WIDTH - 3] + "..."
