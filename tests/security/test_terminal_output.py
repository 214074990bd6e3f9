"""Nothing the sandbox or the model wrote reaches a person's terminal as something the terminal obeys.

Each test drives a real output path (the interactive chat in a pseudo-terminal, `loopwright run`,
`loopwright replay` of a hostile trajectory) with text carrying escape sequences, bidi controls and rich
markup, then reads what the terminal received: none of the sequences arrive raw, and each is shown as text.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pexpect

from tests.repos import buggy_calc_repo, git
from tests.test_interactive import Session, turn

# Each attack: the raw sequence a hostile text carries, and how it must look on the terminal instead.
ATTACKS = {
    "clipboard write (OSC 52)": ("\x1b]52;c;cm0gLXJmIH4=\x07", r"\x1b]52;c;cm0gLXJmIH4=\x07"),
    "window title (OSC 0)": ("\x1b]0;pwned-title\x07", r"\x1b]0;pwned-title\x07"),
    "screen and scrollback clear": ("\x1b[2J\x1b[3J", r"\x1b[2J\x1b[3J"),
    "cursor move": ("\x1b[33;44H", r"\x1b[33;44H"),
    "concealed text": ("\x1b[8mconcealed\x1b[28m", r"\x1b[8mconcealed\x1b[28m"),
    "black on black": ("\x1b[30;40mhidden\x1b[0m", r"\x1b[30;40mhidden\x1b[0m"),
    "bidi override": ("\u202eevil.exe\u202c", r"\u202eevil.exe\u202c"),
    "bidi isolate": ("\u2066rtl\u2069", r"\u2066rtl\u2069"),
    "zero-width joiner": ("zero\u200dwidth", r"zero\u200dwidth"),
}
PAYLOAD = "".join(raw for raw, _ in ATTACKS.values())
MARKUP = "[conceal]markup-hidden[/conceal][bold red]markup-red[/]"
"""Rich markup in untrusted text: it must print as written, never as styles."""

RICH_SGR = re.compile(r"\x1b\[[0-9;]*m")


def assert_harmless(screen: str) -> None:
    """No attack sequence arrived raw; each arrived as visible text; markup was not interpreted."""
    for name, (raw, shown) in ATTACKS.items():
        assert raw not in screen, f"{name} reached the terminal raw"
        assert unwrapped(shown) in unwrapped(screen), f"{name} is not shown as text"
    for raw in ("\x1b]", "\x1b[8m", "\x1b[30;40m", "\u202e", "\u2066", "\u200d"):
        assert raw not in screen
    assert unwrapped(MARKUP) in unwrapped(screen)


def without_styles(screen: str) -> str:
    """The text on the screen without rich's own colour codes."""
    return RICH_SGR.sub("", screen).replace("\r\n", "\n")


def unwrapped(text: str) -> str:
    """Without colour codes and white space, so text that rich wrapped onto two lines still matches."""
    return re.sub(r"\s", "", without_styles(text))


def in_terminal(*args: str, cwd: Path | None = None) -> tuple[str, int]:
    """Run loopwright in a pseudo-terminal (so rich writes as to a person) and return all it wrote."""
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="400", LINES="50")
    child = pexpect.spawn(sys.executable, ["-m", "loopwright", *args], env=env, cwd=str(cwd) if cwd else None, encoding="utf-8", timeout=120, dimensions=(50, 400))
    screen = child.read()
    child.close()
    return screen, child.exitstatus


def write_script(path: Path, turns: list[dict]) -> Path:
    path.write_text(json.dumps(turns))
    return path


def test_run_shows_model_text_command_output_and_summary_harmlessly(tmp_path):
    repo = buggy_calc_repo(tmp_path / "repo")
    echo = f"printf '%s\\n' '{PAYLOAD}' '{MARKUP}'"
    script = write_script(tmp_path / "script.json", [
        turn(f"Looking around. {PAYLOAD} {MARKUP}", ("run_shell", {"command": echo})),
        turn("", ("write_file", {"path": "notes.md", "content": "x\n"})),
        turn("", ("submit", {"summary": f"done {PAYLOAD} {MARKUP}"})),
    ])
    screen, status = in_terminal("run", "look around", "--repo", str(repo), "--model", f"scripted:{script}", "--sandbox", "local", "--test-cmd", "true", "--diagnostics")
    assert status == 0, screen
    assert "stop reason : submitted" in without_styles(screen)
    assert "notes.md:1: info: changed by loopwright" in without_styles(screen)  # the plain-printed diagnostics path too
    assert_harmless(screen)
    # Past rich's own colour codes, nothing else may reach the terminal.
    assert "\x1b" not in RICH_SGR.sub("", screen)


def test_run_shows_a_hostile_file_name_harmlessly(tmp_path):
    repo = buggy_calc_repo(tmp_path / "repo")
    name = "\u202etxt.exe[bold red]x[/]\x1b[2J"
    script = write_script(tmp_path / "script.json", [
        turn("", ("write_file", {"path": name, "content": "x\n"})),
        turn("", ("submit", {"summary": "wrote it"})),
    ])
    screen, status = in_terminal("run", "write", "--repo", str(repo), "--model", f"scripted:{script}", "--sandbox", "local", "--test-cmd", "true")
    assert status == 0, screen
    assert "\u202e" not in screen and "\x1b[2J" not in screen
    assert unwrapped(r"\u202etxt.exe[bold red]x[/]\x1b[2J") in unwrapped(screen)


def test_interactive_chat_shows_model_text_commands_and_output_harmlessly(tmp_path):
    repo = buggy_calc_repo(tmp_path / "repo")
    git(repo, "checkout", "-q", "-b", "feature\u202etxt.exe")
    command = f"printf '%s\\n' '{PAYLOAD}' '{MARKUP}'"
    script = [
        turn(f"Let me look. {PAYLOAD} {MARKUP}", ("run_shell", {"command": command})),
        turn("", ("submit", {"summary": f"finished {PAYLOAD} {MARKUP}"})),
    ]
    session = Session(repo, script, tmp_path, "--sandbox", "local", "--mode", "suggest")
    session.say("look around")
    session.answer("allow?", "y")
    session.expect("finished")
    assert session.finish() == 0
    screen = session.log.read_text(encoding="utf-8")
    assert_harmless(screen)
    assert unwrapped(r"feature\u202etxt.exe") in unwrapped(screen)


def hostile_trajectory(path: Path) -> Path:
    """A trajectory as a hostile pull request's run could leave it: every field carries the attacks."""
    text = f"{PAYLOAD} {MARKUP}"
    usage = {"input_tokens": 1, "output_tokens": 1}
    data = {
        "version": 1,
        "run_id": f"run-{PAYLOAD}{MARKUP}",
        "task": text,
        "model": text,
        "repo": text,
        "started_at": text,
        "steps": [
            {
                "step": 1, "started_at": 0.0, "model_duration_s": 0.1, "usage": usage,
                "assistant_text": text, "note": text,
                "tools": [
                    {"call_id": "a", "tool": "run_shell", "arguments": json.dumps({"command": text}), "output": text},
                    {"call_id": "b", "tool": f"tool{PAYLOAD}{MARKUP}", "arguments": text, "output": text, "is_error": True},
                    {"call_id": "c", "tool": "submit", "arguments": json.dumps({"summary": text}), "output": text},
                ],
            }
        ],
        "summary": {f"key{PAYLOAD}{MARKUP}": text},
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_replay_of_a_hostile_trajectory_is_harmless(tmp_path):
    screen, status = in_terminal("replay", str(hostile_trajectory(tmp_path / "run.json")))
    assert status == 0, screen
    assert_harmless(screen)
    assert "\x1b" not in RICH_SGR.sub("", screen)
