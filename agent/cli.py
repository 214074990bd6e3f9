"""The command line. Only this module and the terminal UI import typer and rich."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from loopwright.config import RunConfig
from loopwright.model import Model, ModelError
from loopwright.sandboxes.base import SandboxError

app = typer.Typer(
    name="loopwright",
    help="A coding agent: a model reads, edits and tests your code in a sandbox until the tests pass.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sandbox_app = typer.Typer(help="Manage the sandbox image.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")

out = Console()
err = Console(stderr=True)


class UsageError(Exception):
    """Bad input from the user; printed as one line."""


def build_model(spec: str | None, on_text=None) -> Model:
    """A model from its spec. `scripted:FILE` replays a JSON script (a test double for the loop)."""
    if spec and spec.startswith("scripted:"):
        from loopwright.models.scripted import load_script

        return load_script(spec.removeprefix("scripted:"))
    try:
        from loopwright.models import spec as specs
    except ImportError:
        raise UsageError("no model backends are installed; use --model scripted:FILE") from None
    chosen = spec or specs.default_model_spec(os.environ)
    return specs.build_model(chosen, on_text=on_text)


@app.command()
def run(
    task: Annotated[str, typer.Argument(help="What the agent should do, in plain words.")],
    repo: Annotated[Path, typer.Option(help="Repository to work in.")] = Path("."),
    model: Annotated[Optional[str], typer.Option(help="Model spec, e.g. openai:gpt-5, anthropic:claude-sonnet-4-5, local:NAME@URL.")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Stop after this many model turns.")] = None,
    max_tokens: Annotated[Optional[int], typer.Option(help="Stop after this many tokens in and out.")] = None,
    time_limit: Annotated[Optional[float], typer.Option(help="Stop after this many seconds.")] = None,
    test_cmd: Annotated[Optional[str], typer.Option(help="Command that runs the tests (default: detected).")] = None,
    sandbox: Annotated[str, typer.Option(help="docker (isolated) or local (no isolation).")] = "docker",
    image: Annotated[Optional[str], typer.Option(help="Sandbox image.")] = None,
    network: Annotated[bool, typer.Option(help="Let sandboxed commands reach the network.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")] = False,
) -> None:
    """Run one task unattended to completion and print a summary."""
    root = _repo(repo)
    if sandbox not in ("docker", "local"):
        raise UsageError(f"--sandbox must be docker or local, not {sandbox!r}")
    config = RunConfig(test_command=test_cmd, model=model)
    config.sandbox.kind = sandbox  # type: ignore[assignment]
    config.sandbox.network = network
    if image:
        config.sandbox.image = image
    for name, value in (("max_steps", max_steps), ("max_tokens", max_tokens), ("max_seconds", time_limit)):
        if value is not None:
            if value <= 0:
                raise UsageError(f"--{name.replace('_', '-')} must be positive")
            setattr(config.limits, name, value)
    _run_and_report(task, root, config, quiet)


def _run_and_report(task: str, root: Path, config: RunConfig, quiet: bool) -> None:
    from loopwright.session import run_task
    from loopwright.ui.render import RunPrinter, print_summary

    printer = RunPrinter(out, quiet=quiet)
    agent_model = build_model(config.model, on_text=None if quiet else printer.stream_text)
    if config.sandbox.kind == "local":
        err.print("[yellow]warning:[/] --sandbox local runs the agent's commands on this machine without isolation")
    outcome = run_task(task, root, config, agent_model, hooks=printer.hooks())
    print_summary(out, outcome)
    raise typer.Exit(0 if outcome.result.tests_passed is not False and outcome.result.reason == "submitted" else 1)


@app.command()
def demo(
    path: Annotated[Optional[Path], typer.Option(help="Where to create the demo repository (default: a new temporary folder).")] = None,
    model: Annotated[Optional[str], typer.Option(help="Model spec (default: an API model when a key is set, else the local model).")] = None,
    sandbox: Annotated[str, typer.Option(help="docker (isolated) or local (no isolation).")] = "docker",
    max_steps: Annotated[int, typer.Option(help="Stop after this many model turns.")] = 20,
) -> None:
    """Try loopwright on a bundled repository whose test fails; builds the sandbox image if it is missing."""
    import tempfile

    from loopwright.demo import DEMO_TASK, make_demo_repo

    if sandbox not in ("docker", "local"):
        raise UsageError(f"--sandbox must be docker or local, not {sandbox!r}")
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
        err.print(f"sandbox image {tag} is missing; building it (about a minute, once)")
        build_image(tag, progress=lambda line: err.print(f"[dim]{line}[/]"))


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


@sandbox_app.command("build")
def sandbox_build(
    tag: Annotated[str, typer.Option(help="Image tag to create.")] = "loopwright-sandbox:latest",
    mirror: Annotated[Optional[str], typer.Option(help="Debian mirror URL (default: read from this machine's apt sources).")] = None,
) -> None:
    """Build the default sandbox image offline (no registry): Debian, Python, pytest and git."""
    from loopwright.sandboxes.image import build_image

    built = build_image(tag, mirror=mirror, progress=lambda line: err.print(f"[dim]{line}[/]"))
    out.print(f"built {built}")


def _repo(path: Path) -> Path:
    if not path.exists():
        raise UsageError(f"{path}: no such directory")
    if not path.is_dir():
        raise UsageError(f"{path}: not a directory")
    return path.resolve()


def main() -> None:
    """Entry point: every known failure is one line on stderr and a non-zero exit."""
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except (UsageError, ModelError, SandboxError) as exc:
        _fail(str(exc), 2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _fail("aborted", 130)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence keeps tracebacks away from users
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if os.environ.get("LOOPWRIGHT_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (set LOOPWRIGHT_DEBUG=1 for a traceback)", 70)


def _fail(message: str, code: int) -> None:
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"loopwright: error: {first}", file=sys.stderr)
    sys.exit(code)
