"""The two ways a task gets its fix: the reference patch through loopwright's own edit tool (`--oracle`), or the
agent working on the problem statement (`--model`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loopwright.config import RunConfig
from loopwright.messages import Usage
from loopwright.model import Model
from loopwright.sandboxes.base import Sandbox
from loopwright.tools.apply_patch import ApplyPatch, ApplyPatchArgs
from loopwright.tools.base import ToolContext, ToolFailure


@dataclass(frozen=True)
class Fix:
    applied: bool
    """Whether the fix changed the work tree as it meant to (for the agent: whether its run got going)."""
    cause: str = ""
    """Why not, in one line."""
    log: str = ""
    usage: Usage | None = None
    stop_reason: str = ""
    trajectory: Path | None = None


def oracle_fix(patch: str, ctx: ToolContext) -> Fix:
    """The reference patch, given to the `apply_patch` tool as a model would give it (unified diff)."""
    try:
        output = ApplyPatch().run(ApplyPatchArgs(patch=patch), ctx)
    except ToolFailure as refused:
        return Fix(applied=False, cause=f"patch did not apply: {_first_line(str(refused))}", log=str(refused))
    if output.is_error:
        return Fix(applied=False, cause=f"patch did not apply: {_first_line(output.text)}", log=output.text)
    return Fix(applied=True, log=output.text)


def agent_fix(problem: str, root: Path, box: Sandbox, config: RunConfig, model: Model, progress: Callable[[str], None]) -> Fix:
    """The agent's run on the problem statement, in the task's sandbox (no network), unattended."""
    from loopwright.session import run_task

    outcome = run_task(problem, root, config, model, sandbox=box, progress=progress)
    result = outcome.result
    log = f"stop reason: {result.reason} {result.detail}\nsteps: {result.steps}\nfiles: {', '.join(result.changed_files)}"
    cause = "" if result.reason == "submitted" else f"agent stopped: {result.reason}" + (f" ({_first_line(result.detail)})" if result.detail else "")
    return Fix(applied=True, cause=cause, log=log, usage=result.usage, stop_reason=result.reason, trajectory=outcome.trajectory)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:300]
