"""The one module that reads git: which files a run changed, compared with the state it started from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import git


@dataclass(frozen=True)
class Snapshot:
    """Content hashes of the files that differ from HEAD (or of all files outside git) at one moment."""

    root: Path
    head: str | None
    dirty: dict[str, str]


def is_repo(root: Path) -> bool:
    try:
        git.Repo(root, search_parent_directories=False)
        return True
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return False


def take(root: Path) -> Snapshot | None:
    """None outside a git work tree."""
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    if repo.bare:
        return None
    top = Path(repo.working_tree_dir or root)
    head = repo.head.commit.hexsha if repo.head.is_valid() else None
    dirty = {path: _hash(top / path) for path in _dirty_paths(repo)}
    return Snapshot(root=top, head=head, dirty=dirty)


def changed_since(before: Snapshot) -> list[str]:
    """Paths whose content now differs from `before`, relative to the work tree's top."""
    after = take(before.root)
    if after is None:
        return []
    paths = set(before.dirty) | set(after.dirty)
    return sorted(p for p in paths if before.dirty.get(p, "<clean>") != after.dirty.get(p, "<clean>") and not p.startswith(".loopwright/"))


def ignore_run_files(root: Path) -> None:
    """Keep .loopwright/ out of `git status` without touching tracked files (uses .git/info/exclude)."""
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return
    exclude = Path(repo.git_dir) / "info" / "exclude"
    current = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    if ".loopwright/" not in current.splitlines():
        exclude.parent.mkdir(parents=True, exist_ok=True)
        exclude.write_text(current + ("" if current.endswith("\n") or not current else "\n") + ".loopwright/\n", encoding="utf-8")


def _dirty_paths(repo: git.Repo) -> list[str]:
    out = repo.git.status("--porcelain=v1", "-z", "--untracked-files=all")
    paths: list[str] = []
    entries = out.split("\0")
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        status, path = entry[:2], entry[3:]
        paths.append(path)
        if "R" in status or "C" in status:
            index += 1  # the rename's source path follows
    return paths


def _hash(path: Path) -> str:
    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()
    except OSError:
        return "<missing>"


def save_point(root: Path, name: str) -> str | None:
    """Record the whole work tree (tracked, modified and untracked files) as a commit under
    refs/loopwright/<name>, without touching the user's index, branch or files. Returns its sha."""
    import os
    import tempfile

    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    if repo.bare:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        if repo.head.is_valid():
            repo.git.read_tree("HEAD", env=env)
        repo.git.add("--all", "--", ".", env=env)
        tree = repo.git.write_tree(env=env)
    parents = ["-p", repo.head.commit.hexsha] if repo.head.is_valid() else []
    identity = {"GIT_AUTHOR_NAME": "loopwright", "GIT_AUTHOR_EMAIL": "loopwright@localhost", "GIT_COMMITTER_NAME": "loopwright", "GIT_COMMITTER_EMAIL": "loopwright@localhost"}
    sha = repo.git.commit_tree(tree, *parents, "-m", f"loopwright: work tree before {name}", env=identity)
    repo.git.update_ref(f"refs/loopwright/{name}", sha)
    return sha
