"""The action's git steps on real repositories: nothing the sandboxed work tree holds can steer git on the runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopwright.github.gitops import Checkout, GitOpsError, Identity
from tests.repos import git, make_repo

TOKEN = "ghs_gitopsTestToken0123456789"


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    dev = make_repo(tmp_path / "dev", {"a.py": "a = 1\n"})
    git(dev, "checkout", "-q", "-b", "feature")
    (dev / "b.py").write_text("b = 1\n")
    git(dev, "add", "-A")
    git(dev, "commit", "-q", "-m", "feature")
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(dev), str(bare))
    return bare


def test_checkout_keeps_git_metadata_and_the_token_out_of_the_work_tree(tmp_path, remote):
    checkout = Checkout.create(tmp_path / "ws", token=TOKEN)
    head = checkout.fetch(str(remote), "feature", "refs/remotes/pull/head")
    checkout.fetch(str(remote), "main", "refs/remotes/origin/main")
    checkout.check_out(head)
    assert sorted(p.name for p in checkout.workdir.iterdir()) == ["a.py", "b.py"]
    assert checkout.show("refs/remotes/origin/main", "a.py") == "a = 1\n"
    assert checkout.show("refs/remotes/origin/main", "b.py") is None
    stored = "\n".join(p.read_text(errors="replace") for p in checkout.gitdir.rglob("*") if p.is_file() and p.stat().st_size < 1_000_000)
    assert TOKEN not in stored


def test_hooks_and_config_planted_in_the_work_tree_never_run(tmp_path, remote):
    checkout = Checkout.create(tmp_path / "ws", token=TOKEN)
    checkout.check_out(checkout.fetch(str(remote), "feature", "refs/remotes/pull/head"))
    ran = tmp_path / "ran"
    git(checkout.workdir, "init", "-q")  # a live repository where the runner's own git would look
    planted = checkout.workdir / ".git"
    for hook in ("pre-commit", "commit-msg", "post-commit", "pre-push"):
        (planted / "hooks" / hook).write_text(f"#!/bin/sh\ntouch {ran}\n")
        (planted / "hooks" / hook).chmod(0o755)
    (planted / "config").write_text(f"[core]\n\tfsmonitor = touch {ran}\n\thooksPath = .git/hooks\n")
    (checkout.workdir / ".gitattributes").write_text("*.py filter=evil\n")
    (checkout.workdir / "a.py").write_text("a = 2\n")
    changed = checkout.stage_all()
    assert changed == [".gitattributes", "a.py"]
    sha = checkout.commit("change\n", Identity("loopwright[bot]", "bot@example.com"))
    checkout.push(str(remote), "feature")
    assert not ran.exists()
    assert git(remote, "rev-parse", "refs/heads/feature").strip() == sha
    assert ".git/" not in git(remote, "show", "--name-only", "--format=", sha)
    # The planted repository is live: git pointed at the work tree the usual way would have run it.
    git(checkout.workdir, "status")
    assert ran.exists()


def test_push_refuses_to_overwrite_work_pushed_meanwhile(tmp_path, remote):
    checkout = Checkout.create(tmp_path / "ws")
    checkout.check_out(checkout.fetch(str(remote), "feature", "refs/remotes/pull/head"))
    other = Checkout.create(tmp_path / "other")
    other.check_out(other.fetch(str(remote), "feature", "refs/remotes/pull/head"))
    (other.workdir / "c.py").write_text("c = 1\n")
    other.stage_all()
    other.commit("someone else\n", Identity("Dev", "dev@example.com"))
    other.push(str(remote), "feature")
    (checkout.workdir / "a.py").write_text("a = 3\n")
    checkout.stage_all()
    checkout.commit("ours\n", Identity("loopwright[bot]", "bot@example.com"))
    with pytest.raises(GitOpsError, match="git push failed"):
        checkout.push(str(remote), "feature")

