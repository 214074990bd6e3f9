"""Rendering of runs, summaries and trajectories on a terminal (rich)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax

from loopwright.hooks import Hooks
from loopwright.messages import Message, ToolCall
from loopwright.tools.base import Tool, ToolArgs, ToolOutput

if TYPE_CHECKING:
    from loopwright.mcpclient import ServerStatus

FOLD_LINES = 12


class RunPrinter:
    """Shows a run as it happens: streamed model text, one line per tool call, diffs, folded output."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.streamed = False

    def hooks(self) -> Hooks:
        if self.quiet:
            return Hooks()
        return Hooks(on_assistant=self.on_assistant, on_tool_start=self.on_tool_start, on_tool_end=self.on_tool_end)

    def stream_text(self, text: str) -> None:
        self.streamed = True
        self.console.print(escape(text), end="", style="italic", highlight=False)

    def on_assistant(self, message: Message) -> None:
        if self.streamed:
            self.console.print()
            self.streamed = False
        elif message.content.strip():
            self.console.print(escape(message.content.strip()), style="italic", highlight=False)

    def on_tool_start(self, call: ToolCall, tool: Tool, args: ToolArgs) -> None:
        self.console.print(f"[bold cyan]>[/] {escape(tool.describe(args))}", highlight=False)

    def on_tool_end(self, call: ToolCall, output: ToolOutput) -> None:
        diff = output.data.get("diff")
        if diff:
            self.console.print(Syntax(diff, "diff", theme="ansi_dark", background_color="default"))
            return
        style = "red" if output.is_error else "dim"
        self.console.print(escape(fold(output.text)), style=style, highlight=False)


def _raw_call(name: str, arguments: str) -> str:
    """A recorded call whose tool left no description: its name and (shortened) arguments."""
    try:
        parsed = json.loads(arguments)
    except ValueError:
        parsed = {"raw": arguments}
    if not isinstance(parsed, dict):
        return name
    return f"{name}(" + ", ".join(f"{k}={str(v)[:40]}" for k, v in parsed.items()) + ")"


def fold(text: str, keep: int = FOLD_LINES) -> str:
    lines = text.rstrip().splitlines()
    if len(lines) <= keep:
        return "\n".join(lines)
    head = keep - 4
    return "\n".join([*lines[:head], f"  ... {len(lines) - keep + 1} more lines ...", *lines[-3:]])


def print_servers(console: Console, statuses: Iterable[ServerStatus], tools: Iterable[Tool]) -> None:
    """Each MCP server with what became of it, and the tools it offers (as the model sees their names)."""
    offered = list(tools)
    for status in statuses:
        color = {"started": "green", "disabled": "dim"}.get(status.state, "red")
        console.print(f"MCP server [bold]{escape(status.name)}[/]: [{color}]{status.state}[/] - {escape(status.detail)}", highlight=False)
        for tool in offered:
            if getattr(tool, "server", None) == status.name:
                about = tool.description.removeprefix(f"[MCP server {status.name}]").strip().splitlines()
                console.print(f"  [bold]{escape(tool.name)}[/] {escape(about[0][:100] if about else '')}", highlight=False)


def print_summary(console: Console, outcome: Any) -> None:
    result = outcome.result
    tests = {True: "[green]passed[/]", False: "[red]failing[/]", None: "[yellow]not run[/]"}[result.tests_passed]
    usage = result.usage
    cost = f", ${usage.cost_usd:.4f}" if usage.cost_usd is not None else ""
    cached = f" ({usage.cached_tokens} cached)" if usage.cached_tokens else ""
    console.rule("summary")
    console.print(f"stop reason : {escape(result.reason)}" + (f" ({escape(result.detail)})" if result.detail else ""), highlight=False)
    console.print(f"steps       : {result.steps} in {result.duration_s:.1f}s", highlight=False)
    console.print(f"files       : {escape(', '.join(result.changed_files)) or 'none changed'}", highlight=False)
    console.print(f"tests       : {tests}" + (f" - {escape(result.test_summary)}" if result.test_summary else ""), highlight=False)
    if result.test_command:
        console.print(f"test command: {escape(result.test_command)}", highlight=False)
    console.print(f"tokens      : {usage.input_tokens} in{cached}, {usage.output_tokens} out{cost}", highlight=False)
    if outcome.trajectory:
        console.print(f"trajectory  : {escape(str(outcome.trajectory))}", highlight=False)


def print_trajectory(console: Console, data: Any) -> None:
    # Every field of a trajectory file is untrusted: it may come from a hostile pull request's run.
    console.rule(f"run {escape(data.run_id)}")
    console.print(f"task  : {escape(data.task)}", highlight=False)
    console.print(f"model : {escape(data.model)}   repo: {escape(data.repo)}   started: {escape(data.started_at)}", highlight=False)
    for step in data.steps:
        console.rule(f"step {step.step}  ({step.model_duration_s:.1f}s model, {step.usage.input_tokens}+{step.usage.output_tokens} tokens)", style="dim")
        if step.assistant_text.strip():
            console.print(escape(step.assistant_text.strip()), style="italic", highlight=False)
        if step.note:
            console.print(f"[yellow]{escape(step.note)}[/]")
        for event in step.tools:
            described = event.described or _raw_call(event.tool, event.arguments)
            console.print(f"[bold cyan]>[/] {escape(described)}  [dim]{event.duration_s:.2f}s[/]", highlight=False)
            console.print(escape(fold(event.output)), style="red" if event.is_error else "dim", highlight=False)
    if data.summary:
        console.rule("summary")
        for key, value in data.summary.items():
            if key == "test_run":
                continue  # `test_summary` says it in one line
            console.print(f"{escape(f'{key:<18}')}: {escape(str(value))}", highlight=False)
