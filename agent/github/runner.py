"""One unattended run of the core loop on a checked-out pull request: approval off, sandboxed, hard-bounded.

The session is built by `session.build_session` from the trusted settings (`ActionSettings.run_config`), like
every other; what differs is passed as overrides or done around it: the project instructions come from the
base branch (given, never read from the work tree), no person is present, the work tree's git metadata is
never touched on the runner, and a wall-clock guard ends the run even when a single step hangs.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from loopwright.events import Summary, TestRun
from loopwright.eventstream import EventStream, report_of
from loopwright.github import joblog
from loopwright.github.redact import Redactor
from loopwright.github.settings import ActionSettings
from loopwright.loop import RunResult
from loopwright.model import Model
from loopwright.session import build_session, chosen_test_command
from loopwright.tools.run_tests import record, run_test_command
from loopwright.trajectory import PullRun, Trajectory
from loopwright.visible import visible

HARD_STOP_GRACE_S = 60.0
"""Past `max_seconds` the loop stops between steps; this much later a step still running is cut off."""


class HardDeadline(KeyboardInterrupt):
    """Raised into the main thread when a run outlives its budget; the loop ends it like an interrupt."""


@dataclass
class RunOutcome:
    result: RunResult
    summary: Summary
    """The run's last event: what the reply reports."""
    tests_before: TestRun | None
    test_command: str
    trajectory: Path | None
    record: Trajectory | None = None
    """The run's record, for what happens after the run (the pushed commit)."""

    def note_pushed(self, commit: str) -> None:
        """Record the commit the run's changes were pushed as, so `loopwright resume` checks it out."""
        if self.record is not None and self.record.data.pull_request is not None:
            self.record.data.pull_request.pushed = commit
            self.record.save()


def run_agent(
    task: str,
    workdir: Path,
    settings: ActionSettings,
    model: Model,
    instructions: str,
    trajectory_dir: Path | None = None,
    pull: PullRun | None = None,
    redact: Redactor | None = None,
) -> RunOutcome:
    """The run; the job log tells it event by event, masked by `redact` (the runner's secrets)."""
    redact = redact or Redactor(())
    config = settings.run_config()
    trajectory = Trajectory.start(workdir, task, model.name, {"github": settings.model_dump(mode="json")}, save=False)
    trajectory.data.pull_request = pull
    if trajectory_dir is not None:
        trajectory.path = trajectory_dir / f"{trajectory.data.run_id}.json"
    cutoff = config.limits.max_seconds + HARD_STOP_GRACE_S
    given = (instructions, "AGENTS.md on the base branch") if instructions else ("", "")
    events = EventStream(joblog.lines(job_log, redact), sandbox=config.sandbox.kind)
    events.started(trajectory.data, chosen_test_command(workdir, config))
    session = build_session(
        config, model, workdir, trajectory, task=task, instructions=given, hooks=events.hooks(), progress=lambda line: job_log(redact(line))
    )
    with hard_deadline(cutoff) as deadline, session as built:
        before = report_of(record(run_test_command(built.ctx)))
        if before is not None:
            job_log(f"tests before the run: {joblog.verdict_line(before, redact)}")
        result = built.agent.run(built.prompt, task)
        test_command = built.test_command
    if deadline.fired and result.reason == "interrupted":
        result.reason, result.detail = "time_limit", f"cut off after {cutoff:g}s"
    trajectory.finish(result.as_dict())
    summary = events.finished(result, str(trajectory.path) if trajectory.path else None)
    return RunOutcome(result=result, summary=summary, tests_before=before, test_command=test_command, trajectory=trajectory.path, record=trajectory)


def job_log(line: str) -> None:
    """One line of the job's log: the run's events, sandbox progress and warnings (such as running without gVisor).
    Shown as text on one line: the log renders escape sequences and obeys `::` workflow commands at a line's start."""
    print(f"loopwright: {visible(' '.join(line.split()))}", file=sys.stderr, flush=True)


@dataclass
class Deadline:
    fired: bool = False


@contextmanager
def hard_deadline(seconds: float) -> Iterator[Deadline]:
    """SIGALRM after `seconds` interrupts whatever the main thread is doing; elsewhere only the loop's own limits apply."""
    deadline = Deadline()
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield deadline
        return

    def expire(_signum: int, _frame: object) -> None:
        deadline.fired = True
        raise HardDeadline()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield deadline
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
