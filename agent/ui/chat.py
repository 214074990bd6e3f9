"""The interactive session: read a request, run the agent on it step by step, show what happens, repeat.

Ctrl-C during a step interrupts that step and keeps the conversation; Ctrl-C again at the prompt
(or Ctrl-D, or /exit) ends the session, which closes the sandbox and removes its container.
"""

from __future__ import annotations

import signal
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from loopwright import gitstate, statedir
from loopwright.hooks import Hooks
from loopwright.loop import Agent
from loopwright.messages import Message, ToolCall, Usage
from loopwright.model import Model, TextHook
from loopwright.session import build_session, chosen_test_command
from loopwright.settings import Settings
from loopwright.tools.base import Tool, ToolOutput
from loopwright.trajectory import Trajectory, latest, runs_dir
from loopwright.ui.approve import TerminalApprover
from loopwright.ui.commands import EXIT, run_command
from loopwright.ui.render import RunPrinter
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from loopwright.mcpclient import ServerStatus
    from loopwright.resume import Resumed

INTERRUPTED = "interrupted by the user before this call finished"


class SessionError(Exception):
    """The session cannot start; the message is one line for the user."""


class LineReader:
    """Reads requests: prompt_toolkit with history and multi-line editing on a terminal, plain lines otherwise.

    Enter sends; a line ending in a backslash, or Alt-Enter, starts a new line instead.
    """

    def __init__(self, history: Path) -> None:
        self.session: Any = None
        if sys.stdin.isatty() and sys.stdout.isatty():
            from prompt_toolkit import PromptSession
            from prompt_toolkit.history import FileHistory
            from prompt_toolkit.key_binding import KeyBindings

            history.parent.mkdir(parents=True, exist_ok=True)
            keys = KeyBindings()

            @keys.add("enter")
            def _enter(event: Any) -> None:
                buffer = event.current_buffer
                if buffer.text.endswith("\\"):
                    buffer.delete_before_cursor(1)
                    buffer.insert_text("\n")
                else:
                    buffer.validate_and_handle()

            @keys.add("escape", "enter")
            def _newline(event: Any) -> None:
                event.current_buffer.insert_text("\n")

            self.session = PromptSession(history=FileHistory(str(history)), key_bindings=keys, multiline=True)

    def read(self) -> str:
        if self.session is None:
            line = sys.stdin.readline()
            if not line:
                raise EOFError
            return line.rstrip("\n")
        return self.session.prompt("> ", prompt_continuation="  ")

    def ask(self, question: str, default: str = "") -> str:
        if self.session is None:
            print(question, end="", flush=True)
            line = sys.stdin.readline()
            if not line:
                raise EOFError
            return line.rstrip("\n") or default
        from prompt_toolkit import prompt

        return prompt(question, default=default)


class ChatPrinter(RunPrinter):
    """RunPrinter that does not repeat a diff the person already saw while approving it."""

    def __init__(self, console: Console, previewed: set[str]) -> None:
        super().__init__(console)
        self.previewed = previewed

    def on_tool_end(self, call: ToolCall, output: ToolOutput) -> None:
        if call.id in self.previewed and not output.is_error:
            self.previewed.discard(call.id)
            self.console.print(f"[green]applied[/] {escape(', '.join(output.changed_files))}", highlight=False)
            return
        super().on_tool_end(call, output)


class Chat:
    def __init__(
        self,
        console: Console,
        reader: LineReader,
        agent: Agent,
        net: gitstate.SafetyNet,
        approver: TerminalApprover,
        make_model: Callable[[str], Model],
        tools_for: Callable[[str], list[Tool]] | None = None,
        mcp: list[ServerStatus] | None = None,
    ) -> None:
        self.console = console
        self.reader = reader
        self.agent = agent
        self.net = net
        self.approver = approver
        self.make_model = make_model
        self.tools_for = tools_for
        """The session's tools for a model name (its edit format may differ), used when /model switches."""
        self.mcp = mcp or []
        """The session's MCP servers, for /tools."""
        self.pending: list[str] = []
        """Context the person added (/add, /run) that goes with their next request."""
        self.requests: list[str] = []
        """Requests since the last /commit, for the commit message."""
        self.summaries: list[str] = []
        self.interrupted = False

    def loop(self) -> None:
        while True:
            try:
                text = self.reader.read()
            except KeyboardInterrupt:
                if self.interrupted:
                    return
                self.interrupted = True
                self.console.print("[dim](Ctrl-C again to exit, or type a request)[/]")
                continue
            except EOFError:
                return
            self.interrupted = False
            if not text.strip():
                continue
            if text.strip().startswith("/"):
                if run_command(self, text.strip()) is EXIT:
                    return
                continue
            self.turn(text)

    def turn(self, text: str) -> None:
        """One request: steps until the agent answers, submits, runs out of budget or is interrupted."""
        self.net.note_user_changes("before request")
        self.requests.append(text.strip())
        request = "\n\n".join([*self.pending, text])
        self.pending.clear()
        result = self.agent.run_turn(request, after_step=self._record)
        if result.reason == "answered":
            return  # the answer was shown as it came
        if result.reason == "submitted":
            self.summaries.append(result.submitted_summary)
            self.console.print(f"[green]done[/]: {escape(result.submitted_summary)}", highlight=False)
        elif result.reason == "interrupted":
            self.agent.close_open_calls(INTERRUPTED)
            self.interrupted = True
            self.console.print("\n[yellow]interrupted[/] - the session goes on (Ctrl-C again to exit)")
        else:
            self.console.print(f"[red]stopped[/] ({result.reason}): {escape(result.detail)}", highlight=False)

    def _record(self) -> None:
        with _sigint_deferred():
            change = self.net.record_step(f"step {self.agent.steps}")
        if change:
            self.console.print(f"[dim]saved step {self.agent.steps} ({escape(', '.join(change.paths))}) - /undo reverts it[/]", highlight=False)


class ModelMaker(Protocol):
    """A model from its spec (None: the configured one), streaming its text to `on_text`."""

    def __call__(self, spec: str | None, on_text: TextHook | None = None) -> Model: ...


def start(root: Path, settings: Settings, make_model: ModelMaker, console: Console, resume: bool = False, resumed: Resumed | None = None) -> None:
    """Open the sandbox and run the interactive session until the person leaves; `resumed` carries on a PR run."""
    config = settings.config
    root = root.resolve()
    trajectory, messages = _trajectory(root, config, resume, resumed)
    reader = LineReader(statedir.for_workspace(root) / "history")
    net = gitstate.SafetyNet.start(root, uuid.uuid4().hex[:12])
    gitstate.save_point(root, f"runs/{trajectory.data.run_id}")
    _welcome(console, settings, net, root)
    approver = TerminalApprover(console, reader.ask, config.approval_mode, config.sandbox, root, chosen_test_command(root, config))
    printer = ChatPrinter(console, approver.previewed)
    model = make_model(config.model, printer.stream_text)
    hooks = Hooks(on_assistant=printer.on_assistant, on_tool_start=printer.on_tool_start, on_tool_end=printer.on_tool_end, approve=approver)
    try:
        with build_session(config, model, root, trajectory, person_present=True, hooks=hooks) as session:
            agent = session.agent
            _restore(agent, messages, trajectory, session.prompt)
            _report_servers(console, session.mcp)
            chat = Chat(console, reader, agent, net, approver, lambda spec: make_model(spec, printer.stream_text), session.tools_for, session.mcp)
            if resumed is not None:
                chat.pending.append(resumed.note)
            try:
                chat.loop()
            except KeyboardInterrupt:
                pass  # a second Ctrl-C that arrived outside the prompt: leave the same clean way
            finally:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                trajectory.finish({"reason": "session ended", "steps": agent.steps, "usage": agent.usage.model_dump(), "changed_files": net.session_paths()})
                console.print("[dim]closing the sandbox...[/]")
    finally:
        net.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _trajectory(root: Path, config: Any, resume: bool, resumed: Resumed | None) -> tuple[Trajectory, list[Message]]:
    if resumed is not None:
        trajectory = Trajectory.continuing(resumed.earlier, root, resumed.task, config.model or "default", config.model_dump(mode="json"))
        return trajectory, list(trajectory.data.messages)
    if not resume:
        return Trajectory.start(root, "interactive session", config.model or "default", config.model_dump(mode="json")), []
    path = latest(root)
    if path is None:
        raise SessionError(f"no earlier session to resume in {runs_dir(root)}")
    try:
        data = Trajectory.load(path)
    except ValueError as exc:
        raise SessionError(str(exc)) from None
    return Trajectory(data, path), list(data.messages)


def _restore(agent: Agent, messages: list[Message], trajectory: Trajectory, prompt: str) -> None:
    if not messages:
        agent.messages = [Message.system(prompt)]
        return
    # A conversation carried over from elsewhere (a PR run) comes without a system prompt: it gets this session's.
    agent.messages = messages if messages[0].role == "system" else [Message.system(prompt), *messages]
    agent.steps = len(trajectory.data.steps)
    agent.usage = sum((step.usage for step in trajectory.data.steps), Usage())
    agent.close_open_calls(INTERRUPTED)


def _welcome(console: Console, settings: Settings, net: gitstate.SafetyNet, root: Path) -> None:
    config = settings.config
    state = net.state
    sandbox = "docker" if config.sandbox.kind == "docker" else "local (not isolated)"
    where = f"{state.branch}" if state.branch else ("detached HEAD" if state.in_repo else "no git repository")
    console.print(f"[bold]loopwright[/] - {escape(config.model or 'default model')} - mode {config.approval_mode} - sandbox {sandbox} - {escape(str(root))} ({escape(where)})", highlight=False)
    for line in situation(state, net.ref):
        console.print(f"[yellow]note:[/] {escape(line)}", highlight=False)
    console.print("[dim]/help for commands. Enter sends; end a line with \\ for a new line. Ctrl-C interrupts.[/]")


def _report_servers(console: Console, servers: list[ServerStatus]) -> None:
    """One line per MCP server that is not running (/tools lists them all); the session goes on without it."""
    for status in servers:
        if status.state == "failed":
            console.print(f"[yellow]note:[/] {escape(status.line())}", highlight=False)


def situation(state: gitstate.UserState, ref: str) -> list[str]:
    """What the person should know about their repository before the agent starts (see docs/interactive.md)."""
    notes = []
    if not state.in_repo:
        notes.append("not a git repository: changes are tracked in a shadow history outside the folder so /undo and /diff work; /commit is unavailable")
    if state.dirty:
        notes.append(f"{len(state.dirty)} file(s) with uncommitted changes: they stay as they are and /commit leaves them out (snapshot in {ref})")
    if state.in_repo and state.branch is None and not state.operation:
        notes.append("HEAD is detached: /commit adds a commit on the detached HEAD; create a branch to keep it")
    if state.operation:
        notes.append(f"a {state.operation} is in progress: /commit waits until it is finished; /undo and /diff work")
    return notes


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Finish recording a snapshot before a Ctrl-C is acted on, so the shadow history is never half-written."""
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda *_: received.append(1))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt
