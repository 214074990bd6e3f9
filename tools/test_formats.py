"""Test commands whose runner has its own account of a run, other than pytest's: which reader a command gets,
and how it runs.

- `go test -json`: the JSON event stream (gotest.py);
- `cargo test`: libtest's per-test lines (libtest.py);
- a command that writes JUnit XML to `$LOOPWRIGHT_JUNIT` (CTest's `--output-junit`, Catch's `-r junit -o`):
  the file, read back from a private folder of the sandbox's /tmp (junit.py);
- Jest or Vitest with their JSON reporter writing to `$LOOPWRIGHT_JSON_REPORT` (the Node toolchain's command
  for a `test` script that is one of them): the file, read back the same way (jestjson.py);
- `make test` / `make check`, and `npm test` (pnpm, yarn) otherwise: no per-test account; the exit code decides,
  compile errors are shown.

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
from loopwright.tools.jestjson import MAX_JSON_BYTES, JestReportError, parse_jest_json
from loopwright.tools.junit import MAX_XML_BYTES, JUnitError, parse_junit
from loopwright.tools.libtest import parse_cargo_test
from loopwright.tools.testreport import BuildError, TestReport

Reader = Callable[[Sandbox, str, float, dict[str, str]], TestReport]
JUNIT_VARIABLE = "LOOPWRIGHT_JUNIT"
JSON_VARIABLE = "LOOPWRIGHT_JSON_REPORT"
SERVICE_TIMEOUT_S = 30.0
TAIL_LINES = 40
_GO = re.compile(r"(^|[;&|(\s])go test\b[^;&|]*\s-json\b")
_CARGO = re.compile(r"(^|[;&|(\s])cargo (\+\S+ )?test\b")
_MAKE = re.compile(r"(^|[;&|(\s])make\b[^;&|]*\b(test|check|tests)\b")
_NPM = re.compile(r"(^|[;&|(\s])(npm|pnpm|yarn)( run)? test\b")


def reader_for(command: str) -> Reader | None:
    """The reader of `command`'s results; None for a command that goes the pytest way."""
    if JUNIT_VARIABLE in command:
        return run_junit
    if JSON_VARIABLE in command:
        return run_jest_json
    if _GO.search(command):
        return _streamed(parse_go_test)
    if _CARGO.search(command):
        return _streamed(parse_cargo_test)
    if _MAKE.search(command):
        return run_make
    if _NPM.search(command):
        return run_npm
    return None


def _streamed(parse: Callable[[str, int, bool, str], TestReport]) -> Reader:
    def run(sandbox: Sandbox, command: str, timeout_s: float, env: dict[str, str]) -> TestReport:
        result = sandbox.exec(command, timeout_s=timeout_s, env=env)
        return parse(result.output, result.exit_code, result.timed_out, command)

    return run


def run_make(sandbox: Sandbox, command: str, timeout_s: float, env: dict[str, str]) -> TestReport:
    return _by_exit_code(sandbox, command, timeout_s, env, "make reports no per-test results; the exit code decides")


def run_npm(sandbox: Sandbox, command: str, timeout_s: float, env: dict[str, str]) -> TestReport:
    return _by_exit_code(sandbox, command, timeout_s, env, "the test script is not one Jest or Vitest command; the exit code decides")


def _by_exit_code(sandbox: Sandbox, command: str, timeout_s: float, env: dict[str, str], note: str) -> TestReport:
    result = sandbox.exec(command, timeout_s=timeout_s, env=env)
    return TestReport(
        exit_code=result.exit_code,
        command=command,
        timed_out=result.timed_out,
        tail=_tail(result),
        note=note,
        build_errors=parse_build_errors(result.output),
    )


def run_junit(sandbox: Sandbox, command: str, timeout_s: float, env: dict[str, str]) -> TestReport:
    """Run `command` with `$LOOPWRIGHT_JUNIT` naming a file in a new private folder, and read that file back."""
    result, data, why = _run_reporting(sandbox, command, timeout_s, env, JUNIT_VARIABLE, MAX_XML_BYTES, "JUnit")
    build_errors = parse_build_errors(result.output)
    if data is None or result.timed_out:
        return _without_report(result, command, why or "the run was killed", build_errors)
    try:
        return parse_junit(data, exit_code=result.exit_code, timed_out=result.timed_out, command=command, tail=_tail(result), build_errors=build_errors)
    except JUnitError as error:
        return _without_report(result, command, str(error), build_errors)


def run_jest_json(sandbox: Sandbox, command: str, timeout_s: float, env: dict[str, str]) -> TestReport:
    """Run `command` with `$LOOPWRIGHT_JSON_REPORT` naming a file in a new private folder; read Jest's or Vitest's report back."""
    result, data, why = _run_reporting(sandbox, command, timeout_s, env, JSON_VARIABLE, MAX_JSON_BYTES, "JSON")
    if data is None or result.timed_out:
        return _without_report(result, command, why or "the run was killed")
    try:
        return parse_jest_json(data, exit_code=result.exit_code, timed_out=result.timed_out, command=command, tail=_tail(result))
    except JestReportError as error:
        return _without_report(result, command, str(error))


def _run_reporting(sandbox: Sandbox, command: str, timeout_s: float, env: dict[str, str], variable: str, limit: int, kind: str) -> tuple[ExecResult, bytes | None, str]:
    """Run `command` with `variable` naming a report file in a new private folder; (its result, the report's bytes or None, why not)."""
    folder = f"/tmp/loopwright-report-{uuid.uuid4().hex}"
    made = sandbox.exec(f"umask 077 && mkdir {folder}", timeout_s=SERVICE_TIMEOUT_S)
    if made.exit_code != 0:
        return sandbox.exec(command, timeout_s=timeout_s, env=env), None, "the report folder could not be made in the sandbox"
    try:
        result = sandbox.exec(command, timeout_s=timeout_s, env={**env, variable: f"{folder}/report"})
        data, why = _read(sandbox, f"{folder}/report", limit, getattr(sandbox, "output_limit", 64_000), kind)
    finally:
        try:
            sandbox.exec(f"rm -rf {folder}", timeout_s=SERVICE_TIMEOUT_S)
        except SandboxError:
            pass
    return result, data, why


def _without_report(result: ExecResult, command: str, note: str, build_errors: tuple[BuildError, ...] = ()) -> TestReport:
    return TestReport(exit_code=result.exit_code, command=command, timed_out=result.timed_out, tail=_tail(result), note=note, build_errors=build_errors or parse_build_errors(result.output))


def _read(sandbox: Sandbox, path: str, limit: int, output_limit: int, kind: str) -> tuple[bytes | None, str]:
    """The file's bytes, in base64 pieces that fit the sandbox's output cap; (None, why) when missing, too large or cut."""
    sized = sandbox.exec(f"[ -f {path} ] && wc -c < {path}", timeout_s=SERVICE_TIMEOUT_S)
    size = sized.output.strip()
    if sized.exit_code != 0 or not size.isdigit():
        return None, f"the test command wrote no {kind} report (the build failed, or the runner did not start)"
    if int(size) > limit:
        return None, f"the {kind} report is {size} bytes, over {limit}"
    chunk = max(3 * 1024, (int(output_limit) // 2) // 4 * 3)
    pieces: list[bytes] = []
    total = 0
    while total < int(size):
        got = sandbox.exec(f"dd if={path} bs={chunk} skip={len(pieces)} count=1 status=none | base64 -w0", timeout_s=SERVICE_TIMEOUT_S)
        if got.exit_code != 0 or got.truncated:
            return None, f"the {kind} report could not be read back"
        try:
            piece = base64.b64decode(got.output.strip(), validate=True)
        except ValueError:
            return None, f"the {kind} report could not be read back"
        if not piece:
            break
        pieces.append(piece)
        total += len(piece)
        if total > limit:
            return None, f"the {kind} report grew past {limit} bytes"
    return b"".join(pieces), ""


def _tail(result: ExecResult) -> str:
    return "\n".join(result.output.rstrip().splitlines()[-TAIL_LINES:])
