"""The one place a session is built, and one task run start to end.

`build_session` turns a merged `RunConfig` into a sandbox, the tools' context, the tools, the agent and its
system prompt. The terminal chat, `loopwright run`, the benchmark and the PR bot all build their sessions here
and differ only by the overrides they pass: a person present (chat), project instructions from a trusted
base branch (PR bot), a sandbox or tools the caller already has (benchmark, tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from loopwright import gitstate, gittrust
from loopwright.config import RunConfig, SandboxSettings
from loopwright.hooks import Hooks
from loopwright.loop import Agent, RunResult
from loopwright.model import Model
from loopwright.models.context import fit_for_model
from loopwright.prompting import render
from loopwright.sandboxes import hostfs
from loopwright.sandboxes.base import Sandbox
from loopwright.seams import FinalTests, TestVerdict
from loopwright.testdetect import detect
from loopwright.tools.base import Tool, ToolContext
from loopwright.tools.registry import default_tools
from loopwright.tools.run_tests import record, run_test_command
from loopwright.trajectory import Trajectory, TrajectoryData

if TYPE_CHECKING:
    # The MCP SDK is imported only by a session that starts servers: it is most of the command line's start-up time.
    from loopwright.mcpclient import McpServers, ServerStatus

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


def session_tools(root: Path, config: RunConfig, model_name: str = "", servers: McpServers | None = None) -> list[Tool]:
    """The tools of a session: the edit format configured for the model, the repo_map tool when the map is on,
    and the tools of the MCP servers that started."""
    extra: list[Tool] = []
    if config.repo_map_tokens:
        from loopwright.repomap import make_repo_map_tool

        extra.append(make_repo_map_tool(root))
    if servers is not None:
        from loopwright.mcptools import server_tools

        extra.extend(server_tools(servers))
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


@dataclass
class Session:
    """Everything one session runs with, built from one configuration."""

    config: RunConfig
    sandbox: Sandbox
    ctx: ToolContext
    agent: Agent
    prompt: str
    """The system prompt."""
    trajectory: Trajectory
    servers: McpServers | None = None
    """The MCP servers of the session; None when the caller gave the tools."""
    mcp: list[ServerStatus] = field(default_factory=list)
    """What became of each configured MCP server: started (with its tools), failed and why, disabled."""

    @property
    def test_command(self) -> str:
        return self.ctx.test_command

    def tools_for(self, model_name: str) -> list[Tool]:
        """The session's tools for another model (its edit format may differ), MCP servers' tools included."""
        return session_tools(self.ctx.root, self.config, model_name, self.servers)


def chosen_test_command(root: Path, config: RunConfig) -> str:
    """The configured test command, or the one detected from the project's files."""
    return config.test_command or detect(root)


def tool_context(root: Path, sandbox: Sandbox, config: RunConfig) -> ToolContext:
    """What the tools may touch, with the timeouts and output size of `config`."""
    return ToolContext(
        root=root,
        sandbox=sandbox,
        test_command=chosen_test_command(root, config),
        command_timeout_s=config.command_timeout_s,
        test_timeout_s=config.test_timeout_s,
        max_output_chars=config.max_output_chars,
    )


def final_tests(ctx: ToolContext) -> FinalTests:
    """The loop's last test run: the configured command on the work tree as it is."""

    def run() -> TestVerdict:
        report = run_test_command(ctx)
        return TestVerdict(passed=report.passed, summary=report.render().splitlines()[0], command=ctx.test_command, report=record(report))

    return run


@contextmanager
def build_session(
    config: RunConfig,
    model: Model,
    root: Path,
    trajectory: Trajectory,
    *,
    task: str = "",
    person_present: bool = False,
    hooks: Hooks | None = None,
    instructions: tuple[str, str] | None = None,
    sandbox: Sandbox | None = None,
    tools: Sequence[Tool] | None = None,
    repo_map: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Iterator[Session]:
    """A session of `config` in `root`; the sandbox it opens and the MCP servers it starts are closed when the block ends.

    Overrides: `person_present` (answers end a turn; no final test run, the person runs tests when they want),
    `instructions` as (text, source) instead of the workspace's AGENTS.md, and a `sandbox`, `tools` or
    `repo_map` the caller already has (given tools start no MCP server). `task` steers the repository map toward it.
    A server that fails to start is reported through `progress` and the session goes on without it."""
    root = root.resolve()
    box_context = nullcontext(sandbox) if sandbox is not None else open_sandbox(config.sandbox, root, progress)
    mcp_context: AbstractContextManager[McpServers | None] = nullcontext(None)
    if tools is None and config.mcp_servers:
        from loopwright.mcpclient import start_servers

        mcp_context = start_servers(config.mcp_servers, root)
    with box_context as box, mcp_context as servers:
        mcp = list(servers.statuses.values()) if servers is not None else []
        if progress is not None:
            for status in mcp:
                progress(status.line())
        ctx = tool_context(root, box, config)
        agent = Agent(
            model,
            tools or session_tools(root, config, model.name, servers),
            ctx,
            config.limits,
            trajectory,
            hooks,
            final_tests=final_tests(ctx) if config.final_test_run and not person_present else None,
            fit_context=fit_for_model,
            person_present=person_present,
        )
        repo_map = initial_repo_map(root, task, config) if repo_map is None else repo_map
        given = project_instructions(root) if instructions is None else instructions
        prompt = system_prompt(box, ctx.test_command, config.sandbox.network, given, repo_map)
        yield Session(config=config, sandbox=box, ctx=ctx, agent=agent, prompt=prompt, trajectory=trajectory, servers=servers, mcp=mcp)


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
    on_start: Callable[[TrajectoryData, str], None] | None = None,
) -> TaskOutcome:
    """Run `task` to its end. `on_start` is called with the new trajectory's data and the test command once the
    run has its id and save point, before the sandbox opens."""
    root = root.resolve()
    test_command = chosen_test_command(root, config)
    before = gitstate.take(root)
    trajectory = Trajectory.start(root, task, model.name, config.model_dump(mode="json"), save=save_trajectory)
    save_point = gitstate.save_point(root, f"runs/{trajectory.data.run_id}")
    if on_start is not None:
        on_start(trajectory.data, test_command)
    session = build_session(config, model, root, trajectory, task=task, hooks=hooks, sandbox=sandbox, tools=tools, repo_map=repo_map, progress=progress)
    with session as built:
        result = built.agent.run(built.prompt, task)
    if before is not None:
        result.changed_files = _merge_changes(result.changed_files, gitstate.changed_since(before), before.root, root)
    trajectory.finish(result.as_dict())
    return TaskOutcome(result=result, trajectory=trajectory.path, test_command=test_command, save_point=save_point)


def _merge_changes(from_tools: list[str], from_git: list[str], top: Path, root: Path) -> list[str]:
    prefix = root.relative_to(top.resolve()).as_posix() if root != top.resolve() else ""
    git_paths = [p[len(prefix) + 1 :] if prefix and p.startswith(prefix + "/") else p for p in from_git]
    return sorted(set(from_tools) | set(git_paths))
