"""A task's work tree: a fresh clone at the base commit in a temporary folder, the harness's patches, and the
diff a fix made.

The mirror is only read (`git fetch` of the one commit from it). Host git in the work tree is pinned to the
work tree's own git directory (see gittrust), which the sandbox sees read-only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from loopwright import gittrust
from loopwright.bench.blobs import BlobStore
from loopwright.bench.mirrors import Mirror
from loopwright.sandboxes import hostfs

GIT_TIMEOUT_S = 600
_PATCH_PATH = re.compile(r"^(?:---|\+\+\+) (?:[ab]/)?(.+?)\t?$", re.M)
_QUIET = {"GIT_TERMINAL_PROMPT": "0", "GIT_LITERAL_PATHSPECS": "1", "GIT_NO_LAZY_FETCH": "1"}
"""Never ask, take paths literally, and never reach out for objects a partial mirror lacks."""


class CheckoutError(Exception):
    """The work tree could not be made; one line for the report."""


class PatchFailed(Exception):
    """`git apply` refused a patch; one line saying why."""


@dataclass(frozen=True)
class Workspace:
    root: Path
    """The work tree's top folder (its git directory is `root/.git`)."""
    base_commit: str
    """The full id of the base commit (or of the commit standing in for it, see `_materialize`)."""
    absent: tuple[str, ...] = ()
    """Files of the base commit the mirror has no content for."""

    def git(self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        pinned = gittrust.pinned_env(self.root / ".git", self.root)
        return _run(["git", *args], cwd=self.root, input=input, env={**pinned, **(env or {})})

    def apply(self, patch: str, *, reverse: bool = False) -> None:
        """`git apply` the patch to the work tree (not the index), as the SWE-bench harness does."""
        args = ["apply", "--whitespace=nowarn", *(["--reverse"] if reverse else []), "-"]
        done = self.git(*args, input=patch.encode("utf-8"))
        if done.returncode != 0:
            raise PatchFailed(_first_line(done.stderr) or f"git apply exited {done.returncode}")

    def restore(self, paths: Sequence[str]) -> None:
        """Put `paths` back as they are in the base commit: checked out where the commit has them, removed
        where it does not."""
        if not paths:
            return
        listed = self.git("ls-tree", "-r", "-z", "--name-only", self.base_commit, "--", *paths)
        existing = [p for p in listed.stdout.decode("utf-8", "surrogateescape").split("\0") if p]
        if existing:
            done = self.git("checkout", self.base_commit, "--", *existing)
            if done.returncode != 0:
                raise PatchFailed(f"could not restore {existing[0]}: {_first_line(done.stderr)}")
        for path in set(paths) - set(existing):
            try:
                hostfs.unlink(self.root, Path(path))
            except (hostfs.WorkspacePathError, IsADirectoryError, NotADirectoryError, FileNotFoundError):
                pass

    def diff(self, exclude: Sequence[str] = ()) -> str:
        """The work tree against the base commit, new files included and `exclude` left out, as a git diff."""
        with tempfile.TemporaryDirectory(prefix="loopwright-index-") as tmp:
            env = {"GIT_INDEX_FILE": os.path.join(tmp, "index"), "GIT_LITERAL_PATHSPECS": "0"}
            self.git("read-tree", self.base_commit, env=env)
            listing = self.git("ls-files", "--stage", "-z", env=env).stdout.decode("utf-8", "surrogateescape")
            spec = gittrust.add_all_pathspec(listing) + [f":(exclude,literal){path}" for path in exclude]
            added = self.git("add", "--all", *spec, env=env)
            if added.returncode != 0:
                raise PatchFailed(f"could not take the diff: {_first_line(added.stderr)}")
            done = self.git("diff", "--cached", "--binary", "--no-color", "--no-ext-diff", "--no-textconv", self.base_commit, env=env)
        return done.stdout.decode("utf-8", "replace")


@contextmanager
def checkout(mirror: Mirror, commit: str, parent: Path | None = None, blobs: BlobStore | None = None) -> Iterator[Workspace]:
    """A clone of `mirror` at `commit` in a new temporary folder, removed afterwards; files the mirror lacks are
    taken from `blobs` where it has them."""
    folder = Path(tempfile.mkdtemp(prefix="loopwright-bench-", dir=parent))
    try:
        yield _clone(mirror, commit, folder / mirror.repo.partition("/")[2], blobs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def patch_paths(patch: str) -> list[str]:
    """The files a unified diff names (old and new sides), without /dev/null."""
    found = []
    for match in _PATCH_PATH.finditer(patch):
        path = match.group(1).strip()
        if len(path) > 1 and path[0] == path[-1] == '"':
            path = path[1:-1]
        if path != "/dev/null" and path not in found:
            found.append(path)
    return found


def _clone(mirror: Mirror, commit: str, root: Path, blobs: BlobStore | None = None) -> Workspace:
    source = str(mirror.path.resolve())
    resolved = _run(["git", f"--git-dir={_git_dir(mirror.path)}", "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"])
    if resolved.returncode != 0:
        raise CheckoutError(f"base commit {commit} is not in the mirror {mirror.path}")
    full = resolved.stdout.decode().strip()
    root.mkdir(parents=True)
    steps = (
        ["git", "init", "--quiet", str(root)],
        ["git", "-C", str(root), "fetch", "--quiet", "--no-tags", "--depth=1", f"file://{source}", full],
        ["git", "-C", str(root), "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", full],
    )
    for step in steps:
        done = _run(step)
        if done.returncode != 0:
            if step[3] == "fetch":
                return _materialize(mirror, full, root, _first_line(done.stderr), blobs)
            raise CheckoutError(f"could not check out {full[:12]} from {mirror.path}: {_first_line(done.stderr)}")
    return Workspace(root=root, base_commit=full)


def _materialize(mirror: Mirror, commit: str, root: Path, why: str, blobs: BlobStore | None = None) -> Workspace:
    """The commit's files written out of the mirror one object at a time, for mirrors that lack a few objects
    (large files a mirror may leave out make `git fetch` refuse the whole commit). The files it has are
    committed afresh in the work tree, which then stands in for the base commit; the absent ones are named."""
    git_dir = str(_git_dir(mirror.path))
    listing = _run(["git", f"--git-dir={git_dir}", "ls-tree", "-r", "-z", commit])
    if listing.returncode != 0:
        raise CheckoutError(f"could not check out {commit[:12]} from {mirror.path}: {why}")
    entries = []
    for record in listing.stdout.split(b"\0"):
        meta, _, path = record.partition(b"\t")
        if meta:
            mode, kind, sha = meta.split()
            if kind == b"blob":
                entries.append((mode.decode(), sha.decode(), os.fsdecode(path)))
    reader = subprocess.Popen(["git", f"--git-dir={git_dir}", "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, **_QUIET})
    asking, answers = reader.stdin, reader.stdout
    assert asking is not None and answers is not None
    absent = []
    try:
        for mode, sha, path in entries:
            asking.write(sha.encode() + b"\n")
            asking.flush()
            header = answers.readline().split()
            if len(header) == 3:
                data = answers.read(int(header[2]))
                answers.read(1)
            else:
                found = blobs.get(sha) if blobs is not None else None
                if found is None:
                    absent.append(path)
                    continue
                data = found
            # A fresh folder no sandbox has seen yet: written as git's own checkout would.
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if mode == "120000":
                os.symlink(os.fsdecode(data), target)
            else:
                target.write_bytes(data)
                target.chmod(0o755 if mode == "100755" else 0o644)
    finally:
        asking.close()
        reader.wait()
    # The stand-in keeps the commit's dates: the environment resolves dependencies as of them.
    dates = _run(["git", f"--git-dir={git_dir}", "log", "-1", "--format=%aI%n%cI", commit]).stdout.decode().split()
    identity = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost", "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}
    if len(dates) == 2:
        identity |= {"GIT_AUTHOR_DATE": dates[0], "GIT_COMMITTER_DATE": dates[1]}
    pinned = gittrust.pinned_env(root / ".git", root)
    for step in (["add", "--all", "--force"], ["commit", "--quiet", "--no-verify", "-m", f"{commit} without {len(absent)} objects the mirror lacks"]):
        done = _run(["git", *step], cwd=root, env={**pinned, **identity})
        if done.returncode != 0:
            raise CheckoutError(f"could not check out {commit[:12]} from {mirror.path}: {_first_line(done.stderr)}")
    local = _run(["git", "rev-parse", "HEAD"], cwd=root, env=pinned).stdout.decode().strip()
    return Workspace(root=root, base_commit=local, absent=tuple(absent))


def _git_dir(path: Path) -> Path:
    return path / ".git" if (path / ".git").exists() else path


def _run(args: list[str], cwd: Path | None = None, input: bytes | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, **_QUIET, **(env or {})}
    try:
        return subprocess.run(args, cwd=cwd, input=input, env=environment, capture_output=True, timeout=GIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, 124, b"", f"git {args[1]} timed out after {GIT_TIMEOUT_S}s".encode())
    except OSError as error:
        return subprocess.CompletedProcess(args, 127, b"", f"cannot run git: {error}".encode())


def _first_line(stderr: bytes | str) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("error:", "fatal:"))]
    return (errors or lines or [""])[0]
