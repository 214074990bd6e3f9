"""Done-when of the core: the real loop, real tools, a real git repository and a real container."""

from __future__ import annotations

import pytest

from loopwright.config import RunConfig
from loopwright.models.scripted import ScriptedModel, call
from loopwright.session import run_task
from tests.repos import buggy_calc_repo
from tests.scenarios import WRONG_THEN_RIGHT

pytestmark = pytest.mark.docker


def docker_config(image: str, **limits) -> RunConfig:
    config = RunConfig()
    config.sandbox.image = image
    for key, value in limits.items():
        setattr(config.limits, key, value)
    return config


def sandbox_containers(client) -> list:
    return client.containers.list(all=True, filters={"label": "loopwright.session"})


def test_agent_fixes_its_own_wrong_edit_in_a_container(tmp_path, sandbox_image, docker_client):
    repo = buggy_calc_repo(tmp_path / "repo")
    model = ScriptedModel(WRONG_THEN_RIGHT)
    before = {c.id for c in sandbox_containers(docker_client)}
    outcome = run_task("make test_add pass", repo, docker_config(sandbox_image), model)
    result = outcome.result
    assert result.reason == "submitted"
    assert result.tests_passed is True
    assert result.changed_files == ["calc.py"]
    tool_texts = [[m.content for m in seen if m.role == "tool"] for seen in model.seen]
    assert "Tests FAILED" in tool_texts[2][-1] and "assert -1 == 5" in tool_texts[2][-1]
    assert "Tests FAILED" in tool_texts[4][-1] and "assert 6 == 5" in tool_texts[4][-1]
    assert "Tests PASSED" in tool_texts[6][-1]
    assert {c.id for c in sandbox_containers(docker_client)} <= before, "the session's container was not removed"


def test_command_that_never_ends_is_killed_and_the_session_goes_on(tmp_path, sandbox_image):
    repo = buggy_calc_repo(tmp_path / "repo")
    model = ScriptedModel([
        call("run_shell", command="echo started; sleep 100000", timeout=2),
        call("run_shell", command="echo still here && whoami >/dev/null && python3 -c 'print(6*7)'"),
        call("submit", summary="checked"),
    ])
    outcome = run_task("probe the sandbox", repo, docker_config(sandbox_image), model)
    assert outcome.result.reason == "submitted"
    killed = [m.content for m in model.seen[1] if m.role == "tool"][-1]
    assert killed.startswith("[killed after 2s timeout") and "started" in killed
    after = [m.content for m in model.seen[2] if m.role == "tool"][-1]
    assert after.startswith("[exit code 0") and "still here" in after and "42" in after


def test_sandbox_has_no_network_and_no_host_secrets(tmp_path, sandbox_image, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-must-not-leak")
    repo = buggy_calc_repo(tmp_path / "repo")
    model = ScriptedModel([
        call("run_shell", command="env; python3 -c \"import socket; socket.create_connection(('1.1.1.1', 53), timeout=3)\""),
        call("submit"),
    ])
    run_task("inspect", repo, docker_config(sandbox_image), model)
    seen = [m.content for m in model.seen[1] if m.role == "tool"][-1]
    assert "sk-test-must-not-leak" not in seen
    assert "OSError" in seen or "unreachable" in seen.lower()
