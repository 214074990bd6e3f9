"""Jest's and Vitest's JSON report, tsc's and Node's errors, and the Node toolchain's plan, from their own shapes."""

from __future__ import annotations

import json

import pytest

from loopwright.sandboxes.toolchains.node import Node
from loopwright.tools.compile_errors import parse_build_errors
from loopwright.tools.jestjson import MAX_JSON_BYTES, JestReportError, parse_jest_json
from loopwright.tools.test_formats import reader_for, run_jest_json, run_junit, run_npm
from tests.repos import make_repo

FAILURE = (
    "Error: expect(received).toBe(expected) // Object.is equality\n\nExpected: 5\nReceived: -1\n"
    "    at Object.toBe (/workspace/test/calc.test.js:5:23)\n"
    "    at Promise.then.completed (/node_modules/jest-circus/build/utils.js:298:28)\n"
    "    at new Promise (<anonymous>)"
)


def report(*suites: dict) -> bytes:
    return json.dumps({"numTotalTests": 3, "success": False, "testResults": list(suites)}).encode()


def test_each_test_has_its_file_describe_and_name_and_a_failure_its_line():
    data = report({
        "name": "/workspace/test/calc.test.js", "status": "failed", "message": "",
        "assertionResults": [
            {"ancestorTitles": ["calc", "add"], "title": "adds", "status": "failed", "failureMessages": [FAILURE], "location": None},
            {"ancestorTitles": ["calc"], "title": "zero", "status": "passed", "failureMessages": []},
            {"ancestorTitles": [], "title": "later", "status": "todo", "failureMessages": []},
        ],
    })
    got = parse_jest_json(data, exit_code=1, timed_out=False, command="npm test")
    assert got.outcomes == {"test/calc.test.js › calc › add › adds": "failed", "test/calc.test.js › calc › zero": "passed", "test/calc.test.js › later": "skipped"}
    assert not got.passed and got.problem == "tests failed"
    failure = got.failures[0]
    assert failure.crash == "test/calc.test.js:5" and "Received: -1" in failure.message
    assert "jest-circus" not in failure.message


def test_a_file_that_did_not_parse_is_a_build_error_at_its_line():
    message = "  ● Test suite failed to run\n\n    SyntaxError: /workspace/calc.js: Unexpected token (2:0)\n\n      1 | exports.add = (a, b) => a +\n"
    got = parse_jest_json(report({"name": "/workspace/calc.test.js", "status": "failed", "message": message, "assertionResults": []}), exit_code=1, timed_out=False, command="")
    assert [(e.location, e.message) for e in got.build_errors] == [("calc.js:2:0", "Unexpected token")]
    assert got.problem == "the build failed"


def test_a_file_that_failed_to_run_for_another_reason_is_a_collection_error_never_a_pass():
    message = "Cannot find module 'left-pad' from 'calc.test.js'\n    at Resolver._throwModNotFoundError (/node_modules/jest-resolve/build/resolver.js:427:11)\n    at Object.<anonymous> (/workspace/calc.test.js:1:1)"
    passing = {"name": "/workspace/ok.test.js", "status": "passed", "assertionResults": [{"title": "ok", "status": "passed"}]}
    got = parse_jest_json(report(passing, {"name": "/workspace/calc.test.js", "status": "failed", "message": message, "assertionResults": []}), exit_code=1, timed_out=False, command="")
    assert not got.passed and got.collection_errors[0].node_id == "calc.test.js" and got.collection_errors[0].location == "calc.test.js:1"


def test_a_run_that_ran_nothing_is_not_a_pass():
    got = parse_jest_json(report(), exit_code=0, timed_out=False, command="")
    assert not got.passed and got.problem == "no tests collected"


@pytest.mark.parametrize("data", [b"not json", b"[]", b'{"testResults": 3}', b"[" * 100_000])
def test_a_report_that_is_not_one_is_refused_in_one_line(data):
    with pytest.raises(JestReportError) as refused:
        parse_jest_json(data, exit_code=0, timed_out=False, command="")
    assert "\n" not in str(refused.value)


def test_hostile_fields_of_the_wrong_type_are_left_out_and_a_huge_report_is_refused():
    data = report({"name": 7, "status": "failed", "assertionResults": [{"ancestorTitles": "x", "title": ["y"], "status": "failed", "failureMessages": "z", "location": {"line": True}}, 5]})
    got = parse_jest_json(data, exit_code=1, timed_out=False, command="")
    assert got.outcomes == {"(unnamed file) › (unnamed)": "failed"} and got.failures[0].crash == ""
    with pytest.raises(JestReportError):
        parse_jest_json(b" " * (MAX_JSON_BYTES + 1), exit_code=0, timed_out=False, command="")


def test_tsc_and_node_syntax_errors_point_at_file_and_line():
    output = (
        "src/a.ts(3,5): error TS2322: Type 'string' is not assignable to type 'number'.\n"
        "src/b.ts:4:1 - error TS1005: ';' expected.\n"
        "/workspace/lib/x.mjs:3\n  foo(\n     ^\n\nSyntaxError: Unexpected end of input\n"
    )
    assert [e.location for e in parse_build_errors(output)] == ["src/a.ts:3:5", "src/b.ts:4:1", "lib/x.mjs:3"]


def test_the_command_picks_the_reader():
    assert reader_for('npm test -- --json --outputFile="${LOOPWRIGHT_JSON_REPORT:-/tmp/x.json}"') is run_jest_json
    assert reader_for("npm test") is run_npm and reader_for("pnpm run test") is run_npm


def plan(tmp_path, files):
    return Node().plan(make_repo(tmp_path, files))


@pytest.mark.parametrize(("lockfile", "install"), [
    ("package-lock.json", "npm ci"), ("pnpm-lock.yaml", "pnpm install --frozen-lockfile"), ("yarn.lock", "yarn install --frozen-lockfile"), (None, "npm install"),
])
def test_the_lockfile_names_the_install(tmp_path, lockfile, install):
    files = {"package.json": json.dumps({"scripts": {"test": "vitest run"}})} | ({lockfile: "{}"} if lockfile else {})
    made = plan(tmp_path, files)
    assert install in made.steps[0].command and made.steps[0].network
    assert "mv node_modules /node_modules" in made.steps[1].command
    assert "--reporter=json" in made.test_command and "LOOPWRIGHT_JSON_REPORT" in made.test_command


def test_a_compound_test_script_is_judged_by_its_exit_code(tmp_path):
    made = plan(tmp_path, {"package.json": json.dumps({"scripts": {"test": "eslint . && jest"}})})
    assert made.test_command == "npm test"


def test_package_jsons_that_differ_only_in_name_share_an_environment(tmp_path):
    first = plan(tmp_path / "a", {"package.json": json.dumps({"name": "a", "scripts": {"test": "jest ./*"}, "devDependencies": {"jest": "^29"}})})
    second = plan(tmp_path / "b", {"package.json": json.dumps({"name": "b", "scripts": {"test": "jest ./*"}, "devDependencies": {"jest": "^29"}})})
    other = plan(tmp_path / "c", {"package.json": json.dumps({"name": "b", "scripts": {"test": "jest ./*"}, "devDependencies": {"jest": "^30"}})})
    assert first.cache_key("base") == second.cache_key("base") != other.cache_key("base")


@pytest.mark.parametrize("script", ["node --test", "node --test test/", "node --experimental-strip-types --test src/*.test.ts"])
def test_node_s_own_test_runner_writes_junit_through_node_options(tmp_path, script):
    made = plan(tmp_path, {"package.json": json.dumps({"scripts": {"test": script}})})
    assert made.test_command.startswith('NODE_OPTIONS="$NODE_OPTIONS --test-reporter=spec') and made.test_command.endswith(" npm test")
    assert reader_for(made.test_command) is run_junit


def test_a_node_test_script_that_does_more_is_judged_by_its_exit_code(tmp_path):
    assert plan(tmp_path, {"package.json": json.dumps({"scripts": {"test": "node --test && eslint ."}})}).test_command == "npm test"
    assert plan(tmp_path / "b", {"package.json": json.dumps({"scripts": {"test": "node test.js"}})}).test_command == "npm test"
