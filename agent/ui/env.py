"""`loopwright env`: the project's test environment, shown, built, checked, or entered with a shell."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from loopwright.commandline import UsageError, repo_root
from loopwright.config import RunConfig
from loopwright.ui.terminal import TerminalConsole

app = typer.Typer(help="The project's test environment: what it holds and why, built, checked, or entered.", no_args_is_help=True)
out = TerminalConsole()
err = TerminalConsole(stderr=True)

Repo = Annotated[Path, typer.Option(help="Repository whose environment it is.")]
Python = Annotated[str | None, typer.Option(help="Python version to use (e.g. 3.9) instead of the one the project asks for.")]
Image = Annotated[str | None, typer.Option(help="Sandbox image (its siblings tagged :pyX.Y offer the other Pythons).")]
Fresh = Annotated[bool, typer.Option("--fresh", help="Build the environment anew even when a cached one exists.")]


@app.command("show")
def show(repo: Repo = Path("."), python: Python = None, image: Image = None) -> None:
    """Which Python and why, what will be installed and why, and the test command; builds nothing."""
    from loopwright.envcheck import describe

    root, config = _config(repo, python, image)
    _print(describe(root, config))


@app.command("build")
def build(repo: Repo = Path("."), python: Python = None, image: Image = None, fresh: Fresh = False) -> None:
    """Run the setup phase (or find its cached result) and print its report."""
    root, config = _config(repo, python, image)
    with _sandbox(root, config, fresh) as box:
        report = box.setup_report
    if report is None:
        _print(["setup phase: off (sandbox.install_dependencies = false)"])
        return
    _print(report.lines())
    if report.failures and not report.venv:
        raise typer.Exit(1)


@app.command("check")
def check(
    repo: Repo = Path("."),
    python: Python = None,
    image: Image = None,
    fresh: Fresh = False,
    test_cmd: Annotated[str | None, typer.Option(help="Command that runs the tests (default: configured, else detected).")] = None,
) -> None:
    """Build the environment, collect and run the suite, and say whether it is usable: tests ran against the repository's code."""
    from loopwright.envcheck import check as check_environment
    from loopwright.envcheck import test_command

    root, config = _config(repo, python, image, test_cmd)
    command, _ = test_command(root, config)
    with _sandbox(root, config, fresh) as box:
        if box.setup_report is not None:
            _print(box.setup_report.lines())
        result = check_environment(box, root, command, config.test_timeout_s)
    _print(result.lines())
    if not result.usable:
        raise typer.Exit(1)


@app.command("shell")
def shell(repo: Repo = Path("."), python: Python = None, image: Image = None) -> None:
    """An interactive shell inside the environment, as the agent has it: network off, the repository at /workspace."""
    import shutil

    root, config = _config(repo, python, image)
    if config.sandbox.kind != "docker":
        raise UsageError("env shell needs the Docker sandbox (sandbox.kind = docker)")
    docker = shutil.which("docker")
    if docker is None:
        raise UsageError("env shell needs the docker command-line client on PATH")
    with _sandbox(root, config, False) as box:
        flags = ["-it"] if sys.stdin.isatty() else ["-i"]
        err.print(f"[dim]shell in {escape(box.setup_report.image if box.setup_report else config.sandbox.image)}; exit to leave[/]", highlight=False)
        done = subprocess.run([docker, "exec", *flags, "-w", box.workdir, box.container_id, "bash", "-l"], check=False)
    raise typer.Exit(done.returncode)


def _config(repo: Path, python: str | None, image: str | None, test_cmd: str | None = None) -> tuple[Path, RunConfig]:
    from loopwright.settings import load
    from loopwright.ui.config import checked

    root = repo_root(repo)
    given = {"sandbox.python": (python, "--python"), "sandbox.image": (image, "--image"), "test_command": (test_cmd, "--test-cmd")}
    flags = {key: value for key, value in given.items() if value[0] is not None}
    return root, checked(load(root, flags), lambda: load(root, flags), ask=False).config


def _sandbox(root: Path, config: RunConfig, fresh: bool):
    """The session's own sandbox (git metadata read-only, network off), with its setup phase done."""
    from loopwright.session import open_sandbox

    if config.sandbox.kind != "docker":
        raise UsageError("the environment lives in the Docker sandbox; set sandbox.kind = docker")
    settings = config.sandbox.model_copy(update={"network": False})
    return open_sandbox(settings, root, lambda line: err.print(f"[dim]{escape(line)}[/]", highlight=False), fresh_environment=fresh)


def _print(lines: list[str]) -> None:
    for line in lines:
        out.print(escape(line), highlight=False, soft_wrap=True)
