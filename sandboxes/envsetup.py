"""The setup phase inside its container: a copy of the repository, a virtual environment, the installs.

Like a person setting up a checkout: make a virtual environment without the system's site-packages
(so nothing in the image shadows the repository's code), install the plan's first step with uv (pip
when uv cannot be had), and when it fails read why, leave out a requirement that cannot be installed
and try again. Dependencies are resolved as of the commit's date first (the versions the tests were
written against, see envplan.resolution_date), the newest versions when that fails; else fall back to
the next step. Then the project's setup commands, and a check that pytest collects the tests of a
pristine copy of the repository (the same files the agent phase mounts).

The container is given as two callables, so this module knows nothing of Docker: `run(command,
timeout_s, env)` and `put(folder, tar_file)`.

Public: `SetupContainer`, `SetupResult`, `run_setup`, VENV.
"""

from __future__ import annotations

import io
import re
import shlex
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from loopwright.sandboxes.base import ExecResult
from loopwright.sandboxes.ciinstalls import GitSource, git_source
from loopwright.sandboxes.deps import Staged, requirement_name
from loopwright.sandboxes.envplan import NOTHING, EnvPlan, InstallStep
from loopwright.sandboxes.envreport import CommandRun, Failure, one_line, parse_failures
from loopwright.sandboxes.project import normalize

HOME = "/opt/loopwright"
VENV = f"{HOME}/venv"
TOOLS = f"{HOME}/tools"
PRISTINE = f"{HOME}/pristine"
WORKDIR = "/workspace"
PROFILE = "/etc/profile.d/loopwright-venv.sh"
"""Login shells (commands run with `sh -lc`) reset PATH in /etc/profile, which then reads this."""
UV_REQUIREMENT = "uv>=0.9"
BUILD_BACKENDS = (
    "setuptools", "setuptools-scm", "wheel", "flit-core", "hatchling", "hatch-vcs", "poetry-core", "pdm-backend",
    "scikit-build-core", "meson-python", "setuptools-rust", "maturin",
)
"""Left out of resolving as of a date: older build backends cannot install a project editable (PEP 660 came in 2021-22)."""
BUILD_HELPERS = ("packaging",)
"""Libraries the newest build backends call into that also come as of the date otherwise (setuptools-scm 8 needs the
`packaging` of 2023); left out of the date too, on a second try, when the project itself fails to build."""
UNLIMITED = "2100-01-01T00:00:00Z"
MAX_TRIES = 6
"""Installer calls per step: the first, leaving out up to two requirements that cannot be installed, the build helpers'
retry, and one for each later date."""
COLLECT_TIMEOUT_S = 300.0
FINISH_TIMEOUT_S = 120.0
MIN_STEP_S = 5.0
INSTALL_ENV = {
    "UV_CACHE_DIR": "/tmp/loopwright-uv-cache",
    "UV_LINK_MODE": "copy",
    "UV_COMPILE_BYTECODE": "1",
    "UV_NO_PROGRESS": "1",
    "PIP_NO_INPUT": "1",
    "PIP_PROGRESS_BAR": "off",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_NO_CACHE_DIR": "1",
}


@dataclass(frozen=True)
class SetupContainer:
    run: Callable[[str, float, dict[str, str] | None], ExecResult]
    put: Callable[[str, BinaryIO], None]


@dataclass
class SetupResult:
    python: str = ""
    level: str = NOTHING
    installed: str = ""
    failures: list[Failure] = field(default_factory=list)
    commands: list[CommandRun] = field(default_factory=list)
    resolved_as_of: str = ""
    installer: str = ""
    collected: int | None = None
    collection_errors: int | None = None
    local_clashes: int = 0
    """Collection errors no other versions can mend: a test module named like a folder of the repository."""
    packages: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    editable: str | None = None
    """The project as the successful install step named it (`.[test]`), when it installed the project."""
    usable: bool = False
    """Whether the environment is worth using: a virtual environment with at least pytest in it."""
    keep: bool = True
    """Whether to store it for later sessions (not after a network failure or running out of time)."""


class _Clock:
    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def left(self) -> float:
        return self.deadline - time.monotonic()


def run_setup(box: SetupContainer, plan: EnvPlan, copy: BinaryIO, *, deadline: float, progress: Callable[[str], None]) -> SetupResult:
    """Carry out `plan` in the container; `copy` is the tar of the repository (see workcopy)."""
    clock = _Clock(deadline)
    result = SetupResult()
    _must(box, f"mkdir -p {PRISTINE} {WORKDIR}", 30)
    box.put(PRISTINE, copy)
    _must(box, f"cp -a {PRISTINE}/workspace/. {WORKDIR}/", 300)
    made = _must(box, f'python3 -m venv {VENV} && {VENV}/bin/python -c \'import sys; print("%d.%d.%d" % sys.version_info[:3])\'', 120)
    result.python = made.output.strip().splitlines()[-1]
    installer = _Installer.make(box, clock, progress)
    result.installer = installer.name
    dates = tuple(date for date in (plan.as_of, plan.as_of_python) if date) if installer.dates else ()
    _stage(box, plan.staged)
    _ladder(box, plan, installer, clock, result, progress, (*dates, ""))
    if result.usable:
        _optional(box, plan, installer, clock, result, progress)
        _setup_commands(box, plan.setup_commands, clock, result, progress)
    if result.usable:
        _collect(box, clock, result, progress)
        if result.collection_errors and result.resolved_as_of and result.collection_errors > result.local_clashes:
            _retry_newest(box, plan, installer, clock, result, progress)
        result.packages = _packages(box)
    return result


def finish(box: SetupContainer, session_marker: str) -> None:
    """Leave only the environment in the container: the copy, the installer and caches go."""
    script = (
        f"rm -rf {WORKDIR}/* {WORKDIR}/.[!.]* {WORKDIR}/..?* {PRISTINE} {TOOLS} /tmp/* /root/.cache"
        f" && printf 'export VIRTUAL_ENV={VENV}\\nexport PATH={VENV}/bin:$PATH\\n' > {PROFILE}"
        f" && mkdir -p /etc/loopwright && echo {shlex.quote(session_marker)} > /etc/loopwright/setup-session"
    )
    _must(box, script, FINISH_TIMEOUT_S)


class _Installer:
    """uv in a venv of its own (fast, and it resolves as of a date), or the environment's pip."""

    def __init__(self, name: str, program: str, dates: bool) -> None:
        self.name = name
        self.program = program
        self.dates = dates

    @classmethod
    def make(cls, box: SetupContainer, clock: _Clock, progress: Callable[[str], None]) -> _Installer:
        progress("installing uv (the installer) from the package index")
        got = box.run(
            f"python3 -m venv {TOOLS} && {TOOLS}/bin/python -m pip install -q {shlex.quote(UV_REQUIREMENT)} && {TOOLS}/bin/uv --version",
            max(MIN_STEP_S, min(300.0, clock.left())),
            INSTALL_ENV,
        )
        if got.exit_code == 0 and not got.timed_out:
            return cls(one_line(got.output.strip().splitlines()[-1]), f"{TOOLS}/bin/uv pip install --python {VENV}/bin/python", True)
        return cls("pip", f"{VENV}/bin/python -m pip install", False)

    def uninstall(self, name: str) -> str:
        if self.dates:
            return f"{TOOLS}/bin/uv pip uninstall --python {VENV}/bin/python {shlex.quote(name)}"
        return f"{VENV}/bin/python -m pip uninstall -y -q {shlex.quote(name)}"

    def command(self, step: InstallStep, exclude_newer: str, helpers_too: bool = False) -> str:
        words = [self.program]
        if exclude_newer:
            words.append(f"--exclude-newer {shlex.quote(exclude_newer)}")
            exempt = BUILD_BACKENDS + (BUILD_HELPERS if helpers_too else ())
            words += [f"--exclude-newer-package {name}={UNLIMITED}" for name in exempt]
        if step.editable:
            words.append(f"-e {shlex.quote(step.editable)}")
        words += [f"-r {shlex.quote(name)}" for name in step.requirement_files]
        words += [f"-e {shlex.quote(r[3:])}" if r.startswith("-e ") else shlex.quote(r) for r in step.requirements]
        return f"cd {WORKDIR} && " + " ".join(words)


def _ladder(box, plan: EnvPlan, installer: _Installer, clock: _Clock, result: SetupResult, progress, dates: tuple[str, ...]) -> None:
    """Install the first step that can be installed, trying each a few ways (see MAX_TRIES): resolved as of each
    of `dates` in turn ("" is the newest versions) when the one before fails; what failed before is kept as notes."""
    for step in plan.steps:
        staged, requirements, left_out = plan.staged, list(step.requirements), list[str]()
        later = list(dates[1:])
        when, earlier_failed = dates[0], list[tuple[str, Failure]]()
        helpers_too = False
        for _ in range(MAX_TRIES):
            if clock.left() < MIN_STEP_S:
                result.failures.append(Failure("the setup phase", "ran out of time", step.level))
                result.keep = False
                return
            current = InstallStep(step.level, step.editable, step.requirement_files, tuple(requirements), step.path_entries)
            progress(f"installing ({step.level}{f', as of {when}' if when else ''}): {current.describe()}")
            ran = box.run(installer.command(current, when, helpers_too), clock.left(), INSTALL_ENV)
            if ran.exit_code == 0 and not ran.timed_out:
                result.notes += [f"{_tried(date)}: {failure.line()}" for date, failure in earlier_failed]
                if helpers_too:
                    result.notes.append(f"as of {when}, with the newest {', '.join(BUILD_HELPERS)} for building the project")
                _installed(box, current, when, left_out, result)
                return
            label = step.level + (f", as of {when}" if when else "")
            failures = [Failure("the installer", f"timed out after {ran.duration_s:.0f}s", label)] if ran.timed_out else parse_failures(ran.output, label)
            if ran.timed_out or any(f.network for f in failures):
                result.failures += [failure for _, failure in earlier_failed] + failures
                result.keep = False
                return
            droppable = _droppable(failures, staged, requirements, plan)
            if droppable:
                result.failures += failures
                staged = staged.without(droppable)
                requirements = [r for r in requirements if requirement_name(r) != droppable]
                left_out.append(droppable)
                _stage(box, staged)
                continue
            if when and not helpers_too and any(f.what == "the project" and f.reason.startswith("build failed") for f in failures):
                earlier_failed += [(when, failure) for failure in failures]
                helpers_too = True
                continue
            if later:
                earlier_failed += [(when, failure) for failure in failures]
                when, helpers_too = later.pop(0), False
                continue
            result.failures += [failure for _, failure in earlier_failed] + failures
            break
        else:
            result.failures += [failure for _, failure in earlier_failed] + failures
        _stage(box, plan.staged)


def _optional(box, plan: EnvPlan, installer: _Installer, clock: _Clock, result: SetupResult, progress) -> None:
    """The optional packages the tests use, all in one call, else one by one; what does not install is a note.
    The project is named again, so that no optional package can replace it with a released copy. One that will
    not install as of the environment's date is tried as of the chosen Python's first months, when that is later
    (the optional packages of a 2020 commit had no wheels for Python 3.9 yet)."""
    if not plan.optional:
        return
    dates = [result.resolved_as_of]
    if result.resolved_as_of and plan.as_of_python > result.resolved_as_of:
        dates.append(plan.as_of_python)

    def install(requirements: tuple[str, ...]) -> bool:
        reasons: list[Failure] = []
        for when in dates:
            if clock.left() < MIN_STEP_S * 2:
                return False
            progress(f"installing (optional, for the tests{f', as of {when}' if when else ''}): {', '.join(requirements)}")
            ran = box.run(installer.command(InstallStep("optional", result.editable, (), requirements), when), clock.left() - MIN_STEP_S, INSTALL_ENV)
            _drop_cache(box)
            if ran.exit_code == 0 and not ran.timed_out:
                return True
            reasons = reasons or (parse_failures(ran.output, "optional") if not ran.timed_out else [Failure(requirements[0], "timed out", "optional")])
        if len(requirements) == 1:
            result.notes.append(f"optional {requirements[0]} not installed (its tests will skip): " + (reasons[0].line() if reasons else "the installer failed"))
        return False

    added = list(plan.optional) if install(plan.optional) else [r for r in plan.optional if len(plan.optional) > 1 and install((r,))]
    for requirement in plan.optional:
        source = git_source(requirement)
        if requirement not in added and source and _stand_in(box, source, installer, clock, result, progress):
            added.append(source.release)
    if added:
        result.installed += f"; optional for the tests: {', '.join(added)}"


def _stand_in(box, source: GitSource, installer: _Installer, clock: _Clock, result: SetupResult, progress) -> bool:
    """The index's newest release in place of a GitHub repository that could not be fetched, kept only when its
    metadata names that repository as its home (a package of the same name from someone else goes again)."""
    if clock.left() < MIN_STEP_S * 2:
        return False
    progress(f"installing {source.release} from the package index in place of {source.url}")
    ran = box.run(installer.command(InstallStep("optional", result.editable, (), (source.release,)), ""), clock.left() - MIN_STEP_S, INSTALL_ENV)
    _drop_cache(box)
    if ran.exit_code != 0 or ran.timed_out:
        result.notes.append(f"{source.release} (for {source.url}) not installed from the package index either")
        return False
    urls = box.run(f"{VENV}/bin/python -c {shlex.quote(_PACKAGE_URLS)} {shlex.quote(source.release)}", 60, None)
    # The whole repository path: github.com/owner/name-fork is someone else's home, not a longer spelling of it.
    if urls.exit_code == 0 and re.search(rf"(?<![\w-]){re.escape(source.home)}(?:\.git)?(?![\w.-])", urls.output.lower()):
        result.notes.append(f"{source.url} could not be fetched; the index's {source.release} names {source.home} as its home and stands in")
        return True
    box.run(installer.uninstall(source.release), 120, INSTALL_ENV)
    result.notes.append(f"{source.url} could not be fetched, and the index's {source.release} does not name {source.home} as its home: left out")
    return False


_PACKAGE_URLS = "import importlib.metadata as m, sys; d = m.metadata(sys.argv[1]); print(*(d.get_all('Project-URL') or []), d.get('Home-page') or '')"


def _tried(date: str) -> str:
    return f"as of {date}" if date else "with the newest versions"


def _droppable(failures: list[Failure], staged: Staged, requirements: list[str], plan: EnvPlan) -> str | None:
    """A requirement named by the failure that the plan itself asked for, and that the tests can live without."""
    own = normalize(plan.project.name) if plan.project.name else ""
    asked = staged.names() | {requirement_name(r) for r in requirements}
    for failure in failures:
        for name in reversed(failure.names):
            if name in asked and name not in ("pytest", own):
                return name
    return None


def _drop_cache(box) -> None:
    """The installer's cache, once what it held is in the environment: with the copies it keeps of every wheel, a
    second environment (the newest versions' trial) and the tests' optional packages, pvlib's setup outgrew the
    storage limit."""
    box.run(f"rm -rf {INSTALL_ENV['UV_CACHE_DIR']}", 120, None)


def _installed(box, step: InstallStep, as_of: str, left_out: list[str], result: SetupResult) -> None:
    _drop_cache(box)
    result.level = step.level
    result.editable = step.editable
    result.installed = step.describe() + (f" (left out: {', '.join(left_out)})" if left_out else "")
    result.resolved_as_of = as_of
    if step.path_entries:
        lines = "\\n".join(f"{WORKDIR}/{entry}".rstrip("/.") or WORKDIR for entry in step.path_entries)
        script = f"import site; open(site.getsitepackages()[0] + '/_loopwright_workspace.pth', 'w').write('{lines}\\n')"
        box.run(f"{VENV}/bin/python -c {shlex.quote(script)}", 60, None)
    has_pytest = box.run(f"{VENV}/bin/python -c 'import pytest'", 60, None)
    result.usable = has_pytest.exit_code == 0
    if not result.usable:
        result.failures.append(Failure("pytest", "not importable in the environment after the install", step.level))


def _retry_newest(box, plan: EnvPlan, installer: _Installer, clock: _Clock, result: SetupResult, progress) -> None:
    """Tests fail to collect with the versions of the commit's date: build the environment again with the newest
    versions, and keep them only when fewer test modules fail to collect and no fewer tests are collected (a broken
    conftest is one error and no test at all). Anything else goes to the commit's date, whose versions the tests were
    written against: newer releases drop what old tests use (click's `mix_stderr`, pytest's nose-style `setup`)."""
    dated = f"as of {result.resolved_as_of} {result.collection_errors} test modules failed to collect"
    progress(f"{dated}; trying the newest versions")
    trial = SetupResult(python=result.python, installer=result.installer)
    _must(box, f"rm -rf {VENV}.dated && mv {VENV} {VENV}.dated && python3 -m venv {VENV}", 120)
    _ladder(box, plan, installer, clock, trial, progress, ("",))
    if trial.usable:
        _optional(box, plan, installer, clock, trial, progress)
        _setup_commands(box, plan.setup_commands, clock, trial, progress)
        _collect(box, clock, trial, progress)
    fewer_errors = (trial.collection_errors or 0) < (result.collection_errors or 0)
    if trial.usable and trial.collected is not None and fewer_errors and trial.collected >= (result.collected or 0):
        trial.notes = result.notes + trial.notes + [dated]
        vars(result).update(vars(trial))
        box.run(f"rm -rf {VENV}.dated", 120, None)
        return
    outcome = f"{trial.collected} tests, {trial.collection_errors} collection errors" if trial.collected is not None else "no collection"
    result.notes.append(f"with the newest versions ({outcome}) the tests collected no better; the versions as of {result.resolved_as_of} were kept")
    _must(box, f"rm -rf {VENV} && mv {VENV}.dated {VENV}", 120)


def _setup_commands(box, commands: tuple[str, ...], clock: _Clock, result: SetupResult, progress) -> None:
    activate = f"export VIRTUAL_ENV={VENV} PATH={VENV}/bin:$PATH; cd {WORKDIR} && "
    for command in commands:
        if clock.left() < MIN_STEP_S:
            result.commands.append(CommandRun(command, None, True, "not run: the setup phase ran out of time"))
            result.keep = False
            continue
        progress(f"setup command: {command}")
        ran = box.run(activate + command, clock.left(), None)
        tail = "" if ran.exit_code == 0 else one_line(" | ".join(line.strip() for line in ran.output.strip().splitlines()[-4:] if line.strip()))
        result.commands.append(CommandRun(command, ran.exit_code, ran.timed_out, tail, ran.duration_s))
        if ran.timed_out:
            result.keep = False


def _collect(box, clock: _Clock, result: SetupResult, progress) -> None:
    """pytest --collect-only on a pristine copy: whether the tests import against this environment."""
    if clock.left() < MIN_STEP_S * 2:
        result.notes.append("no time left to check that the tests collect")
        return
    progress("checking that pytest collects the tests")
    restore = f"rm -rf {WORKDIR}/* {WORKDIR}/.[!.]* {WORKDIR}/..?* ; cp -a {PRISTINE}/workspace/. {WORKDIR}/"
    box.run(restore, 300, None)
    ran = box.run(
        f"cd {WORKDIR} && {VENV}/bin/python -m pytest --collect-only -q -p no:cacheprovider",
        min(COLLECT_TIMEOUT_S, clock.left()),
        {"PYTHONDONTWRITEBYTECODE": "1"},
    )
    collected, errors = parse_collection(ran.output)
    result.collected, result.collection_errors = collected, errors
    result.local_clashes = local_clashes(ran.output)
    if ran.timed_out:
        result.notes.append("collecting the tests timed out")


_ERROR_BLOCK = re.compile(r"^_{3,} ERROR collecting .*$", re.M)
_TEST_MODULE = re.compile(r"importing test module '([^']+)'")
_NO_MODULE = re.compile(r"No module named '([\w.]+)'")


def local_clashes(output: str) -> int:
    """Collection errors where a test module could not be imported under a name that is one of its own folders
    (`No module named 'test.linter_test'` for plugins/x/test/linter_test.py): pytest's import rules, not versions."""
    count = 0
    for block in _ERROR_BLOCK.split(output)[1:]:
        module, missing = _TEST_MODULE.search(block), _NO_MODULE.search(block)
        if module and missing and missing.group(1).split(".")[0] in module.group(1).split("/")[:-1]:
            count += 1
    return count


def parse_collection(output: str) -> tuple[int | None, int | None]:
    """(tests, errors) from pytest's `--collect-only -q`; (None, None) when it printed no summary line.

    The count comes from the summary where it has one, else from the node ids listed (older pytest prints
    only `2 errors in 0.5s` when some modules fail).
    """
    for line in reversed(output.strip().splitlines()):
        if re.search(r"\b(collected|no tests ran|errors?|warnings?)\b", line) and re.search(r"\bin [\d.]+s", line):
            tests = re.search(r"(\d+) tests? collected", line) or re.search(r"collected (\d+) items?", line)
            errors = re.search(r"(\d+) errors?", line)
            listed = sum(1 for entry in output.splitlines() if re.match(r"^\S+::\S", entry))
            return (int(tests.group(1)) if tests else listed), (int(errors.group(1)) if errors else 0)
    return None, None


def _packages(box) -> list[str]:
    script = "import importlib.metadata as m; print('\\n'.join(sorted({d.metadata['Name'] + '==' + d.version for d in m.distributions()})))"
    ran = box.run(f"{VENV}/bin/python -c {shlex.quote(script)}", 60, None)
    return [one_line(line, 80) for line in ran.output.splitlines() if "==" in line][:2000] if ran.exit_code == 0 else []


def _stage(box, staged: Staged) -> None:
    """Write the chosen requirement files, as the installer should read them, over the copy's."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in staged.files().items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(content))
    buffer.seek(0)
    box.put(WORKDIR, buffer)


def _must(box, command: str, timeout_s: float) -> ExecResult:
    ran = box.run(command, timeout_s, None)
    if ran.exit_code != 0 or ran.timed_out:
        raise SetupFailed(f"`{command.split(' && ')[0][:80]}` failed: {one_line(ran.output[-400:]) or 'no output'}")
    return ran


class SetupFailed(Exception):
    """The setup container could not do what every setup needs (copy the repository, make a virtual environment)."""

