"""`go test -json` read into a `TestReport`: per-test outcomes (`package/TestName` ids), each failure with its
output and the file:line it points at, and build failures as compile errors.

The stream comes from the sandbox: every line is parsed as JSON on its own and checked for the fields used;
anything else (the go command's own messages before any test runs) is kept as text for compile errors and the
tail. A package that failed without a failing test (a panic in TestMain, a test binary that crashed) is a
failure of the package itself, so nothing that failed passes for a pass.

Public: `parse_go_test`.
"""

from __future__ import annotations

import json
import re
import textwrap

from loopwright.tools.compile_errors import parse_build_errors
from loopwright.tools.testreport import Failure, TestReport

MAX_OUTPUT_CHARS = 8_000
"""Kept per test; the report clips messages again."""
_LOCATION = re.compile(r"^\s+(\S+?\.go):(\d+):")
_PANIC_AT = re.compile(r"^\s+(/?\S+?\.go):(\d+)")
_NOISE = re.compile(r"^(=== (RUN|PAUSE|CONT|NAME)|--- (FAIL|PASS|SKIP):)")
_OUTCOMES = {"pass": "passed", "fail": "failed", "skip": "skipped"}


def parse_go_test(output: str, exit_code: int, timed_out: bool, command: str, tail_lines: int = 40) -> TestReport:
    outcomes: dict[str, str] = {}
    texts: dict[str, list[str]] = {}
    failed_packages: dict[str, list[str]] = {}
    package_output: dict[str, list[str]] = {}
    build_text: list[str] = []
    plain: list[str] = []
    events = 0
    for line in output.splitlines():
        event = _event(line)
        if event is None:
            plain.append(line)
            continue
        events += 1
        action, package, test, text = event
        if action == "build-output":
            build_text.append(text.rstrip("\n"))
        elif test:
            test_id = f"{package}/{test}"
            if action == "output":
                _append(texts.setdefault(test_id, []), text)
            elif action in _OUTCOMES:
                outcomes[test_id] = _OUTCOMES[action]
            elif action == "run":
                outcomes.setdefault(test_id, "running")
        elif action == "output":
            _append(package_output.setdefault(package, []), text)
        elif action == "fail":
            failed_packages[package] = package_output.get(package, [])
    build_errors = parse_build_errors("\n".join(build_text + plain))
    failures = _failures(outcomes, texts)
    for package, lines in failed_packages.items():
        own = [test for test, outcome in outcomes.items() if test.startswith(package + "/") and outcome in ("failed", "running")]
        if not own and not build_errors:
            failures.append(Failure(test_id=package, message=_message(lines) or "the package's tests failed", outcome="error"))
    for test_id, outcome in outcomes.items():
        if outcome == "running":
            # Started and never finished: the binary panicked or was killed while this test ran.
            outcomes[test_id] = "error"
            failures.append(Failure(test_id=test_id, message=_message(texts.get(test_id, [])) or "did not finish", outcome="error", crash=_crash(texts.get(test_id, []))))
    tail = "\n".join((plain + build_text)[-tail_lines:]) or "\n".join(line for lines in package_output.values() for line in lines)[-4000:]
    return TestReport.per_test(
        outcomes,
        failures,
        exit_code=exit_code,
        command=command,
        timed_out=timed_out,
        tail=tail,
        collected=len(outcomes) if events else None,
        structured=bool(events),
        note="" if events else "go test printed no JSON events",
        build_errors=build_errors,
    )


def _event(line: str) -> tuple[str, str, str, str] | None:
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("Action"), str):
        return None
    fields = (data.get("Package") or data.get("ImportPath") or "", data.get("Test") or "", data.get("Output") or "")
    if not all(isinstance(value, str) for value in fields):
        return None
    return data["Action"], fields[0], fields[1], fields[2]


def _failures(outcomes: dict[str, str], texts: dict[str, list[str]]) -> list[Failure]:
    failed = [test for test, outcome in outcomes.items() if outcome == "failed"]
    # A parent fails with its subtests; the subtests say why.
    leaves = [test for test in failed if not any(other.startswith(test + "/") for other in failed)]
    return [Failure(test_id=test, message=_message(texts.get(test, [])) or "failed", crash=_crash(texts.get(test, []))) for test in leaves]


def _message(lines: list[str]) -> str:
    kept = [line.rstrip("\n") for line in lines if not _NOISE.match(line.strip()) and line.strip() not in ("FAIL", "PASS")]
    text = textwrap.dedent("\n".join(line for line in kept if line.strip()))
    return text[-MAX_OUTPUT_CHARS:]


def _crash(lines: list[str]) -> str:
    for line in lines:
        match = _LOCATION.match(line)
        if match:
            return f"{match.group(1)}:{match.group(2)}"
    for line in lines:
        match = _PANIC_AT.match(line)
        if match and "/usr/lib/go" not in match.group(1) and "/src/runtime/" not in match.group(1) and "/src/testing/" not in match.group(1):
            return f"{match.group(1).removeprefix('/workspace/')}:{match.group(2)}"
    return ""


def _append(lines: list[str], text: str) -> None:
    if sum(len(line) for line in lines) < MAX_OUTPUT_CHARS * 2:
        lines.append(text)
