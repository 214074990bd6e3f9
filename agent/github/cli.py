"""`loopwright github ...`: the commands the GitHub Action runs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from loopwright.commandline import UsageError, build_model
from loopwright.visible import visible

app = typer.Typer(help="Run loopwright from GitHub events (the GitHub Action's entry point).", no_args_is_help=True)


@app.command("handle-event")
def handle_event(
    event_path: Annotated[Path | None, typer.Option(help="Webhook payload file (default: $GITHUB_EVENT_PATH).")] = None,
    event_name: Annotated[str | None, typer.Option(help="Event name, e.g. issue_comment (default: $GITHUB_EVENT_NAME).")] = None,
    trajectory_dir: Annotated[Path | None, typer.Option(help="Write the run's trajectory here (default: $LOOPWRIGHT_GITHUB_TRAJECTORY_DIR; none).")] = None,
) -> None:
    """Handle one pull-request comment: check who asked, run the agent in the sandbox, push one commit, reply."""
    from loopwright.github.event import EventError, read_event
    from loopwright.github.handler import handle
    from loopwright.github.settings import ActionSettingsError

    path = event_path or _env_path("GITHUB_EVENT_PATH")
    name = event_name or os.environ.get("GITHUB_EVENT_NAME", "")
    if path is None:
        raise UsageError("no event: pass --event-path or set GITHUB_EVENT_PATH")
    if not name:
        raise UsageError("no event name: pass --event-name or set GITHUB_EVENT_NAME")
    records = trajectory_dir or _env_path("LOOPWRIGHT_GITHUB_TRAJECTORY_DIR")
    try:
        payload = read_event(path)
        outcome = handle(name, payload, os.environ, build_model, trajectory_dir=records)
    except (EventError, ActionSettingsError) as exc:
        raise UsageError(str(exc)) from None
    # One line, shown as text: the job log renders escape sequences and obeys `::` workflow commands.
    typer.echo(visible(f"loopwright: {outcome.status}: {' '.join(outcome.message.split())}"))
    raise typer.Exit(outcome.exit_code)


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value) if value else None
