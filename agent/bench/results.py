"""One task's result, and the JSON-lines file that collects them so that a run can be resumed."""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, UTC
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

RESULTS_FILE = "results.jsonl"
PREDICTIONS_FILE = "predictions.jsonl"
ORACLE = "oracle"
"""The mode of a run whose fix is the task's reference patch; otherwise the mode is the model's name."""


class Timing(BaseModel):
    checkout_s: float = 0.0
    setup_s: float = 0.0
    tests_s: float = 0.0
    """Both test runs, before and after the fix."""
    fix_s: float = 0.0
    total_s: float = 0.0


class Cost(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float | None = None
    """None when the model's price is unknown."""


class TaskResult(BaseModel):
    instance_id: str
    repo: str
    mode: str
    """`oracle`, or the name of the model the agent ran on (such as `openai:gpt-5`)."""
    status: Literal["resolved", "unresolved", "error"] = "error"
    """`error`: the task could not be evaluated (bad record, no mirror, no checkout, no sandbox)."""
    cause: str = ""
    """Why the task is not resolved, in one line; empty when it is."""
    false_pass: bool = False
    """The tests passed but did not run against the repository's code, or did not run at all."""
    env_ok: bool | None = None
    """Whether the environment was set up without failures; None when setup never started."""
    env_failures: list[str] = Field(default_factory=list)
    setup_cached: bool | None = None
    mirror_layout: str = ""
    fail_to_pass_before: dict[str, str] = Field(default_factory=dict)
    fail_to_pass_after: dict[str, str] = Field(default_factory=dict)
    pass_to_pass_before: dict[str, str] = Field(default_factory=dict)
    """The PASS_TO_PASS sample's outcomes."""
    pass_to_pass_after: dict[str, str] = Field(default_factory=dict)
    timing: Timing = Field(default_factory=Timing)
    cost: Cost | None = None
    stop_reason: str = ""
    """How the agent's run ended (with --model)."""
    model_patch: str = ""
    """The fix as a diff against the base commit, the test patch's files left out."""
    finished_at: str = ""

    @property
    def resolved(self) -> bool:
        return self.status == "resolved"


class ResultStore:
    """`results.jsonl` in the output folder: one line per finished task, appended as each finishes; the latest
    line of a task and mode counts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / RESULTS_FILE
        self._lock = threading.Lock()
        self.unreadable = 0
        """Lines of the file that were not results (a crash while writing)."""

    def latest(self, mode: str) -> dict[str, TaskResult]:
        found: dict[str, TaskResult] = {}
        self.unreadable = 0
        if not self.path.is_file():
            return found
        with self.path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    result = TaskResult.model_validate_json(line)
                except ValidationError:
                    self.unreadable += 1
                    continue
                if result.mode == mode:
                    found[result.instance_id] = result
        return found

    def append(self, result: TaskResult) -> None:
        if not result.finished_at:
            result.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        line = result.model_dump_json() + "\n"
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())


def write_predictions(path: Path, results: list[TaskResult]) -> None:
    """SWE-bench predictions: one JSON object per task with `instance_id`, `model_name_or_path`, `model_patch`."""
    lines = [
        json.dumps({"instance_id": r.instance_id, "model_name_or_path": _model_name(r.mode), "model_patch": r.model_patch})
        for r in results
        if r.status != "error" or r.model_patch
    ]
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(temporary, path)


def _model_name(mode: str) -> str:
    return "loopwright-oracle" if mode == ORACLE else f"loopwright:{mode}"
