"""Test reports from the runner's own account, on real repositories in a real container.

Each repository here is a way the text-scraping report got a real project wrong: a verdict must come
from what pytest itself recorded, and a run that did not test the repository's code is never a pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loopwright.sandboxes.docker import DockerSandbox
from loopwright.testdetect import PYTEST
from loopwright.tools.base import ToolContext
from loopwright.tools.run_tests import run_test_command
from loopwright.tools import testreport
from tests.repos import make_repo

pytestmark = pytest.mark.docker


def run_tests(repo: Path, image: str, command: str = PYTEST, selector: str | None = None) -> testreport.TestReport:
    with DockerSandbox(repo, image=image, install_dependencies=False) as box:
        report = run_test_command(ToolContext(root=repo, sandbox=box, test_command=command), selector)
        leftovers = box.exec("ls -d /tmp/loopwright-tests-* 2>/dev/null || true", timeout_s=30).output
    assert leftovers.strip() == "", "the report folder stayed in the sandbox"
    return report


NESTED = {
    "pytest.ini": "[pytest]\ntestpaths = tests\n",
    "inner/test_inner.py": "def test_good():\n    pass\n\n\ndef test_bad():\n    assert 1 == 2\n",
    "tests/test_outer.py": (
        "import subprocess\nimport sys\n\n\n"
        "def test_inner_run_reports_its_failure():\n"
        "    inner = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-rfE', '-p', 'no:cacheprovider', 'inner'],\n"
        "                           capture_output=True, text=True)\n"
        "    print(inner.stdout)\n"
        "    assert inner.returncode == 1\n"
        "    assert 'FAILED inner/test_inner.py::test_bad' in inner.stdout\n"
    ),
}


def test_a_nested_pytest_run_with_failed_lines_in_its_output_passes(tmp_path, sandbox_image):
    repo = make_repo(tmp_path / "repo", NESTED)
    report = run_tests(repo, sandbox_image, PYTEST + " -s")
    assert "FAILED inner/test_inner.py::test_bad" in report.tail  # the inner run's lines reached the output
    assert report.passed, report.render()
    assert report.outcomes == {"tests/test_outer.py::test_inner_run_reports_its_failure": "passed"}
    assert report.counts == {"passed": 1} and report.collected == 1
    assert report.failures == () and "FAILED" not in report.render()
    assert report.render().startswith("Tests PASSED. exit code 0; 1 passed\ncommand: python3 -m pytest")


def test_a_collection_error_shows_its_cause(tmp_path, sandbox_image):
    repo = make_repo(tmp_path / "repo", {
        "calc.py": "from decimal import NoSuchThing\n\n\ndef add(a, b):\n    return a + b\n",
        "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
        "pytest.ini": "[pytest]\npythonpath = .\n",
    })
    report = run_tests(repo, sandbox_image)
    assert not report.passed and report.problem == "errors collecting tests"
    (error,) = report.collection_errors
    assert error.node_id == "tests/test_calc.py"
    assert error.cause.startswith("ImportError: cannot import name 'NoSuchThing' from 'decimal'")
    assert error.location == "calc.py:1"
    rendered = report.render()
    assert rendered.startswith("Tests FAILED.")
    assert "ImportError: cannot import name 'NoSuchThing'" in rendered and "calc.py:1" in rendered
    assert "tests/test_calc.py:1: in <module>" in rendered


def test_nothing_collected_is_not_a_pass_even_with_exit_code_0(tmp_path, sandbox_image):
    # Some projects turn pytest's "no tests ran" (exit 5) into success; the run still tested nothing.
    repo = make_repo(tmp_path / "repo", {
        "conftest.py": "def pytest_sessionfinish(session, exitstatus):\n    if exitstatus == 5:\n        session.exitstatus = 0\n",
        "app.py": "VALUE = 1\n",
    })
    report = run_tests(repo, sandbox_image)
    assert report.exit_code == 0 and report.structured
    assert report.collected == 0 and not report.passed
    assert report.render().startswith("Tests NOT PASSED: no tests collected. exit code 0")


def test_a_package_imported_from_the_image_instead_of_the_repository_is_not_a_pass(tmp_path, sandbox_image):
    # pytest's own repository: the image's pytest imports first, so the repository's src/ is never tested.
    repo = make_repo(tmp_path / "repo", {
        "src/_pytest/__init__.py": "",
        "src/_pytest/python_api.py": "def approx(expected):\n    raise NotImplementedError\n",
        "src/pytest/__init__.py": "from _pytest.python_api import approx\n",
        "testing/test_approx.py": "import pytest\n\n\ndef test_approx():\n    assert 0.1 + 0.2 == pytest.approx(0.3)\n",
    })
    report = run_tests(repo, sandbox_image, selector="testing")
    assert report.exit_code == 0 and report.outcomes == {"testing/test_approx.py::test_approx": "passed"}
    assert not report.passed and report.problem == "tested code outside the repository"
    assert {item.name for item in report.outside_imports} == {"_pytest", "pytest"}
    assert all(item.origin.startswith("/usr/lib/python3/dist-packages/") for item in report.outside_imports)
    rendered = report.render()
    assert rendered.startswith("Tests NOT PASSED: tested code outside the repository. exit code 0; 1 passed")
    assert "_pytest from /usr/lib/python3/dist-packages/_pytest/__init__.py" in rendered


def test_a_src_layout_package_imported_from_the_repository_passes(tmp_path, sandbox_image):
    repo = make_repo(tmp_path / "repo", {
        "src/answers/__init__.py": "def answer():\n    return 42\n",
        "tests/test_answer.py": "from answers import answer\n\n\ndef test_answer():\n    assert answer() == 42\n",
        "pytest.ini": "[pytest]\npythonpath = src\n",
    })
    report = run_tests(repo, sandbox_image)
    assert report.passed, report.render()
    assert report.outside_imports == ()


LONG = {
    "tests/test_long.py": (
        "def test_many_lines():\n"
        "    assert False, '\\n'.join('line %d' % n for n in range(40))\n\n\n"
        "def test_wide():\n"
        "    assert 'ok' == 'x' * 300 + ' END'\n"
    ),
}


def test_long_assertion_messages_are_not_cut(tmp_path, sandbox_image):
    repo = make_repo(tmp_path / "repo", LONG)
    report = run_tests(repo, sandbox_image)
    many, wide = report.failures
    assert many.test_id == "tests/test_long.py::test_many_lines"
    assert "line 0" in many.message and "line 39" in many.message
    assert "x" * 300 + " END" in wide.message
    rendered = report.render()
    assert "E   AssertionError: line 0\n" in rendered and "E     line 39\n" in rendered and "x" * 300 + " END" in rendered


FRAMES = {
    "pkg/__init__.py": "",
    "pkg/store.py": (
        "import warnings\n\n\n"
        "def scratch(factory, name):\n"
        "    warnings.warn('scratch space is temporary')\n"
        "    return factory.mktemp(name)\n"
    ),
    "tests/test_store.py": (
        "from pkg.store import scratch\n\n\n"
        "def test_scratch(tmp_path_factory):\n"
        "    scratch(tmp_path_factory, '../escape')\n"
    ),
}


def test_frames_are_the_tests_and_the_projects_without_pytest_internals(tmp_path, sandbox_image):
    repo = make_repo(tmp_path / "repo", FRAMES)
    report = run_tests(repo, sandbox_image)
    (failure,) = report.failures
    assert failure.frames.splitlines() == [
        "    tests/test_store.py:5: in test_scratch",
        "        scratch(tmp_path_factory, '../escape')",
        "    pkg/store.py:6: in scratch",
        "        return factory.mktemp(name)",
    ]
    assert failure.message == "ValueError: ../escape is not a normalized and relative path"
    assert failure.crash.startswith("/usr/lib/python3/dist-packages/_pytest/tmpdir.py:")
    rendered = report.render()
    assert "warnings summary" not in rendered and "scratch space is temporary" not in rendered


def test_a_command_without_a_runner_report_falls_back_to_the_exit_code_and_says_so(tmp_path, sandbox_image):
    repo = make_repo(tmp_path / "repo", {"check.sh": "echo checking; exit 3\n"})
    report = run_tests(repo, sandbox_image, "sh check.sh")
    assert not report.structured and not report.passed and report.exit_code == 3
    assert "the test command wrote no report" in report.note
    assert report.render().splitlines()[:3] == [
        "Tests FAILED. exit code 3",
        "command: sh check.sh",
        f"results: from the exit code and the output text; {report.note}",
    ]
