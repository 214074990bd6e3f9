"""A test run as a compact report the model can act on, and the verdict on whether it passed.

The results come from the runner's own account (see runner_report.py) wherever it wrote one; otherwise
only the exit code decides, with what can be read from the output for display.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from loopwright.tools.runner_report import Document, Frame, Location

FAILING = ("failed", "error")
RAN = ("passed", "failed", "error", "xfailed", "xpassed")
OUTSIDE = "tested code outside the repository"
NOTHING_COLLECTED = "no tests collected"
NOTHING_RAN = "no test ran"
BUILD_FAILED = "the build failed"
MAX_MESSAGE_CHARS = 4_000
"""Per failure in `render()`; the whole report is clipped again by the tool."""
HEADLINE_CHARS = 200
"""The message's first line after the node id, as pytest's short summary has it; the whole message follows."""

_SUMMARY = re.compile(r"^=+ (.*\b(passed|failed|error|errors|skipped|no tests ran)\b.*) in [\d.]+s.*=+$", re.M)
_QUIET_SUMMARY = re.compile(r"^(\d+ (?:passed|failed|errors?|skipped).*?) in [\d.]+s", re.M)
_SHORT = re.compile(r"^(FAILED|ERROR) (\S+)(?: - (.*))?$", re.M)
_SECTION = re.compile(r"^_{3,} (.+?) _{3,}$", re.M)
_COUNTS = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")


@dataclass(frozen=True)
class Failure:
    test_id: str
    message: str
    frames: str = ""
    """The frames that matter, rendered: the test's own and the project's, innermost last."""
    outcome: str = "failed"
    """`failed` (the test itself) or `error` (its setup or teardown)."""
    crash: str = ""
    """`path:line` where the exception was raised."""
    where: Location | None = None
    """The line of the test that failed, in the repository's own files: the first frame in the test's file,
    else the innermost frame in the project's code; None without a structured report or such a frame."""


@dataclass(frozen=True)
class CollectionError:
    """A test file that could not be collected, with what stopped it (the ImportError, the SyntaxError...)."""

    node_id: str
    cause: str
    location: str = ""
    frames: str = ""


@dataclass(frozen=True)
class BuildError:
    """A compiler's (or build tool's) error: the build stopped, so the tests it would have built did not run."""

    location: str
    """`path:line` (or `path:line:column`) where the compiler points; the tool's name when it names no file."""
    message: str


@dataclass(frozen=True)
class OutsideImport:
    """A package the repository defines that the tests imported from elsewhere (e.g. the image's site-packages)."""

    name: str
    origin: str


@dataclass(frozen=True)
class TestReport:
    exit_code: int
    command: str = ""
    """The command that ran, as the user or the detection gave it, with the selector."""
    counts: dict[str, int] = field(default_factory=dict)
    failures: tuple[Failure, ...] = ()
    timed_out: bool = False
    tail: str = ""
    outcomes: dict[str, str] = field(default_factory=dict)
    """Node id -> passed / failed / error / skipped / xfailed / xpassed, from the runner's own report."""
    collection_errors: tuple[CollectionError, ...] = ()
    collected: int | None = None
    """How many tests the runner collected; None when it did not say (no structured report)."""
    outside_imports: tuple[OutsideImport, ...] = ()
    structured: bool = False
    """Whether the results come from the runner's own report rather than the exit code alone."""
    note: str = ""
    """Why there is no structured report, when there is none."""
    build_errors: tuple[BuildError, ...] = ()
    """Compile errors with their file and line (Go, Rust, C/C++): the tests they stopped never ran."""

    @classmethod
    def per_test(cls, outcomes: dict[str, str], failures: Sequence[Failure], **fields: Any) -> TestReport:
        """A structured report from a runner's per-test outcomes (node id -> outcome): the counts are theirs, and
        `collected` is their number unless `fields` says otherwise."""
        fields.setdefault("collected", len(outcomes))
        fields.setdefault("structured", True)
        return cls(counts=dict(Counter(outcomes.values())), outcomes=outcomes, failures=tuple(failures), **fields)

    @property
    def passed(self) -> bool:
        return not self.problem

    @property
    def problem(self) -> str:
        """Why this run is not a pass; "" when it is one."""
        if self.timed_out:
            return "timed out"
        if self.outside_imports:
            return OUTSIDE
        if self.build_errors:
            return BUILD_FAILED
        if self.collection_errors:
            return "errors collecting tests"
        if any(outcome in FAILING for outcome in self.outcomes.values()) or self.failures:
            return "tests failed"
        if self.structured and not self.collected:
            return NOTHING_COLLECTED
        if self.structured and not any(outcome in RAN for outcome in self.outcomes.values()):
            return NOTHING_RAN
        if self.exit_code != 0:
            return f"the command exited with {self.exit_code}"
        if not self.structured and self.counts and not any(self.counts.get(kind) for kind in RAN):
            return NOTHING_RAN
        return ""

    def render(self, max_failures: int = 10) -> str:
        counts = self._counts()
        lines = [f"{self._head()} exit code {self.exit_code}" + (f"; {counts}" if counts else "")]
        if self.command:
            lines.append(f"command: {self.command}")
        if not self.structured:
            lines.append(f"results: from the exit code and the output text; {self.note or 'the runner wrote no report'}")
        if self.outside_imports:
            lines.append(
                "\nTested code outside the repository: the repository defines these, but the tests imported them from elsewhere,"
                " so its own code was not tested:"
            )
            lines += [f"    {item.name} from {item.origin}" for item in self.outside_imports]
        for built in self.build_errors[:max_failures * 2]:
            lines.append(f"\nBUILD ERROR {built.location}: {_clip(built.message, HEADLINE_CHARS * 5)}")
        if len(self.build_errors) > max_failures * 2:
            lines.append(f"\n[{len(self.build_errors) - max_failures * 2} more build errors not shown]")
        for error in self.collection_errors:
            lines.append(f"\nERROR collecting {error.node_id}" + (f" ({error.location})" if error.location else ""))
            lines.append(_indent(_clip(error.cause), "E   "))
            lines += [error.frames] if error.frames else []
        for failure in self.failures[:max_failures]:
            lines += self._failure_lines(failure)
        if len(self.failures) > max_failures:
            lines.append(f"\n[{len(self.failures) - max_failures} more failures not shown]")
        if self.problem and not (self.failures or self.collection_errors or self.outside_imports or self.build_errors) and self.tail:
            lines.append("\nLast output:\n" + self.tail)
        return "\n".join(lines)

    def _failure_lines(self, failure: Failure) -> list[str]:
        if not self.structured:
            # Read from pytest's text: its short summary line, and the end of the failure's section.
            return [f"\n{failure.outcome.upper()} {failure.test_id}" + (f" - {failure.message}" if failure.message else "")] + (
                [failure.frames] if failure.frames else []
            )
        headline = failure.message.splitlines()[0] if failure.message else ""
        if len(headline) > HEADLINE_CHARS:
            headline = headline[: HEADLINE_CHARS - 3] + "..."
        lines = [f"\n{failure.outcome.upper()} {failure.test_id}" + (f" - {headline}" if headline else "")]
        lines += [failure.frames] if failure.frames else []
        if failure.crash and f"    {failure.crash}: in " not in failure.frames:
            lines.append(f"    raised at {failure.crash}")
        if failure.message:
            lines.append(_indent(_clip(failure.message), "E   "))
        return lines

    def _head(self) -> str:
        problem = self.problem
        if not problem:
            return "Tests PASSED."
        if self.timed_out:
            return "Tests TIMED OUT (killed)."
        if problem in (OUTSIDE, NOTHING_COLLECTED, NOTHING_RAN, BUILD_FAILED):
            return f"Tests NOT PASSED: {problem}."
        return "Tests FAILED."

    def _counts(self) -> str:
        parts = [f"{n} {'errors' if kind == 'error' and n != 1 else kind}" for kind, n in self.counts.items()]
        if self.collection_errors:
            n = len(self.collection_errors)
            parts.append(f"{n} error{'s' if n != 1 else ''} collecting tests")
        return ", ".join(parts)


def from_documents(documents: Sequence[Document], command: str, exit_code: int, timed_out: bool, tail: str = "") -> TestReport:
    """The report of a run whose pytest sessions wrote their own account (one document per session)."""
    outcomes: dict[str, str] = {}
    failures: dict[str, Failure] = {}
    errors: list[CollectionError] = []
    outside: dict[str, OutsideImport] = {}
    collected = 0
    for document in documents:
        collected += document.collected
        for test in document.tests:
            outcomes[test.nodeid] = test.outcome
            failures.pop(test.nodeid, None)
            if test.outcome in FAILING:
                failures[test.nodeid] = Failure(
                    test_id=test.nodeid,
                    message=test.message,
                    frames=_frames(test.frames),
                    outcome=test.outcome,
                    crash=_location(test.crash),
                    where=_where(test.nodeid, test.frames),
                )
        errors += [
            CollectionError(node_id=e.nodeid, cause=e.error, location=_location(e.location), frames=_frames(e.frames))
            for e in document.collection_errors
        ]
        for item in document.outside_imports:
            outside.setdefault(item.name, OutsideImport(item.name, item.origin))
    return TestReport.per_test(
        outcomes,
        tuple(failures.values()),
        exit_code=exit_code,
        command=command,
        timed_out=timed_out,
        tail=tail,
        collection_errors=tuple(errors),
        # Reports of other processes (xdist workers) reach the session without its own collection.
        collected=max(collected, len(outcomes)),
        outside_imports=tuple(outside.values()),
    )


def parse(output: str, exit_code: int, timed_out: bool = False, tail_lines: int = 40, command: str = "", note: str = "") -> TestReport:
    """Without the runner's own report: the exit code decides; pytest's text, where it looks like pytest,
    gives counts and failures to show."""
    counts: dict[str, int] = {}
    summary = _SUMMARY.findall(output) or _QUIET_SUMMARY.findall(output)
    if summary:
        last = summary[-1][0] if isinstance(summary[-1], tuple) else summary[-1]
        for number, kind in _COUNTS.findall(last):
            counts["error" if kind in ("error", "errors") else kind] = int(number)
    frames = _frames_by_test(output)
    failures = []
    if exit_code != 0 or timed_out:
        for kind, test_id, message in _SHORT.findall(output):
            name = test_id.split("::")[-1]
            failures.append(Failure(test_id=test_id, message=(message or kind).strip(), frames=frames.get(name, ""), outcome=kind.lower()))
    tail = "\n".join(output.rstrip().splitlines()[-tail_lines:])
    return TestReport(exit_code=exit_code, command=command, counts=counts, failures=tuple(failures), timed_out=timed_out, tail=tail, note=note)


def _frames(frames: Sequence[Frame]) -> str:
    """pytest's short traceback style."""
    lines = []
    for frame in frames:
        lines.append(f"    {frame.path}:{frame.line}: in {frame.function}")
        if frame.source:
            lines.append(f"        {frame.source}")
    return "\n".join(lines)


def _where(nodeid: str, frames: Sequence[Frame]) -> Location | None:
    test_file = nodeid.split("::")[0]
    frame = next((f for f in frames if f.path == test_file), frames[-1] if frames else None)
    return Location(path=frame.path, line=frame.line) if frame else None


def _location(location: Location | None) -> str:
    return f"{location.path}:{location.line}" if location else ""


def _clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... {len(text) - limit} characters of the message cut]"


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _frames_by_test(output: str, keep: int = 14) -> dict[str, str]:
    """The last lines of each failure section (where pytest prints the failing frames and `E` lines),
    keyed like the last part of a node id."""
    sections: dict[str, str] = {}
    matches = list(_SECTION.finditer(output))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(output)
        body = output[match.end() : end]
        body = re.split(r"^(?:=+ (?:short test summary info|warnings summary) =+|-+ Captured .*-+)$", body, maxsplit=1, flags=re.M)[0]
        body_lines = [line for line in body.strip("\n").splitlines() if line.strip()]
        sections[_section_key(match.group(1))] = "\n".join("    " + line for line in body_lines[-keep:])
    return sections


def _section_key(header: str) -> str:
    """`TestCalc.test_add[1.5]` -> `test_add[1.5]`, as the node id `...::TestCalc::test_add[1.5]` ends."""
    base, bracket, params = header.partition("[")
    return base.split(".")[-1] + bracket + params
