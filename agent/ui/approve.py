"""Asking a person before an edit or a command: show exactly what will happen, then yes / no / always / edit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from loopwright.approval import Action, ApprovalMode, action_of, decide
from loopwright.config import SandboxSettings
from loopwright.hooks import Allow, Approval, Deny
from loopwright.messages import ToolCall
from loopwright.prompting import render
from loopwright.tools.base import Tool, ToolArgs, ToolContext, ToolFailure
from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax

Ask = Callable[[str, str], str]
"""Reads one answer from the person: (question, pre-filled text) -> answer."""


class TerminalApprover:
    """The `Hooks.approve` of the interactive session."""

    def __init__(self, console: Console, ask: Ask, mode: ApprovalMode, sandbox: SandboxSettings, root: Path, test_command: str) -> None:
        self.console = console
        self.ask = ask
        self.mode: ApprovalMode = mode
        self.sandbox = sandbox
        self.root = root
        self.test_command = test_command
        self.always: set[Action] = set()
        """Kinds of action the person said yes to for the rest of the session."""
        self.previewed: set[str] = set()
        """Ids of calls whose effect was already shown while asking, so it need not be shown twice."""

    def __call__(self, call: ToolCall, tool: Tool, args: ToolArgs, ctx: ToolContext) -> Approval:
        action = action_of(tool)
        decision = decide(self.mode, action, self.sandbox)
        if decision == "allow" or (decision == "ask" and action in self.always):
            return Allow()
        if decision == "forbid":
            return Deny(render("declined.j2", action=action, reason="not allowed in this session"))
        self._show(call, tool, args, ctx, action)
        editable = getattr(tool, "editable", None)
        choices = "[y]es / [n]o / [a]lways for " + ("edits" if action == "edit" else "commands")
        if editable:
            choices += f" / [e]dit the {editable}"
        while True:
            answer = self.ask(f"allow? {choices}: ", "").strip().lower()
            if answer in ("y", "yes"):
                return Allow()
            if answer in ("a", "always"):
                self.always.add(action)
                self.console.print(f"[dim]{action}s are allowed for the rest of this session (/mode to change)[/]")
                return Allow()
            if answer in ("n", "no"):
                reason = self.ask("reason for the agent (optional): ", "").strip()
                self.previewed.discard(call.id)
                return Deny(render("declined.j2", action=action, reason=reason))
            if answer in ("e", "edit") and editable:
                edited = self._edit(tool, args, editable)
                if edited is not None:
                    return edited
                continue
            self.console.print("[yellow]answer y, n, a" + (" or e" if editable else "") + "[/]")

    def _edit(self, tool: Tool, args: ToolArgs, field: str) -> Approval | None:
        """The call with the person's rewrite of one argument, as new validated arguments; None to ask again."""
        before = str(getattr(args, field))
        edited = self.ask(f"{field}: ", before).strip()
        if not edited:
            return None
        if edited == before:
            return Allow()
        try:
            return Allow(tool.Args.model_validate({**args.model_dump(), field: edited}))
        except ValidationError as exc:
            self.console.print(f"[yellow]{escape(exc.errors()[0]['msg'])}[/]", highlight=False)
            return None

    def _show(self, call: ToolCall, tool: Tool, args: ToolArgs, ctx: ToolContext, action: Action) -> None:
        sandboxed = "in the Docker sandbox" + ("" if self.sandbox.network else ", no network") if self.sandbox.kind == "docker" else "on this machine, not sandboxed"
        where = getattr(tool, "where", None) or sandboxed  # a tool that runs elsewhere (an MCP server's) says where
        described = describe(tool, call, args)
        why_not = "the edit changes nothing"
        try:
            shown = tool.preview(args, ctx) if hasattr(tool, "preview") else None
        except (ToolFailure, OSError, ValueError) as exc:
            shown, why_not = None, f"{exc or 'the edit does not apply as given'}; it will fail and report why"
        if action == "edit":
            self.console.print(f"[bold yellow]{escape(described)}[/]:", highlight=False)
            if shown:
                self.console.print(Syntax(shown, "diff", theme="ansi_dark", background_color="default"))
                self.previewed.add(call.id)
            else:
                self.console.print(f"[dim](no preview: {escape(why_not)})[/]", highlight=False)
        elif action == "command":
            # A command's preview is the full command line; without one the description is the command.
            headline, detail = (described, shown) if shown else ("run", described)
            self.console.print(f"[bold yellow]{escape(headline)}[/] {where}:\n  [bold]{escape(detail)}[/]", highlight=False)
        else:
            self.console.print(f"[bold yellow]{escape(described)}[/]", highlight=False)


def describe(tool: Tool, call: ToolCall, args: ToolArgs) -> str:
    """The tool's one line for the call; a tool that cannot say shows its name and raw arguments."""
    if hasattr(tool, "describe"):
        return tool.describe(args)
    return f"{call.name} {call.arguments}"
