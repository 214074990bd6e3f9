"""The approval policy: approval mode x sandbox policy -> allow / ask / forbid, as one pure function."""

from __future__ import annotations

import pytest
from loopwright.approval import MODES, action_of, decide
from loopwright.config import SandboxSettings
from loopwright.tools.registry import default_tools

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
