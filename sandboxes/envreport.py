"""The result of a project's setup phase, and what an installer's output says went wrong.

`SetupReport` is what the setup phase hands on: the Python and why, what was installed, what failed
(package and reason, one line each), the setup commands' outcomes and every choice made on the way.
It is stored with the environment's image (a JSON label the host writes) so a cached environment
reports the same. `parse_failures` reads uv's or pip's output into `Failure`s.

Public: `Failure`, `CommandRun`, `SetupReport`, `parse_failures`, `one_line`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields

LINE_WIDTH = 240
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_NETWORK = re.compile(
    r"(Failed to fetch|error sending request|Connection refused|Connection reset|dns error|Temporary failure in name resolution"
    r"|Name or service not known|Network is unreachable|NewConnectionError|ConnectTimeout|Read timed out|Could not fetch URL"
    r"|operation timed out|tcp connect error)",
    re.IGNORECASE,
)


def one_line(text: str, width: int = LINE_WIDTH) -> str:
    """Text from inside a container made safe to show: one line, no control characters, bounded."""
    text = _CONTROL.sub("", _ANSI.sub("", text.replace("\n", " ").replace("\t", " ")))
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= width else text[: width - 3] + "..."


@dataclass(frozen=True)
class Failure:
    what: str
    """The package, file or command that failed (`the project` for the repository itself)."""
    reason: str
    step: str = ""
    """The install step it happened in, or `setup command`."""
    names: tuple[str, ...] = ()
    """Package names the failure is about, most to blame last (for leaving one out and trying again)."""
    network: bool = False
    """It looks like the index could not be reached: a result not to keep."""

    def line(self) -> str:
        where = f" [{self.step}]" if self.step else ""
        return f"{self.what}: {self.reason}{where}"

    def __str__(self) -> str:
        return self.line()


@dataclass(frozen=True)
class CommandRun:
    command: str
    exit_code: int | None
    timed_out: bool = False
    output_tail: str = ""
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def line(self) -> str:
        if self.ok:
            return f"`{self.command}`: ok ({self.duration_s:.0f}s)"
        status = f"timed out after {self.duration_s:.0f}s" if self.timed_out else f"failed with exit {self.exit_code}"
        return f"`{self.command}`: {status}: {self.output_tail or '(no output)'}"


@dataclass(frozen=True)
class SetupReport:
    """What the setup phase made. Strings in it that came from a container went through `one_line`."""

    python: str
    """The Python version in the environment (`3.11.2`)."""
    python_reason: str
    image: str
    """The environment's image, `loopwright-env:<key>`; the base image when nothing was installed."""
    base_image: str
    level: str
    """How far the fallbacks went: project+tests, tests, project or nothing (see envplan.FALLBACKS)."""
    installed: str = ""
    """The install step that succeeded, in words."""
    packages: tuple[str, ...] = ()
    """name==version of everything in the environment."""
    failures: tuple[Failure, ...] = ()
    decisions: tuple[str, ...] = ()
    setup_commands: tuple[CommandRun, ...] = ()
    resolved_as_of: str = ""
    """The moment the dependencies were resolved as of (the start of the month after the commit); "" for the newest."""
    resolved_why: str = "the versions of the commit's time"
    """What that moment is, in words."""
    installer: str = ""
    collected: int | None = None
    """Tests pytest collected at the end of the setup phase; None when it did not run."""
    collection_errors: int | None = None
    cached: bool = False
    """Whether the environment already existed, so this session installed nothing."""
    kept: bool = True
    """Whether the environment was stored for later sessions (not after a network failure or a timeout)."""
    duration_s: float = 0.0
    notes: tuple[str, ...] = ()
    venv: str = ""
    """The virtual environment's folder, first on PATH in the sandbox ("" when there is none)."""
    language: str = ""
    """The toolchain's language (`go`, `rust`, `cpp`; see sandboxes/toolchains); "" for Python."""
    toolchain: str = ""
    """The toolchain's version, as it says it (`go version go1.24.4 linux/amd64`)."""
    test_command: str = ""
    """The toolchain's test command (a language's environment only)."""

    @property
    def ok(self) -> bool:
        return not self.failures and all(run.ok for run in self.setup_commands)

    def lines(self) -> list[str]:
        """For a person: everything, one fact a line."""
        if self.language:
            return self._language_lines()
        out = [f"Python {self.python}: {self.python_reason}"]
        state = "cached" if self.cached else ("built" if self.kept else "built, not kept")
        out.append(f"environment: {self.image} ({state}{f', {self.duration_s:.0f}s' if not self.cached else ''})")
        out.append(f"installed ({self.level}): {self.installed or 'nothing'}")
        if self.resolved_as_of:
            out.append(f"dependencies resolved as of {self.resolved_as_of} ({self.resolved_why})")
        if self.packages:
            out.append(f"packages: {len(self.packages)} ({', '.join(self.packages[:12])}{', ...' if len(self.packages) > 12 else ''})")
        out += [f"failed: {failure.line()}" for failure in self.failures]
        out += [f"setup command {run.line()}" for run in self.setup_commands]
        if self.collected is not None:
            out.append(f"pytest collected {self.collected} tests" + (f", {self.collection_errors} collection errors" if self.collection_errors else ""))
        out += [f"why: {decision}" for decision in self.decisions]
        out += [f"note: {note}" for note in self.notes]
        return out

    def _language_lines(self) -> list[str]:
        out = [f"language: {self.language} ({self.python_reason})", f"toolchain: {self.toolchain or 'unknown'}"]
        state = "cached" if self.cached else ("built" if self.kept else "built, not kept")
        out.append(f"environment: {self.image} ({state}{f', {self.duration_s:.0f}s' if not self.cached else ''})")
        out.append(f"fetched: {self.installed or 'nothing'}")
        if self.packages:
            out.append(f"dependencies: {len(self.packages)} ({', '.join(self.packages[:12])}{', ...' if len(self.packages) > 12 else ''})")
        out += [f"failed: {failure.line()}" for failure in self.failures]
        out += [f"setup {run.line()}" for run in self.setup_commands]
        out += [f"why: {decision}" for decision in self.decisions]
        out += [f"note: {note}" for note in self.notes]
        if self.test_command:
            out.append(f"test command: {self.test_command}")
        return out

    def summary(self) -> str:
        """For the model: what it needs to know before its first command, in a few lines."""
        if self.language:
            out = [f"{self.toolchain or self.language}; dependencies: {self.installed or 'none fetched'}."]
            out += [f"Could not set up: {failure.line()}" for failure in self.failures]
            out.append("The network is off: dependencies that were not fetched cannot be had now." + (f" Tests: `{self.test_command}`." if self.test_command else ""))
            return "\n".join(out)
        out = [f"Python {self.python} in a virtual environment{f' ({self.venv})' if self.venv else ''}, first on PATH."]
        out.append(f"Installed: {self.installed or 'nothing'}.")
        if self.resolved_as_of:
            out.append(f"Dependencies were resolved as of {self.resolved_as_of}, {self.resolved_why}.")
        for failure in self.failures:
            out.append(f"Could not install {failure.line()}")
        for run in self.setup_commands:
            if not run.ok:
                out.append(f"Setup command {run.line()}")
        if self.failures:
            out.append("Tests that need what failed to install will fail to import; the network is off, so do not try to install it.")
        return "\n".join(out)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SetupReport | None:
        """The report stored with an image, or None when it is missing or not one of ours."""
        try:
            data = json.loads(text)
            data["failures"] = tuple(Failure(**{**f, "names": tuple(f.get("names", ()))}) for f in data.get("failures", ()))
            data["setup_commands"] = tuple(CommandRun(**c) for c in data.get("setup_commands", ()))
            known = {f.name for f in fields(cls)}
            data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
            return cls(**data)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def parse_failures(output: str, step: str = "") -> list[Failure]:
    """What uv's or pip's output says failed; one Failure per cause, never empty for a failed run."""
    lines = [_ANSI.sub("", line).rstrip() for line in output.splitlines()]
    network = bool(_NETWORK.search(output))
    found = _uv(lines, step, network) or _pip(lines, step, network)
    if not found:
        errors = [line for line in lines if re.match(r"^\s*(error|ERROR)\b", line)]
        tail = errors[-1] if errors else next((line for line in reversed(lines) if line.strip()), "no output")
        found = [Failure("the install", one_line(tail), step, (), network)]
    return found


def _uv(lines: list[str], step: str, network: bool) -> list[Failure]:
    start = next((i for i, line in enumerate(lines) if line.startswith("error:")), None)
    if start is None:
        return []
    head = lines[start][len("error:") :].strip()
    causes: list[str] = []
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if stripped.startswith("cause:"):
            causes.append(stripped[len("cause:") :].strip())
        elif stripped.startswith("hint:"):
            break
        elif causes and stripped and not stripped.startswith("["):
            causes[-1] += " " + stripped
    detail = _last_error_line(lines[start + 1 :])
    built = re.match(r"Failed to (?:build|download and build|prepare distributions|fetch wheel)[: ]*`?([^`]+?)`?$", head)
    for cause in causes:
        built = built or re.match(r"Failed to (?:build|download and build|fetch wheel)[: ]*`?([^`]+?)`?$", cause)
    if "No solution found" in head:
        text = " ".join(causes) or head
        names = _required_names(text)
        missing = re.search(r"Because ([A-Za-z0-9._-]+) was not found in the package registry", text)
        no_version = re.search(r"there (?:is no version|are no versions) of ([A-Za-z0-9._-]+)([^ ,]*)", text)
        if missing:
            return [Failure(missing.group(1), "not found in the package index", step, (_norm(missing.group(1)),), network)]
        if no_version:
            spec = no_version.group(1) + no_version.group(2)
            return [Failure(no_version.group(1), f"no version matches {spec}", step, (*names, _norm(no_version.group(1))), network)]
        return [Failure(names[-1] if names else "the requirements", "conflict: " + _condense(text), step, tuple(names), network)]
    if built:
        target = built.group(1).strip()
        what = "the project" if " @ file://" in target or target.startswith("file://") else target.split("==")[0].split(" @ ")[0]
        reason = f"build failed: {detail}" if detail else "build failed"
        return [Failure(what, one_line(reason), step, () if what == "the project" else (_norm(what),), network)]
    if "build backend returned an error" in head or any("build_editable" in c or "build_wheel" in c for c in causes):
        return [Failure("the project", one_line(f"build failed: {detail or _condense(' '.join(causes))}"), step, (), network)]
    if head.startswith("File not found"):
        return [Failure(head.split(":", 1)[1].strip(" `"), "file not found", step, (), network)]
    reason = _condense(" ".join([head, *causes[-1:]]))
    return [Failure("the package index" if network else "the install", one_line(reason), step, (), network)]


def _pip(lines: list[str], step: str, network: bool) -> list[Failure]:
    text = "\n".join(lines)
    found: list[Failure] = []
    for match in re.finditer(r"No matching distribution found for ([A-Za-z0-9._-]+)(\S*)", text):
        found.append(Failure(match.group(1), f"no version matches {match.group(1)}{match.group(2)}", step, (_norm(match.group(1)),), network))
    if found:
        return found
    conflict = re.search(r"Cannot install (.+?) because these package versions have conflicting dependencies", text)
    if conflict or "ResolutionImpossible" in text:
        causes = re.findall(r"^\s+(?:The user requested|[A-Za-z0-9._-]+ [0-9][^ ]* depends on) (.+)$", text, re.MULTILINE)
        names = _required_names(" ".join("you require " + c for c in causes))
        reason = "conflict: " + _condense("; ".join(causes) or (conflict.group(1) if conflict else "ResolutionImpossible"))
        return [Failure(names[-1] if names else "the requirements", one_line(reason), step, tuple(names), network)]
    failed_build = re.search(r"(?:Failed building wheel for|Failed to build) ([A-Za-z0-9._-]+)", text)
    if failed_build or "subprocess-exited-with-error" in text:
        detail = _last_error_line(lines)
        what = failed_build.group(1) if failed_build else "the project"
        return [Failure(what, one_line(f"build failed: {detail}" if detail else "build failed"), step, (_norm(what),) if failed_build else (), network)]
    if network:
        error = next((line for line in reversed(lines) if "ERROR" in line or "Could not fetch" in line), "")
        return [Failure("the package index", one_line(error or "could not be reached"), step, (), True)]
    return []


def _last_error_line(lines: list[str]) -> str:
    """The line of a build's output that says what went wrong (`RuntimeError: ...`), if one does."""
    for line in reversed(lines):
        stripped = line.strip()
        if re.match(r"^([A-Za-z_][\w.]*(Error|Exception|Exit)\b|error:|fatal error|ERROR:)", stripped) and "subprocess-exited" not in stripped:
            return one_line(stripped)
    for line in reversed(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith(("hint:", "[", "note:", "cause:", "error:", "╰", "│", "×")):
            return one_line(stripped)
    return ""


def _required_names(text: str) -> list[str]:
    names = [_norm(m) for m in re.findall(r"you require ([A-Za-z0-9][A-Za-z0-9._-]*)", text)]
    return list(dict.fromkeys(names))


def _condense(text: str) -> str:
    text = re.sub(r",? we can conclude that [^.]*\.?", ".", text)
    text = re.sub(r"\s+", " ", text).replace(" .", ".").replace("..", ".")
    return one_line(text)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
