"""The outer loop's session: the trusted settings reach it, and a hard wall-clock guard ends a step that hangs."""

from __future__ import annotations

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
    assert outcome.tests_before is not None and outcome.tests_before.timed_out  # cut at 1 s, not the default's 900
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
