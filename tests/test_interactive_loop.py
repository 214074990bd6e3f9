"""The loop's conversation mode, used by the interactive session: turns, answers, interruptions, edited calls."""

from __future__ import annotations

from pathlib import Path

from loopwright.config import Limits
from loopwright.hooks import Allow, Hooks
from loopwright.loop import Agent
from loopwright.messages import Message
from loopwright.models.scripted import ScriptedModel, Turn, call
from loopwright.sandboxes.local import LocalSandbox
from loopwright.tools.base import ToolContext
from loopwright.tools.registry import default_tools
from loopwright.trajectory import Trajectory
from tests.repos import buggy_calc_repo


def agent_for(root: Path, turns, box: LocalSandbox, hooks: Hooks | None = None, **limits) -> tuple[Agent, ScriptedModel]:
    model = ScriptedModel(turns)
    ctx = ToolContext(root=root, sandbox=box, test_command="python -m pytest -q")
    agent = Agent(model, default_tools(), ctx, Limits(**limits), Trajectory.start(root, "chat", "scripted", {}, save=False), hooks, person_present=True)
    agent.messages = [Message.system("You help.")]
    return agent, model


def test_an_answer_ends_the_turn_and_the_next_turn_has_its_own_budget(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    turns = [call("read_file", path="calc.py"), Turn(text="add() subtracts."), call("read_file", path="calc.py"), Turn(text="Still does.")]
    with LocalSandbox(repo) as box:
        agent, model = agent_for(repo, turns, box, max_steps=2)
        first = agent.run_turn("what is wrong?")
        assert (first.reason, first.detail) == ("answered", "add() subtracts.") and agent.consecutive_errors == 0
        second = agent.run_turn("and now?")
        assert second.reason == "answered" and agent.steps == 4 and agent.messages[-1].content == "Still does."
        assert [m.content for m in model.seen[2] if m.role == "user"] == ["what is wrong?", "and now?"]
        third = agent.run_turn("again")
        assert third.reason == "model_error" and "no turn 5" in third.detail  # the script ran out, not the turn's budget


def test_every_turn_has_the_whole_token_budget(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    turns = [Turn(text="One."), Turn(text="Two."), Turn(text="Three."), call("read_file", path="calc.py"), call("read_file", path="calc.py")]
    with LocalSandbox(repo) as box:
        agent, _ = agent_for(repo, turns, box, max_tokens=12)
        assert [agent.run_turn(text).reason for text in ("a", "b", "c")] == ["answered"] * 3
        assert agent.usage.total_tokens > 12
        stopped = agent.run_turn("read calc.py, twice")
    assert stopped.reason == "max_tokens"  # the budget still bounds each turn


def test_a_submit_ends_only_its_turn(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    turns = [call("submit", summary="nothing to do"), Turn(text="Hello again.")]
    with LocalSandbox(repo) as box:
        agent, _ = agent_for(repo, turns, box)
        done = agent.run_turn("do nothing")
        assert (done.reason, done.submitted_summary) == ("submitted", "nothing to do")
        assert agent.run_turn("hi").detail == "Hello again."


def test_open_calls_are_answered_after_an_interruption(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")

    def interrupt(call, tool, args, ctx):
        raise KeyboardInterrupt

    turn = Turn(calls=(("read_file", {"path": "calc.py"}), ("run_shell", {"command": "true"})))
    with LocalSandbox(repo) as box:
        agent, _ = agent_for(repo, [turn], box, Hooks(approve=interrupt))
        assert agent.run_turn("go").reason == "interrupted"
        agent.close_open_calls("interrupted")
        tool_messages = [m for m in agent.messages if m.role == "tool"]
        assert [m.tool_call_id for m in tool_messages] == ["call_0_0", "call_0_1"]
        assert {m.content for m in tool_messages} == {"interrupted"}
        agent.close_open_calls("again")
        assert len([m for m in agent.messages if m.role == "tool"]) == 2


def test_a_call_edited_while_approving_is_reported_to_the_model(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")

    def edit(call, tool, args, ctx):
        return Allow(args.model_copy(update={"command": "echo edited"}))

    with LocalSandbox(repo) as box:
        agent, _ = agent_for(repo, [call("run_shell", command="echo original"), Turn(text="ok")], box, Hooks(approve=edit))
        agent.run_turn("run it")
    result = next(m.content for m in agent.messages if m.role == "tool")
    assert '"command":"echo edited"' in result.splitlines()[0] and result.splitlines()[-1] == "edited"


def test_switching_model_switches_to_the_edit_tools_of_its_format(tmp_path: Path):
    from types import SimpleNamespace

    from loopwright.config import RunConfig
    from loopwright.session import session_tools
    from loopwright.ui.commands import _model
    from rich.console import Console

    repo = buggy_calc_repo(tmp_path / "repo")
    config = RunConfig(edit_formats={"scripted:udiff": "udiff"}, repo_map_tokens=0)
    with LocalSandbox(repo) as box:
        agent, _ = agent_for(repo, [], box)
        chat = SimpleNamespace(
            agent=agent,
            console=Console(file=open(tmp_path / "out.txt", "w"), width=80),
            make_model=lambda spec: ScriptedModel([], name=spec),
            tools_for=lambda name: session_tools(repo, config, name),
        )
        _model(chat, "scripted:udiff-model")
        assert "apply_patch" in agent.tools and "edit_file" not in agent.tools
        assert "apply_patch" in {spec.name for spec in agent.specs}
        _model(chat, "scripted:other")
        assert "edit_file" in agent.tools and "apply_patch" not in agent.tools
