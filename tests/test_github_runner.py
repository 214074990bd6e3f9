"""The outer loop's session: the trusted settings reach it, and a hard wall-clock guard ends a step that hangs."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from loopwright.github.handler import handle
from loopwright.github.runner import HardDeadline, hard_deadline, run_agent
from loopwright.github.settings import load
from loopwright.models.scripted import ScriptedModel, call
from tests.repos import buggy_calc_repo


def test_the_hard_deadline_interrupts_a_step_that_hangs():
    with pytest.raises(HardDeadline):
        with hard_deadline(0.2) as deadline:
            threading.Event().wait(60)
    assert deadline.fired


def test_the_guard_is_disarmed_after_a_run_that_ends_in_time():
    with hard_deadline(0.2) as deadline:
        pass
    threading.Event().wait(0.4)
    assert not deadline.fired


BASE_CONFIG = """
test_command = "sleep 5"
test_timeout_s = 1
edit_format = "udiff"
repo_map_tokens = 0
tool_mode = "text"
"""


def test_the_base_branch_settings_are_the_sessions_settings():
    config = load({"LOOPWRIGHT_SANDBOX_KIND": "local", "LOOPWRIGHT_TEST_TIMEOUT_S": "7"}, BASE_CONFIG).run_config()
    assert (config.test_timeout_s, config.edit_format, config.repo_map_tokens, config.tool_mode) == (7, "udiff", 0, "text")
    assert config.sandbox.kind == "local" and config.sandbox.network is False and config.approval_mode == "full-auto"


def test_the_bot_runs_with_the_configured_test_timeout_edit_format_and_map(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    model = ScriptedModel([call("submit", summary="looked")])
    outcome = run_agent("look around", repo, load({"LOOPWRIGHT_SANDBOX_KIND": "local"}, BASE_CONFIG), model, "")
    assert outcome.result.reason == "submitted"
    assert outcome.tests_before is not None and outcome.tests_before.problem == "timed out"  # cut at 1 s, not the default's 900
    assert "apply_patch" in model.offered[0] and "edit_file" not in model.offered[0]
    assert "repo_map" not in model.offered[0]


def test_the_bot_asks_for_the_model_with_the_configured_tool_mode(tmp_path: Path):
    """The model factory gets `tool_mode` from the trusted settings (its spec alone would pick one)."""
    from tests.github_fake import FakeGitHub, pull_payload
    from tests.github_payloads import pr_comment
    from tests.test_github_action import make_remote

    remote = make_remote(tmp_path, base_config=BASE_CONFIG)
    github = FakeGitHub().start()
    try:
        github.pulls[("Codertocat/Hello-World", 1)] = pull_payload(
            "Codertocat/Hello-World", 1, base_ref="main", base_url=str(remote.path), head_ref="feature", head_sha=remote.head_sha
        )
        asked = []

        def factory(spec, *, tool_mode=None):
            asked.append((spec, tool_mode))
            return ScriptedModel([call("submit", summary="looked")])

        env = {"GITHUB_API_URL": github.url, "GITHUB_TOKEN": "ghs_test", "LOOPWRIGHT_MODEL": "scripted:x", "LOOPWRIGHT_SANDBOX_KIND": "local"}
        outcome = handle("issue_comment", pr_comment("@loopwright look around"), env, factory)
    finally:
        github.stop()
    assert outcome.status == "done", outcome.message
    assert asked == [("scripted:x", "text")]


def test_the_job_log_tells_the_run_as_its_events_and_the_reply_reads_their_reports(tmp_path: Path, capsys):
    from loopwright.models.scripted import Turn
    from tests.github_fake import FakeGitHub, pull_payload
    from tests.github_payloads import pr_comment
    from tests.test_github_action import TOKEN, make_remote

    remote = make_remote(tmp_path)
    github = FakeGitHub().start()
    turns = [
        Turn(text=f"the token is {TOKEN}\x1b[2J\n::error::forged", calls=(("run_tests", {}),)),
        call("edit_file", path="calc.py", old_string="return a * b", new_string="return a - b"),
        call("submit", summary="tried"),
    ]
    try:
        github.pulls[("Codertocat/Hello-World", 1)] = pull_payload(
            "Codertocat/Hello-World", 1, base_ref="main", base_url=str(remote.path), head_ref="feature", head_sha=remote.head_sha
        )
        env = {"GITHUB_API_URL": github.url, "GITHUB_TOKEN": TOKEN, "LOOPWRIGHT_MODEL": "scripted:x", "LOOPWRIGHT_SANDBOX_KIND": "local"}
        outcome = handle("issue_comment", pr_comment("@loopwright fix add"), env, lambda spec, *, tool_mode=None: ScriptedModel(turns))
    finally:
        github.stop()
    assert outcome.status == "done", outcome.message
    log = capsys.readouterr().err.splitlines()
    told = [line for line in log if line.startswith("loopwright: ") and not line.startswith("loopwright: warning")]
    failing = re.escape("tests failed; 1 failed, 1 passed; failing: tests/test_calc.py::test_add")
    both = re.escape("tests failed; 2 failed; failing: tests/test_calc.py::test_add, tests/test_calc.py::test_mul")
    usage = r"loopwright: usage step {}: \d+ in, \d+ out; run [\d,]+ in, \d+ out"
    expected = [
        r"loopwright: run \S+: model scripted, local sandbox, tests: python3 -m pytest .*",
        rf"loopwright: tests before the run: not passed \({failing}\)",
        re.escape("loopwright: step 1: the token is ***\\x1b[2J ::error::forged [1 call]"),
        usage.format(1),
        "loopwright: call call_0_0: run_tests: run tests",
        rf"loopwright: result call_0_0: run_tests: not passed \({failing}\)",
        re.escape("loopwright: step 2: (no text) [1 call]"),
        usage.format(2),
        "loopwright: call call_1_0: edit_file: edit calc.py",
        "loopwright: result call_1_0: edit_file: ok, changed calc.py",
        re.escape("loopwright: step 3: (no text) [1 call]"),
        usage.format(3),
        "loopwright: call call_2_0: submit: submit: tried",
        "loopwright: result call_2_0: submit: ok",
        rf"loopwright: end: submitted after 3 steps \(tried\); tests not passed \({both}\); changed calc.py",
    ]
    assert len(told) == len(expected) and all(re.fullmatch(pattern, line) for pattern, line in zip(expected, told)), "\n".join(told)
    # The verdict after is the final run's (mul broken too; no run_tests call saw it), read from its structured report.
    (reply,) = github.replies
    assert "| Tests before | failing (tests failed; 1 failed, 1 passed; failing: tests/test\\_calc.py::test\\_add) |" in reply["body"]
    assert "| Tests after | failing (tests failed; 2 failed; failing: tests/test\\_calc.py::test\\_add, tests/test\\_calc.py::test\\_mul) |" in reply["body"]
