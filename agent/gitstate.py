"""The one module that reads git: which files a run changed, compared with the state it started from."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import git

from loopwright import gittrust, statedir
from loopwright.sandboxes import hostfs


@dataclass(frozen=True)
class Snapshot:
    """Content hashes of the files that differ from HEAD (or of all files outside git) at one moment."""

    root: Path
    head: str | None
    dirty: dict[str, str]


def open_repo(root: Path) -> git.Repo | None:
    """The repository whose work tree holds `root`, its git commands pinned to it (see gittrust); None outside git."""
    location = gittrust.locate(root)
    if location is None:
        return None
    try:
        repo = git.Repo(location.top, search_parent_directories=False)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    repo.git.update_environment(**location.env())
    return repo


def take(root: Path) -> Snapshot | None:
    """None outside a git work tree."""
    repo = open_repo(root)
    if repo is None:
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


def _dirty_paths(repo: git.Repo) -> list[str]:
    out = repo.git.status("--porcelain=v1", "-z", "--untracked-files=all", "--ignore-submodules=all")
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
    """A content hash read in chunks; a link hashes its target's name, anything else but a file its type."""
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            return "link:" + hashlib.sha1(os.fsencode(os.readlink(path))).hexdigest()
        if not stat.S_ISREG(info.st_mode):
            return f"type:{stat.S_IFMT(info.st_mode)}"  # a FIFO planted in the workspace would block a read
        if info.st_size > SNAPSHOT_FILE_BYTES:
            return f"stat:{info.st_size}:{info.st_mtime_ns}"  # not read: it may be any size the sandbox chose
        digest = hashlib.sha1()
        with open(path, "rb", buffering=0) as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return "<missing>"


KEEP_IGNORED_FILE_BYTES = 1 << 20
"""Ignored files up to this size go into the save point (`.env`, local settings); bigger ones are build output."""
KEEP_IGNORED_TOTAL = (2000, 64 << 20)
"""At most this many ignored files and bytes in one save point, so a huge ignored tree cannot stall a run."""
REGENERATED_DIRS = frozenset({"node_modules", ".venv", "venv", "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".gradle", "target", ".loopwright"})
"""Ignored folders that tools re-create, left out of the save point whole."""


def save_point(root: Path, name: str) -> str | None:
    """Record the whole work tree (tracked, modified and untracked files, and small ignored files such as
    `.env`) as a commit under refs/loopwright/<name>, without touching the user's index, branch or files.
    Returns its sha."""
    repo = open_repo(root)
    if repo is None:
        return None
    if repo.bare:
        return None
    tree = _work_tree(repo, root)
    parents = ["-p", repo.head.commit.hexsha] if repo.head.is_valid() else []
    identity = {"GIT_AUTHOR_NAME": "loopwright", "GIT_AUTHOR_EMAIL": "loopwright@localhost", "GIT_COMMITTER_NAME": "loopwright", "GIT_COMMITTER_EMAIL": "loopwright@localhost"}
    sha = repo.git.commit_tree(tree, *parents, "-m", f"loopwright: work tree before {name}", env=identity)
    repo.git.update_ref(f"refs/loopwright/{name}", sha)
    return sha


def diff_since(root: Path, save: str) -> str:
    """The work tree now against a save point, as one unified diff of the whole tree: the files the save point
    records (untracked and small ignored ones too), so a file the run created shows as well as one it edited.
    No external diff program or text conversion runs: the work tree's attributes are the sandbox's to write."""
    repo = open_repo(root)
    if repo is None or repo.bare:
        return ""
    now = _work_tree(repo, root)
    return str(repo.git.diff("--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", save, now, "--", strip_newline_in_stdout=False))


def _work_tree(repo: git.Repo, root: Path) -> str:
    """A tree object of the whole work tree, written through a private index (see `save_point`)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        if repo.head.is_valid():
            repo.git.read_tree("HEAD", env=env)
        _add_all(lambda *args, env: str(repo.git.execute(["git", *args], env=env)), Path(repo.working_tree_dir or root), env)
        ignored = _small_ignored_files(repo)
        if ignored:
            listing = Path(tmp) / "ignored"
            listing.write_bytes(b"\0".join(os.fsencode(p) for p in ignored))
            try:
                repo.git.add("--force", f"--pathspec-from-file={listing}", "--pathspec-file-nul", env={**env, "GIT_LITERAL_PATHSPECS": "1"})
            except git.GitCommandError:
                pass  # kept best effort: a file that vanished meanwhile must not stop the run
        return str(repo.git.write_tree(env=env))


SNAPSHOT_FILE_BYTES = 64 << 20
"""Files larger than this (data dumps, a disk filled on purpose) stay out of save points and undo snapshots."""


def _add_all(run: Callable[..., str], top: Path, env: dict[str, str]) -> None:
    """`git add --all` into the index `env` names, without gitlinks (see gittrust) or oversized files."""
    listing = str(run("ls-files", "--stage", "-z", env=env))
    changed = str(run("ls-files", "-z", "--modified", "--others", "--exclude-standard", env=env))
    oversized = []
    for path in {p for p in changed.split("\0") if p}:
        try:
            if os.lstat(top / path).st_size > SNAPSHOT_FILE_BYTES:
                oversized.append(f":(exclude,literal){path}")
        except OSError:
            continue
    run("add", "--all", *gittrust.add_all_pathspec(listing), *oversized, env=env)


def _small_ignored_files(repo: git.Repo) -> list[str]:
    """Ignored regular files worth keeping, within KEEP_IGNORED_TOTAL (links and special files never)."""
    top = Path(repo.working_tree_dir or ".")
    listing = repo.git.ls_files("--others", "--ignored", "--exclude-standard", "--directory", "-z")
    count, size, kept = 0, 0, list[str]()
    for entry in (e for e in listing.split("\0") if e):
        for path in _files_below(top, entry) if entry.endswith("/") else [entry]:
            try:
                info = os.lstat(top / path)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode) or info.st_size > KEEP_IGNORED_FILE_BYTES:
                continue
            count, size = count + 1, size + info.st_size
            if count > KEEP_IGNORED_TOTAL[0] or size > KEEP_IGNORED_TOTAL[1]:
                return kept
            kept.append(path)
    return kept


def _files_below(top: Path, folder: str) -> list[str]:
    """Files under an ignored folder, without entering regenerated folders, nested repositories or links."""
    if Path(folder).name in REGENERATED_DIRS or os.path.lexists(top / folder / ".git"):
        return []
    found: list[str] = []
    pending = [folder.rstrip("/")]
    while pending and len(found) <= KEEP_IGNORED_TOTAL[0]:
        current = pending.pop()
        try:
            entries = sorted(os.scandir(top / current), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            rel = f"{current}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in REGENERATED_DIRS and not os.path.lexists(f"{entry.path}/.git"):
                    pending.append(rel)
            elif entry.is_file(follow_symlinks=False):
                found.append(rel)
    return found


# -- the interactive session's safety net ------------------------------------------------------------

SESSION_REFS = "refs/loopwright/sessions"
_SHADOW_IDENTITY = {
    "GIT_AUTHOR_NAME": "loopwright",
    "GIT_AUTHOR_EMAIL": "loopwright@localhost",
    "GIT_COMMITTER_NAME": "loopwright",
    "GIT_COMMITTER_EMAIL": "loopwright@localhost",
}
_OPERATIONS = (("rebase-merge", "rebase"), ("rebase-apply", "rebase"), ("MERGE_HEAD", "merge"), ("CHERRY_PICK_HEAD", "cherry-pick"), ("REVERT_HEAD", "revert"))


class GitStateError(Exception):
    """A safety-net action that cannot be done; the message is one line for the user."""


@dataclass(frozen=True)
class UserState:
    """The user's repository as the session found it."""

    in_repo: bool
    branch: str | None
    """None when HEAD is detached or there is no repository."""
    head: str | None
    """None before the first commit or without a repository."""
    dirty: tuple[str, ...]
    """Paths with uncommitted changes (staged, unstaged or untracked) when the session started."""
    operation: str | None
    """`rebase`, `merge`, `cherry-pick` or `revert` when one is in progress."""


@dataclass(frozen=True)
class Change:
    """One agent step that changed files: the shadow commits on either side of it."""

    before: str
    after: str
    paths: tuple[str, ...]
    label: str


@dataclass(frozen=True)
class Committed:
    sha: str
    branch: str | None
    paths: tuple[str, ...]


class SafetyNet:
    """Every agent step that changes files becomes a commit on a shadow ref
    (refs/loopwright/sessions/<id>), written through a private index: the user's branch,
    index and files are never touched, except by /undo (only the files of the step undone)
    and /commit (one commit on the user's branch, only the session's files).

    Outside a git repository the shadow history lives in a bare repository in the workspace's state folder
    (see statedir), out of the sandbox's reach.
    """

    def __init__(self, top: Path, git_dir: Path, env: dict[str, str], session_id: str, state: UserState) -> None:
        self.top = top
        self.git_dir = git_dir
        self.ref = f"{SESSION_REFS}/{session_id}"
        self.state = state
        self.changes: list[Change] = []
        self._env = env
        self._index = git_dir / "loopwright" / f"index-{session_id}"
        self._runner = git.Git(top)
        self._last: tuple[str, str] | None = None
        self.base = ""
        """The shadow commit of the work tree as the session found it."""

    def _begin(self, seed_index: Path | None = None) -> SafetyNet:
        if seed_index is not None and seed_index.exists() and not self._index.exists():
            # Starting from the user's index keeps git's stat cache, so snapshots do not rehash every file.
            self._index.parent.mkdir(parents=True, exist_ok=True)
            self._index.write_bytes(seed_index.read_bytes())
        self.base = self._snapshot("session start", parent=self.state.head)
        return self

    @classmethod
    def start(cls, root: Path, session_id: str) -> SafetyNet:
        """Record the user's state before the agent changes anything."""
        root = root.resolve()
        repo = open_repo(root)
        if repo is None or repo.bare:
            return cls._outside_git(root, session_id)
        top = Path(repo.working_tree_dir or root)
        git_dir = Path(repo.git_dir)
        head = repo.head.commit.hexsha if repo.head.is_valid() else None
        branch = None if repo.head.is_detached else repo.head.reference.name
        operation = next((name for marker, name in _OPERATIONS if (git_dir / marker).exists()), None)
        state = UserState(True, branch, head, tuple(_dirty_paths(repo)), operation)
        return cls(top, git_dir, dict(repo.git.environment()), session_id, state)._begin(git_dir / "index")

    @classmethod
    def _outside_git(cls, root: Path, session_id: str) -> SafetyNet:
        shadow = statedir.folder(root, "shadow.git")
        if not (shadow / "HEAD").exists():
            git.Repo.init(shadow, bare=True)
        env = gittrust.pinned_env(shadow, root)
        return cls(root, shadow, env, session_id, UserState(False, None, None, (), None))._begin()

    # -- recording --------------------------------------------------------------------------------

    def record_step(self, label: str) -> Change | None:
        """Snapshot the work tree after an agent step; a step that changed files becomes an undoable Change."""
        before = self._last_sha()
        after = self._snapshot(label)
        if after == before:
            return None
        change = Change(before=before, after=after, paths=tuple(self._changed_paths(before, after)), label=label)
        self.changes.append(change)
        return change

    def note_user_changes(self, label: str = "user changes") -> None:
        """Snapshot changes made by the person (or a /run command) so they are never mistaken for the agent's."""
        self._snapshot(label)

    def session_paths(self) -> list[str]:
        return sorted({path for change in self.changes for path in change.paths})

    # -- /undo, /diff, /commit --------------------------------------------------------------------

    def undo(self) -> Change:
        """Put the files of the last change back exactly as they were before it (files it created are deleted)."""
        if not self.changes:
            raise GitStateError("nothing to undo")
        change = self.changes[-1]
        now = self._snapshot(f"before undo of {change.label}")
        edited_since = sorted(set(change.paths) & set(self._changed_paths(change.after, now)))
        if edited_since:
            raise GitStateError(
                f"{', '.join(edited_since)} changed after that step; undo would overwrite it (every version is kept in {self.ref})"
            )
        existed = set(self._lines("ls-tree", "-r", "--name-only", "-z", change.before, "--", *change.paths, sep="\0"))
        if existed:
            self._git("checkout", change.before, "--", *sorted(existed), env=self._index_env())
        for path in sorted(set(change.paths) - existed):
            _remove_file(self.top, path)
        self.changes.pop()
        self._snapshot(f"undo {change.label}")
        return change

    def diff(self) -> str:
        """The session's changes as one unified diff: each file from before the agent first touched it to now."""
        now = self._snapshot("diff")
        first_before: dict[str, str] = {}
        for change in self.changes:
            for path in change.paths:
                first_before.setdefault(path, change.before)
        parts = []
        for before in dict.fromkeys(first_before.values()):
            paths = sorted(p for p, b in first_before.items() if b == before)
            parts.append(self._git("diff", "--no-color", "--no-renames", before, now, "--", *paths, strip=False))
        return "".join(parts)

    def commit(self, message: str) -> Committed:
        """One commit on the user's branch holding only the session's files, as they are now."""
        if not self.state.in_repo:
            raise GitStateError("not a git repository: there is no branch to commit to (the files are changed in place)")
        operation = next((name for marker, name in _OPERATIONS if (self.git_dir / marker).exists()), None)
        if operation:
            raise GitStateError(f"a {operation} is in progress; finish or abort it first, then /commit")
        paths = self.session_paths()
        if not paths:
            raise GitStateError("the session has not changed any files")
        now = self._snapshot("commit")
        head = self._head()
        entries = self._tree_entries(now, paths)
        with _TempIndex(self.git_dir) as index:
            self._git("read-tree", *([head] if head else ["--empty"]), env=index.env)
            self._update_index(entries, paths, index.env)
            tree = self._git("write-tree", env=index.env)
        if head and tree == self._git("rev-parse", f"{head}^{{tree}}"):
            raise GitStateError("the session's files already match the last commit; nothing to commit")
        sha = self._git("commit-tree", tree, *(["-p", head] if head else []), "-m", message)
        self._git("update-ref", "-m", "loopwright: commit", "HEAD", sha, *([head] if head else []))
        # The user's index gets the committed versions of these paths only, so they do not show as staged reverts.
        self._update_index(entries, paths, {})
        self.changes.clear()
        self.base = now
        branch = self.branch()
        return Committed(sha=sha, branch=branch, paths=tuple(paths))

    def branch(self) -> str | None:
        try:
            return self._git("symbolic-ref", "--quiet", "--short", "HEAD")
        except GitStateError:
            return None

    def close(self) -> None:
        self._index.unlink(missing_ok=True)

    # -- plumbing ---------------------------------------------------------------------------------

    def _snapshot(self, label: str, parent: str | None = None) -> str:
        env = self._index_env()
        self._index.parent.mkdir(parents=True, exist_ok=True)
        if not self._index.exists() and self.state.head:
            self._git("read-tree", self.state.head, env=env)
        _add_all(lambda *args, env: self._git(*args, env=env, strip=False), self.top, env)
        tree = self._git("write-tree", env=env)
        if self._last and self._last[1] == tree:
            return self._last[0]
        parents = ["-p", self._last[0]] if self._last else (["-p", parent] if parent else [])
        sha = self._git("commit-tree", tree, *parents, "-m", f"loopwright: {label}", env=_SHADOW_IDENTITY)
        self._git("update-ref", self.ref, sha)
        self._last = (sha, tree)
        return sha

    def _last_sha(self) -> str:
        return self._last[0] if self._last else self.base

    def _head(self) -> str | None:
        try:
            return self._git("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        except GitStateError:
            return None

    def _changed_paths(self, a: str, b: str) -> list[str]:
        return self._lines("diff", "--name-only", "--no-renames", "-z", a, b, sep="\0")

    def _tree_entries(self, commit: str, paths: list[str]) -> dict[str, tuple[str, str]]:
        entries = {}
        for line in self._lines("ls-tree", "-r", "-z", commit, "--", *paths, sep="\0"):
            meta, _, path = line.partition("\t")
            mode, _kind, blob = meta.split()
            entries[path] = (mode, blob)
        return entries

    def _update_index(self, entries: dict[str, tuple[str, str]], paths: list[str], env: dict[str, str]) -> None:
        for path in paths:
            if path in entries:
                mode, blob = entries[path]
                self._git("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}", env=env)
            else:
                self._git("update-index", "--force-remove", "--", path, env=env)

    def _index_env(self) -> dict[str, str]:
        return {"GIT_INDEX_FILE": str(self._index)}

    def _lines(self, *args: str, sep: str) -> list[str]:
        return [item for item in self._git(*args, strip=False).split(sep) if item.strip("\n")]

    def _git(self, *args: str, env: dict[str, str] | None = None, strip: bool = True) -> str:
        try:
            out = self._runner.execute(["git", *args], env={**self._env, **(env or {})}, strip_newline_in_stdout=strip)
        except git.GitCommandError as exc:
            detail = (exc.stderr or "").strip().removeprefix("stderr:").strip().strip("'").strip()
            raise GitStateError(f"git {args[0]} failed: {detail.splitlines()[0] if detail else exc.status}") from None
        return str(out).strip() if strip else str(out)


class _TempIndex:
    def __init__(self, git_dir: Path) -> None:
        self.path = git_dir / "loopwright" / f"commit-index-{os.getpid()}"

    def __enter__(self) -> _TempIndex:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.env = {"GIT_INDEX_FILE": str(self.path)}
        return self

    def __exit__(self, *_: object) -> None:
        self.path.unlink(missing_ok=True)


def _remove_file(top: Path, path: str) -> None:
    target = top / path
    try:
        hostfs.unlink(top, target)  # never through a folder the sandbox swapped for a link
    except hostfs.WorkspacePathError:
        return
    parent = target.parent
    # Folders the step created for its files go with them; git records no empty folders to restore anyway.
    while parent != top and parent.is_dir() and not parent.is_symlink() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent


def head_date(root: Path) -> str:
    """The committer date of HEAD (ISO 8601), or "" outside git or before the first commit."""
    repo = open_repo(root)
    if repo is None or not repo.head.is_valid():
        return ""
    return repo.head.commit.committed_datetime.isoformat()


def file_at(root: Path, commit: str, path: str) -> str | None:
    """A file's text in a commit (path relative to the work tree's top); None when it is not there."""
    repo = open_repo(root)
    if repo is None:
        return None
    try:
        return repo.git.show(f"{commit}:{path}", strip_newline_in_stdout=False)
    except git.GitCommandError:
        return None


def top_of(root: Path) -> Path | None:
    """The top of the work tree holding `root`; None outside git."""
    repo = open_repo(root)
    if repo is None:
        return None
    return Path(repo.working_tree_dir) if repo.working_tree_dir else None
