"""What `loopwright env` shows and checks: the environment a project's tests get, and whether it is usable.

`describe` says, before anything is built, which Python (or which language's toolchain) and why, what will be installed and why, and
the test command. `check` runs in a sandbox whose setup phase is done: it collects the tests, runs the
suite, and asks the interpreter where the project's own packages (and pytest) are imported from. The
environment is usable when tests ran and the code they import is the repository's.

Public: `describe`, `check`, `EnvCheck`, `Origin`.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from loopwright.config import RunConfig
from loopwright.sandboxes.base import Sandbox
from loopwright.sandboxes.envreport import SetupReport, one_line
from loopwright.sandboxes.envsetup import parse_collection
from loopwright.sandboxes.project import top_level_packages
from loopwright.sandboxes.toolchains.base import Toolchain
from loopwright.sandboxes.toolchains.registry import for_repository
from loopwright.testdetect import detect
from loopwright.tools import test_formats, testreport

WORKDIR = "/workspace"
_WHERE = """
import importlib, json, sys
found = {"python": sys.executable}
for name in sys.argv[1:]:
    try:
        module = importlib.import_module(name)
        found[name] = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", [])), "")
    except Exception as error:
        found[name] = "!" + type(error).__name__ + ": " + str(error)
print("LOOPWRIGHT-WHERE " + json.dumps(found))
"""


def test_command(root: Path, config: RunConfig) -> tuple[str, str]:
    """(command, where it came from): the configured one always wins over detection."""
    if config.test_command:
        return config.test_command, "configured"
    return detect(root), "detected"


def describe(root: Path, config: RunConfig) -> list[str]:
    """What `env show` prints: nothing is built or run, the engine is only asked which images it has."""
    from loopwright.sandboxes.docker import connect
    from loopwright.sandboxes.envimage import ENV_REPOSITORY, choose_python, stored_report
    from loopwright.sandboxes.envplan import is_python_project, make_plan
    from loopwright.sandboxes.pyversions import parse_version, show

    chain = for_repository(root)
    if chain is not None:
        return _describe_language(root, config, chain)
    client = connect()
    try:
        choice, hints = choose_python(client, root, config.sandbox.image, config.sandbox.python)
        base_id = client.images.get(choice.candidate.image).id
        lines = [f"Python {choice.candidate.version} ({choice.candidate.image}): {choice.reason}"]
        lines += [f"note: {note}" for note in hints.notes]
        command, source = test_command(root, config)
        if not config.sandbox.install_dependencies:
            return lines + ["setup phase: off (sandbox.install_dependencies = false)", f"test command ({source}): {command}"]
        if not is_python_project(root) and not config.sandbox.setup:
            return lines + ["nothing to install: no dependency files; the image's own Python and pytest are used", f"test command ({source}): {command}"]
        python = show(parse_version(choice.candidate.version) or (3, 0))
        plan = make_plan(root, python, tuple(config.sandbox.setup))
        tag = f"{ENV_REPOSITORY}:{plan.cache_key(base_id, choice.candidate.version)}"
        cached = stored_report(client, tag) is not None
    finally:
        client.close()
    lines.append(f"environment: {tag} ({'cached' if cached else 'not built yet'})")
    for number, step in enumerate(plan.steps):
        lines.append(f"{'install' if number == 0 else 'else'} ({step.level}): {step.describe()}")
    lines += [f"setup command: {command}" for command in plan.setup_commands]
    lines += [f"why: {decision}" for decision in plan.decisions]
    lines.append(f"test command ({source}): {command}")
    return lines


def _describe_language(root: Path, config: RunConfig, chain: Toolchain) -> list[str]:
    from loopwright.sandboxes.docker import connect
    from loopwright.sandboxes.envimage import ENV_REPOSITORY, stored_report
    from loopwright.sandboxes.langenv import require_language_image

    plan = chain.plan(root)
    command, source = test_command(root, config)
    client = connect()
    try:
        image = require_language_image(client, config.sandbox.image, chain)
        lines = [f"language: {chain.language} (the repository's files: {chain.title})", f"image: {image}"]
        if not config.sandbox.install_dependencies:
            return lines + ["setup phase: off (sandbox.install_dependencies = false)", f"test command ({source}): {command}"]
        if plan.steps or config.sandbox.setup:
            tag = f"{ENV_REPOSITORY}:{plan.cache_key(client.images.get(image).id, tuple(config.sandbox.setup))}"
            lines.append(f"environment: {tag} ({'cached' if stored_report(client, tag) is not None else 'not built yet'})")
    finally:
        client.close()
    for step in plan.steps:
        lines.append(f"setup ({step.name}{', network on' if step.network else ''}): {step.command}")
        if step.fallback is not None:
            lines.append(f"setup, when that cannot reach its source ({step.fallback.name}): {step.fallback.command}")
    lines += [] if plan.steps else ["setup: nothing to fetch or build"]
    lines += [f"setup command: {line}" for line in config.sandbox.setup]
    lines += [f"defined by: {', '.join(sorted(plan.defining))}"] if plan.defining else []
    lines += [f"why: {decision}" for decision in plan.decisions]
    lines.append(f"test command ({source}): {command}")
    return lines


@dataclass(frozen=True)
class Origin:
    name: str
    path: str
    """Where the interpreter found it, or `!Error: message` when it could not be imported."""

    @property
    def in_workspace(self) -> bool:
        return self.path.startswith(WORKDIR + "/")


@dataclass(frozen=True)
class EnvCheck:
    report: SetupReport | None
    test_command: str
    collected: int | None
    collection_errors: int | None
    counts: dict[str, int]
    exit_code: int
    timed_out: bool
    origins: tuple[Origin, ...] = ()
    pytest: Origin | None = None
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def usable(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = []
        if self.collected is not None:
            errors = f", {self.collection_errors} collection errors" if self.collection_errors else ""
            out.append(f"collected: {self.collected} tests{errors}")
        counts = ", ".join(f"{n} {kind}" for kind, n in self.counts.items()) or "no counts"
        status = "timed out" if self.timed_out else f"exit {self.exit_code}"
        out.append(f"suite: {self.test_command} -> {counts} ({status})")
        for origin in self.origins:
            out.append(f"imports {origin.name} from {origin.path}")
        if self.pytest is not None:
            out.append(f"pytest from {self.pytest.path}")
        out += [f"warning: {warning}" for warning in self.warnings]
        out += [f"problem: {problem}" for problem in self.problems]
        out.append("usable: yes, the tests ran against the repository's code" if self.usable else "usable: no")
        return out


def check(box: Sandbox, root: Path, command: str, timeout_s: float) -> EnvCheck:
    report = getattr(box, "setup_report", None)
    if for_repository(root) is not None:
        return _check_language(box, report, command, timeout_s)
    problems: list[str] = []
    warnings: list[str] = []
    uses_pytest = "pytest" in command
    collected = errors = None
    if uses_pytest:
        collect = box.exec("python3 -m pytest --collect-only -q -p no:cacheprovider", timeout_s=min(timeout_s, 600))
        collected, errors = parse_collection(collect.output)
        if collected is None:
            problems.append(f"pytest did not collect: {one_line(collect.output[-300:]) or 'no output'}")
        elif errors:
            warnings.append(f"{errors} test modules failed to collect")
    packages = top_level_packages(root)
    asked = packages + (("pytest",) if uses_pytest and "pytest" not in packages else ())
    origins = _origins(box, asked)
    own = [o for o in origins if o.name in packages]
    pytest_origin = next((o for o in origins if o.name == "pytest"), None)
    for origin in own:
        if origin.path.startswith("!"):
            problems.append(f"the project's {origin.name} does not import: {origin.path[1:]}")
        elif not origin.in_workspace:
            problems.append(f"the project's {origin.name} is imported from {origin.path}, not from the repository")
    repo_is_pytest = "pytest" in packages or "_pytest" in packages
    if pytest_origin is not None and not repo_is_pytest:
        if pytest_origin.path.startswith("!"):
            problems.append(f"pytest does not import: {pytest_origin.path[1:]}")
        elif report is not None and report.venv and not pytest_origin.path.startswith(report.venv + "/"):
            warnings.append(f"pytest comes from {pytest_origin.path}, not from the environment")
    if uses_pytest and errors:
        # Modules that fail to collect stop pytest before any test runs; the check wants to see the others run.
        command += " --continue-on-collection-errors"
    ran = box.exec(command, timeout_s=timeout_s)
    parsed = testreport.parse(ran.output, ran.exit_code, timed_out=ran.timed_out)
    executed = sum(n for kind, n in parsed.counts.items() if kind in ("passed", "failed", "xfailed", "xpassed", "skipped"))
    if ran.timed_out:
        problems.append(f"the suite did not finish within {timeout_s:.0f}s")
    elif not executed:
        problems.append(f"the suite ran no test: {one_line(ran.output[-300:]) or 'no output'}")
    elif parsed.counts.get("failed") or parsed.counts.get("errors"):
        warnings.append("some tests fail (the environment still runs them)")
    if report is not None and report.failures:
        warnings.append(f"{len(report.failures)} install failures (see the setup report)")
    return EnvCheck(
        report=report,
        test_command=command,
        collected=collected,
        collection_errors=errors,
        counts=dict(parsed.counts),
        exit_code=ran.exit_code,
        timed_out=ran.timed_out,
        origins=tuple(own),
        pytest=pytest_origin,
        problems=tuple(problems),
        warnings=tuple(warnings),
    )


def _origins(box: Sandbox, names: tuple[str, ...]) -> list[Origin]:
    """Where the sandbox's python3, run in the workspace as the tests are, imports each of `names` from."""
    if not names:
        return []
    ran = box.exec(f"python3 -c {shlex.quote(_WHERE)} {' '.join(shlex.quote(n) for n in names)}", timeout_s=120)
    line = next((out for out in ran.output.splitlines() if out.startswith("LOOPWRIGHT-WHERE ")), "")
    try:
        found = json.loads(line.removeprefix("LOOPWRIGHT-WHERE ")) if line else {}
    except ValueError:
        found = {}
    return [Origin(name, one_line(str(found.get(name, "!not reported")))) for name in names]


def _check_language(box: Sandbox, report: SetupReport | None, command: str, timeout_s: float) -> EnvCheck:
    """A language's suite, read as run_tests reads it: usable when tests ran (a failing test still ran; a failed
    build, or a run that tested nothing, did not)."""
    reader = test_formats.reader_for(command)
    if reader is not None:
        ran = reader(box, command, timeout_s, {})
    else:
        result = box.exec(command, timeout_s=timeout_s)
        ran = testreport.TestReport(exit_code=result.exit_code, command=command, timed_out=result.timed_out, tail=result.output[-2000:])
    problems: list[str] = []
    warnings: list[str] = []
    executed = sum(n for kind, n in ran.counts.items() if kind in testreport.RAN)
    if ran.timed_out:
        problems.append(f"the suite did not finish within {timeout_s:.0f}s")
    elif ran.build_errors:
        first = ran.build_errors[0]
        problems.append(f"the build failed ({len(ran.build_errors)} errors; first: {first.location}: {one_line(first.message)})")
    elif not ran.structured:
        (warnings if ran.exit_code == 0 else problems).append(
            f"no per-test results ({ran.note or 'the runner wrote no report'}); exit {ran.exit_code}: {one_line(ran.tail[-300:]) or 'no output'}"
        )
    elif not executed:
        problems.append(f"the suite ran no test: {one_line(ran.tail[-300:]) or 'no output'}")
    elif ran.problem:
        warnings.append(f"some tests fail ({ran.problem}; the environment still runs them)")
    if report is not None and report.failures:
        warnings.append(f"{len(report.failures)} setup failures (see the setup report)")
    return EnvCheck(
        report=report,
        test_command=command,
        collected=ran.collected,
        collection_errors=None,
        counts=dict(ran.counts),
        exit_code=ran.exit_code,
        timed_out=ran.timed_out,
        problems=tuple(problems),
        warnings=tuple(warnings),
    )
