"""The session's git safety net on real repositories: shadow refs, /undo, /diff, /commit, odd repository states."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from loopwright.gitstate import GitStateError, SafetyNet

from tests.repos import git, make_repo

FILES = {"a.py": "a = 1\n", "b.py": "b = 1\n", "c.py": "c = 1\n", "tool.sh": "#!/bin/sh\necho hi\n"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", FILES)


def user_dirt(root: Path) -> None:
    """Uncommitted work of every kind: unstaged, staged and untracked."""
    (root / "a.py").write_text("a = 'mine, unstaged'\n")
    (root / "b.py").write_text("b = 'mine, staged'\n")
    git(root, "add", "b.py")
    (root / "notes.txt").write_text("my notes\n")


def agent_edits(root: Path) -> None:
    (root / "c.py").write_text("c = 2\n")
    (root / "new" / "deep").mkdir(parents=True)
    (root / "new" / "deep" / "d.py").write_text("d = 1\n")
    (root / "tool.sh").chmod(0o755)


def test_undo_restores_exactly_and_never_touches_user_work(repo: Path):
    user_dirt(repo)
    index_before = (repo / ".git" / "index").read_bytes()
    status_before = git(repo, "status", "--porcelain")
    net = SafetyNet.start(repo, "t1")
    assert net.state.branch == "main" and set(net.state.dirty) == {"a.py", "b.py", "notes.txt"}

    agent_edits(repo)
    change = net.record_step("step 1")
    assert change is not None and set(change.paths) == {"c.py", "new/deep/d.py", "tool.sh"}
    assert net.record_step("step 2 (no change)") is None
    assert (repo / ".git" / "index").read_bytes() == index_before
    assert git(repo, "rev-parse", "main") == git(repo, "rev-parse", "HEAD")
    assert git(repo, "rev-parse", net.ref).strip()

    diff = net.diff()
    assert "+c = 2" in diff and "+d = 1" in diff and "a.py" not in diff and "notes.txt" not in diff

    net.undo()
    assert (repo / "c.py").read_text() == "c = 1\n"
    assert not (repo / "new").exists()
    assert not os.access(repo / "tool.sh", os.X_OK)
    assert git(repo, "status", "--porcelain") == status_before
    assert (repo / "a.py").read_text() == "a = 'mine, unstaged'\n" and (repo / "notes.txt").read_text() == "my notes\n"
    assert git(repo, "diff", "--cached", "--name-only").split() == ["b.py"]
    with pytest.raises(GitStateError, match="nothing to undo"):
        net.undo()
    net.close()


def test_undo_refuses_to_overwrite_a_file_changed_after_the_step(repo: Path):
    net = SafetyNet.start(repo, "t2")
    (repo / "c.py").write_text("c = 2\n")
    net.record_step("agent")
    (repo / "c.py").write_text("c = 'my fix on top'\n")
    with pytest.raises(GitStateError, match="c.py changed after that step"):
        net.undo()
    assert (repo / "c.py").read_text() == "c = 'my fix on top'\n"


def test_undo_steps_back_one_change_at_a_time(repo: Path):
    net = SafetyNet.start(repo, "t3")
    (repo / "c.py").write_text("c = 2\n")
    net.record_step("one")
    (repo / "c.py").write_text("c = 3\n")
    (repo / "e.py").write_text("e = 1\n")
    net.record_step("two")
    assert net.undo().label == "two"
    assert (repo / "c.py").read_text() == "c = 2\n" and not (repo / "e.py").exists()
    assert net.undo().label == "one"
    assert (repo / "c.py").read_text() == "c = 1\n"


def test_commit_writes_one_commit_with_only_the_session_files(repo: Path):
    user_dirt(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    net = SafetyNet.start(repo, "t4")
    agent_edits(repo)
    net.record_step("agent")
    done = net.commit("Make c two\n\nDetails.")
    assert done.branch == "main"
    assert git(repo, "rev-list", "--count", f"{head}..main").strip() == "1"
    assert git(repo, "log", "-1", "--format=%s%n%an").splitlines() == ["Make c two", "Dev"]
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == ["c.py", "new/deep/d.py", "tool.sh"]
    status = {line[3:]: line[:2] for line in git(repo, "status", "--porcelain").splitlines()}
    assert status == {"a.py": " M", "b.py": "M ", "notes.txt": "??"}
    assert (repo / "a.py").read_text() == "a = 'mine, unstaged'\n"
    with pytest.raises(GitStateError, match="has not changed any files"):
        net.commit("again")


def test_detached_head_commits_on_the_detached_head(repo: Path):
    git(repo, "checkout", "-q", "--detach")
    main = git(repo, "rev-parse", "main").strip()
    net = SafetyNet.start(repo, "t5")
    assert net.state.branch is None
    (repo / "c.py").write_text("c = 2\n")
    net.record_step("agent")
    done = net.commit("detached work")
    assert done.branch is None
    assert git(repo, "rev-parse", "HEAD").strip() == done.sha
    assert git(repo, "rev-parse", "main").strip() == main


def test_no_repository_keeps_a_private_history(tmp_path: Path):
    root = tmp_path / "plain"
    root.mkdir()
    (root / "x.txt").write_text("original\n")
    net = SafetyNet.start(root, "t6")
    assert not net.state.in_repo
    (root / "x.txt").write_text("changed\n")
    (root / "y.txt").write_text("new\n")
    net.record_step("agent")
    assert "+changed" in net.diff()
    with pytest.raises(GitStateError, match="not a git repository"):
        net.commit("nope")
    net.undo()
    assert (root / "x.txt").read_text() == "original\n" and not (root / "y.txt").exists()
    assert not (root / ".git").exists()
    assert sorted(p.name for p in root.iterdir()) == ["x.txt"]  # the shadow history lives outside the folder


def test_mid_rebase_refuses_commit_and_keeps_the_conflict(repo: Path):
    git(repo, "checkout", "-q", "-b", "topic")
    (repo / "a.py").write_text("a = 'topic'\n")
    git(repo, "commit", "-qam", "topic")
    git(repo, "checkout", "-q", "main")
    (repo / "a.py").write_text("a = 'main'\n")
    git(repo, "commit", "-qam", "main")
    git(repo, "checkout", "-q", "topic")
    failed = subprocess.run(["git", "rebase", "main"], cwd=repo, capture_output=True, text=True)
    assert failed.returncode != 0
    conflicted = (repo / "a.py").read_text()
    net = SafetyNet.start(repo, "t7")
    assert net.state.operation == "rebase"
    (repo / "c.py").write_text("c = 2\n")
    net.record_step("agent")
    with pytest.raises(GitStateError, match="a rebase is in progress"):
        net.commit("x")
    net.undo()
    assert (repo / "c.py").read_text() == "c = 1\n"
    assert (repo / "a.py").read_text() == conflicted
    assert (repo / ".git" / "rebase-merge").is_dir()
    assert "a.py" in git(repo, "diff", "--name-only", "--diff-filter=U")


def test_first_commit_in_an_empty_repository(tmp_path: Path):
    root = tmp_path / "empty"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "Dev")
    (root / "mine.txt").write_text("user file\n")
    net = SafetyNet.start(root, "t8")
    (root / "app.py").write_text("print(1)\n")
    net.record_step("agent")
    net.commit("Add app")
    assert git(root, "show", "--name-only", "--format=", "HEAD").split() == ["app.py"]
    assert "?? mine.txt" in git(root, "status", "--porcelain")
