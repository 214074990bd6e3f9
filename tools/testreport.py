"""Turns a test run's raw output into a compact report the model can act on."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class TestReport:
    exit_code: int
    passed: bool
    counts: dict[str, int] = field(default_factory=dict)
    failures: tuple[Failure, ...] = ()
    timed_out: bool = False
    tail: str = ""

    def render(self, max_failures: int = 10) -> str:
        if self.timed_out:
            head = "Tests TIMED OUT (killed)."
        elif self.passed:
            head = "Tests PASSED."
        else:
            head = "Tests FAILED."
        counts = ", ".join(f"{n} {kind}" for kind, n in self.counts.items())
        lines = [f"{head} exit code {self.exit_code}" + (f"; {counts}" if counts else "")]
        for failure in self.failures[:max_failures]:
            lines.append(f"\nFAILED {failure.test_id}" + (f" - {failure.message}" if failure.message else ""))
            if failure.frames:
                lines.append(failure.frames)
        if len(self.failures) > max_failures:
            lines.append(f"\n[{len(self.failures) - max_failures} more failures not shown]")
        if not self.passed and not self.failures and self.tail:
            lines.append("\nLast output:\n" + self.tail)
        return "\n".join(lines)


def parse(output: str, exit_code: int, timed_out: bool = False, tail_lines: int = 40) -> TestReport:
    """Read pytest's output where it looks like pytest; otherwise keep the exit code and the tail."""
    counts: dict[str, int] = {}
    summary = _SUMMARY.findall(output) or _QUIET_SUMMARY.findall(output)
    if summary:
        last = summary[-1][0] if isinstance(summary[-1], tuple) else summary[-1]
        for number, kind in _COUNTS.findall(last):
            counts["errors" if kind == "error" else kind] = int(number)
    frames = _frames_by_test(output)
    failures = []
    for kind, test_id, message in _SHORT.findall(output):
        name = test_id.split("::")[-1]
        failures.append(Failure(test_id=test_id, message=(message or kind).strip(), frames=frames.get(name, "")))
    tail = "\n".join(output.rstrip().splitlines()[-tail_lines:])
    return TestReport(
        exit_code=exit_code,
        passed=exit_code == 0 and not timed_out,
        counts=counts,
        failures=tuple(failures),
        timed_out=timed_out,
        tail=tail,
    )


def _frames_by_test(output: str, keep: int = 14) -> dict[str, str]:
    """The last lines of each failure section (where pytest prints the failing frames and `E` lines),
    keyed like the last part of a node id."""
    sections: dict[str, str] = {}
    matches = list(_SECTION.finditer(output))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(output)
        body = output[match.end() : end]
        body = re.split(r"^(?:=+ short test summary info =+|-+ Captured .*-+)$", body, maxsplit=1, flags=re.M)[0]
        body_lines = [line for line in body.strip("\n").splitlines() if line.strip()]
        sections[_section_key(match.group(1))] = "\n".join("    " + line for line in body_lines[-keep:])
    return sections


def _section_key(header: str) -> str:
    """`TestCalc.test_add[1.5]` -> `test_add[1.5]`, as the node id `...::TestCalc::test_add[1.5]` ends."""
    base, bracket, params = header.partition("[")
    return base.split(".")[-1] + bracket + params
