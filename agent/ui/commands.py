"""Slash commands of the interactive session. They act on the session through `Chat`, a protocol, so this
module needs nothing of the chat module that calls it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from loopwright.approval import MODES
from loopwright.gitstate import GitStateError, SafetyNet
from loopwright.loop import Agent
from loopwright.model import Model
from loopwright.tools.base import ToolFailure, clip
from loopwright.tools.workspace import relative, resolve
from loopwright.ui.render import fold, print_servers
from rich.markup import escape
from rich.syntax import Syntax

if TYPE_CHECKING:
    from rich.console import Console

    from loopwright.mcpclient import ServerStatus
    from loopwright.tools.base import Tool
    from loopwright.ui.approve import TerminalApprover


class Chat(Protocol):
    """What the commands use of the session."""

    console: Console
    agent: Agent
    net: SafetyNet
    approver: TerminalApprover
    make_model: Callable[[str], Model]
    tools_for: Callable[[str], list[Tool]] | None
    mcp: list[ServerStatus]
    """The session's MCP servers: started, failed and why, disabled."""
    pending: list[str]
    """Context for the person's next request."""
    requests: list[str]
    summaries: list[str]


EXIT = object()
MAX_ADDED_CHARS = 40_000

HELP = [
    ("/help", "this list"),
    ("/undo", "revert the agent's last change to files (exactly as before it)"),
    ("/diff", "show every change the agent made this session"),
    ("/commit", "commit the session's changes to your branch (your other changes stay uncommitted)"),
    ("/model [SPEC]", "show or switch the model"),
    ("/mode [MODE]", f"show or switch the approval mode ({', '.join(MODES)})"),
    ("/tokens", "tokens used so far"),
    ("/tools", "the tools the agent has, and the MCP servers with theirs"),
    ("/clear", "forget the conversation (files are not touched)"),
    ("/add FILE", "show a file to the agent with your next request"),
    ("/run CMD", "run a command in the sandbox; its output goes with your next request"),
    ("/exit", "end the session (Ctrl-D or Ctrl-C twice also work)"),
]


def run_command(chat: Chat, line: str) -> object | None:
    name, _, rest = line.partition(" ")
    handler = COMMANDS.get(name)
    if handler is None:
        chat.console.print(f"[red]unknown command {escape(name)}[/] - /help lists them", highlight=False)
        return None
    try:
        return handler(chat, rest.strip())
    except GitStateError as exc:
        chat.console.print(f"[red]{escape(name[1:])}:[/] {escape(str(exc))}", highlight=False)
    return None


def _help(chat: Chat, _: str) -> None:
    for usage, what in HELP:
        chat.console.print(f"  [bold]{escape(usage):<14}[/] {escape(what)}", highlight=False)


def _undo(chat: Chat, _: str) -> None:
    change = chat.net.undo()
    chat.console.print(f"undone {escape(change.label)}: restored {escape(', '.join(change.paths))}", highlight=False)


def _diff(chat: Chat, _: str) -> None:
    diff = chat.net.diff()
    if not diff.strip():
        chat.console.print("[dim]no changes by the agent in this session[/]")
        return
    chat.console.print(Syntax(diff, "diff", theme="ansi_dark", background_color="default"))


def _commit(chat: Chat, _: str) -> None:
    done = chat.net.commit(commit_message(chat.requests, chat.summaries, chat.net.session_paths()))
    on = f"on {escape(done.branch)}" if done.branch else "on the detached HEAD"
    chat.console.print(f"committed {done.sha[:10]} {on}: {escape(', '.join(done.paths))}", highlight=False)
    chat.requests.clear()
    chat.summaries.clear()


def commit_message(requests: list[str], summaries: list[str], paths: list[str]) -> str:
    """A subject from what the agent said it did (or what was asked), and a body listing requests and files."""
    source = next((s for s in reversed(summaries) if s.strip()), None) or (requests[0] if requests else "Changes made with loopwright")
    subject = source.strip().splitlines()[0].rstrip(".")
    if len(subject) > 72:
        subject = subject[:69].rstrip() + "..."
    body = ["Requested:", *(f"- {r.splitlines()[0][:100]}" for r in requests)] if requests else []
    body += ["", "Files:", *(f"- {p}" for p in paths)]
    return subject + "\n\n" + "\n".join(body).strip() + "\n"


def _model(chat: Chat, spec: str) -> None:
    if spec:
        try:
            chat.agent.model = chat.make_model(spec)
        except Exception as exc:  # noqa: BLE001 - a bad model spec must not end the session
            chat.console.print(f"[red]model:[/] {escape(str(exc))}", highlight=False)
            return
        if chat.tools_for is not None:
            chat.agent.use_tools(chat.tools_for(chat.agent.model.name))
    chat.console.print(f"model: {escape(chat.agent.model.name)}", highlight=False)


def _mode(chat: Chat, mode: str) -> None:
    if mode:
        if mode not in MODES:
            chat.console.print(f"[red]mode:[/] choose one of {', '.join(MODES)}", highlight=False)
            return
        chat.approver.mode = mode  # type: ignore[assignment]
        chat.approver.always.clear()
    chat.console.print(f"approval mode: {chat.approver.mode}", highlight=False)


def _tokens(chat: Chat, _: str) -> None:
    usage = chat.agent.usage
    cost = f", ${usage.cost_usd:.4f}" if usage.cost_usd is not None else ""
    chat.console.print(f"tokens: {usage.input_tokens} in, {usage.output_tokens} out{cost} over {chat.agent.steps} steps (limit {chat.agent.limits.max_tokens} per request)", highlight=False)


def _tools(chat: Chat, _: str) -> None:
    offered = chat.agent.tools.values()
    own = [tool.name for tool in offered if getattr(tool, "server", None) is None]
    chat.console.print(f"tools: {escape(', '.join(own))}", highlight=False)
    if not chat.mcp:
        chat.console.print("[dim]no MCP servers configured ([mcp_servers.NAME] tables in loopwright.toml)[/]")
    print_servers(chat.console, chat.mcp, offered)


def _clear(chat: Chat, _: str) -> None:
    chat.agent.messages = chat.agent.messages[:1]
    chat.pending.clear()
    chat.console.print("conversation cleared (files and undo history are kept)")


def _add(chat: Chat, name: str) -> None:
    if not name:
        chat.console.print("[red]add:[/] give a file name")
        return
    root = chat.agent.ctx.root
    try:
        path = resolve(root, name)
        text = path.read_text(encoding="utf-8", errors="replace")
    except (ToolFailure, OSError) as exc:
        chat.console.print(f"[red]add:[/] {escape(str(exc))}", highlight=False)
        return
    if len(text) > MAX_ADDED_CHARS:
        text = text[:MAX_ADDED_CHARS] + f"\n[... {len(text) - MAX_ADDED_CHARS} characters cut ...]"
    rel = relative(root, path)
    chat.pending.append(f"The user added {rel}:\n```\n{text}\n```")
    chat.console.print(f"added {escape(rel)} ({len(text.splitlines())} lines) to your next request", highlight=False)


def _run(chat: Chat, command: str) -> None:
    if not command:
        chat.console.print("[red]run:[/] give a command")
        return
    ctx = chat.agent.ctx
    try:
        result = ctx.sandbox.exec(command, timeout_s=ctx.command_timeout_s, env=ctx.env)
    except KeyboardInterrupt:
        chat.console.print("[yellow]interrupted[/]")
        return
    finally:
        chat.net.note_user_changes(f"/run {command}")
    chat.console.print(escape(fold(result.output)), style="dim", highlight=False)
    chat.console.print(f"[dim]exit code {result.exit_code}[/]")
    chat.pending.append(f"The user ran `{command}` (exit code {result.exit_code}):\n```\n{clip(result.output, ctx.max_output_chars)}\n```")


def _exit(chat: Chat, _: str) -> object:
    return EXIT


COMMANDS: dict[str, Callable[[Chat, str], object | None]] = {
    "/help": _help,
    "/undo": _undo,
    "/diff": _diff,
    "/commit": _commit,
    "/model": _model,
    "/mode": _mode,
    "/tokens": _tokens,
    "/tools": _tools,
    "/clear": _clear,
    "/add": _add,
    "/run": _run,
    "/exit": _exit,
    "/quit": _exit,
}
