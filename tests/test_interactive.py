"""The real interactive program in a pseudo-terminal, driven with the scripted model."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.repos import CALC, buggy_calc_repo, git
from loopwright.trajectory import runs_dir

PROMPT_READY = "\x1b[?2004h"
"""prompt_toolkit switches bracketed paste on each time it starts reading: the prompt is ready."""


class Session:
    def __init__(self, repo: Path, script: list[dict], tmp: Path, *args: str, env: dict[str, str] | None = None) -> None:
        path = tmp / f"script-{len(list(tmp.glob('script-*')))}.json"
        path.write_text(json.dumps(script))
        env = dict(os.environ, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm", LOOPWRIGHT_DEBUG="1", XDG_CONFIG_HOME=str(tmp / "xdg"), **(env or {}))
        argv = ["-m", "loopwright", "--repo", str(repo), "--model", f"scripted:{path}", *args]
        self.child = pexpect.spawn(sys.executable, argv, env=env, encoding="utf-8", timeout=60, dimensions=(50, 120))
        self.log = tmp / "session.log"
        self.child.logfile_read = self.log.open("a")

    def prompt(self) -> None:
        self.child.expect_exact(PROMPT_READY)

    def say(self, text: str) -> None:
        self.prompt()
        self.child.sendline(text)

    def expect(self, text: str) -> None:
        self.child.expect(styled(text))

    def answer(self, question: str, reply: str) -> None:
        self.expect(question)  # drawn once prompt_toolkit reads the terminal
        self.child.sendline(reply)

    def finish(self) -> int:
        self.say("/exit")
        self.child.expect(pexpect.EOF)
        self.child.close()
        return self.child.exitstatus


def styled(text: str) -> re.Pattern[str]:
    """`text` as it appears on the terminal: colour and cursor sequences may sit between any two characters."""
    return re.compile(ANSI.join(re.escape(ch) for ch in text))


ANSI = r"(?:\x1b\[[0-9;?]*[A-Za-z])*"


def turn(text: str = "", *calls: tuple[str, dict]) -> dict:
    return {"text": text, "calls": [list(call) for call in calls]}


FIX_ADD = ("edit_file", {"path": "calc.py", "old_string": "return a - b", "new_string": "return a + b"})
NOTES = ("write_file", {"path": "notes.md", "content": "scratch\n"})


def test_edit_approved_one_refused_then_commit(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    (repo / "pytest.ini").write_text("[pytest]\npythonpath = .\naddopts = -q\n")  # the user's own uncommitted work
    head = git(repo, "rev-parse", "HEAD").strip()
    script = [turn("I'll fix add().", FIX_ADD), turn("", NOTES), turn("Fixed add(); I left out the notes.")]
    session = Session(repo, script, tmp_path, "--sandbox", "local", "--mode", "suggest")
    session.say("make add() add")
    session.expect("+    return a + b")
    session.answer("allow?", "y")
    session.expect("applied calc.py")
    session.expect("+scratch")
    session.answer("allow?", "n")
    session.answer("reason for the agent", "no scratch files")
    session.expect("Fixed add(); I left out the notes.")
    session.say("/diff")
    session.expect("+    return a + b")
    session.say("/commit")
    session.expect("committed ")
    assert session.finish() == 0

    assert not (repo / "notes.md").exists()
    assert git(repo, "rev-list", "--count", f"{head}..main").strip() == "1"
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["calc.py"]
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith("make add() add\n\nRequested:\n- make add() add") and "- calc.py" in message
    assert git(repo, "status", "--porcelain").splitlines() == [" M pytest.ini"]
    trajectory = json.loads(next(runs_dir(repo).glob("*.json")).read_text())
    refusal = [m["content"] for m in trajectory["messages"] if m["role"] == "tool" and m.get("name") == "write_file"]
    assert refusal and "declined" in refusal[0] and "no scratch files" in refusal[0]


def test_undo_restores_the_file_exactly(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    original = (repo / "calc.py").read_bytes()
    script = [turn("", FIX_ADD, ("write_file", {"path": "pkg/new.py", "content": "x = 1\n"})), turn("Done.")]
    session = Session(repo, script, tmp_path, "--sandbox", "local", "--mode", "auto-edit")
    session.say("fix it")
    session.expect("saved step 1")
    session.expect("Done.")
    assert (repo / "calc.py").read_bytes() != original and (repo / "pkg" / "new.py").exists()
    session.say("/undo")
    session.expect("undone step 1")
    session.say("/undo")
    session.expect("nothing to undo")
    assert session.finish() == 0
    assert (repo / "calc.py").read_bytes() == original
    assert not (repo / "pkg").exists()
    assert git(repo, "status", "--porcelain") == ""


def test_ctrl_c_interrupts_the_command_and_keeps_the_session(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    marker = tmp_path / "finished"
    script = [turn("", ("run_shell", {"command": f"sleep 30 && touch {marker}"})), turn("Stopped as asked.")]
    session = Session(repo, script, tmp_path, "--sandbox", "local", "--mode", "auto-edit")
    session.say("wait a while")
    session.answer("allow?", "y")
    session.expect("$ sleep 30")
    session.child.sendintr()
    session.expect("interrupted")
    session.say("go on")
    session.expect("Stopped as asked.")
    session.prompt()
    session.child.sendintr()
    session.expect("Ctrl-C again to exit")
    session.child.sendintr()
    session.child.expect(pexpect.EOF)
    session.child.close()
    assert session.child.exitstatus == 0
    assert not marker.exists()
    trajectory = json.loads(next(runs_dir(repo).glob("*.json")).read_text())
    assert any(m["role"] == "tool" and "interrupted by the user" in m["content"] for m in trajectory["messages"])


def test_the_command_can_be_edited_before_it_runs(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    script = [turn("", ("run_shell", {"command": "echo from-the-model"})), turn("Ran it.")]
    session = Session(repo, script, tmp_path, "--sandbox", "local", "--mode", "suggest")
    session.say("run something")
    session.answer("allow?", "e")
    session.expect("command:")
    session.child.send("\x01\x0becho edited-by-person\r")  # Ctrl-A Ctrl-K clear the pre-filled command
    session.expect("Ran it.")
    assert session.finish() == 0
    trajectory = json.loads(next(runs_dir(repo).glob("*.json")).read_text())
    output = next(m["content"] for m in trajectory["messages"] if m["role"] == "tool")
    note, status, printed = output.splitlines()
    assert "changed this call" in note and "echo edited-by-person" in note
    assert status.startswith("[exit code 0") and printed == "edited-by-person"


def test_slash_commands(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    session = Session(repo, [turn("Seen it.")], tmp_path, "--sandbox", "local")
    session.say("/help")
    session.expect("/commit")
    session.say("/mode full-auto")
    session.expect("approval mode: full-auto")
    session.say("/add calc.py")
    session.expect("added calc.py")
    session.say("/run echo $((6*7))")
    session.expect("42")
    session.say("/add ../outside.py")
    session.expect("add:")
    session.say("/bogus")
    session.expect("unknown command /bogus")
    session.say("look at this")
    session.expect("Seen it.")
    session.say("/tokens")
    session.expect("tokens:")
    session.say("/model scripted:/no/such/script.json")
    session.expect("cannot read model script")
    session.say("/clear")
    session.expect("conversation cleared")
    assert session.finish() == 0
    trajectory = json.loads(next(runs_dir(repo).glob("*.json")).read_text())
    request = next(m["content"] for m in trajectory["messages"] if m["role"] == "user")
    assert CALC.splitlines()[1] in request and "42" in request and request.endswith("look at this")


def test_resume_continues_the_last_session(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    first = Session(repo, [turn("First answer.")], tmp_path, "--sandbox", "local")
    first.say("first question")
    first.expect("First answer.")
    assert first.finish() == 0
    second = Session(repo, [turn("Second answer.")], tmp_path, "--sandbox", "local", "--resume")
    second.say("second question")
    second.expect("Second answer.")
    assert second.finish() == 0
    runs = list(runs_dir(repo).glob("*.json"))
    assert len(runs) == 1
    contents = [m["content"] for m in json.loads(runs[0].read_text())["messages"]]
    assert contents[1:] == ["first question", "First answer.", "second question", "Second answer."]


def test_every_request_has_the_whole_token_budget_through_clear_and_resume(tmp_path: Path):
    """A long conversation, /clear and --resume never use up the token budget for good."""
    repo = buggy_calc_repo(tmp_path / "repo")
    budget = {"LOOPWRIGHT_LIMITS_MAX_TOKENS": "400"}  # one request here takes about 260
    first = Session(repo, [turn("One."), turn("Two."), turn("Three.")], tmp_path, "--sandbox", "local", env=budget)
    first.say("first question")
    first.expect("One.")
    first.say("second question")
    first.expect("Two.")
    first.say("/clear")
    first.expect("conversation cleared")
    first.say("third question")
    first.expect("Three.")
    assert first.finish() == 0
    second = Session(repo, [turn("Four.")], tmp_path, "--sandbox", "local", "--resume", env=budget)
    second.say("fourth question")
    second.expect("Four.")
    assert second.finish() == 0
    assert "max_tokens" not in second.log.read_text()


def test_resume_without_a_session_is_one_line(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    proc = subprocess.run([sys.executable, "-m", "loopwright", "--repo", str(repo), "--resume", "--sandbox", "local", "--model", "scripted:x"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("loopwright: error: no earlier session to resume")


def test_outside_git_undo_works_and_commit_explains(tmp_path: Path):
    root = tmp_path / "plain"
    root.mkdir()
    (root / "calc.py").write_text(CALC)
    session = Session(root, [turn("", FIX_ADD), turn("Done.")], tmp_path, "--sandbox", "local", "--mode", "auto-edit")
    session.expect("not a git repository")
    session.say("fix")
    session.expect("Done.")
    session.say("/commit")
    session.expect("not a git repository")
    session.say("/undo")
    session.expect("undone")
    assert session.finish() == 0
    assert (root / "calc.py").read_text() == CALC
    assert not (root / ".git").exists()


def test_piped_input_works_without_a_terminal(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    script = tmp_path / "s.json"
    script.write_text(json.dumps([turn("Piped answer.")]))
    proc = subprocess.run(
        [sys.executable, "-m", "loopwright", "--repo", str(repo), "--model", f"scripted:{script}", "--sandbox", "local"],
        input="hello\n/tokens\n", capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Piped answer." in proc.stdout and "tokens:" in proc.stdout


def _containers_of(pid: int) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", "label=loopwright.session", "--format", '{{.ID}} {{.Label "loopwright.owner"}}'],
        capture_output=True, text=True, check=True,
    ).stdout
    owner = f"{socket.gethostname()}/{pid}:"
    return [line.split()[0] for line in out.splitlines() if len(line.split()) > 1 and line.split()[1].startswith(owner)]


@pytest.mark.docker
def test_ctrl_c_mid_command_leaves_no_container(tmp_path: Path, sandbox_image: str):
    repo = buggy_calc_repo(tmp_path / "repo")
    script = [turn("", ("run_shell", {"command": "sleep 60"})), turn("Stopped.")]
    session = Session(repo, script, tmp_path, "--sandbox", "docker", "--image", sandbox_image, "--mode", "full-auto")
    session.say("sleep")
    session.expect("$ sleep 60")
    assert len(_containers_of(session.child.pid)) == 1
    session.child.sendintr()
    session.expect("interrupted")
    session.prompt()
    session.child.sendintr()
    session.child.sendintr()
    session.child.expect(pexpect.EOF, timeout=60)
    session.child.close()
    assert session.child.exitstatus == 0
    assert _containers_of(session.child.pid) == []
