"""Every run writes a JSON trajectory: the conversation, each step's calls, observations, timings and usage.

The file is rewritten after every step (atomically), so a crash still leaves a readable record.
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

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


class TrajectoryData(BaseModel):
    version: int = 1
    run_id: str
    task: str
    model: str
    repo: str
    started_at: str
    config: dict[str, Any] = Field(default_factory=dict)
    messages: list[Message] = Field(default_factory=list)
    steps: list[StepRecord] = Field(default_factory=list)
    summary: dict[str, Any] | None = None


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
        try:
            return TrajectoryData.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a loopwright trajectory ({str(exc).splitlines()[0]})") from None


def runs_dir(repo: Path) -> Path:
    """Where the trajectories of runs in `repo` are kept (outside the workspace, see statedir)."""
    return statedir.folder(repo, "runs")


def latest(repo: Path) -> Path | None:
    runs = sorted(runs_dir(repo).glob("*.json"), key=lambda p: p.stat().st_mtime)
    return runs[-1] if runs else None


def elapsed(since: float) -> float:
    return round(time.monotonic() - since, 3)
