"""The setup phase of a language's toolchain inside its container: a copy of the repository, the plan's
commands (fetching with the network on, then building the tests offline), and the build caches kept for the
agent phase. A fetch that cannot reach its source runs its fallback, a second source in the image, when the
plan gives one (Rust's Debian crate registry when crates.io cannot be reached).

Like envsetup.py for Python, this module knows nothing of Docker: the container is a `SetupContainer`
(`run(command, timeout_s, env)` and `put(folder, tar_file)`).

Public: `LanguageSetup`, `run_language_setup`, `finish_language`.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from loopwright.sandboxes.envreport import CommandRun, Failure, one_line
from loopwright.sandboxes.envsetup import PRISTINE, WORKDIR, SetupContainer, SetupFailed
from loopwright.sandboxes.toolchains.base import WARM, WARM_SCRIPT, SetupStep, ToolchainPlan, warm_name, warm_script

MIN_STEP_S = 5.0
WARM_LIMIT = 768 << 20
"""A build cache larger than this is not kept: the agent phase copies it into its /tmp, which lives in memory."""
_NETWORK_HINTS = (
    "dial tcp", "no such host", "i/o timeout", "connection refused", "network is unreachable", "could not resolve host",
    "failed to download", "failed to query replaced source", "temporary failure in name resolution", "timed out",
    "failed to get", "proxy.golang.org", "index.crates.io", "couldn't resolve host", "failed to fetch",
)


_TRAILER = re.compile(r"^\[ERROR\]\s*(?:$|To see the full stack trace|Re-run Maven|For more information about the errors|\[Help \d+\]|-> \[Help)")
"""Maven's closing advice after a failure, which would otherwise fill the tail the report shows in place of the cause."""


@dataclass
class LanguageSetup:
    toolchain: str = ""
    """The toolchain's version, as it says it."""
    commands: list[CommandRun] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    """The fetching commands that succeeded (a fallback's in place of the step it stood in for)."""
    notes: list[str] = field(default_factory=list)
    keep: bool = True
    """Whether to store the result for later sessions (not after a network failure or running out of time)."""


def run_language_setup(
    box: SetupContainer, plan: ToolchainPlan, copy: BinaryIO, *, setup_commands: tuple[str, ...], deadline: float, progress: Callable[[str], None]
) -> LanguageSetup:
    """Carry out `plan` (and the user's setup commands after it) on `copy`, the tar of the repository (see workcopy)."""
    result = LanguageSetup()
    _must(box, f"mkdir -p {PRISTINE} {WORKDIR} {WARM}", 30)
    box.put(PRISTINE, copy)
    _must(box, f"cp -a {PRISTINE}/workspace/. {WORKDIR}/", 300)
    box.run(f"[ ! -x {WARM_SCRIPT} ] || {WARM_SCRIPT}", 300, None)  # the image's own caches (toolchains.base.Toolchain.image_warmup)
    if plan.version_command:
        version = box.run(plan.version_command, 60, None)
        result.toolchain = " / ".join(one_line(line, 120) for line in version.output.strip().splitlines()[:2]) if version.exit_code == 0 else ""
    failed_fetch = False
    for step in plan.steps:
        env = plan.setup_env if step.network else {}
        done = _step(box, step.name, step.command, env, deadline, result, progress)
        if done is not None and not done[0].ok and step.network and step.fallback is not None and _says_network(done[0]):
            done = _fall_back(box, step, done[0], step.fallback, env, deadline, result, progress)
            step = step.fallback
        if done is None:
            return result
        ran, output = done
        if ran.ok and step.network:
            result.fetched.append(ran.command)
        if not ran.ok:
            result.failures.append(Failure(step.name, f"`{step.command}` {_status(ran)}: {ran.output_tail or '(no output)'}", "setup"))
            if step.network:
                failed_fetch = True
                result.keep = result.keep and not _says_network(ran)
            lacking = _lacks(step, output)
            if lacking:
                result.notes.append(f"{step.name}: its source lacks {', '.join(lacking)}")
        if failed_fetch and not step.network:
            result.notes.append(f"{step.name} ran after a failed fetch: what could not be fetched is missing offline")
            failed_fetch = False  # said once
    for command in setup_commands:
        if _step(box, "setup command", command, plan.setup_env, deadline, result, progress) is None:
            return result
    if plan.packages_command:
        listed = box.run(f"cd {WORKDIR} && {plan.packages_command}", 120, plan.setup_env)
        if listed.exit_code == 0:
            result.packages = [one_line(line, 120) for line in listed.output.splitlines() if line.strip()][:2000]
    _keep_warm(box, plan, result)
    return result


def finish_language(box: SetupContainer, session_marker: str) -> None:
    """Leave only the environment: the copy and /tmp go; what the agent phase reads is readable by any user."""
    script = (
        f"rm -rf {WORKDIR}/* {WORKDIR}/.[!.]* {WORKDIR}/..?* {PRISTINE} /tmp/* /tmp/.[!.]* /root/.cache"
        f" && chmod -R a+rX /opt/loopwright"
        f" && mkdir -p /etc/loopwright && echo {shlex.quote(session_marker)} > /etc/loopwright/setup-session"
    )
    _must(box, script, 300)


def _step(box: SetupContainer, name: str, command: str, env: dict[str, str], deadline: float, result: LanguageSetup, progress) -> tuple[CommandRun, str] | None:
    """Run one command of the setup phase: its record (kept in `result`) and its whole output; None when out of time."""
    left = deadline - time.monotonic()
    if left < MIN_STEP_S:
        result.commands.append(CommandRun(command, None, True, "not run: the setup phase ran out of time"))
        result.failures.append(Failure(name, "the setup phase ran out of time", "setup"))
        result.keep = False
        return None
    progress(f"setup: {name}: {command}")
    ran = box.run(f"cd {WORKDIR} && {command}", left, env or None)
    lines = [line.strip() for line in ran.output.strip().splitlines() if line.strip() and not _TRAILER.match(line.strip())]
    tail = "" if ran.exit_code == 0 else one_line(" | ".join(lines[-6:]), 600)
    done = CommandRun(command, ran.exit_code, ran.timed_out, tail, ran.duration_s)
    result.commands.append(done)
    if ran.timed_out:
        result.keep = False
    return done, ran.output


def _fall_back(
    box: SetupContainer, step: SetupStep, first: CommandRun, fallback: SetupStep, env: dict[str, str], deadline: float, result: LanguageSetup, progress
) -> tuple[CommandRun, str] | None:
    """`step` could not reach its source (`first` is how it failed): its fallback, and a note on which source served.

    When the fallback serves, the network's failure counts for nothing: the environment is whole. When it fails
    too, both failures are reported and the result is not kept, so a later session tries the first source again."""
    done = _step(box, fallback.name, fallback.command, env, deadline, result, progress)
    if done is None:
        return None
    if done[0].ok:
        result.notes.append(f"{step.name}: `{step.command}` could not reach its source; {fallback.name} served instead, for the agent phase too")
    else:
        result.failures.append(Failure(step.name, f"`{step.command}` {_status(first)}: {first.output_tail or '(no output)'}", "setup"))
        result.keep = False
    return done


def _says_network(ran: CommandRun) -> bool:
    return any(hint in ran.output_tail.lower() for hint in _NETWORK_HINTS)


def _lacks(step: SetupStep, output: str) -> list[str]:
    """What `step`'s failed output says its source lacks (SetupStep.lacks), each once, in order, shown safely."""
    if not step.lacks:
        return []
    found = [one_line(match if isinstance(match, str) else match[0], 80) for match in re.findall(step.lacks, output)]
    return list(dict.fromkeys(name for name in found if name))[:20]


def _keep_warm(box: SetupContainer, plan: ToolchainPlan, result: LanguageSetup) -> None:
    """Copy the build caches under /tmp into the image, with the script that puts them back, when they are small enough."""
    kept = []
    for folder in plan.warm:
        sized = box.run(f"du -sb {shlex.quote(folder)} 2>/dev/null | cut -f1", 120, None)
        size = int(sized.output.strip() or 0) if sized.output.strip().isdigit() else 0
        if not size:
            continue
        if size > WARM_LIMIT:
            result.notes.append(f"the build cache {folder} ({size >> 20} MiB) is too large to keep; the agent phase builds from scratch")
            continue
        name = warm_name(folder)
        if box.run(f"rm -rf {WARM}/{name} && cp -a {shlex.quote(folder)} {WARM}/{name}", 300, None).exit_code == 0:
            kept.append(folder)
    if kept:
        _must(box, f"printf %s {shlex.quote(warm_script(kept))} > {WARM_SCRIPT} && chmod 0755 {WARM_SCRIPT}", 30)
        result.notes.append("the agent phase starts from the setup phase's build: " + ", ".join(kept))


def _status(ran: CommandRun) -> str:
    return f"timed out after {ran.duration_s:.0f}s" if ran.timed_out else f"failed with exit {ran.exit_code}"


def _must(box: SetupContainer, command: str, timeout_s: float) -> None:
    ran = box.run(command, timeout_s, None)
    if ran.exit_code != 0 or ran.timed_out:
        raise SetupFailed(f"`{command.split(' && ')[0][:80]}` failed: {one_line(ran.output[-400:]) or 'no output'}")
