"""Compile errors read from a build's output, each with the file and line the compiler points at: gcc and clang
(`file.cpp:12:5: error: ...`), the go command (`./x.go:3:5: undefined: foo`, under `# package`), rustc
(`error[E0308]: ...` then ` --> src/lib.rs:3:5`), CMake (`CMake Error at CMakeLists.txt:12 (...)`), the linker,
tsc (`src/a.ts(3,5): error TS2322: ...` or, pretty, `src/a.ts:3:5 - error TS2322: ...`), Node's syntax errors
(`/workspace/a.js:3`, the line and a caret, then `SyntaxError: ...`), javac (`src/A.java:3: error: ...`, as Gradle
shows it too) and Maven's compiler plugin (`[ERROR] /workspace/src/A.java:[3,5] ...`).

The output comes from the sandbox: only matching lines are kept, each made one bounded line.

Public: `parse_build_errors`.
"""

from __future__ import annotations

import re

from loopwright.tools.testreport import BuildError

MAX_ERRORS = 100
LINE_CHARS = 400
WORKDIR = "/workspace/"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_C_FAMILY = re.compile(r"^(?P<path>[^\s:][^:]*?\.(?:c|cc|cpp|cxx|c\+\+|h|hh|hpp|hxx|ipp|tpp|inl|tcc)):(?P<line>\d+)(?::(?P<col>\d+))?: (?:fatal )?error: (?P<msg>.+)$")
_GO = re.compile(r"^(?P<path>[^\s:][^:]*?\.go):(?P<line>\d+)(?::(?P<col>\d+))?: (?P<msg>.+)$")
_RUST_HEAD = re.compile(r"^error(?:\[(?P<code>E\d{4})\])?: (?P<msg>.+)$")
_RUST_AT = re.compile(r"^\s*--> (?P<path>[^\s:][^:]*?):(?P<line>\d+):(?P<col>\d+)$")
_CMAKE = re.compile(r"^CMake Error at (?P<path>[^\s:][^:]*?):(?P<line>\d+) \((?P<what>[^)]*)\):?$")
_LINKER = re.compile(r"(?:^/usr/bin/ld: |^ld: )(?P<msg>.*(?:undefined reference|multiple definition|cannot find).*)$")
_TSC = re.compile(r"^(?P<path>[^\s(:][^(:]*?\.(?:ts|tsx|mts|cts|js|jsx|mjs|cjs))(?:\((?P<line>\d+),(?P<col>\d+)\):|:(?P<line2>\d+):(?P<col2>\d+) -) error (?P<msg>TS\d+: .+)$")
_NODE_AT = re.compile(r"^(?P<path>(?:file://)?/workspace/[^:]+?\.(?:js|mjs|cjs|ts|mts|cts|jsx|tsx)):(?P<line>\d+)$")
_NODE_SYNTAX = re.compile(r"^SyntaxError: (?P<msg>.+)$")
_JAVAC = re.compile(r"^(?P<path>[^\s:][^:]*?\.java):(?P<line>\d+): error: (?P<msg>.+)$")
_MAVEN = re.compile(r"^\[ERROR\] (?P<path>[^\s:][^:]*?\.java):\[(?P<line>\d+),(?P<col>\d+)\] (?P<msg>.+)$")
_RUST_SUMMARY = ("could not compile", "aborting due to", "build failed", "test failed")


def parse_build_errors(output: str) -> tuple[BuildError, ...]:
    lines = [_clean(line) for line in output.splitlines()]
    found: dict[tuple[str, str], BuildError] = {}
    for index, line in enumerate(lines):
        error = _c_family(line) or _go(line, lines, index) or _rust(line, lines, index) or _cmake(line, lines, index) or _linker(line) or _tsc(line) or _node(line, lines, index) or _java(line)
        if error is not None:
            found.setdefault((error.location, error.message), error)
        if len(found) >= MAX_ERRORS:
            break
    return tuple(found.values())


def _c_family(line: str) -> BuildError | None:
    match = _C_FAMILY.match(line)
    return BuildError(_where(match), _bounded(match.group("msg"))) if match else None


def _go(line: str, lines: list[str], index: int) -> BuildError | None:
    """A go compiler line: only inside a `# package` block (the go command's build output), not a test's own output."""
    match = _GO.match(line)
    if not match or line.startswith(("    ", "\t")):
        return None
    block = next((earlier for earlier in reversed(lines[max(0, index - MAX_ERRORS) : index]) if not _GO.match(earlier)), "")
    if not block.startswith("# ") and not match.group("path").startswith("./"):
        return None
    return BuildError(_where(match), _bounded(match.group("msg")))


def _rust(line: str, lines: list[str], index: int) -> BuildError | None:
    match = _RUST_HEAD.match(line)
    if not match or match.group("msg").startswith(_RUST_SUMMARY):
        return None
    for after in lines[index + 1 : index + 4]:
        at = _RUST_AT.match(after)
        if at:
            code = f"[{match.group('code')}] " if match.group("code") else ""
            return BuildError(_where(at), _bounded(code + match.group("msg")))
    return None


def _cmake(line: str, lines: list[str], index: int) -> BuildError | None:
    match = _CMAKE.match(line)
    if not match:
        return None
    detail = " ".join(after.strip() for after in lines[index + 1 : index + 6] if after.strip() and not after.startswith("--")).strip()
    return BuildError(f"{_relative(match.group('path'))}:{match.group('line')}", _bounded(f"({match.group('what')}) {detail}"))


def _linker(line: str) -> BuildError | None:
    match = _LINKER.match(line)
    return BuildError("linker", _bounded(match.group("msg"))) if match else None


def _tsc(line: str) -> BuildError | None:
    match = _TSC.match(line)
    if not match:
        return None
    return BuildError(f"{_relative(match.group('path'))}:{match.group('line') or match.group('line2')}:{match.group('col') or match.group('col2')}", _bounded(match.group("msg")))


def _node(line: str, lines: list[str], index: int) -> BuildError | None:
    """Node's report of a file it could not parse: the file and line, the source line with a caret, the SyntaxError."""
    match = _NODE_AT.match(line)
    if not match:
        return None
    for after in lines[index + 1 : index + 6]:
        syntax = _NODE_SYNTAX.match(after)
        if syntax:
            return BuildError(f"{_relative(match.group('path').removeprefix('file://'))}:{match.group('line')}", _bounded("SyntaxError: " + syntax.group("msg")))
    return None


def _java(line: str) -> BuildError | None:
    match = _JAVAC.match(line)
    if match:
        return BuildError(f"{_relative(match.group('path'))}:{match.group('line')}", _bounded(match.group("msg")))
    match = _MAVEN.match(line)
    return BuildError(_where(match), _bounded(match.group("msg"))) if match else None


def _where(match: re.Match[str]) -> str:
    column = match.group("col")
    return f"{_relative(match.group('path'))}:{match.group('line')}" + (f":{column}" if column else "")


def _relative(path: str) -> str:
    return path.removeprefix(WORKDIR).removeprefix("./")


def _clean(line: str) -> str:
    return _CONTROL.sub("", _ANSI.sub("", line.rstrip("\r\n")))


def _bounded(text: str) -> str:
    text = text.strip()
    return text if len(text) <= LINE_CHARS else text[: LINE_CHARS - 3] + "..."
