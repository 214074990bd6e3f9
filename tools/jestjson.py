"""Jest's and Vitest's JSON report (`jest --json --outputFile=...`, `vitest run --reporter=json --outputFile=...`,
the same shape) read into a `TestReport`.

The file comes from the sandbox, so it is hostile: it is parsed only up to MAX_JSON_BYTES, every field is
checked for its type before use, and only the tests' names, outcomes and failure messages are taken, each
bounded. A test's id is `file › describe › name`, with the file relative to the workspace; a failure points at
the first stack frame in the test's own file (else the project's code outside node_modules). A test file that
could not run (a syntax error, a failed import) is a build error at file:line when the message names one, a
collection error otherwise: never a pass.

Public: `parse_jest_json`, `JestReportError`, MAX_JSON_BYTES.
"""

from __future__ import annotations

import json
import re

from loopwright.tools.compile_errors import parse_build_errors
from loopwright.tools.testreport import BuildError, CollectionError, Failure, TestReport

MAX_JSON_BYTES = 8 << 20
MAX_TESTS = 100_000
MAX_TEXT_CHARS = 8_000
MAX_NAME_CHARS = 500
WORKDIR = "/workspace/"
SEPARATOR = " › "
_OUTCOMES = {"passed": "passed", "failed": "failed", "pending": "skipped", "skipped": "skipped", "todo": "skipped", "disabled": "skipped", "focused": "passed"}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_FRAME = re.compile(r"\(?(?:file://)?(/workspace/[^\s():]+):(\d+):(\d+)\)?")
_BABEL = re.compile(r"SyntaxError: (/workspace/[^\s:]+): (.+?) \((\d+):(\d+)\)")


class JestReportError(ValueError):
    """Not a Jest or Vitest JSON report loopwright can read; the message is one line."""


def parse_jest_json(data: bytes, *, exit_code: int, timed_out: bool, command: str, tail: str = "") -> TestReport:
    if len(data) > MAX_JSON_BYTES:
        raise JestReportError(f"the JSON report is {len(data)} bytes, over {MAX_JSON_BYTES}")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise JestReportError(f"the JSON report is not valid JSON: {str(error)[:200]}") from None
    suites = document.get("testResults") if isinstance(document, dict) else None
    if not isinstance(suites, list):
        raise JestReportError("the JSON report has no testResults list")
    outcomes: dict[str, str] = {}
    failures: list[Failure] = []
    build_errors: dict[tuple[str, str], BuildError] = {}
    collection_errors: list[CollectionError] = []
    for suite in suites:
        if not isinstance(suite, dict):
            continue
        file = _relative(_text(suite.get("name"), MAX_NAME_CHARS)) or "(unnamed file)"
        tests = suite.get("assertionResults")
        tests = tests if isinstance(tests, list) else []
        for test in tests:
            if len(outcomes) >= MAX_TESTS:
                break
            if isinstance(test, dict):
                test_id, outcome, failure = _test(file, test)
                outcomes[test_id] = outcome
                if failure is not None:
                    failures.append(failure)
        message = _clean(_text(suite.get("message"), MAX_TEXT_CHARS) or _text(_get(suite, "testExecError", "message"), MAX_TEXT_CHARS))
        if suite.get("status") == "failed" and not any(isinstance(t, dict) and t.get("status") == "failed" for t in tests):
            found = _build_errors(message)
            for built in found:
                build_errors.setdefault((built.location, built.message), built)
            if not found:
                collection_errors.append(CollectionError(node_id=file, cause=_first_line(message) or "the test file failed to run", location=_location(message, file), frames=message))
    return TestReport.per_test(
        outcomes,
        failures,
        exit_code=exit_code,
        command=command,
        timed_out=timed_out,
        tail=tail,
        collection_errors=tuple(collection_errors),
        build_errors=tuple(build_errors.values()),
    )


def _test(file: str, test: dict[str, object]) -> tuple[str, str, Failure | None]:
    titles = test.get("ancestorTitles")
    path = [_text(title, MAX_NAME_CHARS) for title in (titles if isinstance(titles, list) else [])]
    name = _text(test.get("title"), MAX_NAME_CHARS) or _text(test.get("fullName"), MAX_NAME_CHARS) or "(unnamed)"
    test_id = SEPARATOR.join([file, *[part for part in path if part], name])
    outcome = _OUTCOMES.get(str(test.get("status")), "skipped")
    if outcome != "failed":
        return test_id, outcome, None
    messages = test.get("failureMessages")
    message = _project_frames(_clean("\n".join(_text(m, MAX_TEXT_CHARS) for m in (messages if isinstance(messages, list) else []))))[:MAX_TEXT_CHARS]
    crash = _location(message, file)
    if not crash:
        line = _get(test, "location", "line")
        crash = f"{file}:{line}" if isinstance(line, int) and not isinstance(line, bool) else ""
    return test_id, "failed", Failure(test_id=test_id, message=message or "failed", crash=crash)


def _build_errors(message: str) -> tuple[BuildError, ...]:
    babel = _BABEL.search(message)
    if babel:
        return (BuildError(f"{_relative(babel.group(1))}:{babel.group(3)}:{babel.group(4)}", _first_line(babel.group(2))),)
    return parse_build_errors(message)


def _location(message: str, file: str) -> str:
    """The first frame in `file`, else the first in the project's code outside node_modules."""
    frames = [(_relative(m.group(1)), m.group(2)) for m in _FRAME.finditer(message) if "/node_modules/" not in m.group(1)]
    own = [frame for frame in frames if frame[0] == file] or frames
    return f"{own[0][0]}:{own[0][1]}" if own else ""


def _project_frames(message: str) -> str:
    """The message without the stack frames of the test runner itself (node_modules, Node's internals)."""
    return "\n".join(line for line in message.splitlines() if not (line.lstrip().startswith("at ") and ("/node_modules/" in line or "(node:" in line)))


def _get(value: object, *keys: str) -> object:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _text(value: object, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _clean(text: str) -> str:
    return _ANSI.sub("", text)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:400]


def _relative(path: str) -> str:
    return path.removeprefix(WORKDIR)
