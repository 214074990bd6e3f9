"""Which files a repository has and what their content is, cheaply: git's index where there is one.

Every file gets a content key, the git blob id of its bytes. For a git work tree the index already
holds that id for every clean tracked file, so only the files git reports as modified or untracked
are read and hashed; elsewhere a walk compares size and mtime with the previous scan.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from loopwright.repomap.languages import BINARY_EXTENSIONS

SKIPPED_DIRS = frozenset({".git", ".loopwright", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".venv", "node_modules"})
HASHED_BYTES_LIMIT = 4_000_000
"""Bigger files get a key from size and mtime: they are shown by path only, so their bytes never matter."""
GIT_TIMEOUT_S = 60


@dataclass(frozen=True)
class FileState:
    key: str
    """Content key: the git blob id, or a size/mtime key for very large files."""
    size: int = -1
    mtime_ns: int = -1
    """-1 when the key came from git's index, which tracks staleness itself."""


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def scan(root: Path, previous: dict[str, FileState]) -> dict[str, FileState]:
    """Every regular, non-ignored file under `root` (relative POSIX path -> state). Symlinks are skipped."""
    listed = _git_scan(root, previous) if shutil.which("git") else None
    return listed if listed is not None else _walk_scan(root, previous)


def _git(root: Path, *args: str) -> bytes | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _git_scan(root: Path, previous: dict[str, FileState]) -> dict[str, FileState] | None:
    staged = _git(root, "ls-files", "-s", "-z")
    if staged is None:
        return None
    dirty = _git(root, "ls-files", "-z", "-m", "-o", "--exclude-standard")
    if dirty is None:
        return None
    dirty_paths = {p for p in dirty.decode("utf-8", "surrogateescape").split("\0") if p and not p.endswith("/")}
    files: dict[str, FileState] = {}
    for record in staged.decode("utf-8", "surrogateescape").split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, sha, stage = meta.split()
        # Only plain files at stage 0: symlinks (120000) and submodules (160000) are not code of this tree.
        if mode not in ("100644", "100755") or stage != "0" or path in dirty_paths or _skipped(path):
            continue
        files[path] = FileState(sha)
    for path in dirty_paths:
        if _skipped(path):
            continue
        state = _state(root / path, path, previous.get(path))
        if state is not None:
            files[path] = state
    return files


def _skipped(path: str) -> bool:
    return any(part in SKIPPED_DIRS for part in path.split("/")[:-1])


def _state(absolute: Path, rel: str, before: FileState | None) -> FileState | None:
    try:
        info = os.lstat(absolute)
    except OSError:
        return None  # deleted, or unreadable: not part of the tree any more
    if not stat.S_ISREG(info.st_mode):
        return None
    return _keyed(absolute, rel, info.st_size, info.st_mtime_ns, before)


def _keyed(absolute: Path, rel: str, size: int, mtime_ns: int, before: FileState | None) -> FileState | None:
    if before is not None and before.size == size and before.mtime_ns == mtime_ns:
        return before
    if size > HASHED_BYTES_LIMIT or os.path.splitext(rel)[1].lower() in BINARY_EXTENSIONS:
        return FileState(f"stat:{size}:{mtime_ns}", size, mtime_ns)
    try:
        data = absolute.read_bytes()
    except OSError:
        return None
    return FileState(blob_id(data), size, mtime_ns)


def _walk_scan(root: Path, previous: dict[str, FileState]) -> dict[str, FileState]:
    files: dict[str, FileState] = {}
    pending = [""]
    while pending:
        prefix = pending.pop()
        try:
            entries = list(os.scandir(root / prefix if prefix else root))
        except OSError:
            continue
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            try:
                if entry.is_symlink():
                    continue  # never followed: no loops, no escapes from the tree
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIPPED_DIRS:
                        pending.append(rel + "/")
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            state = _keyed(Path(entry.path), rel, info.st_size, info.st_mtime_ns, previous.get(rel))
            if state is not None:
                files[rel] = state
    return files
