"""The installed `loopwright` command: real processes, real repositories."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.repos import buggy_calc_repo
from tests.scenarios import WRONG_THEN_RIGHT
from loopwright.trajectory import runs_dir


def loopwright(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loopwright", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def write_script(path, turns):
    path.write_text(json.dumps([{"text": t.text, "calls": [list(c) for c in t.calls]} for t in turns]))
    return path


def test_run_prints_a_summary_and_replay_reads_the_trajectory(tmp_path):
    repo = buggy_calc_repo(tmp_path / "repo")
    script = write_script(tmp_path / "script.json", WRONG_THEN_RIGHT)
    proc = loopwright("run", "make test_add pass", "--repo", str(repo), "--model", f"scripted:{script}", "--sandbox", "local")
    assert proc.returncode == 0, proc.stderr
    assert "stop reason : submitted" in proc.stdout
    assert "files       : calc.py" in proc.stdout
    assert "tests       : passed" in proc.stdout
    assert "test command: python3 -m pytest" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    trajectory = next(runs_dir(repo).glob("*.json"))
    replay = loopwright("replay", str(trajectory))
    assert replay.returncode == 0
    assert "step 3" in replay.stdout and "edit calc.py" in replay.stdout and "reason" in replay.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "x", "--repo", "/no/such/dir", "--model", "scripted:/dev/null"], "/no/such/dir: no such directory"),
        (["run", "x", "--model", "scripted:/no/script.json", "--sandbox", "local"], "cannot read model script"),
        (["run", "x", "--sandbox", "vm", "--model", "scripted:x"], "--sandbox must be docker or local"),
        (["run", "x", "--max-steps", "0", "--sandbox", "local", "--model", "scripted:x"], "--max-steps must be positive"),
        (["replay", "/no/such/file.json"], "not a loopwright trajectory"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(tmp_path, args, message):
    proc = loopwright(*args, cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


@pytest.mark.parametrize(
    "args, complaint",
    [(["nonexistent"], "No such command 'nonexistent'"), (["run", "--bogus"], "No such option: --bogus"), (["github", "handle-event", "--bogus"], "No such option: --bogus")],
)
def test_usage_errors_show_the_usage_and_exit_2(tmp_path, args, complaint):
    proc = loopwright(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Usage: loopwright" in proc.stderr and complaint in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_failing_run_exits_nonzero(tmp_path):
    repo = buggy_calc_repo(tmp_path / "repo")
    script = write_script(tmp_path / "s.json", WRONG_THEN_RIGHT[:3] + WRONG_THEN_RIGHT[-1:])
    proc = loopwright("run", "fix", "--repo", str(repo), "--model", f"scripted:{script}", "--sandbox", "local", "-q")
    assert proc.returncode == 1
    assert "tests       : failing" in proc.stdout


def test_demo_creates_the_bundled_repository_and_runs_the_agent_on_it(tmp_path):
    from loopwright.models.scripted import call

    script = write_script(tmp_path / "s.json", [
        call("run_tests"),
        call("edit_file", path="calc.py", old_string="return a - b", new_string="return a + b"),
        call("run_tests"),
        call("submit", summary="add() adds"),
    ])
    target = tmp_path / "demo"
    proc = loopwright("demo", "--path", str(target), "--model", f"scripted:{script}", "--sandbox", "local")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "tests       : passed" in proc.stdout and "files       : calc.py" in proc.stdout
    assert "return a + b" in (target / "calc.py").read_text()
    again = loopwright("demo", "--path", str(target), "--model", f"scripted:{script}", "--sandbox", "local")
    assert again.returncode == 2 and "already exists" in again.stderr
