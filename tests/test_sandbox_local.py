"""The local sandbox: real subprocesses in a temporary workspace."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from loopwright.sandboxes.base import SandboxError
from loopwright.sandboxes.local import LocalSandbox


def _alive(pid: int) -> bool:
    """Whether a process is still alive a moment after it was sent SIGKILL.

    A killed process can close its files (ending our output) a little before the kernel
    shows it as dead, so this waits briefly for the zombie state or its disappearance.
    """
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        time.sleep(0.05)
    return True


def _pids(path: Path) -> list[int]:
    return [int(word) for word in path.read_text().split()]


def test_exec_returns_output_exit_code_and_runs_in_workspace(tmp_path):
    with LocalSandbox(tmp_path) as box:
        result = box.exec("pwd; echo out; echo err >&2; exit 3", timeout_s=10)
    assert box.workdir == str(tmp_path.resolve())
    assert result.exit_code == 3
    assert result.output.splitlines()[0] == str(tmp_path.resolve())
    assert "out" in result.output and "err" in result.output
    assert not result.timed_out and not result.truncated


def test_files_written_appear_in_workspace(tmp_path):
    with LocalSandbox(tmp_path) as box:
        box.exec("mkdir -p sub && printf data > sub/file.txt", timeout_s=10)
    assert (tmp_path / "sub" / "file.txt").read_text() == "data"


def test_environment_is_minimal_and_takes_extra_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOPWRIGHT_TEST_SECRET_KEY", "sk-should-not-leak")
    with LocalSandbox(tmp_path) as box:
        result = box.exec("env", timeout_s=10, env={"EXTRA": "yes"})
    names = {line.split("=", 1)[0] for line in result.output.splitlines() if "=" in line}
    assert "LOOPWRIGHT_TEST_SECRET_KEY" not in names
    assert "EXTRA=yes" in result.output.splitlines()
    assert {"PATH", "LANG"} <= names


def test_timeout_kills_the_whole_process_group(tmp_path):
    with LocalSandbox(tmp_path) as box:
        result = box.exec(
            "sleep 1000 & echo $! > pids; (sleep 1000; echo late) & echo $! >> pids; wait",
            timeout_s=1,
        )
        assert result.timed_out
        assert result.exit_code != 0
        assert all(not _alive(pid) for pid in _pids(tmp_path / "pids"))
        assert box.exec("echo again", timeout_s=10).output.strip() == "again"


def test_command_ignoring_sigterm_is_killed(tmp_path):
    with LocalSandbox(tmp_path) as box:
        result = box.exec("trap '' TERM; echo $$ > pid; while :; do sleep 0.1; done", timeout_s=1)
    assert result.timed_out
    assert not _alive(_pids(tmp_path / "pid")[0])


def test_background_process_holding_output_does_not_hang(tmp_path):
    with LocalSandbox(tmp_path) as box:
        result = box.exec("sleep 1000 & echo $! > pid; echo started", timeout_s=60)
    assert result.exit_code == 0 and not result.timed_out
    assert "started" in result.output
    assert "background processes" in result.output
    assert not _alive(_pids(tmp_path / "pid")[0])


def test_output_over_the_cap_is_cut_with_a_note(tmp_path):
    with LocalSandbox(tmp_path, output_limit=1000) as box:
        result = box.exec("head -c 100000 /dev/zero | tr '\\0' x; echo; echo END", timeout_s=10)
    assert result.truncated
    assert "bytes of output cut" in result.output
    assert result.output.rstrip().endswith("END")
    assert len(result.output) < 1200


def test_signal_death_reads_as_shell_exit_code(tmp_path):
    with LocalSandbox(tmp_path) as box:
        assert box.exec("kill -9 $$", timeout_s=10).exit_code == 137


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(SandboxError, match="not a directory"):
        LocalSandbox(tmp_path / "missing")
    box = LocalSandbox(tmp_path)
    with pytest.raises(ValueError, match="timeout_s must be positive"):
        box.exec("true", timeout_s=0)
    box.close()
    box.close()
    with pytest.raises(SandboxError, match="closed"):
        box.exec("true", timeout_s=1)
