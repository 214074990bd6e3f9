"""JUnit XML (CTest's `--output-junit`, Catch's and GoogleTest's reporters, Surefire) read into a `TestReport`.

The file comes from the sandbox, so it is hostile: it is read only up to MAX_XML_BYTES, parsed by defusedxml
(no DTDs, no entities, no external references), and only the test cases' names, outcomes, messages and output
are taken, each bounded.

Public: `parse_junit`, `JUnitError`, MAX_XML_BYTES.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeTree
from defusedxml import DefusedXmlException

from loopwright.tools.testreport import BuildError, Failure, TestReport

MAX_XML_BYTES = 8 << 20
MAX_CASES = 100_000
MAX_TEXT_CHARS = 8_000
_LOCATION = re.compile(r"(?:at )?(/?[\w./+-]+\.(?:c|cc|cpp|cxx|h|hh|hpp|hxx|java|go|rs|py|js|ts)):(\d+)")


class JUnitError(ValueError):
    """Not a JUnit document loopwright can read; the message is one line."""


def parse_junit(data: bytes, *, exit_code: int, timed_out: bool, command: str, tail: str = "", build_errors: tuple[BuildError, ...] = ()) -> TestReport:
    if len(data) > MAX_XML_BYTES:
        raise JUnitError(f"the JUnit report is {len(data)} bytes, over {MAX_XML_BYTES}")
    try:
        root = SafeTree.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (SafeTree.ParseError, DefusedXmlException, ValueError) as error:
        raise JUnitError(f"the JUnit report is not valid XML: {str(error)[:200]}") from None
    outcomes: dict[str, str] = {}
    failures: list[Failure] = []
    for case in root.iter("testcase"):
        if len(outcomes) >= MAX_CASES:
            break
        test_id = _id(case)
        outcome, failure = _outcome(case, test_id)
        outcomes[test_id] = outcome
        if failure is not None:
            failures.append(failure)
    return TestReport.per_test(outcomes, failures, exit_code=exit_code, command=command, timed_out=timed_out, tail=tail, build_errors=build_errors)


def _id(case: Element) -> str:
    name = _text(case.get("name")) or "(unnamed)"
    group = _text(case.get("classname"))
    if not group or group == name or group.endswith(".global"):
        return name
    return f"{group}.{name}"


def _outcome(case: Element, test_id: str) -> tuple[str, Failure | None]:
    status = (case.get("status") or "").lower()
    for kind, outcome in (("failure", "failed"), ("error", "error")):
        found = case.find(kind)
        if found is not None:
            message = "\n".join(part for part in (_text(found.get("message")), _text(found.text), _output(case)) if part)
            return outcome, Failure(test_id=test_id, message=message[:MAX_TEXT_CHARS] or outcome, outcome=outcome, crash=_location(message))
    if case.find("skipped") is not None or status in ("notrun", "disabled", "skipped"):
        return "skipped", None
    if status == "fail":
        message = _output(case) or "failed"
        return "failed", Failure(test_id=test_id, message=message[:MAX_TEXT_CHARS], crash=_location(message))
    return "passed", None


def _output(case: Element) -> str:
    parts = [_text(found.text) for found in (case.find("system-out"), case.find("system-err")) if found is not None]
    return "\n".join(part for part in parts if part)[-MAX_TEXT_CHARS:]


def _location(text: str) -> str:
    match = _LOCATION.search(text)
    return f"{match.group(1).removeprefix('/workspace/')}:{match.group(2)}" if match else ""


def _text(value: str | None) -> str:
    return (value or "").strip()[:MAX_TEXT_CHARS]
