"""The readers of Go's, libtest's and JUnit's accounts of a run, on output in the runners' own shapes (as
`go test -json`, cargo 1.85 and CTest 3.31 print them): per-test outcomes, failures with file:line, compile
errors, hostile input, and never a pass for a run that tested nothing."""

from __future__ import annotations

import json

import pytest

from loopwright.tools.compile_errors import parse_build_errors
from loopwright.tools.gotest import parse_go_test
from loopwright.tools.junit import MAX_XML_BYTES, JUnitError, parse_junit
from loopwright.tools.libtest import parse_cargo_test
from loopwright.tools.test_formats import reader_for, run_junit, run_make


def go_events(*events: dict) -> str:
    return "\n".join(json.dumps(event) for event in events)


def test_go_subtests_fail_under_their_own_ids_with_the_line_they_point_at():
    output = go_events(
        {"Action": "start", "Package": "example.com/calc"},
        {"Action": "run", "Package": "example.com/calc", "Test": "TestTable"},
        {"Action": "run", "Package": "example.com/calc", "Test": "TestTable/two"},
        {"Action": "output", "Package": "example.com/calc", "Test": "TestTable/two", "Output": "    calc_test.go:21: case two broke\n"},
        {"Action": "fail", "Package": "example.com/calc", "Test": "TestTable/two"},
        {"Action": "fail", "Package": "example.com/calc", "Test": "TestTable"},
        {"Action": "run", "Package": "example.com/calc", "Test": "TestAdd"},
        {"Action": "pass", "Package": "example.com/calc", "Test": "TestAdd"},
        {"Action": "fail", "Package": "example.com/calc"},
    )
    report = parse_go_test(output, 1, False, "go test -json ./...")
    assert report.outcomes == {"example.com/calc/TestTable": "failed", "example.com/calc/TestTable/two": "failed", "example.com/calc/TestAdd": "passed"}
    assert [(f.test_id, f.message, f.crash) for f in report.failures] == [("example.com/calc/TestTable/two", "calc_test.go:21: case two broke", "calc_test.go:21")]


def test_go_build_failures_are_compile_errors_and_a_crashed_test_is_not_a_pass():
    build = go_events(
        {"ImportPath": "example.com/calc [example.com/calc.test]", "Action": "build-output", "Output": "# example.com/calc [example.com/calc.test]\n"},
        {"ImportPath": "example.com/calc [example.com/calc.test]", "Action": "build-output", "Output": "./calc.go:5:37: undefined: c\n"},
        {"ImportPath": "example.com/calc [example.com/calc.test]", "Action": "build-fail"},
        {"Action": "fail", "Package": "example.com/calc", "FailedBuild": "example.com/calc [example.com/calc.test]"},
    )
    report = parse_go_test(build, 1, False, "go test -json ./...")
    assert report.problem == "the build failed" and [(e.location, e.message) for e in report.build_errors] == [("calc.go:5:37", "undefined: c")]
    crashed = go_events(
        {"Action": "run", "Package": "p", "Test": "TestBoom"},
        {"Action": "output", "Package": "p", "Test": "TestBoom", "Output": "panic: runtime error: index out of range [3] with length 3\n"},
        {"Action": "output", "Package": "p", "Test": "TestBoom", "Output": "\t/workspace/boom.go:7 +0x1d\n"},
        {"Action": "fail", "Package": "p"},
    )
    report = parse_go_test(crashed, 2, False, "go test -json ./...")
    assert report.outcomes == {"p/TestBoom": "error"} and report.failures[0].crash == "boom.go:7" and not report.passed


def test_go_with_no_tests_or_no_json_is_never_a_pass():
    empty = go_events({"Action": "output", "Package": "p", "Output": "?   \tp\t[no test files]\n"}, {"Action": "skip", "Package": "p"})
    assert parse_go_test(empty, 0, False, "go test -json ./...").problem == "no tests collected"
    text = parse_go_test('go: example.com/x@v1.0.0: missing go.sum entry\n{"Action": 3}\n[1]', 1, False, "go test -json ./...")
    assert not text.structured and text.problem == "the command exited with 1" and "missing go.sum entry" in text.tail


LIBTEST = """\
   Compiling calc v0.1.0 (/workspace)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.52s
     Running unittests src/lib.rs (/tmp/loopwright-target/debug/deps/calc-1e1b)

running 2 tests
test tests::doubles ... ok
test tests::adds ... FAILED

failures:

---- tests::adds stdout ----

thread 'tests::adds' panicked at src/lib.rs:15:9:
assertion `left == right` failed
  left: -1
 right: 5
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    tests::adds

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

     Running tests/outside.rs (/tmp/loopwright-target/debug/deps/outside-9f2a)

running 2 tests
test slow ... ignored
test from_outside ... ok

test result: ok. 1 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s

   Doc-tests calc

running 1 test
test src/lib.rs - add (line 3) ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.10s

error: 1 target failed:
    `--lib`
"""


def test_libtest_lines_give_outcomes_by_target_and_the_panic_location():
    report = parse_cargo_test(LIBTEST, 101, False, "cargo test --no-fail-fast")
    assert report.outcomes == {
        "src/lib.rs::tests::doubles": "passed",
        "src/lib.rs::tests::adds": "failed",
        "tests/outside.rs::slow": "skipped",
        "tests/outside.rs::from_outside": "passed",
        "doc::src/lib.rs - add (line 3)": "passed",
    }
    assert report.collected == 5 and report.build_errors == ()
    (failure,) = report.failures
    assert failure.crash == "src/lib.rs:15" and "left: -1" in failure.message and "RUST_BACKTRACE" not in failure.message


def test_rustc_errors_point_at_file_and_line_and_cargo_summaries_are_left_out():
    output = """\
   Compiling calc v0.1.0 (/workspace)
error[E0277]: cannot subtract `&str` from `i32`
 --> src/lib.rs:2:7
  |
2 |     a - "b"
  |       ^ no implementation for `i32 - &str`

error: could not compile `calc` (lib test) due to 1 previous error
"""
    report = parse_cargo_test(output, 101, False, "cargo test")
    assert not report.structured and report.problem == "the build failed"
    assert [(e.location, e.message) for e in report.build_errors] == [("src/lib.rs:2:7", "[E0277] cannot subtract `&str` from `i32`")]


def test_all_ignored_is_not_a_pass():
    output = "     Running unittests src/lib.rs (x)\n\nrunning 1 test\ntest t ... ignored\n\ntest result: ok. 0 passed; 0 failed; 1 ignored; 0 measured\n"
    assert parse_cargo_test(output, 0, False, "cargo test").problem == "no test ran"


CTEST_JUNIT = b"""<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="Linux-c++" tests="2" failures="1" disabled="0" skipped="0" hostname="" time="0" timestamp="2025-06-01T10:00:00">
    <testcase name="Calc.Adds" classname="Calc.Adds" time="0.0" status="fail">
        <failure message="Failed"/>
        <system-out>/workspace/calc_test.cpp:3: Failure
Expected equality of these values:
  add(2, 3)
    Which is: -1
  5
</system-out>
    </testcase>
    <testcase name="Calc.Zero" classname="Calc.Zero" time="0.0" status="run">
        <system-out>[       OK ] Calc.Zero (0 ms)</system-out>
    </testcase>
    <testcase name="Calc.Later" classname="Calc.Later" time="0" status="notrun"><skipped message="Disabled"/></testcase>
</testsuite>
"""


def test_ctest_junit_gives_outcomes_messages_and_locations():
    report = parse_junit(CTEST_JUNIT, exit_code=8, timed_out=False, command="ctest")
    assert report.outcomes == {"Calc.Adds": "failed", "Calc.Zero": "passed", "Calc.Later": "skipped"}
    assert report.failures[0].crash == "calc_test.cpp:3" and "Which is: -1" in report.failures[0].message


def test_hostile_junit_is_refused_and_never_passes():
    bomb = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><testsuite><testcase name="&b;"/></testsuite>'
    with pytest.raises(JUnitError):
        parse_junit(bomb, exit_code=0, timed_out=False, command="ctest")
    with pytest.raises(JUnitError):
        parse_junit(b"<testsuite>" + b" " * MAX_XML_BYTES + b"</testsuite>", exit_code=0, timed_out=False, command="ctest")
    assert parse_junit(b"<testsuites/>", exit_code=0, timed_out=False, command="ctest").problem == "no tests collected"


def test_compiler_errors_of_gcc_cmake_and_the_linker_keep_file_and_line():
    output = """\
/workspace/calc.cpp:2:36: error: 'undefined_name' was not declared in this scope
/workspace/calc.cpp:9:1: warning: unused variable 'x' [-Wunused-variable]
In file included from /workspace/calc_test.cpp:1:
/workspace/calc.h:1:10: fatal error: missing.h: No such file or directory
CMake Error at CMakeLists.txt:12 (find_package):
  Could not find a package configuration file provided by "Foo"
/usr/bin/ld: calc.o: in function `main': undefined reference to `add(int, int)'
    calc_test.go:7: Add(2, 3) = -1, want 5
"""
    assert [(e.location, e.message[:30]) for e in parse_build_errors(output)] == [
        ("calc.cpp:2:36", "'undefined_name' was not decla"),
        ("calc.h:1:10", "missing.h: No such file or dir"),
        ("CMakeLists.txt:12", "(find_package) Could not find "),
        ("linker", "calc.o: in function `main': un"),
    ]


def test_each_command_gets_its_runners_reader():
    assert reader_for("go test -json ./...") is not None and reader_for("go test ./...") is None
    assert reader_for("cargo test --no-fail-fast -- --include-ignored") is not None
    assert reader_for('ctest --output-junit "$LOOPWRIGHT_JUNIT"') is run_junit
    assert reader_for("make check") is run_make
    assert reader_for("python3 -m pytest -q") is None


def test_a_cpp_header_is_checked_as_cpp_too():
    from loopwright.tools.editing.syntax import problems

    header = "#if !defined(CLOCK_H)\n#define CLOCK_H\n#include <string>\nnamespace date_independent {\nclass clock {\npublic:\n    static clock at(int h, int m = 0);\n    operator std::string() const;\n};\n}\n#endif\n"
    assert problems("clock.h", header) == []
    assert problems("broken.h", "int f(void) { return 1 +; }\n") != []
