"""The real loop, real tools and a real git repository, driven by the scripted model (local sandbox)."""

from __future__ import annotations

import json

import pytest

from loopwright.config import RunConfig
from loopwright.models.scripted import ScriptedModel, Turn, call
from loopwright.sandboxes.local import LocalSandbox
from loopwright.session import run_task
from tests.repos import buggy_calc_repo, git
from tests.scenarios import WRONG_THEN_RIGHT
from loopwright.testdetect import PYTEST
from loopwright.trajectory import runs_dir


@pytest.fixture
def repo(tmp_path):
    return buggy_calc_repo(tmp_path / "repo")


def run(repo, turns, **limits):
    config = RunConfig()
    for key, value in limits.items():
        setattr(config.limits, key, value)
    model = ScriptedModel(turns)
    with LocalSandbox(repo) as box:
        outcome = run_task("make test_add pass", repo, config, model, sandbox=box)
    return outcome, model


def observations(model, index):
    """The tool messages the model saw before its turn `index`."""
    return [m.content for m in model.seen[index] if m.role in ("tool", "user")]


def test_wrong_edit_is_seen_failing_then_fixed(repo):
    outcome, model = run(repo, WRONG_THEN_RIGHT)
    result = outcome.result
    assert result.reason == "submitted"
    assert result.tests_passed is True
    assert result.changed_files == ["calc.py"]
    assert "return a + b" in (repo / "calc.py").read_text()
    first_run = observations(model, 2)[-1]
    assert "Tests FAILED" in first_run and "tests/test_calc.py::test_add" in first_run
    assert "assert -1 == 5" in first_run
    after_wrong_edit = observations(model, 4)[-1]
    assert "assert 6 == 5" in after_wrong_edit
    assert "Tests PASSED" in observations(model, 6)[-1]
    assert result.steps == 7
    assert result.usage.input_tokens > 0


def test_trajectory_records_every_step(repo):
    outcome, _ = run(repo, WRONG_THEN_RIGHT)
    data = json.loads(outcome.trajectory.read_text())
    assert outcome.trajectory.parent == runs_dir(repo)
    assert [s["step"] for s in data["steps"]] == list(range(1, 8))
    assert data["steps"][2]["tools"][0]["tool"] == "edit_file"
    assert data["summary"]["reason"] == "submitted" and data["summary"]["tests_passed"] is True
    # the command that ran is in the record of each test run and in the summary
    assert data["steps"][1]["tools"][0]["data"]["command"] == PYTEST
    assert data["summary"]["test_command"] == PYTEST
    assert data["messages"][0]["role"] == "system"
    # the run's own files stay out of the user's git status
    assert ".loopwright" not in git(repo, "status", "--porcelain")


def test_save_point_records_uncommitted_work(repo):
    (repo / "notes.txt").write_text("my own work in progress\n")
    outcome, _ = run(repo, WRONG_THEN_RIGHT)
    assert outcome.save_point
    assert git(repo, "show", f"{outcome.save_point}:notes.txt") == "my own work in progress\n"
    assert "return a - b" in git(repo, "show", f"{outcome.save_point}:calc.py")
    assert (repo / "notes.txt").read_text() == "my own work in progress\n"


def test_invalid_calls_go_back_to_the_model(repo):
    turns = [
        Turn(calls=(("no_such_tool", {}),)),
        Turn(calls=(("read_file", "{not json"),)),
        Turn(calls=(("read_file", {"path": "calc.py", "bogus": 1}),)),
        Turn(text="thinking out loud without a call"),
        call("submit", summary="gave up"),
    ]
    outcome, model = run(repo, turns, max_consecutive_errors=5)
    assert outcome.result.reason == "submitted"
    seen = observations(model, 4)
    assert any("unknown tool 'no_such_tool'" in text for text in seen)
    assert any("not valid JSON" in text for text in seen)
    assert any("bogus: Extra inputs are not permitted" in text for text in seen)
    assert any("did not call a tool" in text for text in seen)
    assert outcome.result.tests_passed is None  # nothing changed, tests never ran


def test_repeated_invalid_calls_stop_the_run(repo):
    outcome, _ = run(repo, [Turn(calls=(("nope", {}),))] * 10, max_consecutive_errors=3)
    assert outcome.result.reason == "repeated_failure"
    assert outcome.result.steps == 3


def test_step_budget_ends_the_run_and_final_tests_report_the_state(repo):
    turns = [call("edit_file", path="calc.py", old_string="return a - b", new_string="return a + b")] + [call("list_files")] * 10
    outcome, model = run(repo, turns, max_steps=3)
    assert outcome.result.reason == "max_steps"
    assert outcome.result.steps == 3
    assert outcome.result.tests_passed is True  # verified by the final test run
    assert any("step left" in m.content or "steps left" in m.content for m in model.seen[-1])


def test_token_budget_ends_the_run(repo):
    outcome, _ = run(repo, [call("list_files")] * 10, max_tokens=50)
    assert outcome.result.reason == "max_tokens"


def test_tool_errors_are_observations(repo):
    turns = [
        call("edit_file", path="calc.py", old_string="return nothing", new_string="x"),
        call("edit_file", path="tests/test_calc.py", old_string="assert", new_string="x"),
        call("read_file", path="../outside.txt"),
        call("submit"),
    ]
    outcome, model = run(repo, turns)
    seen = observations(model, 3)
    assert any("old_string not found" in text for text in seen)
    assert any("occurs 2 times (at lines 5, 9)" in text for text in seen)
    assert any("outside the workspace" in text for text in seen)
    assert (repo / "calc.py").read_text().count("return a - b") == 1


def test_model_running_out_is_a_named_stop(repo):
    outcome, _ = run(repo, [call("list_files")])
    assert outcome.result.reason == "model_error"
    assert "no turn 2" in outcome.result.detail


def test_wall_clock_budget_ends_the_run(repo):
    outcome, _ = run(repo, [call("run_shell", command="sleep 1.2")] * 5, max_seconds=1.0)
    assert outcome.result.reason == "time_limit"
    assert outcome.result.steps == 1


def test_conversation_is_compacted_to_fit_the_window_and_the_trajectory_says_so(repo):
    (repo / "big.py").write_text("".join(f"value_{n} = {n}  # some padding to make the line longer\n" for n in range(400)))
    turns = [call("read_file", path="big.py", end_line=100)] * 6 + [call("submit", summary="read it")]
    model = ScriptedModel(turns, context_window=9000)
    with LocalSandbox(repo) as box:
        outcome = run_task("read big.py", repo, RunConfig(), model, sandbox=box)
    assert outcome.result.reason == "submitted"
    last = model.seen[-1]
    assert last[0].role == "system" and last[1].content.startswith("Task:")
    assert any(m.content.startswith("[context compacted:") for m in last)
    assert len(last) < len(model.seen[-2]) + 2
    notes = [s["note"] for s in json.loads(outcome.trajectory.read_text())["steps"]]
    assert any(note.startswith("context compacted") for note in notes)


def test_calls_in_a_turn_with_an_unreadable_call_are_all_answered(repo):
    unreadable = Turn(calls=(("read_file", {"path": "calc.py"}), ("list_files", {})), format_error="a call's arguments are not valid JSON")
    outcome, model = run(repo, [unreadable, call("submit", summary="done")])
    assert outcome.result.reason == "submitted"
    sent = model.seen[1]
    asked = [c.id for m in sent if m.role == "assistant" for c in m.tool_calls]
    answered = [m.tool_call_id for m in sent if m.role == "tool"]
    assert asked == answered == ["call_0_0", "call_0_1"]
    assert "def add(a, b)" in sent[-3].content
    assert sent[-1].role == "user" and "not valid JSON" in sent[-1].content and "could not be read" in sent[-1].content
