"""Test commands whose runner has its own account of a run, other than pytest's: which reader a command gets,
and how it runs.

- `go test -json`: the JSON event stream (gotest.py);
- `cargo test`: libtest's per-test lines (libtest.py);
- a command that writes JUnit XML to `$LOOPWRIGHT_JUNIT` (CTest's `--output-junit`, Catch's `-r junit -o`):
  the file, read back from a private folder of the sandbox's /tmp (junit.py);
- `make test` / `make check`: no per-test account; the exit code decides, compile errors are shown.

Every reader also takes compile errors (with file:line) from the output. Any other command goes the pytest way
(run_tests.py).

Public: `reader_for`, `Reader`.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable

from loopwright.sandboxes.base import ExecResult, Sandbox, SandboxError
from loopwright.tools.compile_errors import parse_build_errors
from loopwright.tools.gotest import parse_go_test
from loopwright.tools.junit import MAX_XML_BYTES, JUnitError, parse_junit
from loopwright.tools.libtest import parse_cargo_test
from loopwright.tools.testreport import BuildError, TestReport

Reader = Callable[[Sandbox, str, float, dict[str, str]], TestReport]
JUNIT_VARIABLE = "LOOPWRIGHT_JUNIT"
SERVICE_TIMEOUT_S = 30.0
TAIL_LINES = 40
_GO = re.compile(r"(^|[;&|(\s])go test\b[^;&|]*\s-json\b")
_CARGO = re.compile(r"(^|[;&|(\s])cargo (\+\S+ )?test\b")
_MAKE = re.compile(r"(^|[;&|(\s])make\b[^;&|]*\b(test|check|tests)\b")


def reader_for(command: str) -> Reader | None:
    """The reader of `command`'s results; None for a command that goes the pytest way."""
    if JUNIT_VARIABLE in command:
        return run_junit
    if _GO.search(command):
        return _streamed(parse_go_test)
    if _CARGO.search(command):
        return _streamed(parse_cargo_test)
    if _MAKE.search(command):
        return run_make
    return None


def _streamed(parse: Callable[[str, int, bool, str], TestReport]) -> Reader:
    def run(sandbox: Sandbox, command: str, timeout_s: float, env: dict[str, str]) -> TestReport:
        result = sandbox.exec(command, timeout_s=timeout_s, env=env)
        return parse(result.output, result.exit_code, result.timed_out, command)

    return run


def run_make(sandbox: Sandbox, command: str, timeout_s: float, env: dict[str, str]) -> TestReport:
    result = sandbox.exec(command, timeout_s=timeout_s, env=env)
    return TestReport(
        exit_code=result.exit_code,
        command=command,
        timed_out=result.timed_out,
        tail=_tail(result),
        note="make reports no per-test results; the exit code decides",
        build_errors=parse_build_errors(result.output),
    )


def run_junit(sandbox: Sandbox, command: str, timeout_s: float, env: dict[str, str]) -> TestReport:
    """Run `command` with `$LOOPWRIGHT_JUNIT` naming a file in a new private folder, and read that file back."""
    folder = f"/tmp/loopwright-junit-{uuid.uuid4().hex}"
    made = sandbox.exec(f"umask 077 && mkdir {folder}", timeout_s=SERVICE_TIMEOUT_S)
    if made.exit_code != 0:
        result = sandbox.exec(command, timeout_s=timeout_s, env=env)
        return _without_report(result, command, "the report folder could not be made in the sandbox")
    try:
        result = sandbox.exec(command, timeout_s=timeout_s, env={**env, JUNIT_VARIABLE: f"{folder}/report.xml"})
        data, why = _read(sandbox, f"{folder}/report.xml", MAX_XML_BYTES, getattr(sandbox, "output_limit", 64_000))
    finally:
        try:
            sandbox.exec(f"rm -rf {folder}", timeout_s=SERVICE_TIMEOUT_S)
        except SandboxError:
            pass
    build_errors = parse_build_errors(result.output)
    if data is None or result.timed_out:
        return _without_report(result, command, why or "the run was killed", build_errors)
    try:
        return parse_junit(data, exit_code=result.exit_code, timed_out=result.timed_out, command=command, tail=_tail(result), build_errors=build_errors)
    except JUnitError as error:
        return _without_report(result, command, str(error), build_errors)


def _without_report(result: ExecResult, command: str, note: str, build_errors: tuple[BuildError, ...] = ()) -> TestReport:
    return TestReport(exit_code=result.exit_code, command=command, timed_out=result.timed_out, tail=_tail(result), note=note, build_errors=build_errors or parse_build_errors(result.output))


def _read(sandbox: Sandbox, path: str, limit: int, output_limit: int) -> tuple[bytes | None, str]:
    """The file's bytes, in base64 pieces that fit the sandbox's output cap; (None, why) when missing, too large or cut."""
    sized = sandbox.exec(f"[ -f {path} ] && wc -c < {path}", timeout_s=SERVICE_TIMEOUT_S)
    size = sized.output.strip()
    if sized.exit_code != 0 or not size.isdigit():
        return None, "the test command wrote no JUnit report (the build failed, or the runner did not start)"
    if int(size) > limit:
        return None, f"the JUnit report is {size} bytes, over {limit}"
    chunk = max(3 * 1024, (int(output_limit) // 2) // 4 * 3)
    pieces: list[bytes] = []
    total = 0
    while total < int(size):
        got = sandbox.exec(f"dd if={path} bs={chunk} skip={len(pieces)} count=1 status=none | base64 -w0", timeout_s=SERVICE_TIMEOUT_S)
        if got.exit_code != 0 or got.truncated:
            return None, "the JUnit report could not be read back"
        try:
            piece = base64.b64decode(got.output.strip(), validate=True)
        except ValueError:
            return None, "the JUnit report could not be read back"
        if not piece:
            break
        pieces.append(piece)
        total += len(piece)
        if total > limit:
            return None, f"the JUnit report grew past {limit} bytes"
    return b"".join(pieces), ""


def _tail(result: ExecResult) -> str:
    return "\n".join(result.output.rstrip().splitlines()[-TAIL_LINES:])
