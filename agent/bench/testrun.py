"""Running a task's tests by node id through the test tool, and reading each id's outcome from the report.

Outcomes come from the runner's own per-test results (`TestReport.outcomes`: node id -> outcome) where the
report is structured; a report without them is read from its failures and counts, conservatively. A test the report does
not show as run is `not run`, which never counts as passing.

SWE-bench lists some parametrized tests by a truncated id (cut at the first space of the parameter, so the
bracket is left open). Such an id selects its whole test function, and stands for every test whose id it
begins.

An id whose parameter holds `::` cannot be named on pytest's command line (pytest splits the argument there), so it
also selects its whole test function; its outcome is still read by its own id.

An id whose parameter shows a control character as an escape (`test_unpack[\\x10-output6]`) was made by a pytest
that escapes them; older ones put the character itself in the id. It selects its whole test function, and stands
for the test whose id is the same once control characters are escaped.

An id whose parameter holds an absolute path (pydicom's tests are parametrized by data file paths) names the
folder the repository was in on the machine that made the task list. It selects its whole test function, and
stands for the test whose id differs only there: the same path under the sandbox's copy of the repository, or
else (a data file the tests fetched into a cache outside the repository) the one test whose id names the same
files in other folders.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from loopwright.tools.base import ToolContext
from loopwright.tools.run_tests import run_test_command
from loopwright.tools.testreport import TestReport

PASSED, FAILED, ERROR, SKIPPED, NOT_RUN, UNKNOWN = "passed", "failed", "error", "skipped", "not run", "unknown"
PASSING = frozenset({PASSED, "xfailed"})
"""Outcomes that count as a pass, as in the SWE-bench harness."""
_EXCEPTION = re.compile(r"^\s*(?:E\s+)?((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception): .*)$", re.M)
_RUNNER_ERROR = re.compile(r"^(ERROR: .*|.*\bno tests ran\b.*|.*\bnot found: .*)$", re.M)
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_FOLDERS = re.compile(r"(?<![\w.])(?:/[^/\[\]]+)+/")
_ABSOLUTE_PATH = re.compile(r"(?:^|[^\w./])/[\w.+-]+/[\w.+-]")


@dataclass(frozen=True)
class Outcomes:
    outcomes: dict[str, str]
    """Every asked id -> passed, failed, error, skipped, xfailed, not run or unknown."""
    messages: dict[str, str] = field(default_factory=dict)
    """Failure messages by asked id, where the report gave one."""
    exit_code: int = 0
    duration_s: float = 0.0
    nothing_collected: bool = False
    """The run collected no test at all."""
    collection_failed: bool = False
    """Some test module failed to import: pytest then runs none of the tests asked for (SWE-bench's logs, from
    which its FAIL_TO_PASS lists come, count them as failing)."""
    outside_repository: bool = False
    """The tests ran against code from outside the work tree (such as an installed copy of the project)."""
    note: str = ""
    """Why tests did not run, in one line (empty when they ran)."""
    rendered: str = ""
    """The report as the model would see it, for the task's log."""

    def passing(self, test_id: str) -> bool:
        return self.outcomes.get(test_id) in PASSING

    def failed(self, test_id: str) -> bool:
        """Ran and did not pass (a failure or an error, including one while collecting its module)."""
        return self.outcomes.get(test_id) in (FAILED, ERROR)

    def ran(self, test_id: str) -> bool:
        return self.outcomes.get(test_id) not in (None, NOT_RUN, UNKNOWN)


def run_tests(ctx: ToolContext, test_ids: Sequence[str]) -> Outcomes:
    started = time.monotonic()
    report = run_test_command(ctx, " ".join(shlex.quote(s) for s in selectors(test_ids)))
    return read_report(report, test_ids, time.monotonic() - started, getattr(ctx.sandbox, "workdir", ""))


def selectors(test_ids: Sequence[str]) -> list[str]:
    """What to hand pytest: each id, or for one it cannot name (truncated, or `::` in its parameter) its test function."""
    return list(dict.fromkeys(test_id if nameable(test_id) else test_id.partition("[")[0] for test_id in test_ids))


def nameable(test_id: str) -> bool:
    parameter = test_id.partition("[")[2]
    return not truncated(test_id) and "::" not in parameter and "\\" not in parameter and not _ABSOLUTE_PATH.search(parameter)


def escaped(test_id: str) -> str:
    """The id as a pytest that escapes control characters writes it."""
    return "".join(_ESCAPES.get(c, f"\\x{ord(c):02x}") if ord(c) < 0x20 or ord(c) == 0x7F else c for c in test_id)


def _file_names(test_id: str) -> str:
    """The id with the folders of the absolute paths in its parameter left out."""
    function, bracket, parameter = test_id.partition("[")
    return function + bracket + _FOLDERS.sub("/", parameter)


def located(test_id: str, reported: str, workdir: str) -> bool:
    """Whether `reported` is `test_id` with the absolute paths in its parameter under `workdir` instead of the
    folder the repository had where the id was made."""
    if not workdir or "[" not in test_id or test_id.partition("[")[0] != reported.partition("[")[0]:
        return False
    prefix = workdir.rstrip("/") + "/"
    pieces = reported.partition("[")[2].split(prefix)
    if len(pieces) < 2:
        return False
    pattern = "(?:/[^/\\[\\]]+)*/".join(re.escape(piece) for piece in pieces)
    return re.fullmatch(pattern, test_id.partition("[")[2]) is not None


def truncated(test_id: str) -> bool:
    return test_id.count("[") > test_id.count("]")


def read_report(report: TestReport, test_ids: Sequence[str], duration_s: float = 0.0, workdir: str = "") -> Outcomes:
    structured = bool(getattr(report, "structured", False))
    errors = {e.node_id: _first_line(e.cause) for e in getattr(report, "collection_errors", ())}
    if structured:
        outcomes = {test_id: _structured(test_id, report.outcomes, errors, workdir) for test_id in test_ids}
    else:
        outcomes = _from_failures(report, test_ids)
    messages: dict[str, str] = {}
    for test_id in test_ids:
        found = [f.message for f in report.failures if _covers(f.test_id, test_id) and f.message]
        found += [cause for node, cause in errors.items() if _covers(node, test_id)]
        if found:
            messages[test_id] = _first_line(found[0])
    nothing = report.collected == 0 if structured else report.exit_code == 5
    ran = any(outcome not in (NOT_RUN, UNKNOWN) for outcome in outcomes.values())
    return Outcomes(
        outcomes=outcomes,
        messages=messages,
        exit_code=report.exit_code,
        duration_s=round(duration_s, 3),
        nothing_collected=nothing,
        collection_failed=bool(errors),
        outside_repository=bool(getattr(report, "outside_imports", ())),
        note="" if ran else why_not_run(report, errors),
        rendered=report.render() + (f"\n\nLast output:\n{report.tail}" if report.tail and report.failures else ""),
    )


def why_not_run(report: TestReport, collection_errors: Mapping[str, str] | None = None) -> str:
    """One line: what stopped the tests, from the report or else the end of the run's output."""
    if report.timed_out:
        return "the test run timed out"
    if collection_errors:
        node, cause = next(iter(collection_errors.items()))
        return f"error collecting {node}: {cause}"
    exceptions = _EXCEPTION.findall(report.tail)
    runner = _RUNNER_ERROR.findall(report.tail)
    last = next((line for line in reversed(report.tail.splitlines()) if line.strip()), "")
    line = (exceptions[-1] if exceptions else runner[0] if runner else last).strip().strip("=").strip()
    prefix = "no tests collected" if getattr(report, "collected", None) == 0 else f"exit code {report.exit_code}"
    return prefix + (f": {line[:240]}" if line else "")


def _structured(test_id: str, per_test: Mapping[str, str], collection_errors: Mapping[str, str], workdir: str = "") -> str:
    if test_id in per_test:
        return per_test[test_id]
    moved = next((outcome for node, outcome in per_test.items() if escaped(node) == test_id or located(test_id, node, workdir)), None)
    if moved is not None:
        return moved
    if _ABSOLUTE_PATH.search(test_id.partition("[")[2]):
        same_files = [outcome for node, outcome in per_test.items() if _file_names(node) == _file_names(test_id)]
        if len(same_files) == 1:
            return same_files[0]
    if truncated(test_id):
        found = [outcome for node, outcome in per_test.items() if node.startswith(test_id) or escaped(node).startswith(test_id)]
        if found:
            return next((o for o in found if o not in PASSING), found[0])
    if any(_covers(node, test_id) for node in collection_errors):
        return ERROR
    return NOT_RUN


def _from_failures(report: TestReport, test_ids: Sequence[str]) -> dict[str, str]:
    """Outcomes from a report that lists only failures and counts: what failed is known; the rest passed only
    when the counts leave no doubt."""
    outcomes: dict[str, str] = {}
    for test_id in test_ids:
        hits = [failure for failure in report.failures if _covers(failure.test_id, test_id)]
        if hits:
            collecting = all("::" not in failure.test_id for failure in hits)
            outcomes[test_id] = ERROR if collecting or hits[0].message.startswith("ERROR") else FAILED
    if report.timed_out or report.exit_code not in (0, 1):
        return {test_id: outcomes.get(test_id, NOT_RUN) for test_id in test_ids}
    rest = [test_id for test_id in test_ids if test_id not in outcomes]
    rest_selectors = len(selectors(rest))
    counts = report.counts
    certain = counts.get("passed", 0) >= rest_selectors and not counts.get("skipped") and not counts.get("deselected")
    for test_id in rest:
        outcomes[test_id] = PASSED if certain else UNKNOWN
    return outcomes


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _covers(reported: str, test_id: str) -> bool:
    """Whether the report's id `reported` is (or contains, as a module that failed to collect) `test_id`."""
    if reported == test_id:
        return True
    if "::" not in reported:
        return test_id.startswith(reported + "::")
    return truncated(test_id) and reported.startswith(test_id)
