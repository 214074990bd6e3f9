"""The approval policy (approval mode x sandbox policy -> allow / ask / forbid, as one pure function) and the
terminal approver that asks a person by what each tool declares it does."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from loopwright.approval import MODES, action_of, decide
from loopwright.config import Limits, SandboxSettings
from loopwright.hooks import Hooks
from loopwright.loop import Agent
from loopwright.messages import Message
from loopwright.models.scripted import ScriptedModel, call
from loopwright.sandboxes.local import LocalSandbox
from loopwright.tools.base import Tool, ToolContext
from loopwright.tools.repo_map import RepoMapTool
from loopwright.tools.registry import default_tools
from loopwright.trajectory import Trajectory
from loopwright.ui.approve import TerminalApprover
from tests.repos import buggy_calc_repo

DOCKER = SandboxSettings(kind="docker")
LOCAL = SandboxSettings(kind="local")

TABLE = {
    # mode: (edit, command in docker, command with no sandbox)
    "suggest": ("ask", "ask", "ask"),
    "auto-edit": ("allow", "ask", "ask"),
    "full-auto": ("allow", "allow", "ask"),
}


@pytest.mark.parametrize("mode", MODES)
def test_the_table(mode):
    edit, docker_command, local_command = TABLE[mode]
    assert decide(mode, "read", LOCAL) == "allow"
    assert decide(mode, "edit", DOCKER) == edit == decide(mode, "edit", LOCAL)
    assert decide(mode, "command", DOCKER) == docker_command
    assert decide(mode, "command", LOCAL) == local_command


@pytest.mark.parametrize("mode", MODES)
def test_with_nobody_to_ask_asking_becomes_forbidding(mode):
    for action in ("read", "edit", "command"):
        for sandbox in (DOCKER, LOCAL):
            present = decide(mode, action, sandbox)
            absent = decide(mode, action, sandbox, person_present=False)
            assert absent == ("forbid" if present == "ask" else present)


def test_every_tool_declares_its_facts():
    tools = [tool for fmt in ("str_replace", "search_replace", "udiff") for tool in default_tools(fmt, [RepoMapTool(lambda query, tokens: "")])]
    for tool in tools:
        assert isinstance(tool, Tool), tool.name
        assert tool.kind in ("read", "edit", "command") and "kind" in vars(type(tool)), tool.name
        assert all(fact in vars(type(tool)) for fact in ("reports_tests", "unseen_changes", "editable")), tool.name
    assert {tool.name for tool in tools if tool.reports_tests} == {"run_tests"}
    assert {tool.name for tool in tools if tool.unseen_changes} == {"run_shell"}


def test_every_default_tool_has_a_known_action():
    kinds = {tool.name: action_of(tool) for fmt in ("str_replace", "search_replace", "udiff") for tool in default_tools(fmt)}
    assert kinds["edit_file"] == kinds["write_file"] == kinds["insert_text"] == "edit"
    assert kinds["apply_patch"] == kinds["replace_blocks"] == "edit"
    assert kinds["run_shell"] == kinds["run_tests"] == "command"
    assert kinds["read_file"] == kinds["search"] == kinds["list_files"] == kinds["submit"] == "read"


def test_a_tool_that_declares_no_kind_counts_as_a_command():
    class Undeclared:
        name = "some_new_tool"

    class Odd:
        kind = "delete"

    assert action_of(Undeclared()) == action_of(Odd()) == "command"


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="unknown approval mode 'yolo'"):
        decide("yolo", "edit", DOCKER)  # type: ignore[arg-type]


# -- the terminal approver in the real loop: it asks by the tool's kind and shows the tool's preview ------------

FIX_BLOCKS = "calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n"
FIX_PATCH = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"


class Person:
    """Answers the approver's questions from a list and keeps each question it was asked."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def __call__(self, question: str, prefilled: str) -> str:
        self.asked.append(question)
        if not self.answers:
            raise AssertionError(f"asked {question!r} with no answer left")
        return self.answers.pop(0)


def approving_agent(repo, turns, mode, person, edit_format, box, **hook_fns):
    console = Console(file=io.StringIO(), width=120)
    approver = TerminalApprover(console, person, mode, LOCAL, repo, "python -m pytest -q")
    ctx = ToolContext(root=repo, sandbox=box, test_command="python -m pytest -q")
    hooks = Hooks(approve=approver, **hook_fns)
    trajectory = Trajectory.start(repo, "task", "scripted", {}, save=False)
    agent = Agent(ScriptedModel(turns), default_tools(edit_format), ctx, Limits(), trajectory, hooks)
    agent.messages = [Message.system("You help."), Message.user("fix add")]
    return agent, console.file


def test_in_auto_edit_mode_a_block_edit_is_an_edit_and_runs_without_asking(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    person = Person()
    with LocalSandbox(repo) as box:
        agent, _ = approving_agent(repo, [call("replace_blocks", blocks=FIX_BLOCKS)], "auto-edit", person, "search_replace", box)
        agent.step()
    assert person.asked == []
    assert "return a + b" in (repo / "calc.py").read_text()


def test_always_for_a_block_edit_allows_edits_not_shell_commands(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    person = Person("a", "n", "not now")
    turns = [call("replace_blocks", blocks=FIX_BLOCKS), call("run_shell", command="touch marker"), call("replace_blocks", blocks=FIX_BLOCKS.replace("a - b", "a + b").replace("a + b\n>", "b + a\n>"))]
    with LocalSandbox(repo) as box:
        agent, out = approving_agent(repo, turns, "suggest", person, "search_replace", box)
        for _ in turns:
            agent.step()
    assert len(person.asked) == 3 and "[a]lways for edits" in person.asked[0] and "[e]dit the command" in person.asked[1]
    assert not (repo / "marker").exists()
    assert "return b + a" in (repo / "calc.py").read_text()  # the second block edit ran without asking
    assert "edits are allowed for the rest of this session" in out.getvalue()


@pytest.mark.parametrize("edit_format, turn", [("udiff", call("apply_patch", patch=FIX_PATCH)), ("search_replace", call("replace_blocks", blocks=FIX_BLOCKS))])
def test_patches_and_block_edits_show_their_diff_before_they_run(tmp_path: Path, edit_format, turn):
    repo = buggy_calc_repo(tmp_path / "repo")
    with LocalSandbox(repo) as box:
        agent, out = approving_agent(repo, [turn], "suggest", Person("y"), edit_format, box)
        agent.step()
    shown = out.getvalue()
    assert "-    return a - b" in shown and "+    return a + b" in shown
    assert "does not apply" not in shown
    assert "edit calc.py" in shown or "patch calc.py" in shown


def test_an_edit_that_would_not_apply_says_why_while_asking(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    blocks = FIX_BLOCKS.replace("return a - b\n=", "return nothing\n=")
    with LocalSandbox(repo) as box:
        agent, out = approving_agent(repo, [call("replace_blocks", blocks=blocks)], "suggest", Person("y"), "search_replace", box)
        agent.step()
    shown = " ".join(out.getvalue().split())
    assert "no preview:" in shown and "calc.py" in shown and "it will fail and report why" in shown
    assert agent.messages[-1].role == "tool" and "Error from replace_blocks" in agent.messages[-1].content


def test_editing_a_command_runs_new_arguments_and_leaves_the_models_untouched(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    started = []
    with LocalSandbox(repo) as box:
        agent, _ = approving_agent(
            repo, [call("run_shell", command="echo original")], "suggest", Person("e", "echo edited"), "str_replace", box,
            on_tool_start=lambda call, tool, args: started.append(args),
        )
        original = agent.tools["run_shell"].Args.model_validate({"command": "echo original"})
        seen = []
        approve = agent.hooks.approve
        agent.hooks.approve = lambda call, tool, args, ctx: (seen.append(args), approve(call, tool, args, ctx))[1]
        agent.step()
    assert seen[0] == original and seen[0].command == "echo original"  # not changed in place
    assert [args.command for args in started] == ["echo edited"]
    result = agent.messages[-1].content.splitlines()
    assert "echo edited" in result[0] and result[-1] == "edited"
