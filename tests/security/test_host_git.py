"""Class 1: host git never runs configuration the sandbox planted, whatever the repository's layout.

Each attack writes, from inside a real container, a git configuration whose `core.fsmonitor` runs a command
(touching a marker file on the host), in the place the layout lets it reach: the top `.git`, a submodule's
`.git` file, a linked worktree's `.git` file, a `.git` made below `--repo <subdir>`, a folder without git.
Then loopwright's own host-side git work runs (dirty-path check, save points, the repo map's scan, the
interactive safety net) and the marker must not exist.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loopwright import gitstate, gittrust
from loopwright.repomap.index import RepoIndex
from tests.repos import git, make_repo

pytestmark = pytest.mark.docker


def plant(folder: str, marker: Path) -> str:
    """A shell command that makes `folder` a git directory whose fsmonitor touches `marker` on the host."""
    return (
        f"mkdir -p {folder} && cd {folder} && git init -q --bare . 2>/dev/null; "
        f"git config --file config core.bare false && git config --file config core.fsmonitor 'touch {marker}; false'"
    )


def host_git_work(root: Path) -> None:
    """What loopwright does with git on the host around and after a session."""
    before = gitstate.take(root)
    if before is not None:
        gitstate.changed_since(before)
        gitstate.save_point(root, "runs/attack")
    RepoIndex.open(root)


def loopwright_run(repo: Path, script: Path, runtime: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "loopwright", "run", "attack", "--repo", str(repo), "--model", f"scripted:{script}", "--max-steps", "6"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "LOOPWRIGHT_SANDBOX_RUNTIME": runtime},
    )


def script_of(path: Path, commands: list[str]) -> Path:
    turns = [{"text": "", "calls": [["run_shell", {"command": command}]]} for command in commands]
    turns.append({"text": "", "calls": [["repo_map", {"query": "anything"}]]})
    turns.append({"text": "done", "calls": [["submit", {"summary": "done"}]]})
    path.write_text(json.dumps(turns))
    return path


def test_the_top_git_folder_is_read_only(tmp_path, make_sandbox):
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    marker = tmp_path / "pwned"
    box = make_sandbox(repo)
    result = box.exec(f"git config --file .git/config core.fsmonitor 'touch {marker}; false'; echo hook > .git/hooks/pre-commit", timeout_s=30)
    assert "Read-only file system" in result.output
    host_git_work(repo)
    assert not marker.exists()


def test_a_submodule_git_file_cannot_be_pointed_elsewhere(tmp_path, make_sandbox):
    library = make_repo(tmp_path / "lib", {"lib.py": "y = 2\n"})
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "vendor/lib")
    git(repo, "commit", "-qm", "submodule")
    marker = tmp_path / "pwned"
    box = make_sandbox(repo, read_only_paths=gittrust.protected_paths(repo))
    box.exec(plant("/workspace/evil", marker), timeout_s=30)
    rewrite = box.exec("echo 'gitdir: ../../evil' > vendor/lib/.git", timeout_s=30)
    assert rewrite.exit_code != 0, "the submodule's .git file must be read-only in the sandbox"
    # Even a submodule .git file that does point at a planted git directory is never entered by host git.
    host_git_work(repo)
    assert not marker.exists()


def test_a_submodule_pointing_at_a_planted_git_dir_is_not_entered(tmp_path):
    """The same attack as if the `.git` file had been rewritten (for instance by a previous, unprotected run)."""
    library = make_repo(tmp_path / "lib", {"lib.py": "y = 2\n"})
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "vendor/lib")
    git(repo, "commit", "-qm", "submodule")
    marker = tmp_path / "pwned"
    evil = repo / "vendor" / "lib" / ".git"
    real = (repo / "vendor" / "lib" / evil.read_text().split(":", 1)[1].strip()).resolve()
    subprocess.run(["git", "config", "--file", str(real / "config"), "core.fsmonitor", f"touch {marker}; false"], check=True)
    (repo / "vendor" / "lib" / "lib.py").write_text("changed\n")
    host_git_work(repo)
    assert not marker.exists()


def test_a_worktree_git_file_is_read_only_and_host_git_stays_pinned(tmp_path, make_sandbox):
    main = make_repo(tmp_path / "main", {"a.py": "x = 1\n"})
    worktree = tmp_path / "wt"
    git(main, "worktree", "add", "-q", "-b", "feature", str(worktree))
    marker = tmp_path / "pwned"
    gitstate.take(worktree)  # the session finds its repository before the sandbox runs
    box = make_sandbox(worktree, read_only_paths=gittrust.protected_paths(worktree))
    box.exec(plant("/workspace/evil", marker), timeout_s=30)
    rewrite = box.exec("echo 'gitdir: evil' > .git", timeout_s=30)
    assert rewrite.exit_code != 0
    host_git_work(worktree)
    assert not marker.exists()


def test_a_git_folder_made_below_a_subdirectory_run_is_never_used(tmp_path, runtime):
    repo = make_repo(tmp_path / "repo", {"sub/a.py": "def f():\n    return 1\n", "pytest.ini": "[pytest]\n"})
    marker = tmp_path / "pwned"
    script = script_of(tmp_path / "script.json", [plant("/workspace/.git", marker) + " && echo planted"])
    first = loopwright_run(repo / "sub", script, runtime)
    assert "Traceback" not in first.stderr, first.stderr
    assert not marker.exists(), "the repo map's git scan or the dirty-path check ran the planted fsmonitor"
    assert (repo / "sub" / ".git" / "config").is_file(), "the attack did plant its git folder"
    # A later run on the same folder finds that git folder first: it is refused, not used.
    second = loopwright_run(repo / "sub", script, runtime)
    assert second.returncode != 0
    assert "Traceback" not in second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "a sandbox could write" in lines[0], second.stderr
    assert not marker.exists()


def test_a_git_folder_made_in_a_folder_without_git_is_refused_later(tmp_path, make_sandbox, monkeypatch):
    root = tmp_path / "plain"
    root.mkdir()
    (root / "notes.txt").write_text("hello\n")
    marker = tmp_path / "pwned"
    net = gitstate.SafetyNet.start(root, "s1")
    gittrust.record_sandboxed(root, gittrust.protected_paths(root))
    box = make_sandbox(root)
    # The shadow history is not in the folder, so nothing the sandbox writes there is used by host git.
    box.exec(plant("/workspace/.loopwright/shadow.git", marker) + "; " + plant("/workspace/.git", marker) + "; echo x > notes.txt", timeout_s=30)
    change = net.record_step("agent")
    net.diff()
    net.undo()
    net.close()
    assert change is not None and not marker.exists()
    assert (root / "notes.txt").read_text() == "hello\n"
    monkeypatch.setattr(gittrust, "_pinned", {})  # a later loopwright process
    with pytest.raises(gittrust.UntrustedGit, match="a sandbox could write"):
        gitstate.take(root)
    assert not marker.exists()
    # Once the person checked it and says so, it is theirs again.
    gittrust.trust(root)
    assert gittrust.locate(root) is not None
