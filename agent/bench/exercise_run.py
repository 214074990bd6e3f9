"""One exercise, start to end, and the report over all of them.

    copy (without .meta) -> git -> sandbox (setup phase) -> tests on the stub (must fail)
        -> the fix (--oracle: the reference through the write tool; --model: the agent on the instructions)
        -> tests again (must pass)

A test run is read as `run_tests` reads it (per-test results, compile errors); a run that tested nothing never
passes. The environment image each exercise's setup phase makes is removed after it (every exercise has its own),
but where the track's exercises share one (JavaScript's jest and babel), which is kept for the next.

Public: `ExerciseResult`, `run_exercise`, `write_exercise_report`.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from loopwright.bench import fixes
from loopwright.bench.exercises import Exercise, ExerciseError
from loopwright.config import RunConfig
from loopwright.model import Model
from loopwright.sandboxes.base import SandboxError
from loopwright.session import open_sandbox
from loopwright.tools.base import ToolContext, ToolFailure
from loopwright.tools.run_tests import run_test_command
from loopwright.tools.write_file import WriteFile, WriteFileArgs

RESULTS = "exercises.jsonl"
REPORT_MD = "exercises.md"


class ExerciseResult(BaseModel):
    instance_id: str
    language: str
    status: str
    """`ok` (the stub failed and the fix passed), `missed`, or `error` (the run could not be made)."""
    cause: str = ""
    stub_failed: bool = False
    fix_passed: bool = False
    before: str = ""
    """The first line of the stub's test report."""
    after: str = ""
    environment: str = ""
    setup_s: float = 0.0
    cached: bool = False
    test_s: list[float] = []
    total_s: float = 0.0


def run_exercise(exercise: Exercise, config: RunConfig, model_factory: Callable[[], Model] | None, logs: Path, progress: Callable[[str], None]) -> ExerciseResult:
    started = time.monotonic()
    log = logs / f"{exercise.instance_id.replace('/', '__')}.log"
    with tempfile.TemporaryDirectory(prefix="loopwright-exercise-") as folder, log.open("w", encoding="utf-8", errors="replace") as out:
        root = Path(folder) / exercise.name
        try:
            exercise.copy_to(root)
            _git(root)
            reference = exercise.reference() if model_factory is None else {}
        except (ExerciseError, OSError, subprocess.CalledProcessError) as error:
            return _result(exercise, started, status="error", cause=f"the work tree could not be made: {error}")
        sandbox = config.sandbox.model_copy(update={"install_dependencies": config.sandbox.install_dependencies and exercise.setup_phase})
        config = config.model_copy(update={"test_command": exercise.test_command, "sandbox": sandbox})
        opened = time.monotonic()
        try:
            def note(line: str) -> None:
                out.write(f"setup: {line}\n")

            box_context = open_sandbox(config.sandbox, root, note)
            with box_context as box:
                setup_s = time.monotonic() - opened
                report = getattr(box, "setup_report", None)
                if report is not None:
                    out.write("\n".join(report.lines()) + "\n")
                ctx = ToolContext(root=root, sandbox=box, test_command=exercise.test_command, test_timeout_s=config.test_timeout_s, max_output_chars=config.max_output_chars)
                result = _fix_and_judge(exercise, ctx, config, reference, model_factory, out, progress)
                result = result.model_copy(update={"environment": report.image if report else "", "setup_s": setup_s, "cached": bool(report and report.cached)})
                if not exercise.shared_environment:
                    _drop_environment(report)
        except SandboxError as error:
            return _result(exercise, started, status="error", cause=f"sandbox: {error}")
    return result.model_copy(update={"total_s": time.monotonic() - started})


def _fix_and_judge(exercise, ctx: ToolContext, config: RunConfig, reference: dict[str, str], model_factory, out, progress) -> ExerciseResult:
    times = []
    began = time.monotonic()
    before = run_test_command(ctx)
    times.append(time.monotonic() - began)
    out.write(f"\n== tests on the stub\n{before.render()}\n")
    if model_factory is None:
        for path, content in reference.items():
            try:
                written = WriteFile().run(WriteFileArgs(path=path, content=content), ctx)
            except ToolFailure as refused:
                return _result(exercise, 0, status="error", cause=f"the reference could not be written to {path}: {refused}", before=_head(before))
            out.write(f"\n== wrote {path}\n{written.text}\n")
    else:
        fix = fixes.agent_fix(exercise.instructions, ctx.root, ctx.sandbox, config, model_factory(), progress)
        out.write(f"\n== the agent\n{fix.log}\n")
    began = time.monotonic()
    after = run_test_command(ctx)
    times.append(time.monotonic() - began)
    out.write(f"\n== tests after the fix\n{after.render()}\n")
    causes = []
    if before.passed:
        causes.append("the stub passes its tests")
    if not after.passed:
        first = after.failures[0].test_id if after.failures else (after.build_errors[0].location if after.build_errors else "")
        said = next((line.strip() for line in after.tail.splitlines() if line.lstrip().startswith("error")), after.tail.splitlines()[-1] if after.tail else "")
        causes.append(f"the fix does not pass: {after.problem}" + (f" ({first})" if first else "") + (f": {said[:200]}" if not first and said else ""))
    return ExerciseResult(
        instance_id=exercise.instance_id,
        language=exercise.language,
        status="ok" if not causes else "missed",
        cause="; ".join(causes),
        stub_failed=not before.passed,
        fix_passed=after.passed,
        before=_head(before),
        after=_head(after),
        test_s=times,
    )


def _head(report) -> str:
    return report.render().splitlines()[0]


def _result(exercise: Exercise, started: float, **fields) -> ExerciseResult:
    return ExerciseResult(instance_id=exercise.instance_id, language=exercise.language, total_s=time.monotonic() - started if started else 0.0, **fields)


def _git(root: Path) -> None:
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", "stub"]):
        subprocess.run(["git", *command], cwd=root, check=True, capture_output=True)


def _drop_environment(report) -> None:
    """The exercise's environment image, when its setup phase made one (not the language's own image)."""
    if report is None or not report.image.startswith("loopwright-env:"):
        return
    from loopwright.sandboxes.docker import connect

    client = connect()
    try:
        client.images.remove(report.image, force=True)
    except Exception:  # noqa: BLE001 - cleanup of a cache entry; a failure to remove it changes no result
        pass
    finally:
        client.close()


def write_exercise_report(folder: Path, results: list[ExerciseResult], command: str) -> dict:
    """exercises.md and exercises.json: per language, exercises, the stub failing, the fix passing, times; every miss."""
    rows = []
    for language in sorted({r.language for r in results}):
        mine = [r for r in results if r.language == language]
        setups = [r.setup_s for r in mine if r.setup_s]
        tests = [t for r in mine for t in r.test_s]
        rows.append({
            "language": language,
            "exercises": len(mine),
            "ok": sum(r.status == "ok" for r in mine),
            "stub_failed": sum(r.stub_failed for r in mine),
            "fix_passed": sum(r.fix_passed for r in mine),
            "errors": sum(r.status == "error" for r in mine),
            "median_setup_s": round(statistics.median(setups), 1) if setups else None,
            "max_setup_s": round(max(setups), 1) if setups else None,
            "median_test_s": round(statistics.median(tests), 1) if tests else None,
            "max_test_s": round(max(tests), 1) if tests else None,
        })
    summary = {"command": command, "languages": rows, "misses": [r.model_dump() for r in results if r.status != "ok"]}
    (folder / "exercises.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [f"`{command}`", "", "| language | exercises | ok | stub fails | fix passes | errors | setup median / max (s) | test run median / max (s) |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['language']} | {row['exercises']} | {row['ok']} | {row['stub_failed']} | {row['fix_passed']} | {row['errors']}"
            f" | {row['median_setup_s']} / {row['max_setup_s']} | {row['median_test_s']} / {row['max_test_s']} |"
        )
    misses = [r for r in results if r.status != "ok"]
    lines += ["", "Misses:" if misses else "No misses."]
    lines += [f"- {r.instance_id} ({r.status}): {r.cause}" for r in misses]
    (folder / REPORT_MD).write_text("\n".join(lines) + "\n")
    return summary
