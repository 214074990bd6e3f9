"""`loopwright bench TASKS --repos DIR (--oracle | --model SPEC)`: the command the main CLI registers."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from loopwright.bench.blobs import BlobStore
from loopwright.bench.mirrors import MirrorMissing, find_mirror
from loopwright.bench.report import REPORT_MD, write_reports
from loopwright.bench.results import ORACLE, PREDICTIONS_FILE, ResultStore, TaskResult, write_predictions
from loopwright.bench.runner import BenchOptions
from loopwright.bench.suite import pending, run_tasks
from loopwright.bench.tasks import Task, TaskFileError, load_tasks, select
from loopwright.commandline import UsageError, build_model
from loopwright.config import RunConfig
from loopwright.model import Model
from loopwright.ui.terminal import TerminalConsole

console = TerminalConsole()
err = TerminalConsole(stderr=True)


class BadInput(Exception):
    """Options or input the benchmark cannot start with; one line for the user."""


def bench_command(
    tasks: Annotated[Path, typer.Argument(help="SWE-bench-format task file: JSON lines (or a JSON list) or parquet; or a directory of exercises (stub, tests, reference: the aider polyglot layout).")],
    repos: Annotated[Path | None, typer.Option(help="Folder of git mirrors or clones: owner+name/repo, owner+name, owner__name, owner/name or name (.git optional). Not for exercises.")] = None,
    oracle: Annotated[bool, typer.Option("--oracle", help="Fix each task with its reference patch, through loopwright's apply_patch tool.")] = False,
    model: Annotated[str | None, typer.Option(help="Fix each task with the agent on this model (writes SWE-bench predictions).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for results.jsonl, predictions.jsonl, report.md/json and each task's log.")] = Path("bench-results"),
    workers: Annotated[int, typer.Option(help="Tasks run side by side.")] = 1,
    pass_sample: Annotated[int, typer.Option(help="PASS_TO_PASS tests run per task (a fixed sample).")] = 20,
    instances: Annotated[list[str] | None, typer.Option(help="Only these instance ids (repeat, or separate by commas).")] = None,
    repo_filter: Annotated[list[str] | None, typer.Option(help="Only repositories whose owner/name contains this (repeatable).")] = None,
    blobs: Annotated[Path | None, typer.Option(help="Folder of the projects' released packages (wheels, sdists) or files, for large files a mirror lacks; one is used only when its git object id is the commit's.")] = None,
    rerun: Annotated[bool, typer.Option("--rerun", help="Run tasks again that the results file already has.")] = False,
    sandbox: Annotated[str, typer.Option(help="docker (isolated) or local (no isolation).")] = "docker",
    image: Annotated[str | None, typer.Option(help="Sandbox image.")] = None,
    runtime: Annotated[str | None, typer.Option(help="Container runtime: runc, runsc or auto.")] = None,
    test_timeout: Annotated[float, typer.Option(help="Seconds one test run may take.")] = 900.0,
    max_steps: Annotated[int | None, typer.Option(help="With --model: model turns per task.")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="With --model: tokens per task.")] = None,
    time_limit: Annotated[float | None, typer.Option(help="With --model: seconds per task.")] = None,
) -> None:
    """Run SWE-bench-format tasks: tests before and after a fix, in loopwright's sandbox, with a report of what
    resolved and the cause of every miss. Settings come from these options only (no config files), so a
    result depends on the command line alone. Resumable: tasks already in OUT/results.jsonl are skipped."""
    if tasks.is_dir():
        _run_exercises(tasks, oracle, model, out, instances or [], repo_filter or [], sandbox, image, runtime, test_timeout, max_steps, max_tokens, time_limit)
        return
    try:
        if repos is None:
            raise BadInput("--repos is needed for SWE-bench-format tasks (the folder of the repositories' mirrors)")
        _check(oracle, model, workers, pass_sample, test_timeout, repos)
        if blobs is not None and not blobs.is_dir():
            raise BadInput(f"{blobs}: no such directory (the folder for --blobs)")
        chosen = select(load_tasks(tasks), _ids(instances or []), repo_filter or [])
        mirrors = _mirrors(chosen, repos.resolve())
        config = _config(sandbox, image, runtime, test_timeout, model, max_steps=max_steps, max_tokens=max_tokens, max_seconds=time_limit)
        factory, mode = _model_factory(model)
        if config.sandbox.kind == "docker":
            _require_image(config.sandbox.image)
    except (BadInput, TaskFileError) as error:
        raise UsageError(str(error)) from None
    for line in mirrors:
        err.print(line, highlight=False, soft_wrap=True)
    if config.sandbox.kind == "local":
        from loopwright.sandboxes.local import UNISOLATED_WARNING

        err.print(f"[yellow]warning:[/] {UNISOLATED_WARNING}", highlight=False)
    folder = out.resolve()
    store = ResultStore(folder)
    todo, skipped = pending(chosen, store, mode, rerun)
    if skipped:
        err.print(f"skipping {skipped} task(s) already in {escape(str(store.path))} (--rerun runs them again)", highlight=False, soft_wrap=True)
    options = BenchOptions(
        repos=repos.resolve(), config=config, mode=mode, model_factory=factory, pass_sample=pass_sample,
        logs=folder / "logs", trajectories=folder / "trajectories" if model else None,
        blobs=BlobStore(blobs.resolve()) if blobs is not None else None,
    )
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    try:
        _run_with_progress(todo, options, store, workers)
    finally:
        _finish(chosen, store, mode, folder)


def _run_exercises(folder: Path, oracle: bool, model: str | None, out: Path, instances: list[str], filters: list[str], sandbox: str, image: str | None, runtime: str | None, test_timeout: float, max_steps, max_tokens, time_limit) -> None:
    """Exercise-style tasks (see bench/exercises.py): the stub's tests must fail, the fix's pass."""
    from loopwright.bench.exercise_run import REPORT_MD as EXERCISES_MD
    from loopwright.bench.exercise_run import RESULTS, run_exercise, write_exercise_report
    from loopwright.bench.exercises import ExerciseError, load_exercises

    try:
        if oracle == (model is not None):
            raise BadInput("give exactly one of --oracle and --model SPEC")
        chosen = load_exercises(folder)
        ids = set(_ids(instances))
        chosen = [e for e in chosen if (not ids or e.instance_id in ids or e.name in ids) and all(f in e.instance_id for f in filters)]
        if not chosen:
            raise BadInput(f"{folder}: no exercise matches --instances / --repo-filter")
        config = _config(sandbox, image, runtime, test_timeout, model, max_steps=max_steps, max_tokens=max_tokens, max_seconds=time_limit)
        factory, _ = _model_factory(model)
    except (BadInput, ExerciseError) as error:
        raise UsageError(str(error)) from None
    target = out.resolve()
    (target / "logs").mkdir(parents=True, exist_ok=True)
    results = []
    with (target / RESULTS).open("w", encoding="utf-8") as lines:
        for exercise in chosen:
            result = run_exercise(exercise, config, factory, target / "logs", lambda line: None)
            results.append(result)
            lines.write(result.model_dump_json() + "\n")
            lines.flush()
            mark = "[green]ok[/]" if result.status == "ok" else ("[red]error[/]" if result.status == "error" else "[yellow]missed[/]")
            cause = f": {escape(result.cause)}" if result.cause else ""
            err.print(f"{mark} {escape(exercise.instance_id)} (setup {result.setup_s:.0f}s, total {result.total_s:.0f}s){cause}", highlight=False, soft_wrap=True)
    summary = write_exercise_report(target, results, shlex.join(["loopwright", *sys.argv[1:]]))
    table = Table("language", "exercises", "ok", "stub fails", "fix passes", "errors", box=None, header_style="bold")
    for row in summary["languages"]:
        table.add_row(row["language"], *(str(row[k]) for k in ("exercises", "ok", "stub_failed", "fix_passed", "errors")))
    console.print(table)
    console.print(f"report: {escape(str(target / EXERCISES_MD))}", highlight=False, soft_wrap=True)


def _check(oracle: bool, model: str | None, workers: int, pass_sample: int, test_timeout: float, repos: Path) -> None:
    if oracle == (model is not None):
        raise BadInput("give exactly one of --oracle and --model SPEC")
    for flag, value, least in (("--workers", workers, 1), ("--pass-sample", pass_sample, 0), ("--test-timeout", test_timeout, 1)):
        if value < least:
            raise BadInput(f"{flag} must be at least {least}")
    if not repos.is_dir():
        raise BadInput(f"{repos}: no such directory (the folder of git mirrors for --repos)")


def _model_factory(spec: str | None) -> tuple[Callable[[], Model] | None, str]:
    """A fresh model per task, and the run's mode (the model's name); a bad spec or script is one line now
    rather than one error per task."""
    if spec is None:
        return None, ORACLE
    name = build_model(spec).name
    return (lambda: build_model(spec)), name


def _run_with_progress(todo: list[Task], options: BenchOptions, store: ResultStore, workers: int) -> None:
    columns = (TextColumn("bench"), BarColumn(), MofNCompleteColumn(), TextColumn("resolved {task.fields[resolved]}"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as progress:
        bar = progress.add_task("bench", total=len(todo), resolved=0)
        resolved = 0

        def done(result: TaskResult) -> None:
            nonlocal resolved
            resolved += result.resolved
            mark = "[green]resolved[/]" if result.resolved else ("[red]error[/]" if result.status == "error" else "[yellow]missed[/]")
            cause = f": {escape(result.cause)}" if result.cause else ""
            progress.console.print(f"{mark} {escape(result.instance_id)} ({result.timing.total_s:.0f}s){cause}", highlight=False, soft_wrap=True)
            progress.update(bar, advance=1, resolved=resolved)

        run_tasks(todo, options, store, workers, done)


def _finish(chosen: list[Task], store: ResultStore, mode: str, folder: Path) -> None:
    latest = store.latest(mode)
    results = [latest[t.instance_id] for t in chosen if t.instance_id in latest]
    if not results:
        return
    command = shlex.join(["loopwright", *sys.argv[1:]])
    summary = write_reports(folder, results, command)
    write_predictions(folder / PREDICTIONS_FILE, results)
    table = Table("repository", "tasks", "resolved", "env ok", "false passes", "errors", box=None, header_style="bold")
    for row in [*summary["repositories"], summary["total"]]:
        table.add_row(escape(row["repo"]), *(str(row[k]) for k in ("tasks", "resolved", "env_ok", "false_passes", "errors")))
    console.print(table)
    if store.unreadable:
        err.print(f"[yellow]warning:[/] {store.unreadable} unreadable line(s) in {escape(str(store.path))} were left out", highlight=False)
    console.print(f"report: {escape(str(folder / REPORT_MD))}\npredictions: {escape(str(folder / PREDICTIONS_FILE))}", highlight=False, soft_wrap=True)


def _ids(values: list[str]) -> list[str]:
    return [part for value in values for part in re.split(r"[,\s]+", value) if part]


def _mirrors(tasks: list[Task], folder: Path) -> list[str]:
    """Lines saying where each repository's mirror was found (or not); BadInput when no selected task has one."""
    found, missing = [], []
    for repo in sorted({t.repo for t in tasks if not t.problem}):
        try:
            found.append(find_mirror(folder, repo))
        except MirrorMissing as error:
            missing.append(str(error))
    if missing and not found:
        raise BadInput(missing[0] if len(missing) == 1 else f"no mirror in {folder} for any selected repository ({missing[0]}; ...)")
    lines = [f"{escape(m.repo)}: {escape(str(m.path))} ({m.layout})" for m in found]
    return lines + [f"[yellow]{escape(line)}[/]: its tasks count as errors" for line in missing]


def _config(sandbox: str, image: str | None, runtime: str | None, test_timeout: float, model: str | None, **limits: float | None) -> RunConfig:
    """Defaults and these options only; the sandbox never has network (the dependency install aside)."""
    if sandbox not in ("docker", "local"):
        raise BadInput(f"--sandbox must be docker or local, not {sandbox!r}")
    given = {"kind": sandbox, "network": False, **({"image": image} if image else {}), **({"runtime": runtime} if runtime else {})}
    try:
        return RunConfig.model_validate(
            {"model": model, "test_timeout_s": test_timeout, "sandbox": given, "limits": {k: v for k, v in limits.items() if v is not None}}
        )
    except ValidationError as error:
        first = error.errors()[0]
        raise BadInput(f"bad option {first['loc'][-1]}: {first['msg']}") from None


def _require_image(image: str) -> None:
    from loopwright.sandboxes.image import image_exists

    if not image_exists(image):
        raise BadInput(f"sandbox image {image} not found; run `loopwright sandbox build`")
