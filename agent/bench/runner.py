"""One task, start to end: work tree at the base commit, test patch, environment, tests before, fix, tests after.

    checkout -> test_patch -> sandbox (setup) -> tests before -> test_patch out -> fix -> diff
             -> test_patch back -> tests after -> verdict

The test patch is out of the work tree while the fix is made (the agent does not see the hidden tests, as
in SWE-bench); its files are put back exactly as the patch has them before the tests run again.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from loopwright.bench import fixes
from loopwright.bench.blobs import BlobStore
from loopwright.bench.environment import Environment, environment_of
from loopwright.bench.mirrors import MirrorMissing, find_mirror
from loopwright.bench.results import ORACLE, Cost, TaskResult
from loopwright.bench.tasks import Task
from loopwright.bench.testrun import Outcomes, run_tests, truncated
from loopwright.bench.verdict import judge
from loopwright.bench.workspace import CheckoutError, PatchFailed, Workspace, checkout, patch_paths
from loopwright.config import RunConfig
from loopwright.model import Model
from loopwright.sandboxes.base import Sandbox, SandboxError
from loopwright.session import open_sandbox, tool_context
from loopwright.tools.base import ToolContext


@dataclass(frozen=True)
class BenchOptions:
    repos: Path
    """The folder of mirrors."""
    config: RunConfig
    """Sandbox, limits and timeouts of every task (the network stays off for the fix and the tests)."""
    mode: str = ORACLE
    """`oracle`, or the name of the model the agent runs on."""
    model_factory: Callable[[], Model] | None = None
    """A fresh model for each task (with a model spec)."""
    pass_sample: int = 20
    """How many PASS_TO_PASS tests to run (a fixed sample per task); 0: none."""
    logs: Path | None = None
    """Folder for each task's log (setup, test reports, the fix's output)."""
    trajectories: Path | None = None
    """Folder the agent's trajectories are copied to."""
    blobs: BlobStore | None = None
    """Files the mirrors lack, by git object id (see bench.blobs)."""


class TaskLog:
    """A task's log file (or nothing): raw text from the sandbox and the tools, kept as data."""

    def __init__(self, path: Path | None) -> None:
        self._handle = path.open("w", encoding="utf-8", errors="replace") if path else None

    def line(self, text: str) -> None:
        if self._handle:
            self._handle.write(text.rstrip("\n") + "\n")
            self._handle.flush()

    def section(self, title: str, body: str) -> None:
        self.line(f"\n== {title} ==\n{body}")

    def close(self) -> None:
        if self._handle:
            self._handle.close()


def run_one(task: Task, options: BenchOptions) -> TaskResult:
    result = TaskResult(instance_id=task.instance_id, repo=task.repo, mode=options.mode)
    started = time.monotonic()
    log = TaskLog(options.logs / f"{_file_name(task.instance_id)}.log" if options.logs else None)
    try:
        _run(task, options, result, log)
    except Exception as error:  # noqa: BLE001 - one task's surprise is its error, not the end of the benchmark
        result.status, result.cause = "error", f"internal error: {type(error).__name__}: {_first_line(str(error))}"
        log.section("internal error", repr(error))
    finally:
        result.timing.total_s = round(time.monotonic() - started, 3)
        log.line(f"\n== result ==\n{result.status} {result.cause}")
        log.close()
    return result


def sample_pass_to_pass(task: Task, size: int) -> list[str]:
    """A fixed sample (seeded by the instance id): whole ids first, truncated ones only to fill up."""
    fail_to_pass = set(task.fail_to_pass)
    ids = [t for t in dict.fromkeys(task.pass_to_pass) if t not in fail_to_pass]
    if len(ids) <= size:
        return ids
    chooser = random.Random(task.instance_id)
    whole = [t for t in ids if not truncated(t)]
    chosen = chooser.sample(whole, min(size, len(whole)))
    cut = [t for t in ids if truncated(t)]
    chosen += chooser.sample(cut, size - len(chosen))
    order = {t: n for n, t in enumerate(ids)}
    return sorted(chosen, key=order.__getitem__)


def _run(task: Task, options: BenchOptions, result: TaskResult, log: TaskLog) -> None:
    if task.problem:
        result.cause = f"task: {task.problem}"
        return
    if options.mode != ORACLE and not task.problem_statement.strip():
        result.cause = "task: the record has no problem_statement for the agent"
        return
    try:
        mirror = find_mirror(options.repos, task.repo)
    except MirrorMissing as missing:
        result.cause = str(missing)
        return
    result.mirror_layout = mirror.layout
    log.line(f"{task.instance_id}: {task.repo} at {task.base_commit} from {mirror.path} ({mirror.layout})")
    started = time.monotonic()
    try:
        with checkout(mirror, task.base_commit, blobs=options.blobs) as workspace:
            result.timing.checkout_s = _since(started)
            _in_workspace(task, workspace, options, result, log)
    except CheckoutError as failed:
        result.timing.checkout_s = _since(started)
        result.cause = str(failed)


def _in_workspace(task: Task, workspace: Workspace, options: BenchOptions, result: TaskResult, log: TaskLog) -> None:
    try:
        workspace.apply(task.test_patch)
    except PatchFailed as refused:
        result.cause = f"test_patch did not apply: {refused}"
        return
    started = time.monotonic()
    try:
        box = open_sandbox(options.config.sandbox, workspace.root, progress=log.line)
    except SandboxError as failed:
        result.timing.setup_s = _since(started)
        result.env_ok, result.env_failures = False, [str(failed)]
        result.cause = f"setup: {_first_line(str(failed))}"
        return
    with box as opened:
        result.timing.setup_s = _since(started)
        env = environment_of(opened)
        result.env_ok, result.env_failures, result.setup_cached = env.ok, list(env.failures), env.cached
        log.section("environment", "\n".join([f"ok={env.ok} cached={env.cached}", *env.details, *env.failures]))
        _test_and_fix(task, workspace, opened, env, options, result, log)


def _test_and_fix(task: Task, workspace: Workspace, box: Sandbox, env: Environment, options: BenchOptions, result: TaskResult, log: TaskLog) -> None:
    ctx = tool_context(workspace.root, box, options.config)
    sample = sample_pass_to_pass(task, options.pass_sample)
    before = _tests(ctx, [*task.fail_to_pass, *sample], result, log, "tests before the fix")
    fix = _fix(task, workspace, box, ctx, options, result, log)
    after = _tests(ctx, [*task.fail_to_pass, *sample], result, log, "tests after the fix") if fix.applied else None
    result.fail_to_pass_before = {t: before.outcomes[t] for t in task.fail_to_pass}
    result.pass_to_pass_before = {t: before.outcomes[t] for t in sample}
    if after is not None:
        result.fail_to_pass_after = {t: after.outcomes[t] for t in task.fail_to_pass}
        result.pass_to_pass_after = {t: after.outcomes[t] for t in sample}
    verdict = judge(task.fail_to_pass, sample, env, before, fix, after)
    result.status, result.cause, result.false_pass = verdict.status, verdict.cause, verdict.false_pass


def _tests(ctx: ToolContext, test_ids: Sequence[str], result: TaskResult, log: TaskLog, title: str) -> Outcomes:
    run = run_tests(ctx, test_ids)
    result.timing.tests_s = round(result.timing.tests_s + run.duration_s, 3)
    outcomes = "\n".join(f"{outcome:8} {test_id}" for test_id, outcome in run.outcomes.items())
    log.section(title, f"{outcomes}\n\n{run.rendered}")
    return run


def _fix(task: Task, workspace: Workspace, box: Sandbox, ctx: ToolContext, options: BenchOptions, result: TaskResult, log: TaskLog) -> fixes.Fix:
    test_files = patch_paths(task.test_patch)
    try:
        workspace.apply(task.test_patch, reverse=True)
    except PatchFailed as refused:
        return fixes.Fix(applied=False, cause=f"could not take the test_patch out for the fix: {refused}")
    started = time.monotonic()
    if options.mode == ORACLE:
        fix = fixes.oracle_fix(task.patch, ctx)
    else:
        assert options.model_factory is not None
        fix = fixes.agent_fix(task.problem_statement, workspace.root, box, _agent_config(options.config), options.model_factory(), log.line)
    result.timing.fix_s = _since(started)
    log.section("fix", fix.log)
    if fix.usage is not None:
        usage = fix.usage
        result.cost = Cost(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, cached_tokens=usage.cached_tokens, cost_usd=usage.cost_usd)
    result.stop_reason = fix.stop_reason
    if fix.trajectory is not None and options.trajectories is not None:
        options.trajectories.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fix.trajectory, options.trajectories / f"{_file_name(task.instance_id)}.json")
    result.model_patch = workspace.diff(exclude=test_files)
    try:
        workspace.restore(test_files)
        workspace.apply(task.test_patch)
    except PatchFailed as refused:
        return fixes.Fix(applied=False, cause=f"test_patch did not apply after the fix: {refused}")
    return fix


def _agent_config(config: RunConfig) -> RunConfig:
    """The agent runs unattended without network, whatever the settings say."""
    agent = config.model_copy(deep=True)
    agent.sandbox.network = False
    agent.approval_mode = "full-auto"
    return agent


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _file_name(instance_id: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in instance_id)[:150]
