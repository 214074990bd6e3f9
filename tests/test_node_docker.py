"""JavaScript projects for real: the Node image, a dependency installed from a lockfile in the setup phase into
/node_modules (never into the repository), the agent phase offline, and test runs read into per-test results,
failures with file:line and syntax errors as build errors."""

from __future__ import annotations

import json

import pytest

from tests.langboxes import ensure_images, language_test, open_boxes, run
from tests.repos import make_repo

LOCK = {
    "name": "calc", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
    "packages": {
        "": {"name": "calc", "version": "1.0.0", "dependencies": {"greet": "file:./greet"}},
        "node_modules/greet": {"version": "1.0.0", "resolved": "file:greet"},
    },
}
LOCAL_FILES = {
    "package.json": json.dumps({"name": "calc", "version": "1.0.0", "private": True, "scripts": {"test": "node --test"}, "dependencies": {"greet": "file:./greet"}}),
    "package-lock.json": json.dumps(LOCK),
    "greet/package.json": json.dumps({"name": "greet", "version": "1.0.0", "main": "index.js"}),
    "greet/index.js": "module.exports = () => 'hello'\n",
    "calc.js": "const greet = require('greet')\nexports.add = (a, b) => a + b\nexports.greeting = () => greet()\n",
    "test/calc.test.js": (
        "const test = require('node:test')\nconst assert = require('node:assert')\nconst calc = require('../calc')\n"
        "test('adds', () => assert.strictEqual(calc.add(2, 3), 5))\ntest('greets', () => assert.strictEqual(calc.greeting(), 'hello'))\n"
    ),
}
JEST_FILES = {
    "package.json": json.dumps({"name": "calc", "private": True, "scripts": {"test": "jest"}, "devDependencies": {"jest": "29.7.0"}}),
    "calc.js": "exports.add = (a, b) => a - b\n",
    "calc.test.js": (
        "const { add } = require('./calc')\n\ndescribe('calc', () => {\n  test('adds', () => {\n    expect(add(2, 3)).toBe(5)\n  })\n"
        "  test('adds zero', () => {\n    expect(add(0, 0)).toBe(0)\n  })\n})\n"
    ),
}
NO_NETWORK = "cat /sys/class/net/*/operstate 2>/dev/null | grep -c up; getent hosts registry.npmjs.org >/dev/null && echo resolved || echo unresolved"



@pytest.fixture(scope="session")
def node_image(docker_client):
    ensure_images(docker_client, ("node",))


@pytest.fixture
def open_box(node_image, docker_client):
    yield from open_boxes(docker_client)


@language_test
def test_a_locked_local_dependency_is_installed_outside_the_repository_and_found_offline(tmp_path, open_box):
    repo = make_repo(tmp_path / "calc", LOCAL_FILES)
    box = open_box(repo)
    report = box.setup_report
    assert report.language == "node" and report.kept and not report.failures, report.failures
    assert report.setup_commands[0].command.startswith("npm ci")
    assert "greet 1.0.0" in report.packages
    assert box.exec(NO_NETWORK, timeout_s=30).output.split() == ["0", "unresolved"]
    assert not (repo / "node_modules").exists()

    passing = run(repo, box)
    assert passing.passed, passing.render()

    (repo / "calc.js").write_text("const greet = require('greet')\nexports.add = (a, b) => a - b\nexports.greeting = () => greet()\n")
    failing = run(repo, box)
    assert not failing.passed and failing.exit_code != 0
    assert not (repo / "node_modules").exists()


@language_test
@pytest.mark.npm
def test_jest_reports_a_failing_test_with_its_id_and_a_syntax_error_at_file_and_line(tmp_path, open_box):
    repo = make_repo(tmp_path / "calc", JEST_FILES)
    box = open_box(repo)
    assert box.setup_report.kept and not box.setup_report.failures, box.setup_report.failures
    assert box.exec("npm view jest version", timeout_s=60).exit_code != 0  # offline: the registry is out of reach

    failing = run(repo, box)
    assert failing.structured and not failing.passed
    assert failing.outcomes == {"calc.test.js › calc › adds": "failed", "calc.test.js › calc › adds zero": "passed"}
    assert failing.failures[0].crash == "calc.test.js:5" and "Received: -1" in failing.failures[0].message

    (repo / "calc.js").write_text("exports.add = (a, b) => a +\n")
    broken = run(repo, box)
    assert not broken.passed and broken.problem == "the build failed"
    assert broken.build_errors[0].location.startswith("calc.js:"), broken.build_errors

    (repo / "calc.js").write_text("exports.add = (a, b) => a + b\n")
    assert run(repo, box).passed
    assert not (repo / "node_modules").exists()


@language_test
def test_node_s_own_test_runner_reports_each_test_with_its_message(tmp_path, open_box):
    repo = make_repo(tmp_path / "calc", {
        "package.json": json.dumps({"name": "calc", "version": "1.0.0", "scripts": {"test": "node --test"}}),
        "calc.js": "exports.add = (a, b) => a - b\n",
        "calc.test.js": (
            "const test = require('node:test')\nconst assert = require('node:assert')\nconst { add } = require('./calc')\n\n"
            "test('adds', () => {\n  assert.strictEqual(add(2, 3), 5)\n})\n\ntest('adds zero', () => {\n  assert.strictEqual(add(0, 0), 0)\n})\n"
        ),
    })
    box = open_box(repo)
    failing = run(repo, box)
    assert failing.structured and failing.outcomes == {"test.adds": "failed", "test.adds zero": "passed"}, failing.render()
    assert "-1 !== 5" in failing.failures[0].message

    (repo / "calc.js").write_text("exports.add = (a, b) => a + b\n")
    assert run(repo, box).passed
