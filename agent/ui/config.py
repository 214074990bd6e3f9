"""`loopwright config`: the merged settings and where each came from; `config trust`: accept the repository's
settings that loosen the sandbox or start programs on this machine, after seeing exactly what they are."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from loopwright.commandline import repo_root
from loopwright.config import RunConfig
from loopwright.repotrust import GuardedValue, RepoTrust, trust
from loopwright.settings import Settings, load, user_config_path
from loopwright.ui.terminal import TerminalConsole

app = typer.Typer(help="Show the merged settings and where each value came from; `config trust` to trust the repository's.")
out = TerminalConsole()
err = TerminalConsole(stderr=True)

Repo = Annotated[Path, typer.Option(help="Repository whose loopwright.toml to read.")]
STATES = {
    "trusted": "[green]trusted[/]",
    "ignored": "[red]ignored, not trusted[/]",
    "applies": "[dim]applies: no looser than yours[/]",
    "overridden": "[dim]overridden by the environment or a flag[/]",
}


@app.callback(invoke_without_command=True)
def show(ctx: typer.Context, repo: Repo = Path(".")) -> None:
    """Show the merged settings and where each value came from, and the state of the repository's guarded ones."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    root = repo_root(repo)
    settings = load(root)
    table = Table("setting", "value", "from", box=None, header_style="bold")
    for key, value, source in settings.rows():
        table.add_row(key, escape(value), escape(source))
    out.print(table)
    out.print(f"[dim]files: {escape(str(user_config_path()))} (user), {escape(str(root / 'loopwright.toml'))} (repository); environment: LOOPWRIGHT_<SETTING>[/]", highlight=False)
    if settings.repo_trust is not None:
        looser = [item for item in settings.repo_trust.values if item.looser]
        if looser:
            out.print("the repository's settings that loosen the sandbox or run programs on this machine (`loopwright config trust`):", highlight=False)
            print_guarded(out, settings.repo_trust, looser)
    if settings.config.mcp_servers:
        _show_servers(root, settings.config)


@app.command("trust")
def trust_command(
    repo: Repo = Path("."),
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Trust without asking (after reading `loopwright config`).")] = False,
) -> None:
    """Let the repository's loopwright.toml loosen the sandbox or start programs, as it says now; a later change asks again."""
    root = repo_root(repo)
    found = load(root).repo_trust
    if found is None or not any(item.looser for item in found.values):
        out.print(f"nothing to trust: {escape(str(root / 'loopwright.toml'))} sets nothing looser than your own settings", highlight=False)
        return
    if found.trusted:
        out.print(f"already trusted: {escape(str(found.file))}", highlight=False)
        return
    out.print(f"{escape(str(found.file))} sets:", highlight=False)
    print_guarded(out, found)
    if not yes and not _confirm(out, "trust these values for this repository?"):
        out.print("not trusted: they stay ignored")
        raise typer.Exit(1)
    trust(found)
    out.print(f"trusted: {escape(str(found.file))}; a change to these values will need trust again", highlight=False)


def print_guarded(console: Console, found: RepoTrust, items: Iterable[GuardedValue] | None = None) -> None:
    """Each guarded value of the file (or `items` of them) exactly as written, escaped, with what it allows and
    whether it applies."""
    for item in found.values if items is None else items:
        value = json.dumps(item.value, ensure_ascii=False, default=repr)
        console.print(f"  [bold]{escape(item.key)}[/] = {escape(value)}  {STATES[found.state(item)]}", highlight=False)
        console.print(f"    [dim]{escape(item.why)}[/]", highlight=False)


def checked(settings: Settings, reload: Callable[[], Settings], ask: bool) -> Settings:
    """Settings whose untrusted guarded values the person was told of: asked about, when `ask` and a person is at
    the terminal (a yes trusts them and reloads), else one warning line."""
    found = settings.repo_trust
    warning = settings.untrusted_warning()
    if found is None or warning is None:
        return settings
    if ask and sys.stdin.isatty() and sys.stderr.isatty():
        err.print(f"{escape(str(found.file))} sets values looser than your own settings:", highlight=False)
        print_guarded(err, found)
        if _confirm(err, "trust them for this repository (else they are ignored)?"):
            trust(found)
            return reload()
    err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)  # one line, however long
    return settings


def _confirm(console: Console, question: str) -> bool:
    console.print(f"{question} \\[y/N] ", end="", highlight=False)
    console.file.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _show_servers(root: Path, config: RunConfig) -> None:
    """Start each MCP server as a session would, and say what became of it and which tools it offers."""
    from loopwright.mcpclient import start_servers
    from loopwright.mcptools import server_tools
    from loopwright.ui.render import print_servers

    with start_servers(config.mcp_servers, root) as servers:
        print_servers(out, servers.statuses.values(), server_tools(servers))
