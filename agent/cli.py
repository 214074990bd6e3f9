"""The command line. Only this module and the terminal UI import typer and rich."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from loopwright.commandline import UsageError, build_model, repo_root
from loopwright.config import RunConfig
from loopwright.gitstate import GitStateError
from loopwright.gittrust import UntrustedGit
from loopwright.model import Model, ModelError, TextHook
from loopwright.sandboxes.base import SandboxError
from loopwright.settings import SettingsError
from loopwright.ui.chat import SessionError
from loopwright.ui.terminal import TerminalConsole
from loopwright.visible import visible

if TYPE_CHECKING:
    from pydantic import BaseModel

    from loopwright.loop import RunResult

app = typer.Typer(
    name="loopwright",
    help="A coding agent: a model reads, edits and tests your code in a sandbox until the tests pass. With no command, opens an interactive session.",
    add_completion=False,
    pretty_exceptions_enable=False,
)
sandbox_app = typer.Typer(help="Manage the sandbox image.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
init_app = typer.Typer(help="Set up editor integrations.", no_args_is_help=True)
app.add_typer(init_app, name="init")

# Sub-commands join the app right below their imports.
from loopwright.bench.cli import bench_command  # noqa: E402
from loopwright.github.cli import app as github_app  # noqa: E402
from loopwright.models.cli import models_command, serve_command  # noqa: E402
from loopwright.ui.config import app as config_app  # noqa: E402
from loopwright.ui.env import app as env_app  # noqa: E402

app.add_typer(github_app, name="github")
app.add_typer(env_app, name="env")
app.add_typer(config_app, name="config")
app.command("serve")(serve_command)
app.command("models")(models_command)
app.command("bench")(bench_command)

out = TerminalConsole()
err = TerminalConsole(stderr=True)


class Output(StrEnum):
    """What `loopwright run` writes on stdout."""

    text = "text"
    json = "json"
    stream_json = "stream-json"


@app.callback(invoke_without_command=True)
def chat(
    ctx: typer.Context,
    repo: Annotated[Path, typer.Option(help="Repository to work in.")] = Path("."),
    model: Annotated[str | None, typer.Option(help="Model spec, e.g. openai:gpt-5, anthropic:claude-sonnet-4-5, local:NAME@URL.")] = None,
    mode: Annotated[str | None, typer.Option(help="Approval mode: suggest, auto-edit or full-auto.")] = None,
    sandbox: Annotated[str | None, typer.Option(help="docker (isolated) or local (no isolation).")] = None,
    image: Annotated[str | None, typer.Option(help="Sandbox image.")] = None,
    network: Annotated[bool | None, typer.Option("--network/--no-network", help="Let sandboxed commands reach the network.")] = None,
    runtime: Annotated[str | None, typer.Option(help="Container runtime: runc, runsc (gVisor, a stronger wall) or auto.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the last session of this repository from its trajectory.")] = False,
) -> None:
    """With no command: an interactive session in the repository (type /help inside)."""
    if ctx.invoked_subcommand is not None:
        return
    root = repo_root(repo)
    settings = _checked_settings(root, {"model": model, "approval_mode": mode, "sandbox": sandbox, "image": image, "network": network, "runtime": runtime}, ask=True)
    _start_chat(root, settings, resume=resume)


@app.command("resume")
def resume_run(
    trajectory: Annotated[Path, typer.Argument(help="The PR run's trajectory: its .json file, or the folder of the unpacked workflow artifact.")],
    repo: Annotated[Path, typer.Option(help="Your clone of the pull request's repository.")] = Path("."),
    model: Annotated[str | None, typer.Option(help="Model spec, e.g. openai:gpt-5, anthropic:claude-sonnet-4-5, local:NAME@URL.")] = None,
    mode: Annotated[str | None, typer.Option(help="Approval mode: suggest, auto-edit or full-auto.")] = None,
    sandbox: Annotated[str | None, typer.Option(help="docker (isolated) or local (no isolation).")] = None,
    image: Annotated[str | None, typer.Option(help="Sandbox image.")] = None,
    network: Annotated[bool | None, typer.Option("--network/--no-network", help="Let sandboxed commands reach the network.")] = None,
    runtime: Annotated[str | None, typer.Option(help="Container runtime: runc, runsc (gVisor, a stronger wall) or auto.")] = None,
) -> None:
    """Pick up a PR bot run: check out the pull request's branch and continue its conversation interactively."""
    from loopwright.resume import ResumeError, resume

    root = repo_root(repo)
    settings = _checked_settings(root, {"model": model, "approval_mode": mode, "sandbox": sandbox, "image": image, "network": network, "runtime": runtime}, ask=True)
    try:
        resumed = resume(trajectory, root)
    except ResumeError as exc:
        raise UsageError(str(exc)) from None
    for label, text in resumed.recap:
        out.print(f"[bold]{label:<12}[/] {escape(text)}", highlight=False)
    _start_chat(root, settings, resumed=resumed)


def _start_chat(root: Path, settings, **how) -> None:
    from loopwright.ui.chat import start

    _warn_if_unisolated(settings.config)
    tool_mode = settings.config.tool_mode

    def make_model(spec: str | None, on_text: TextHook | None = None) -> Model:
        return build_model(spec, on_text, tool_mode)

    start(root, settings, make_model, out, **how)


@init_app.command("vscode")
def init_vscode(
    repo: Annotated[Path, typer.Option(help="Workspace folder to add .vscode/tasks.json to.")] = Path("."),
) -> None:
    """Add loopwright tasks and a problem matcher to .vscode/tasks.json (existing tasks and comments are kept)."""
    from loopwright.vscode import VscodeError, write_tasks

    try:
        path, changed = write_tasks(repo_root(repo))
    except VscodeError as exc:
        raise UsageError(str(exc)) from None
    out.print(f"{'updated' if changed else 'already up to date'}: {path}", highlight=False)


@app.command()
def run(
    task: Annotated[str, typer.Argument(help="What the agent should do, in plain words.")],
    repo: Annotated[Path, typer.Option(help="Repository to work in.")] = Path("."),
    model: Annotated[str | None, typer.Option(help="Model spec, e.g. openai:gpt-5, anthropic:claude-sonnet-4-5, local:NAME@URL.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many model turns.")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Stop after this many tokens in and out.")] = None,
    time_limit: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    test_cmd: Annotated[str | None, typer.Option(help="Command that runs the tests (default: detected).")] = None,
    sandbox: Annotated[str | None, typer.Option(help="docker (isolated) or local (no isolation).")] = None,
    image: Annotated[str | None, typer.Option(help="Sandbox image.")] = None,
    network: Annotated[bool | None, typer.Option("--network/--no-network", help="Let sandboxed commands reach the network.")] = None,
    runtime: Annotated[str | None, typer.Option(help="Container runtime: runc, runsc (gVisor, a stronger wall) or auto.")] = None,
    python: Annotated[str | None, typer.Option(help="Python version the tests run on (e.g. 3.9; default: what the project asks for).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")] = False,
    file: Annotated[str | None, typer.Option(help="The file the task is about (e.g. the editor's current file).")] = None,
    line: Annotated[int | None, typer.Option(help="The line of --file the task is about.")] = None,
    selection: Annotated[str | None, typer.Option(help="Text selected in --file.")] = None,
    diagnostics: Annotated[bool, typer.Option(help="End with one `path:line: severity: message` line per changed file and failing test.")] = False,
    output: Annotated[Output, typer.Option(help="text (for a person), json (one summary object at the end) or stream-json (one event per line, see docs/stream-json.md).")] = Output.text,
) -> None:
    """Run one task unattended to completion and print a summary. Settings not given come from `loopwright config`."""
    if output is not Output.text and diagnostics:
        raise UsageError(f"--diagnostics prints text lines; it goes with --output text, not {output.value}")
    root = repo_root(repo)
    for flag, value in (("--max-steps", max_steps), ("--max-tokens", max_tokens), ("--time-limit", time_limit)):
        if value is not None and value <= 0:
            raise UsageError(f"{flag} must be positive")
    limits = {"limits.max_steps": max_steps, "limits.max_tokens": max_tokens, "limits.max_seconds": time_limit}
    config = _settings(root, model=model, test_command=test_cmd, sandbox=sandbox, image=image, network=network, runtime=runtime, python=python, **limits).config
    if file:
        from loopwright.diagnostics import with_editor_context

        task = with_editor_context(task, root, file, line, selection)
    if output is Output.text:
        _run_and_report(task, root, config, quiet, diagnostics)
    else:
        _run_with_events(task, root, config, stream=output is Output.stream_json)


def _run_and_report(task: str, root: Path, config: RunConfig, quiet: bool, diagnostics: bool = False) -> None:
    from loopwright.diagnostics import diagnostics_of
    from loopwright.eventstream import EventStream
    from loopwright.hooks import chain
    from loopwright.session import run_task
    from loopwright.ui.render import RunPrinter, print_summary

    printer = RunPrinter(out, quiet=quiet)
    agent_model = build_model(config.model, on_text=None if quiet else printer.stream_text, tool_mode=config.tool_mode)
    _warn_if_unisolated(config)
    # --diagnostics are rendered from the run's events, the objects --output stream-json prints.
    events: list[BaseModel] = []
    stream = EventStream(events.append, sandbox=config.sandbox.kind)
    outcome = run_task(
        task, root, config, agent_model, hooks=chain(printer.hooks(), stream.hooks()), on_start=stream.started,
        progress=lambda line: err.print(f"[dim]{escape(line)}[/]"),
    )
    stream.finished(outcome.result, str(outcome.trajectory) if outcome.trajectory else None)
    print_summary(out, outcome)
    if diagnostics:
        for text in diagnostics_of(root, events, outcome.save_point):
            # Plain print: rich would wrap long lines and break the editor's problem matcher.
            print(visible(text), flush=True)
    raise typer.Exit(_exit_code(outcome.result))


def _run_with_events(task: str, root: Path, config: RunConfig, stream: bool) -> None:
    """The run as JSON on stdout: every event as a line (stream), or only the summary object at the end. Nothing
    else goes to stdout, and untrusted text leaves only inside JSON strings."""
    from loopwright.eventstream import EventStream, lines
    from loopwright.events import to_line
    from loopwright.session import run_task

    events = EventStream(lines(sys.stdout) if stream else lambda event: None, sandbox=config.sandbox.kind)
    agent_model = build_model(config.model, on_text=None, tool_mode=config.tool_mode)
    _warn_if_unisolated(config)
    outcome = run_task(
        task, root, config, agent_model, hooks=events.hooks(), on_start=events.started,
        progress=lambda line: err.print(f"[dim]{escape(line)}[/]"),
    )
    summary = events.finished(outcome.result, str(outcome.trajectory) if outcome.trajectory else None)
    if not stream:
        print(to_line(summary), flush=True)
    raise typer.Exit(_exit_code(outcome.result))


def _exit_code(result: RunResult) -> int:
    return 0 if result.tests_passed is not False and result.reason == "submitted" else 1


@app.command()
def demo(
    path: Annotated[Path | None, typer.Option(help="Where to create the demo repository (default: a new temporary folder).")] = None,
    model: Annotated[str | None, typer.Option(help="Model spec (default: an API model when a key is set, else the local model).")] = None,
    sandbox: Annotated[str, typer.Option(help="docker (isolated) or local (no isolation).")] = "docker",
    max_steps: Annotated[int, typer.Option(help="Stop after this many model turns.")] = 20,
) -> None:
    """Try loopwright on a bundled repository whose test fails; builds the sandbox image if it is missing."""
    import tempfile

    from loopwright.demo import DEMO_TASK, make_demo_repo

    _check_sandbox(sandbox)
    target = path or Path(tempfile.mkdtemp(prefix="loopwright-demo-")) / "calc"
    try:
        root = make_demo_repo(target.resolve())
    except FileExistsError as exc:
        raise UsageError(str(exc)) from None
    config = RunConfig(model=model)
    config.sandbox.kind = sandbox  # type: ignore[assignment]
    config.limits.max_steps = max_steps
    if sandbox == "docker":
        _ensure_image(config.sandbox.image)
    out.print(f"demo repository: {root}\ntask: {DEMO_TASK}", highlight=False)
    _run_and_report(DEMO_TASK, root, config, quiet=False)


def _ensure_image(tag: str) -> None:
    from loopwright.sandboxes.image import build_image, image_exists

    if not image_exists(tag):
        err.print(f"sandbox image {tag} is missing; building it (a few minutes, once)")
        build_image(tag, progress=lambda line: err.print(f"[dim]{escape(line)}[/]"))


@app.command()
def replay(path: Annotated[Path, typer.Argument(help="A trajectory file from .loopwright/runs/.")]) -> None:
    """Print a recorded run readably."""
    from loopwright.trajectory import Trajectory
    from loopwright.ui.render import print_trajectory

    try:
        data = Trajectory.load(path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print_trajectory(out, data)


@app.command("map")
def repo_map(
    path: Annotated[Path, typer.Argument(help="Repository to map.")] = Path("."),
    query: Annotated[str, typer.Option(help="Rank toward these identifiers, files or words.")] = "",
    tokens: Annotated[int, typer.Option(help="Size of the map in tokens.")] = 1024,
) -> None:
    """Print the repository map: the most relevant definitions, bodies elided, within a token budget."""
    from rich.progress import Progress

    from loopwright.repomap import RepoMapError, render_map

    root = repo_root(path)
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("parsing", total=None)

        def progress(done: int, total: int) -> None:
            if total >= 200:
                bar.update(task, completed=done, total=total)

        try:
            text = render_map(root, query, tokens, progress=progress)
        except RepoMapError as exc:
            raise UsageError(str(exc)) from None
    out.print(text, markup=False, highlight=False, soft_wrap=True)


@app.command("mcp")
def mcp_server(
    root: Annotated[Path, typer.Option(help="The folder to serve: every path a client names must be inside it.")] = Path("."),
    http: Annotated[str | None, typer.Option(help="Serve streamable HTTP on HOST:PORT (HOST defaults to 127.0.0.1) instead of stdio.")] = None,
    model: Annotated[str | None, typer.Option(help="Model spec for run_task, e.g. openai:gpt-5, anthropic:claude-sonnet-4-5, local:NAME@URL.")] = None,
    sandbox: Annotated[str | None, typer.Option(help="docker (isolated) or local (no isolation).")] = None,
    image: Annotated[str | None, typer.Option(help="Sandbox image.")] = None,
    network: Annotated[bool | None, typer.Option("--network/--no-network", help="Let sandboxed commands reach the network.")] = None,
) -> None:
    """Serve run_tests, run_task and repo_map to MCP clients (Claude Code, Codex, editors). See docs/mcp.md."""
    from loopwright.mcpserver import ServerOptions, serve

    if sandbox is not None:
        _check_sandbox(sandbox)
    given = {"model": model, "sandbox": sandbox, "image": image, "network": network}
    flags = {_FLAGS[name][0]: (value, _FLAGS[name][1]) for name, value in given.items() if value is not None}
    serve(ServerOptions(root=repo_root(root), flags=flags), http=http)


@sandbox_app.command("build")
def sandbox_build(
    tag: Annotated[str | None, typer.Option(help="Image tag to create (default: loopwright-sandbox:latest for bookworm, else loopwright-sandbox:pyX.Y).")] = None,
    release: Annotated[str, typer.Option(help="Debian release, which gives the Python: bullseye (3.9), bookworm (3.11) or trixie (3.13).")] = "bookworm",
    mirror: Annotated[str | None, typer.Option(help="Debian mirror URL (default: read from this machine's apt sources).")] = None,
    language: Annotated[str | None, typer.Option(help="Build a language's image instead: go, rust, cpp, node, java, or all (loopwright-sandbox:<language>, on Debian trixie).")] = None,
) -> None:
    """Build a sandbox image offline (no registry): Debian, Python, pytest and git; also tagged by its Python.
    With --language, the image of a language's toolchain (all: every one, side by side)."""
    from loopwright.sandboxes.image import build_image, default_tag

    if language is not None:
        _build_languages(language, mirror)
        return
    built = build_image(tag, release=release, mirror=mirror, progress=lambda line: err.print(f"[dim]{escape(line)}[/]"))
    out.print(f"built {tag or default_tag(release)} ({built})", highlight=False)


def _build_languages(language: str, mirror: str | None) -> None:
    from loopwright.sandboxes.langimage import build_language_images
    from loopwright.sandboxes.toolchains.registry import TOOLCHAINS

    names = list(TOOLCHAINS) if language == "all" else [language]
    if any(name not in TOOLCHAINS for name in names):
        raise UsageError(f"no toolchain for {language!r}; give one of {', '.join(TOOLCHAINS)} or all")
    started = time.monotonic()
    built = build_language_images(names, mirror=mirror, progress=lambda line: err.print(f"[dim]{escape(line)}[/]"))
    for name, (image_id, took) in built.items():
        out.print(f"built loopwright-sandbox:{name} ({image_id}) in {took:.0f}s", highlight=False)
    out.print(f"all built in {time.monotonic() - started:.0f}s", highlight=False)


@sandbox_app.command("trust")
def sandbox_trust(
    path: Annotated[Path, typer.Argument(help="A folder of the repository whose git directory loopwright refused.")] = Path("."),
) -> None:
    """Accept a git directory that appeared in a folder a sandbox could write, after you checked its config and hooks."""
    from loopwright import gittrust

    dot_git = gittrust.trust(repo_root(path))
    out.print(f"trusted {escape(str(dot_git))}", highlight=False)


_FLAGS = {
    "model": ("model", "--model"),
    "approval_mode": ("approval_mode", "--mode"),
    "test_command": ("test_command", "--test-cmd"),
    "sandbox": ("sandbox.kind", "--sandbox"),
    "image": ("sandbox.image", "--image"),
    "network": ("sandbox.network", "--network"),
    "runtime": ("sandbox.runtime", "--runtime"),
    "python": ("sandbox.python", "--python"),
    "limits.max_steps": ("limits.max_steps", "--max-steps"),
    "limits.max_tokens": ("limits.max_tokens", "--max-tokens"),
    "limits.max_seconds": ("limits.max_seconds", "--time-limit"),
}


def _settings(root: Path, **given: object):
    """Settings merged from defaults, config files, LOOPWRIGHT_* variables and the options given (None = not given)."""
    return _checked_settings(root, given, ask=False)


def _checked_settings(root: Path, given: Mapping[str, object], ask: bool):
    """`_settings`; the repository's untrusted guarded values are left out with a warning, or asked about (`ask`:
    when a person is at the terminal)."""
    from loopwright.settings import load
    from loopwright.ui.config import checked

    if given.get("sandbox") is not None:
        _check_sandbox(given["sandbox"])
    flags = {_FLAGS[name][0]: (value, _FLAGS[name][1]) for name, value in given.items() if value is not None}
    return checked(load(root, flags), lambda: load(root, flags), ask)


def _check_sandbox(kind: object) -> None:
    if kind not in ("docker", "local"):
        raise UsageError(f"--sandbox must be docker or local, not {kind!r}")


def _warn_if_unisolated(config: RunConfig) -> None:
    if config.sandbox.kind == "local":
        from loopwright.sandboxes.local import UNISOLATED_WARNING

        err.print(f"[yellow]warning:[/] {UNISOLATED_WARNING}", highlight=False)


def main() -> None:
    """Entry point: typer reports usage errors (usage, one line, exit 2); every other known failure is one line on
    stderr and a non-zero exit."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        # Standalone: typer shows its own usage errors and ends with their exit codes. It raises them from its own
        # copy of click from 0.29 on, so they must never be caught here by click's class.
        app(prog_name="loopwright")
    except (UsageError, ModelError, SandboxError, SettingsError, GitStateError, UntrustedGit, SessionError) as exc:
        _fail(str(exc), 2)
    except KeyboardInterrupt:  # typer turns one inside a command into exit 130; this covers the moments around it
        _fail("interrupted", 130)
    except Exception as exc:
        if os.environ.get("LOOPWRIGHT_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (set LOOPWRIGHT_DEBUG=1 for a traceback)", 70)


def _exit_on_sigterm(signum, frame) -> None:
    # SystemExit unwinds the stack, so context managers remove containers and atexit handlers run.
    raise SystemExit(128 + signum)


def _fail(message: str, code: int) -> None:
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"loopwright: error: {visible(first)}", file=sys.stderr)
    sys.exit(code)
