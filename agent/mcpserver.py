"""`loopwright mcp`: loopwright's sandboxed test runs, its fix loop and its repository map, served as MCP tools.

A client (Claude Code, Codex, an editor) gets what loopwright does better than it: the project's tests run in
the locked-down sandbox with the environment `loopwright run` sets up, a whole fix loop with its safety net,
and the ranked map of a repository. Each tool runs the same code as the command that does it by hand
(`session.run_task`, `run_test_command`, `render_map`), with the settings those commands merge.

The server is tied to one root folder (`--root`, default the folder it starts in). A `path` names a folder
relative to it, or absolutely inside it; a folder outside it, one that does not exist, and one that is not in a
git work tree are refused with a one-line error result, and the server goes on serving. A bad call never ends
it. Only protocol messages go to stdout; progress, the sandbox's output and the server's own lines go to stderr.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from loopwright import gitstate, gittrust, session
from loopwright.commandline import UsageError, build_model
from loopwright.config import RunConfig
from loopwright.ending import Interrupted
from loopwright.events import Assistant, RunStart, Summary, ToolCallEvent, ToolResult, to_line
from loopwright.eventstream import EventStream
from loopwright.gitstate import GitStateError
from loopwright.hooks import Hooks
from loopwright.mcpresults import RepoMap, TaskResult, TestsResult, shown, task_result, task_text, tests_result, tests_text
from loopwright.model import ModelError
from loopwright.repomap import RepoMapError, render_map
from loopwright.sandboxes.base import SandboxError
from loopwright.settings import SettingsError, load
from loopwright.tools.run_tests import run_test_command
from loopwright.visible import visible

EXPECTED = (UsageError, ModelError, SandboxError, SettingsError, GitStateError, gittrust.UntrustedGit, RepoMapError)
"""Failures with a message for the caller; anything else is reported as an internal error."""
LINE_CHARS = 240
"""A progress message or an error keeps this many characters of its first line."""
T = TypeVar("T")
PathArg = Annotated[str, Field(description="The repository folder: relative to the folder the server serves, or absolute inside it.")]
"""Annotations of the tools' parameters live at module level: the SDK resolves them by name from here."""


@dataclass
class ServerOptions:
    root: Path
    """The folder the server serves (resolved); every path a call names must be inside it."""
    flags: Mapping[str, tuple[Any, str]] = field(default_factory=dict)
    """Settings given on the command line: dotted key -> (value, flag), over config files and the environment."""
    busy: set[Path] = field(default_factory=set)
    """Work trees a call is running in: a second call there is refused rather than racing the first."""


def serve(options: ServerOptions, http: str | None = None) -> None:
    """Serve until the client goes away (stdio) or the process is stopped (HTTP)."""
    settings = load(options.root, options.flags)  # settings that cannot work fail now, not on the first call
    if warning := settings.untrusted_warning():
        _say(warning)  # stdout carries the protocol alone
    # Log notifications carry a run's events to the clients that read them; the SDK's note that the
    # capability is deprecated in a later protocol version would repeat on stderr for each one.
    warnings.filterwarnings("ignore", category=MCPDeprecationWarning)
    server = build_server(options)
    if http is None:
        server.run("stdio")
        return
    host, port = parse_address(http)
    if host not in ("127.0.0.1", "localhost", "::1"):
        _say(f"serving on {host}:{port} without authentication: whoever reaches it can run tasks in {options.root}")
    _say(f"serving {options.root} on http://{host}:{port}/mcp")
    anyio.run(functools.partial(server.run_streamable_http_async, host=host, port=port))


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `:PORT` or `PORT`; the host defaults to 127.0.0.1, an IPv6 one goes in brackets."""
    host, colon, port = text.strip().rpartition(":")
    host = host.strip("[]") if colon else ""
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--http: expected HOST:PORT or PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


class _Server(MCPServer[Any]):
    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None) -> CallToolResult | InputRequiredResult:
        """The SDK's, with arguments that do not fit a tool's schema reported in one line, not pydantic's report."""
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(f"Error executing tool {name}: {_arguments_error(exc.__cause__)}") from exc.__cause__
            raise


def build_server(options: ServerOptions) -> MCPServer[Any]:
    server = _Server(
        "loopwright",
        version=metadata.version("loopwright"),
        instructions=(
            f"loopwright serves the git repositories under {options.root}. run_tests runs a project's tests in an isolated "
            "sandbox and returns each failure; run_task has loopwright's own model fix a task there and returns the diff; "
            "repo_map shows the definitions that matter. `path` is a folder relative to that root."
        ),
        log_level="WARNING",
    )

    @server.tool(annotations=ToolAnnotations(title="Run the tests in a sandbox", read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False))
    async def run_tests(
        ctx: Context,
        path: PathArg = ".",
        test_command: Annotated[str | None, Field(description="The command that runs the tests (default: the configured or detected one).")] = None,
    ) -> Annotated[CallToolResult, TestsResult]:
        """Run the project's test suite in loopwright's sandbox (a container without network, its dependencies installed
        as for `loopwright run`) and return the verdict, the counts, and each failing test's id, message and location."""
        root = _workspace(options.root, path)
        config = _config(options, root, {"test_command": (test_command, "the call's test_command")})
        progress = Progress(ctx)

        def work() -> CallToolResult:
            _warn_if_unisolated(config, progress)
            with session.open_sandbox(config.sandbox, root, progress.line) as box:
                report = run_test_command(session.tool_context(root, box, config))
            result = tests_result(report, visible(str(root)))
            return _result(tests_text(report), result)

        return await _run(options, root, work, progress.stop)

    @server.tool(annotations=ToolAnnotations(title="Fix a task in a sandboxed loop", read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True))
    async def run_task(
        ctx: Context,
        task: Annotated[str, Field(min_length=1, description="What to do, in plain words (a bug to fix, a test to make pass).")],
        path: PathArg = ".",
        model: Annotated[str | None, Field(description="Model spec such as openai:gpt-5 or anthropic:claude-sonnet-4-5 (default: the server's settings).")] = None,
        max_steps: Annotated[int | None, Field(ge=1, description="Stop after this many model turns.")] = None,
    ) -> Annotated[CallToolResult, TaskResult]:
        """Run loopwright's whole fix loop on the repository, as `loopwright run` does: its model reads, edits and tests
        the code in the sandbox until the tests pass. The files change in place; the work tree as it was is kept as a
        save point first. Returns the diff, the test verdict, the stop reason, the run id and the trajectory path, with
        each step as a progress notification (and as a stream-json event in a log notification) while it runs."""
        root = _workspace(options.root, path)
        given = {"model": (_caller_model(model, options.root), "the call's model"), "limits.max_steps": (max_steps, "the call's max_steps")}
        config = _config(options, root, given)
        progress = Progress(ctx)

        def work() -> CallToolResult:
            _warn_if_unisolated(config, progress)
            events = EventStream(progress.event, sandbox=config.sandbox.kind)
            agent_model = build_model(config.model, on_text=None, tool_mode=config.tool_mode)
            hooks = progress.stoppable(events.hooks())
            outcome = session.run_task(task, root, config, agent_model, hooks=hooks, on_start=events.started, progress=progress.line)
            summary = events.finished(outcome.result, str(outcome.trajectory) if outcome.trajectory else None)
            diff = gitstate.diff_since(root, outcome.save_point) if outcome.save_point else ""
            result = task_result(summary, diff, outcome.save_point)
            return _result(task_text(result), result)

        return await _run(options, root, work, progress.stop)

    @server.tool(annotations=ToolAnnotations(title="Map a repository", read_only_hint=True, idempotent_hint=True, open_world_hint=False))
    async def repo_map(
        path: PathArg = ".",
        query: Annotated[str, Field(description="Rank toward these identifiers, files or words.")] = "",
        tokens: Annotated[int, Field(ge=64, le=65536, description="Size of the map in tokens.")] = 1024,
    ) -> Annotated[CallToolResult, RepoMap]:
        """The repository map: the most relevant definitions (signatures, bodies elided) of the repository, ranked
        toward `query`, within a token budget."""
        root = _workspace(options.root, path)

        def work() -> CallToolResult:
            text = visible(render_map(root, query, tokens))
            return _result(text, RepoMap(repo=visible(str(root)), query=visible(query), tokens=tokens, map=text))

        return await _run(options, root, work)

    return server


def _workspace(root: Path, given: str) -> Path:
    """The folder a call names, resolved; refused unless it exists inside the root and in a git work tree."""
    shown_path = visible(given)
    if "\0" in given:
        raise ToolError(f"path {shown_path!r}: not a valid path")
    target = Path(os.path.normpath(root / given))
    if not _inside(target, root):
        raise ToolError(f"{shown_path}: outside {root}, the folder this server serves")
    try:
        resolved = target.resolve(strict=True)
    except (OSError, RuntimeError):
        raise ToolError(f"{shown_path}: no such directory") from None
    if not _inside(resolved, root):
        raise ToolError(f"{shown_path}: leads outside {root}, the folder this server serves")
    if not resolved.is_dir():
        raise ToolError(f"{shown_path}: not a directory")
    try:
        location = gittrust.locate(resolved)
    except gittrust.UntrustedGit as exc:
        raise ToolError(_one_line(str(exc))) from None
    if location is None:
        raise ToolError(f"{shown_path}: not in a git work tree (loopwright keeps a save point of the work tree in git before it runs)")
    return resolved


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _caller_model(spec: str | None, root: Path) -> str | None:
    """A model spec from the call. Its endpoint and keys come from the server's settings only: a spec naming its
    own URL would send the key of that provider, and the repository, wherever the caller chose."""
    if spec is None:
        return None
    if spec.startswith("scripted:"):
        script = (root / spec.removeprefix("scripted:")).resolve()
        if not _inside(script, root):
            raise ToolError(f"model: the script {visible(str(script))} is outside {root}, the folder this server serves")
        return f"scripted:{script}"
    if "@" in spec:
        raise ToolError("model: give the spec without @URL; endpoints come from the server's settings (--model, loopwright.toml, LOOPWRIGHT_MODEL)")
    return spec


def _config(options: ServerOptions, root: Path, given: Mapping[str, tuple[Any, str]]) -> RunConfig:
    """The settings `loopwright run` would merge in `root`, with the server's flags and then the call's arguments over them."""
    flags = {**options.flags, **{key: pair for key, pair in given.items() if pair[0] is not None}}
    try:
        return load(root, flags).config
    except SettingsError as exc:
        raise ToolError(_one_line(str(exc))) from None


async def _run(options: ServerOptions, root: Path, work: Callable[[], T], stop: threading.Event | None = None) -> T:
    """`work` on a worker thread (the event loop goes on serving), alone in its work tree; failures become one line.

    When the client cancels the call, `stop` is set and the work tree stays claimed until `work` has returned: a
    run stops at its next step (a test run that already started ends first), and no other call races it meanwhile."""
    tree = gitstate.top_of(root) or root
    with _claim(options.busy, tree):
        try:
            return await _until_done(work, stop or threading.Event())
        except ToolError:
            raise
        except EXPECTED as exc:
            raise ToolError(_one_line(str(exc))) from None
        except Exception as exc:
            _say(f"internal error: {type(exc).__name__}: {exc}")
            if os.environ.get("LOOPWRIGHT_DEBUG"):
                raise
            raise ToolError(_one_line(f"internal error: {type(exc).__name__}: {exc} (the server's stderr has more with LOOPWRIGHT_DEBUG=1)")) from None


async def _until_done(work: Callable[[], T], stop: threading.Event) -> T:
    """`work`'s result, or what it raised; a cancelled caller sets `stop` and still waits for `work` to return."""
    done = anyio.Event()
    outcome: dict[str, Any] = {}

    def body() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed back to the calling task, raised there
            outcome["error"] = exc
        finally:
            anyio.from_thread.run_sync(done.set)

    try:
        # Abandoned on cancel (the only way to hear of it while the thread runs), then waited for all the same.
        await anyio.to_thread.run_sync(body, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        stop.set()
        with anyio.CancelScope(shield=True):
            await done.wait()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@contextmanager
def _claim(busy: set[Path], tree: Path) -> Iterator[None]:
    # Claimed on the event loop's thread, so no lock is needed.
    if tree in busy:
        raise ToolError(f"{tree}: another call is still running in this work tree; try again when it has finished")
    busy.add(tree)
    try:
        yield
    finally:
        busy.discard(tree)


def _result(text: str, structured: BaseModel) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured.model_dump(mode="json"))


class Progress:
    """How a call is going, told from the worker thread it runs on: each line as a progress notification (sent only
    when the client asked for progress) and on stderr; each event of a run also as a log notification whose data
    is the event as `loopwright run --output stream-json` prints it."""

    def __init__(self, ctx: Context[Any, Any]) -> None:
        self.ctx = ctx
        self.count = 0
        self.stop = threading.Event()
        """Set when the client cancelled the call."""

    def stoppable(self, hooks: Hooks) -> Hooks:
        """`hooks` that end the run as interrupted, after the model's turn or a tool call, once the call is cancelled."""

        def check() -> None:
            if self.stop.is_set():
                raise Interrupted("the client cancelled the call")

        def then_check(hook: Callable[..., None]) -> Callable[..., None]:
            def checked(*args: Any) -> None:
                hook(*args)
                check()

            return checked

        return replace(hooks, on_usage=then_check(hooks.on_usage), on_tool_end=then_check(hooks.on_tool_end))

    def line(self, text: str) -> None:
        shown_line = _one_line(text)
        _say(shown_line)
        self.count += 1
        self._send(self.ctx.report_progress, self.count, None, shown_line)

    def warn(self, text: str) -> None:
        self.line(f"warning: {text}")
        self._send(self.ctx.log, "warning", visible(text), logger_name="loopwright")

    def event(self, event: BaseModel) -> None:
        told = describe(event)
        if told:
            self.line(told)
        self._send(self.ctx.log, "info", shown(_ordered(event)), logger_name="loopwright.events")

    def _send(self, notify: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            anyio.from_thread.run(functools.partial(notify, *args, **kwargs))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the client went away; the run still ends, with its save point and trajectory


def describe(event: BaseModel) -> str:
    """One line for a person following a run; "" for events that only the log carries (token counts)."""
    match event:
        case RunStart():
            return f"run {event.run_id} started ({event.model}, {event.sandbox} sandbox, tests: {event.test_command})"
        case Assistant():
            return f"step {event.step}" + (f": {event.text}" if event.text.strip() else "")
        case ToolCallEvent():
            return event.description or event.tool
        case ToolResult():
            return f"{event.tool}: " + ("error: " if event.is_error else "") + (event.text.strip() or "(no output)")
        case Summary():
            return f"finished: {event.reason}" + (f", tests: {event.test_summary}" if event.test_summary else "")
    return ""


def _ordered(event: BaseModel) -> Any:
    """The event's fields in stream-json's order (`type` first)."""
    return json.loads(to_line(event))


def _warn_if_unisolated(config: RunConfig, progress: Progress) -> None:
    if config.sandbox.kind == "local":
        from loopwright.sandboxes.local import UNISOLATED_WARNING

        progress.warn(UNISOLATED_WARNING)


def _arguments_error(error: ValidationError) -> str:
    problems = [f"{'.'.join(str(part) for part in item['loc']) or 'arguments'}: {item['msg']}" for item in error.errors()]
    return visible("; ".join(problems))


def _one_line(text: str) -> str:
    first = next((line.strip() for line in text.strip().splitlines() if line.strip()), "failed")
    first = visible(first)
    return first if len(first) <= LINE_CHARS else first[: LINE_CHARS - 3] + "..."


def _say(line: str) -> None:
    print(f"loopwright mcp: {visible(line)}", file=sys.stderr, flush=True)
