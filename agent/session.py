"""One task, start to end: choose the sandbox, build the prompt, run the loop, record the trajectory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from loopwright import gitstate, gittrust
from loopwright.config import RunConfig, SandboxSettings
from loopwright.hooks import Hooks
from loopwright.loop import Agent, RunResult
from loopwright.model import Model
from loopwright.prompting import render
from loopwright.sandboxes import hostfs
from loopwright.sandboxes.base import Sandbox
from loopwright.testdetect import detect
from loopwright.tools.base import Tool, ToolContext
from loopwright.tools.registry import default_tools
from loopwright.trajectory import Trajectory

INSTRUCTION_FILES = ("AGENTS.md",)
INSTRUCTIONS_BYTES = 256 << 10


@dataclass
class TaskOutcome:
    result: RunResult
    trajectory: Path | None
    test_command: str
    save_point: str | None
    """Commit recording the work tree as it was before the run (restore with `git restore --source=SHA --worktree -- .`)."""


def open_sandbox(
    settings: SandboxSettings, root: Path, progress: Callable[[str], None] | None = None, fresh_environment: bool = False
) -> AbstractContextManager[Sandbox]:
    """The session's sandbox. A Docker one runs the setup phase first (or finds it cached: `fresh_environment` makes it
    anew); its `setup_report` says what the environment holds."""
    if settings.kind == "local":
        from loopwright.sandboxes.local import LocalSandbox

        return LocalSandbox(root)
    from loopwright.sandboxes.docker import DockerSandbox, cleanup_stale

    cleanup_stale()
    protected = gittrust.protected_paths(root)
    gittrust.record_sandboxed(root, protected)
    return DockerSandbox(
        root,
        read_only_paths=protected,
        progress=progress,
        image=settings.image,
        network=settings.network,
        memory=settings.memory,
        pids=settings.pids,
        cpus=settings.cpus,
        install_dependencies=settings.install_dependencies,
        runtime=settings.runtime,
        storage=settings.storage,
        python=settings.python,
        commit_date=gitstate.head_date(root),
        setup_commands=settings.setup,
        setup_timeout_s=settings.setup_timeout_s,
        fresh_environment=fresh_environment,
    )


def project_instructions(root: Path) -> tuple[str, str]:
    for name in INSTRUCTION_FILES:
        text = hostfs.read_text(root, root / name, INSTRUCTIONS_BYTES)
        if text is not None:
            return text.strip(), name
    return "", ""


def session_tools(root: Path, config: RunConfig, model_name: str = "") -> list[Tool]:
    """The tools of a session: the edit format configured for the model, and the repo_map tool when the map is on."""
    extra: list[Tool] = []
    if config.repo_map_tokens:
        from loopwright.repomap import make_repo_map_tool

        extra.append(make_repo_map_tool(root))
    return default_tools(config.edit_format_for(model_name), extra)


def initial_repo_map(root: Path, task: str, config: RunConfig) -> str:
    """The map for the system prompt, made once per session so the prompt prefix stays cacheable."""
    if not config.repo_map_tokens:
        return ""
    from loopwright.repomap import initial_map

    try:
        return initial_map(root, task, config.repo_map_tokens)
    except Exception as exc:  # noqa: BLE001 - a map is a help, never a reason to stop the session
        return f"(no map: {type(exc).__name__}: {exc})"


def system_prompt(sandbox: Sandbox, test_command: str, network: bool, instructions: tuple[str, str], repo_map: str = "") -> str:
    return render(
        "system.j2",
        workdir=sandbox.workdir,
        network=network,
        test_command=test_command,
        instructions=instructions[0],
        instructions_source=instructions[1],
        repo_map=repo_map,
        environment=report.summary() if (report := getattr(sandbox, "setup_report", None)) else "",
    )


def run_task(
    task: str,
    root: Path,
    config: RunConfig,
    model: Model,
    *,
    hooks: Hooks | None = None,
    sandbox: Sandbox | None = None,
    tools: Sequence[Tool] | None = None,
    repo_map: str | None = None,
    save_trajectory: bool = True,
    progress: Callable[[str], None] | None = None,
) -> TaskOutcome:
    root = root.resolve()
    test_command = config.test_command or detect(root)
    before = gitstate.take(root)
    trajectory = Trajectory.start(root, task, model.name, config.model_dump(mode="json"), save=save_trajectory)
    save_point = gitstate.save_point(root, f"runs/{trajectory.data.run_id}")
    box_context = nullcontext(sandbox) if sandbox is not None else open_sandbox(config.sandbox, root, progress)
    with box_context as box:
        ctx = ToolContext(
            root=root,
            sandbox=box,
            test_command=test_command,
            command_timeout_s=config.command_timeout_s,
            test_timeout_s=config.test_timeout_s,
            max_output_chars=config.max_output_chars,
        )
        agent = Agent(model, tools or session_tools(root, config, model.name), ctx, config.limits, trajectory, hooks, config.final_test_run)
        repo_map = initial_repo_map(root, task, config) if repo_map is None else repo_map
        prompt = system_prompt(box, test_command, config.sandbox.network, project_instructions(root), repo_map)
        result = agent.run(prompt, task)
    if before is not None:
        result.changed_files = _merge_changes(result.changed_files, gitstate.changed_since(before), before.root, root)
    trajectory.finish(result.as_dict())
    return TaskOutcome(result=result, trajectory=trajectory.path, test_command=test_command, save_point=save_point)


def _merge_changes(from_tools: list[str], from_git: list[str], top: Path, root: Path) -> list[str]:
    prefix = root.relative_to(top.resolve()).as_posix() if root != top.resolve() else ""
    git_paths = [p[len(prefix) + 1 :] if prefix and p.startswith(prefix + "/") else p for p in from_git]
    return sorted(set(from_tools) | set(git_paths))
