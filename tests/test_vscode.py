"""`loopwright init vscode`: the generated tasks run for real and their problem matcher reads real output."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import json5
import pytest
from loopwright.vscode import FIX_TESTS, ON_FILE, VscodeError, merge

from tests.repos import CALC, buggy_calc_repo, make_repo
from tests.scenarios import WRONG_THEN_RIGHT
from loopwright.trajectory import runs_dir

LOOPWRIGHT = [sys.executable, "-m", "loopwright"]


def init(workspace: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*LOOPWRIGHT, "init", "vscode", "--repo", str(workspace)], capture_output=True, text=True, timeout=60)


def script(path: Path, turns) -> Path:
    path.write_text(json.dumps([{"text": t.text, "calls": [list(c) for c in t.calls]} for t in turns]))
    return path


def configure(repo: Path, model_script: Path, test_command: str = "") -> None:
    """The tasks pass no model or sandbox: they come from the repository's loopwright.toml, as for a user, who
    trusted its `sandbox.kind` once."""
    tests = f"test_command = {json.dumps(test_command)}\n" if test_command else ""
    (repo / "loopwright.toml").write_text(f'model = "scripted:{model_script}"\n{tests}\n[sandbox]\nkind = "local"\n')
    (repo / ".git" / "info" / "exclude").write_text("loopwright.toml\n.loopwright/\n")
    trusted = subprocess.run([*LOOPWRIGHT, "config", "trust", "--yes", "--repo", str(repo)], capture_output=True, text=True, timeout=60)
    assert trusted.returncode == 0, trusted.stderr


def substitute(value: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{([^}]+)\}", lambda m: variables[m.group(1)], value)


def run_task(task: dict, variables: dict[str, str]) -> list[dict]:
    """Run the task as VS Code does a `process` task, then apply its problem matcher to the output."""
    assert task["type"] == "process" and task["command"] == "loopwright"
    # `loopwright` is the installed entry point; this interpreter's `-m loopwright` is the same program.
    argv = [*LOOPWRIGHT, *(substitute(arg, variables) for arg in task["args"])]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=variables["workspaceFolder"])
    matcher = task["problemMatcher"]
    pattern = matcher["pattern"]
    regexp = re.compile(pattern["regexp"])
    problems = []
    for line in proc.stdout.splitlines():
        found = regexp.match(line)
        if found:
            problems.append({key: found.group(pattern[key]) for key in ("file", "line", "severity", "message")})
    assert matcher["fileLocation"] == ["relative", "${workspaceFolder}"]
    return [dict(p, exit=proc.returncode) for p in problems]


def generated(workspace: Path) -> dict[str, dict]:
    data = json5.loads((workspace / ".vscode" / "tasks.json").read_text())
    return {task["label"]: task for task in data["tasks"]} | {"inputs": data["inputs"]}


def test_fix_failing_tests_task_reports_the_changed_line(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    configure(repo, script(tmp_path / "s.json", WRONG_THEN_RIGHT))
    assert init(repo).returncode == 0
    task = generated(repo)[FIX_TESTS]
    problems = run_task(task, {"workspaceFolder": str(repo)})
    assert problems == [{"file": "calc.py", "line": "2", "severity": "info", "message": "changed by loopwright (tests pass): add() now adds", "exit": 0}]
    assert (repo / "calc.py").read_text().splitlines()[1] == "    return a + b"


def test_task_on_current_file_passes_the_editor_context_and_reports_failures(tmp_path: Path):
    from loopwright.models.scripted import Turn, call

    repo = buggy_calc_repo(tmp_path / "repo")
    turns = [call("edit_file", path="calc.py", old_string="a * b", new_string="b * a"), call("run_tests"), Turn(calls=(("submit", {"summary": "swapped"}),))]
    configure(repo, script(tmp_path / "s.json", turns))
    assert init(repo).returncode == 0
    tasks = generated(repo)
    assert tasks["inputs"][0]["id"] in tasks[ON_FILE]["args"][-1]
    variables = {
        "workspaceFolder": str(repo),
        "file": str(repo / "calc.py"),
        "lineNumber": "5",
        "selectedText": "def mul(a, b):\n    return a * b",
        "input:loopwrightRequest": "-swap the operands of mul",
    }
    problems = run_task(tasks[ON_FILE], variables)
    assert problems[0] == {"file": "calc.py", "line": "6", "severity": "warning", "message": "changed by loopwright (tests still fail): swapped", "exit": 1}
    failing = problems[1]
    assert (failing["file"], failing["line"], failing["severity"]) == ("tests/test_calc.py", "5", "error"), problems
    assert (repo / failing["file"]).read_text().splitlines()[4] == "    assert add(2, 3) == 5"
    assert "assert -1 == 5" in failing["message"] and len(problems) == 2
    trajectory = json.loads(next(runs_dir(repo).glob("*.json")).read_text())
    task_text = trajectory["task"]
    assert task_text.startswith("-swap the operands of mul") and "calc.py, at line 5" in task_text and "return a * b" in task_text


NOISY_TEST = """from calc import add


def test_add():
    print("FAILED fake::id - planted by the test")
    print("tests/test_calc.py:1: error: planted too")
    assert add(2, 3) == 5
"""


@pytest.mark.parametrize(
    "test_command, expected",
    [
        pytest.param("", [("tests/test_calc.py", "7", "error", "test_add failed: AssertionError: assert -1 == 5 + where -1 = add(2, 3)")], id="runner-report"),
        # Without the runner's report (the test command keeps loopwright's pytest plugin out) only the text is left,
        # where the planted lines look like failures: none of it becomes a problem.
        pytest.param("env -u PYTEST_ADDOPTS python3 -m pytest -q -rfE --tb=short -p no:cacheprovider", [], id="text-only"),
    ],
)
def test_text_a_test_prints_never_becomes_a_problem(tmp_path: Path, test_command: str, expected: list):
    from loopwright.models.scripted import call

    repo = make_repo(tmp_path / "repo", {"calc.py": CALC, "tests/test_calc.py": NOISY_TEST, "pytest.ini": "[pytest]\npythonpath = .\n"})
    configure(repo, script(tmp_path / "s.json", [call("run_tests"), call("submit", summary="looked")]), test_command)
    assert init(repo).returncode == 0
    problems = run_task(generated(repo)[FIX_TESTS], {"workspaceFolder": str(repo)})
    assert [(p["file"], p["line"], p["severity"], p["message"]) for p in problems] == expected
    trajectory = json.loads(next(runs_dir(repo).glob("*.json")).read_text())
    (report,) = [tool["data"] for step in trajectory["steps"] for tool in step["tools"] if tool["test_report"]]
    assert report["passed"] is False and report["structured"] is (not test_command)


def test_merge_keeps_existing_tasks_and_comments(tmp_path: Path):
    workspace = tmp_path / "ws"
    (workspace / ".vscode").mkdir(parents=True)
    original = """// my build setup
{
    "version": "2.0.0",
    /* the build */
    "tasks": [
        {
            "label": "build", // make it
            "type": "shell",
            "command": "make",
        },
    ],
}
"""
    path = workspace / ".vscode" / "tasks.json"
    path.write_text(original)
    first = init(workspace)
    assert first.returncode == 0 and "updated" in first.stdout
    text = path.read_text()
    for line in original.splitlines()[:9]:
        assert line in text
    data = json5.loads(text)
    assert [t["label"] for t in data["tasks"]] == ["build", FIX_TESTS, ON_FILE]
    assert data["tasks"][0] == {"label": "build", "type": "shell", "command": "make"}
    again = init(workspace)
    assert "already up to date" in again.stdout and path.read_text() == text

    stale = text.replace('"Make the failing tests pass."', '"old text"')
    path.write_text(stale)
    assert init(workspace).returncode == 0
    assert path.read_text() == text


def test_fresh_file_is_json_with_comments(tmp_path: Path):
    assert init(tmp_path).returncode == 0
    text = (tmp_path / ".vscode" / "tasks.json").read_text()
    assert text.startswith("//")
    data = json5.loads(text)
    assert data["version"] == "2.0.0" and len(data["tasks"]) == 2


@pytest.mark.parametrize("bad", ['{"tasks": 3}', "[]", '{"tasks": [', "{,}"])
def test_a_broken_tasks_file_is_left_alone(tmp_path: Path, bad: str):
    path = tmp_path / ".vscode" / "tasks.json"
    path.parent.mkdir()
    path.write_text(bad)
    proc = init(tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("loopwright: error: tasks.json")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert path.read_text() == bad
    with pytest.raises(VscodeError):
        merge(bad)


def test_a_failure_placed_outside_the_workspace_is_shown_at_its_test_or_not_at_all(tmp_path: Path):
    """The report's paths come from the sandbox: one that leaves the workspace (`..`, absolute, a link out) is never named."""
    from loopwright.diagnostics import diagnostics_of
    from loopwright.events import Summary, TestFailure, TestRun, Tokens

    root = make_repo(tmp_path / "repo", {"tests/test_a.py": "def test_a():\n    assert False\n"})
    (tmp_path / "outside.py").write_text("secret = 1\n")
    (root / "link").symlink_to(tmp_path)
    places = {"../outside.py": "tests/test_a.py::test_up", "/etc/passwd": "tests/test_a.py::test_absolute", "link/outside.py": "elsewhere/test_b.py::test_link"}
    failures = [TestFailure(test_id="tests/test_a.py::test_a", outcome="failed", message="assert False", path="tests/test_a.py", line=2)]
    failures += [TestFailure(test_id=test_id, outcome="error", message="boom", path=path, line=3) for path, test_id in places.items()]
    run = TestRun(
        command="pytest", passed=False, problem="tests failed", exit_code=1, counts={"failed": 4}, collected=4, structured=True,
        failing=[f.test_id for f in failures], failures=failures, collection_errors=[], outside_imports=[],
    )
    summary = Summary(
        seq=1, run_id="r", reason="submitted", detail="", steps=1, usage=Tokens(input_tokens=0, output_tokens=0, cached_tokens=0, cost_usd=None),
        duration_s=1.0, changed_files=[], tests_passed=False, test_summary="Tests FAILED.", test_command="pytest", test_run=run,
        submitted_summary="done", trajectory=None,
    )
    assert diagnostics_of(root, [summary], None) == [
        "tests/test_a.py:2: error: test_a failed: assert False",
        "tests/test_a.py:1: error: test_up error: boom",
        "tests/test_a.py:1: error: test_absolute error: boom",
    ]
