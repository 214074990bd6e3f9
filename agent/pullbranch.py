"""A pull request's branch brought into the person's own clone, for `loopwright resume`.

Everything about the pull request comes from a trajectory, which is untrusted: the URL in it is only compared
with the clone's remotes (git fetches from the remote the person configured, never from a URL in the file),
the branch name is checked by git before use, and nothing is checked out over the person's uncommitted,
untracked or ignored files. Host git runs pinned to the clone's own git directory (see gittrust).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import git

from loopwright.gitstate import open_repo

_HOST_ALIASES = {"ssh.github.com": "github.com", "www.github.com": "github.com"}


class BranchError(Exception):
    """The branch cannot be brought in; the message is one line for the person. Nothing was changed."""


@dataclass(frozen=True)
class Remote:
    name: str
    url: str


@dataclass(frozen=True)
class PullHead:
    """Which pull request to bring in, and the commit a run left it at."""

    number: int
    head_ref: str
    from_fork: bool
    commit: str


@dataclass(frozen=True)
class CheckedOut:
    branch: str
    commit: str
    notes: tuple[str, ...] = ()
    """What the person should know: the branch moved on since the run, or holds commits of their own."""


def repository_key(url: str) -> tuple[str, str]:
    """(host, path) naming the repository `url` points at: its https, ssh and scp-style URLs give the same key.

    A local path (or file:// URL) gives ("", its real path)."""
    url = url.strip()
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url):
        parts = urlsplit(url)
        if parts.scheme.lower() == "file":
            return "", os.path.realpath(unquote(parts.path))
        host, path = (parts.hostname or "").lower(), parts.path
    elif ":" in url and "/" not in url.split(":", 1)[0]:
        # scp-like syntax, `git@github.com:owner/name.git`, as git reads it.
        host, path = url.split(":", 1)
        host = host.rpartition("@")[2].lower()
    else:
        return "", os.path.realpath(url)
    path = path.strip("/").removesuffix(".git").lower()
    return _HOST_ALIASES.get(host, host), path


def remotes(root: Path) -> list[Remote]:
    """The clone's remotes and their fetch URLs, as configured."""
    repo = _repo(root)
    try:
        listing = repo.git.config("--get-regexp", r"^remote\..*\.url$")
    except git.GitCommandError:
        return []
    found = []
    for line in listing.splitlines():
        key, _, url = line.partition(" ")
        found.append(Remote(name=key.removeprefix("remote.").removesuffix(".url"), url=url))
    return found


def shown_url(url: str) -> str:
    """`url` without the user name and password it may carry, for messages."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1", url)


def matching_remote(root: Path, clone_url: str) -> Remote | None:
    """The remote that fetches from the repository `clone_url` names; `origin` first when several do."""
    wanted = repository_key(clone_url)
    matches = [remote for remote in remotes(root) if repository_key(remote.url) == wanted]
    matches.sort(key=lambda remote: remote.name != "origin")
    return matches[0] if matches else None


def check_out_pull(root: Path, remote: Remote, pull: PullHead) -> CheckedOut:
    """Fetch the pull request's head from `remote` and check it out on a local branch.

    A branch of the base repository keeps its name and tracks the remote's branch, so `git push` later
    goes where the run pushed; a fork's head comes from `refs/pull/N/head` onto `pr-N`, tracking nothing.
    An existing local branch is fast-forwarded, or kept when it is ahead; a diverged one is refused.
    """
    repo = _repo(root)
    if pull.from_fork:
        source, tracking, branch = f"refs/pull/{pull.number}/head", f"refs/remotes/{remote.name}/pr-{pull.number}", f"pr-{pull.number}"
    else:
        _check_branch_name(repo, pull.head_ref)
        source, tracking, branch = f"refs/heads/{pull.head_ref}", f"refs/remotes/{remote.name}/{pull.head_ref}", pull.head_ref
    _run(repo, f"cannot fetch {source} from {remote.name}", "fetch", "--no-tags", "--quiet", remote.name, f"+{source}:{tracking}")
    tip = _run(repo, "fetched nothing", "rev-parse", "--verify", f"{tracking}^{{commit}}")
    notes = []
    if not _is_ancestor(repo, pull.commit, tip):
        notes.append(f"{branch} on {remote.name} no longer holds the run's commit {pull.commit[:12]} (rewritten since); checking out {tip[:12]}")
    elif tip != pull.commit:
        notes.append(f"{branch} on {remote.name} moved on since the run: {tip[:12]} is checked out")
    local = _rev(repo, f"refs/heads/{branch}")
    target = tip
    if local is not None and local != tip:
        if _is_ancestor(repo, tip, local):
            target = local
            notes.append(f"your branch {branch} is ahead of {remote.name}; it is kept as it is")
        elif not _is_ancestor(repo, local, tip):
            raise BranchError(f"your branch {branch} and {branch} on {remote.name} have diverged; reconcile them (or rename yours), then resume again")
    head = _rev(repo, "HEAD")
    current = None if repo.head.is_detached else repo.head.reference.name
    touched = _touched(repo, head, target)
    if touched:
        shown = ", ".join(touched[:5]) + (f" and {len(touched) - 5} more" if len(touched) > 5 else "")
        raise BranchError(f"checking out {branch} would overwrite uncommitted changes in {shown}; commit or stash them, then resume again")
    _switch(repo, branch, local, target, current)
    if local is None and not pull.from_fork:
        _run(repo, f"setting {branch} to track {remote.name}", "config", f"branch.{branch}.remote", remote.name)
        _run(repo, f"setting {branch} to track {remote.name}", "config", f"branch.{branch}.merge", f"refs/heads/{pull.head_ref}")
    return CheckedOut(branch=branch, commit=target, notes=tuple(notes))


def _switch(repo: git.Repo, branch: str, local: str | None, target: str, current: str | None) -> None:
    """Point `branch` at `target` and make it the checked-out branch; the person's other changes carry over."""
    if current == branch:
        if local != target:
            _run(repo, f"cannot fast-forward {branch}", "merge", "--ff-only", "--quiet", target)
        return
    if local is None:
        _run(repo, f"cannot create branch {branch}", "branch", "--no-track", branch, target)
    elif local != target:
        _run(repo, f"cannot fast-forward {branch}", "update-ref", "-m", "loopwright resume: fast-forward", f"refs/heads/{branch}", target, local)
    _run(repo, f"cannot check out {branch}", "checkout", "--quiet", branch)


def _touched(repo: git.Repo, head: str | None, target: str) -> list[str]:
    """Paths with uncommitted, untracked or ignored content that a checkout from `head` to `target` would write."""
    if head == target:
        return []
    if head is None:
        changed = _run(repo, "cannot list files", "ls-tree", "-r", "--name-only", "-z", target, strip=False)
    else:
        changed = _run(repo, "cannot compare commits", "diff", "--name-only", "--no-renames", "-z", head, target, strip=False)
    status = _run(repo, "cannot read the status", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=matching", "--ignore-submodules=all", strip=False)
    mine = _status_paths(status)
    return sorted(path for path in changed.split("\0") if path and any(_overlap(path, own) for own in mine))


def _status_paths(status: str) -> list[str]:
    paths, entries, index = [], status.split("\0"), 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if "R" in entry[:2] or "C" in entry[:2]:
            index += 1  # the source path of a rename follows
    return paths


def _overlap(path: str, own: str) -> bool:
    """`own` (a path, or a folder ending in /) is `path`, holds it, or lies inside it."""
    own = own.rstrip("/")
    return path == own or path.startswith(own + "/") or own.startswith(path + "/")


def _check_branch_name(repo: git.Repo, name: str) -> None:
    if not name or name.startswith("-"):
        raise BranchError(f"the trajectory's branch name {name!r} is not a valid branch name")
    try:
        repo.git.check_ref_format(f"refs/heads/{name}")  # `--branch` would expand `@{-1}` to the previous branch
    except git.GitCommandError:
        raise BranchError(f"the trajectory's branch name {name!r} is not a valid branch name") from None


def _is_ancestor(repo: git.Repo, older: str, newer: str) -> bool:
    try:
        repo.git.merge_base("--is-ancestor", older, newer)
        return True
    except git.GitCommandError:
        return False  # also when `older` is not in this repository at all


def _rev(repo: git.Repo, ref: str) -> str | None:
    try:
        return str(repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}"))
    except git.GitCommandError:
        return None


def _repo(root: Path) -> git.Repo:
    repo = open_repo(root)
    if repo is None or repo.bare:
        raise BranchError(f"{root} is not a git clone; run resume in a clone of the pull request's repository")
    return repo


def _run(repo: git.Repo, what: str, *args: str, strip: bool = True) -> str:
    try:
        return str(repo.git.execute(["git", *args], strip_newline_in_stdout=strip))
    except git.GitCommandError as exc:
        stderr = exc.stderr if isinstance(exc.stderr, str) else ""
        lines = [line.strip() for line in stderr.replace("stderr:", "").strip(" '\n").splitlines() if line.strip()]
        # git's own reason ("error: ...", "fatal: ...") rather than a closing "Aborting".
        reason = next((line for line in lines if line.startswith(("error:", "fatal:"))), lines[-1] if lines else f"git exited with {exc.status}")
        raise BranchError(f"{what}: {reason}") from None
