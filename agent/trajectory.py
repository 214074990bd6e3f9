"""Every run writes a JSON trajectory: the conversation, each step's calls, observations, timings and usage.

The file is rewritten after every step (atomically), so a crash still leaves a readable record. A trajectory
read back may come from anywhere (a PR run's artifact, a file someone sent): it is data, read with a size
limit and validated by these models, never executed.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import time
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from loopwright import statedir
from loopwright.messages import Message, Usage


class ToolEvent(BaseModel):
    call_id: str
    tool: str
    arguments: str
    output: str
    is_error: bool = False
    duration_s: float = 0.0
    data: dict[str, Any] = Field(default_factory=dict)
    described: str = ""
    """The tool's one line for the call (Tool.describe), for replaying a run to a person."""
    test_report: bool = False
    """The output is a test run's report (a tool that reports tests, and the call ran)."""


class StepRecord(BaseModel):
    step: int
    started_at: float
    model_duration_s: float
    usage: Usage
    assistant_text: str = ""
    tools: list[ToolEvent] = Field(default_factory=list)
    note: str = ""


FORMAT = 2
"""The newest trajectory format this version reads and the one it writes. 2 added `pull_request` and
`resumed_from`, both optional, so files of format 1 read as they are; a newer file is refused with a clear line."""
MAX_BYTES = 128 << 20
"""A trajectory larger than this is not read (a long session is a few megabytes)."""

SHA = r"^[0-9a-f]{40}([0-9a-f]{24})?$"


class PullRun(BaseModel):
    """Where a PR bot run worked and what it delivered, so `loopwright resume` can pick it up in a clone."""

    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", max_length=200)
    """owner/name of the pull request's (base) repository."""
    clone_url: str = Field(max_length=2000)
    """The base repository's clone URL as GitHub gave it; resume compares it with the clone's remotes."""
    number: int = Field(ge=1)
    base_ref: str = Field(max_length=1000)
    head_ref: str = Field(max_length=1000)
    head_repository: str | None = None
    """owner/name of the head's repository: the base one, a fork, or None when the fork was deleted."""
    head_sha: str = Field(pattern=SHA)
    """The commit the run started from."""
    pushed: str | None = Field(None, pattern=SHA)
    """The commit the run pushed to `head_ref`; None when it pushed nothing."""
    request: str = ""
    """The request after the trigger phrase, sanitized."""
    run_url: str = ""
    """The workflow run that made the trajectory (its artifacts hold the file); empty outside Actions."""

    @property
    def from_fork(self) -> bool:
        return self.head_repository is None or self.head_repository.lower() != self.repository.lower()


class TrajectoryData(BaseModel):
    version: int = FORMAT
    run_id: str
    task: str
    model: str
    repo: str
    started_at: str
    config: dict[str, Any] = Field(default_factory=dict)
    messages: list[Message] = Field(default_factory=list)
    steps: list[StepRecord] = Field(default_factory=list)
    summary: dict[str, Any] | None = None
    pull_request: PullRun | None = None
    """Set by the PR bot: the pull request the run worked on."""
    resumed_from: str | None = None
    """The run id of the trajectory this session continued (`loopwright resume`)."""


class Trajectory:
    def __init__(self, data: TrajectoryData, path: Path | None) -> None:
        self.data = data
        self.path = path

    @classmethod
    def start(cls, repo: Path, task: str, model: str, config: dict[str, Any], save: bool = True) -> Trajectory:
        now = datetime.now(UTC)
        run_id = now.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        data = TrajectoryData(run_id=run_id, task=task, model=model, repo=str(repo), started_at=now.isoformat(), config=config)
        path = runs_dir(repo) / f"{run_id}.json" if save else None
        return cls(data, path)

    @classmethod
    def continuing(cls, earlier: TrajectoryData, repo: Path, task: str, model: str, config: dict[str, Any]) -> Trajectory:
        """A new record in `repo`'s runs that carries on `earlier`'s conversation and steps. Its system prompt
        is left out: the session that continues writes its own."""
        trajectory = cls.start(repo, task, model, config)
        data = trajectory.data
        data.messages = [message for message in earlier.messages if message.role != "system"]
        data.steps = list(earlier.steps)
        data.pull_request = earlier.pull_request
        data.resumed_from = earlier.run_id
        return trajectory

    def record_messages(self, messages: list[Message]) -> None:
        self.data.messages = list(messages)

    def add_step(self, step: StepRecord) -> None:
        self.data.steps.append(step)
        self.save()

    def finish(self, summary: dict[str, Any]) -> None:
        self.data.summary = summary
        self.save()

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(self.data.model_dump_json(indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    @staticmethod
    def load(path: Path) -> TrajectoryData:
        """Read and validate a trajectory; ValueError with one line when it is unreadable, not one, or too new."""
        try:
            raw = json.loads(_read_limited(path, MAX_BYTES))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a loopwright trajectory ({_first_line(exc)})") from None
        version = raw.get("version") if isinstance(raw, dict) else None
        # Checked before the fields: a newer format may have changed them, and "update loopwright" is the useful answer.
        if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT:
            raise ValueError(f"{path}: trajectory format {version} is newer than this loopwright reads (up to {FORMAT}); update loopwright")
        try:
            return TrajectoryData.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"])) or "trajectory"
            raise ValueError(f"{path}: not a loopwright trajectory ({where}: {first['msg']})") from None


def _read_limited(path: Path, limit: int) -> bytes:
    """A regular file's bytes, refused past `limit`; never blocks on a FIFO or device."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError("not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"larger than {limit} bytes")
    return data


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def runs_dir(repo: Path) -> Path:
    """Where the trajectories of runs in `repo` are kept (outside the workspace, see statedir)."""
    return statedir.folder(repo, "runs")


def latest(repo: Path) -> Path | None:
    runs = sorted(runs_dir(repo).glob("*.json"), key=lambda p: p.stat().st_mtime)
    return runs[-1] if runs else None


def elapsed(since: float) -> float:
    return round(time.monotonic() - since, 3)
