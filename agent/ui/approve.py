"""Asking a person before an edit or a command: show exactly what will happen, then yes / no / always / edit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from loopwright.approval import Action, ApprovalMode, action_of, decide
from loopwright.config import SandboxSettings
from loopwright.messages import ToolCall
from loopwright.prompting import render
from loopwright.tools.editing import (
    EditRefused,
    apply_edits,
    insert_at,
    str_replace,
    whole_file,
)
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

    def __call__(self, call: ToolCall, args: Any) -> str | None:
        action = action_of(call.name)
        decision = decide(self.mode, action, self.sandbox)
        if decision == "allow" or (decision == "ask" and action in self.always):
            return None
        if decision == "forbid":
            return render("declined.j2", action=action, reason="not allowed in this session")
        self._show(call, args, action)
        choices = "[y]es / [n]o / [a]lways for " + ("edits" if action == "edit" else "commands")
        if call.name == "run_shell":
            choices += " / [e]dit the command"
        while True:
            answer = self.ask(f"allow? {choices}: ", "").strip().lower()
            if answer in ("y", "yes"):
                return None
            if answer in ("a", "always"):
                self.always.add(action)
                self.console.print(f"[dim]{action}s are allowed for the rest of this session (/mode to change)[/]")
                return None
            if answer in ("n", "no"):
                reason = self.ask("reason for the agent (optional): ", "").strip()
                self.previewed.discard(call.id)
                return render("declined.j2", action=action, reason=reason)
            if answer in ("e", "edit") and call.name == "run_shell":
                edited = self.ask("command: ", args.command).strip()
                if edited:
                    args.command = edited
                    return None
            self.console.print("[yellow]answer y, n, a" + (" or e" if call.name == "run_shell" else "") + "[/]")

    def _show(self, call: ToolCall, args: Any, action: Action) -> None:
        where = "in the Docker sandbox" + ("" if self.sandbox.network else ", no network") if self.sandbox.kind == "docker" else "on this machine, not sandboxed"
        if call.name == "run_shell":
            self.console.print(f"[bold yellow]run[/] {where}:\n  [bold]$ {escape(args.command)}[/]", highlight=False)
        elif call.name == "run_tests":
            selector = f" {args.selector}" if getattr(args, "selector", None) else ""
            self.console.print(f"[bold yellow]run the tests[/] {where}:\n  [bold]$ {escape(self.test_command + selector)}[/]", highlight=False)
        elif action == "edit":
            diff = preview(self.root, call.name, args)
            self.console.print(f"[bold yellow]{escape(call.name.replace('_', ' '))}[/] {escape(str(getattr(args, 'path', '')))}:", highlight=False)
            if diff:
                self.console.print(Syntax(diff, "diff", theme="ansi_dark", background_color="default"))
                self.previewed.add(call.id)
            else:
                self.console.print("[dim](no preview: the edit does not apply as given; it will fail and report why)[/]")
        else:
            self.console.print(f"[bold yellow]{escape(call.name)}[/] {escape(call.arguments)}", highlight=False)


def preview(root: Path, tool: str, args: Any) -> str:
    """The diff an edit would make, computed without writing anything; empty when it would not apply."""
    if tool == "edit_file":
        edit = str_replace(args.path, args.old_string, args.new_string)
    elif tool == "write_file":
        edit = whole_file(args.path, args.content)
    elif tool == "insert_text":
        edit = insert_at(args.path, args.line, args.text)
    else:
        return ""
    try:
        return "".join(applied.diff for applied in apply_edits(root, [edit], dry_run=True))
    except (EditRefused, OSError, ValueError):
        return ""
