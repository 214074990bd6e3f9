"""`cargo test` read into a `TestReport`: libtest's lines (`test name ... ok|FAILED|ignored`) give each test's
outcome, keyed by the test target cargo announced (`src/lib.rs::tests::adds`, `tests/bowling.rs::strike`,
`doc::src/lib.rs - add (line 3)`); the `---- name stdout ----` sections give each failure's output and the place
it panicked; rustc's errors give compile errors with file:line.

libtest prints one line per test in the same shape on every stable Rust, so this text is its machine-readable
account (its JSON output needs a nightly compiler). A test binary that crashed, or a build that failed, is not a
pass: cargo's exit code is checked too.

Public: `parse_cargo_test`.
"""

from __future__ import annotations

import re

from loopwright.tools.compile_errors import parse_build_errors
from loopwright.tools.testreport import Failure, TestReport

MAX_OUTPUT_CHARS = 8_000
_RUNNING = re.compile(r"^\s+Running (?:unittests )?(\S+)(?: \(.*\))?$")
_DOC = re.compile(r"^\s+Doc-tests (\S+)$")
_COUNT = re.compile(r"^running (\d+) tests?$")
_TEST = re.compile(r"^test (.+?) \.\.\. (ok|FAILED|ignored(?:, .*)?)$")
_SECTION = re.compile(r"^---- (.+?) stdout ----$")
_PANIC = re.compile(r"panicked at (?:'.*', )?(\S+?):(\d+):(\d+)")
_RESULT = re.compile(r"^test result: ")
_OUTCOMES = {"ok": "passed", "FAILED": "failed"}


def parse_cargo_test(output: str, exit_code: int, timed_out: bool, command: str, tail_lines: int = 40) -> TestReport:
    lines = output.splitlines()
    outcomes: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    target = ""
    collected = 0
    runs = 0
    open_section: list[str] | None = None
    for line in lines:
        running, doc = _RUNNING.match(line), _DOC.match(line)
        if running or doc:
            target = f"{running.group(1)}" if running else "doc"
            open_section = None
            continue
        count = _COUNT.match(line)
        if count:
            runs += 1
            collected += int(count.group(1))
            continue
        test = _TEST.match(line)
        if test:
            outcomes[_id(target, test.group(1))] = _OUTCOMES.get(test.group(2), "skipped")
            continue
        section = _SECTION.match(line)
        if section:
            open_section = sections.setdefault(_id(target, section.group(1)), [])
            continue
        if open_section is not None:
            if line in ("failures:", "successes:") or _RESULT.match(line):
                open_section = None
            elif sum(len(kept) for kept in open_section) < MAX_OUTPUT_CHARS:
                open_section.append(line)
    failures = [
        Failure(test_id=test_id, message=_message(sections.get(test_id, [])) or "failed", crash=_crash(sections.get(test_id, [])))
        for test_id, outcome in outcomes.items()
        if outcome == "failed"
    ]
    return TestReport.per_test(
        outcomes,
        failures,
        exit_code=exit_code,
        command=command,
        timed_out=timed_out,
        tail="\n".join(lines[-tail_lines:]),
        collected=collected if runs else None,
        structured=bool(runs),
        note="" if runs else "cargo ran no test binary",
        build_errors=parse_build_errors(output),
    )


def _id(target: str, name: str) -> str:
    return f"{target}::{name}" if target else name


def _message(lines: list[str]) -> str:
    text = "\n".join(line for line in lines if line.strip() and not line.startswith("note: run with `RUST_BACKTRACE=1`"))
    return text[-MAX_OUTPUT_CHARS:]


def _crash(lines: list[str]) -> str:
    for line in lines:
        match = _PANIC.search(line)
        if match:
            return f"{match.group(1)}:{match.group(2)}"
    return ""
