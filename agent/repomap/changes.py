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
import re
from pathlib import Path
from typing import NamedTuple

from loopwright import gittrust
from loopwright.repomap.languages import BINARY_EXTENSIONS

SKIPPED_DIRS = frozenset({".git", ".loopwright", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".venv", "node_modules"})
_SKIPPED_PATH = re.compile("(?:^|/)(?:" + "|".join(re.escape(name) for name in sorted(SKIPPED_DIRS)) + ")/")
HASHED_BYTES_LIMIT = 4_000_000
"""Bigger files get a key from size and mtime: they are shown by path only, so their bytes never matter."""
GIT_TIMEOUT_S = 60


class FileState(NamedTuple):
    key: str
    """Content key: the git blob id, or a size/mtime key for very large files."""
    size: int = -1
    mtime_ns: int = -1
    """-1 when the key came from git's index, which tracks staleness itself."""


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def scan(root: Path, previous: dict[str, FileState], stamps: dict[str, int]) -> tuple[dict[str, FileState], dict[str, int]]:
    """Every regular, non-ignored file under `root` (relative POSIX path -> state); symlinks are skipped.

    `stamps` are directory mtimes from the previous scan of a git tree: while none moved, no file was
    added or removed outside git's index, so git's walk for untracked files can be skipped (the same
    reasoning as git's own untracked cache). Returns the files and the stamps for the next scan.
    """
    if shutil.which("git"):
        if stamps and _stamps_hold(root, stamps):
            quick = _git_scan(root, previous, untracked=None)
            if quick is not None:
                return quick, stamps
        full = _git_scan(root, previous, untracked=True)
        if full is not None:
            return full
    return _walk_scan(root, previous), {}


def _stamps_hold(root: Path, stamps: dict[str, int]) -> bool:
    base = f"{root}/"  # plain strings: thousands of stats, and pathlib's joins would cost more than the stats
    for folder, mtime_ns in stamps.items():
        try:
            if os.stat(base + folder).st_mtime_ns != mtime_ns:
                return False
        except OSError:
            return False
    return True


def _stamp(root: Path, files: dict[str, FileState], empty_dirs: list[str]) -> dict[str, int]:
    folders = {""}
    for path in [*files, *(d.rstrip("/") + "/x" for d in empty_dirs)]:
        parent = path.rpartition("/")[0]
        while parent not in folders:
            folders.add(parent)
            parent = parent.rpartition("/")[0]
    stamps = {}
    base = f"{root}/"
    for folder in folders:
        try:
            stamps[folder] = os.stat(base + folder).st_mtime_ns
        except OSError:
            continue
    return stamps


def _git_outputs(root: Path, *commands: list[str]) -> list[bytes] | None:
    """Runs the git commands side by side (the untracked-file walk is the slow one); None if any fails."""
    try:
        location = gittrust.locate(root)
    except gittrust.UntrustedGit:
        return None  # the walk below reads files as data and runs nothing
    if location is None:
        return None
    env = {**os.environ, **location.env()}
    started: list[subprocess.Popen[bytes]] = []
    try:
        for args in commands:
            started.append(subprocess.Popen(["git", *args], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
        outputs = [process.communicate(timeout=GIT_TIMEOUT_S)[0] for process in started]
    except (OSError, subprocess.TimeoutExpired):
        for process in started:
            process.kill()
            process.wait()
        return None
    return outputs if all(process.returncode == 0 for process in started) else None


def _git_scan(root: Path, previous: dict[str, FileState], untracked: bool | None):
    """With `untracked`, git lists untracked files too (and the scan returns (files, stamps)); without,
    the untracked files of the previous scan are re-checked instead (and the scan returns files, or None
    when a .gitignore changed and the full scan is needed)."""
    commands = [["ls-files", "-s", "-z"], ["ls-files", "-z", "-m"]]
    if untracked:
        commands += [["ls-files", "-z", "-o", "--exclude-standard"], ["ls-files", "-z", "-o", "--exclude-standard", "--directory"]]
    outputs = _git_outputs(root, *commands)
    if outputs is None:
        return None
    staged, dirty = outputs[0], outputs[1]
    dirty_paths = {p for p in dirty.decode("utf-8", "surrogateescape").split("\0") if p and not p.endswith("/")}
    if untracked:
        dirty_paths |= {p for p in outputs[2].decode("utf-8", "surrogateescape").split("\0") if p and not p.endswith("/")}
    else:
        # Files known from the last scan but absent from the index: untracked then, re-checked now.
        dirty_paths |= {path for path, state in previous.items() if state.mtime_ns != -1}
    listing = staged.decode("utf-8", "surrogateescape")
    # Checking every path costs more than checking the whole listing once; most trees track no such folder.
    check = listing.startswith(tuple(f"{name}/" for name in SKIPPED_DIRS)) or any(f"/{name}/" in listing for name in SKIPPED_DIRS)
    files: dict[str, FileState] = {}
    for record in listing.split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, sha, stage = meta.split()
        # Only plain files at stage 0: symlinks (120000) and submodules (160000) are not code of this tree.
        if mode not in ("100644", "100755") or stage != "0" or path in dirty_paths or (check and _skipped(path)):
            continue
        files[path] = FileState(sha)
    for path in dirty_paths:
        if _skipped(path):
            continue
        state = _state(root / path, path, previous.get(path))
        if state is not None:
            files[path] = state
    if not untracked:
        ignores_moved = any(p.rpartition("/")[2] == ".gitignore" and files.get(p) != previous.get(p) for p in dirty_paths)
        return None if ignores_moved else files
    empty = [p for p in outputs[3].decode("utf-8", "surrogateescape").split("\0") if p.endswith("/")]
    return files, _stamp(root, files, empty)


def _skipped(path: str) -> bool:
    return _SKIPPED_PATH.search(path) is not None


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
