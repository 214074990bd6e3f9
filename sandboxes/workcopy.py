"""A copy of the workspace for the setup phase, as a tar read from the host without following links.

The setup container gets this copy, never the workspace itself, so nothing it runs (setup.py, a build
backend, a setup command) can change the user's files. Left out: what .gitignore ignores (secrets such
as `.env` files usually are, and so are build folders), virtual environments, caches, special files,
files over FILE_LIMIT. The git metadata goes along (build tools such as setuptools-scm read the version
from it, and the commit's date picks dependency versions as of then), except its config (remote URLs can
hold tokens) and hooks, unless it is over GIT_LIMIT.

Public: `write_archive`.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import time
from pathlib import Path
from typing import BinaryIO

import pathspec

from loopwright.sandboxes import hostfs
from loopwright.sandboxes.storage import disk_usage

FILE_LIMIT = 64 << 20
GIT_LIMIT = 1 << 30
GIT_FILE_LIMIT = 512 << 20
SKIPPED = {".tox", ".nox", "node_modules", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".loopwright", ".hg", ".svn"}
ZIP_EPOCH = 315532800.0
"""1980-01-01, the earliest time a zip file (a wheel) can hold."""
GIT_CONFIG = b"[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"


def write_archive(root: Path, out: BinaryIO, prefix: str) -> list[str]:
    """Write the tar of `root` (entries under `prefix`, such as `workspace`) to `out`; returns notes of what was left out."""
    notes: list[str] = []
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _walk(root, root, tar, prefix, [], notes)
        git = root / ".git"
        if git.is_dir() and not git.is_symlink():
            size = disk_usage(git)
            if size <= GIT_LIMIT:
                _walk_git(root, git, tar, prefix, notes)
            else:
                notes.append(f".git is {size >> 20} MiB, over {GIT_LIMIT >> 20} MiB: the setup copy has no git history")
        elif git.exists() or git.is_symlink():
            notes.append(".git is not a folder (a worktree or submodule): the setup copy has no git history")
    return notes


def _walk(root: Path, directory: Path, tar: tarfile.TarFile, prefix: str, specs: list, notes: list[str]) -> None:
    local = _gitignore(directory)
    if local is not None:
        specs = [*specs, (directory, local)]
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        relative = path.relative_to(root).as_posix()
        if entry.name == ".git" and directory == root:
            continue
        if entry.is_symlink():
            if not _ignored(path, False, specs):
                _add_link(tar, f"{prefix}/{relative}", path)
            continue
        if entry.is_dir(follow_symlinks=False):
            if entry.name in SKIPPED or _ignored(path, True, specs) or (path / "pyvenv.cfg").is_file():
                continue
            tar.addfile(_info(f"{prefix}/{relative}", tarfile.DIRTYPE, 0o755))
            _walk(root, path, tar, prefix, specs, notes)
        elif entry.is_file(follow_symlinks=False) and not _ignored(path, False, specs):
            _add_file(root, path, tar, f"{prefix}/{relative}", FILE_LIMIT, notes)


def _walk_git(root: Path, git: Path, tar: tarfile.TarFile, prefix: str, notes: list[str]) -> None:
    tar.addfile(_info(f"{prefix}/.git", tarfile.DIRTYPE, 0o755))
    for directory, folders, files in os.walk(git):
        folders[:] = sorted(f for f in folders if not (Path(directory) == git and f == "hooks") and not os.path.islink(os.path.join(directory, f)))
        for folder in folders:
            relative = (Path(directory) / folder).relative_to(root).as_posix()
            tar.addfile(_info(f"{prefix}/{relative}", tarfile.DIRTYPE, 0o755))
        for name in sorted(files):
            path = Path(directory) / name
            relative = path.relative_to(root).as_posix()
            if path == git / "config":
                tar.addfile(_info(f"{prefix}/{relative}", tarfile.REGTYPE, 0o644, len(GIT_CONFIG)), io.BytesIO(GIT_CONFIG))
            elif not path.is_symlink():
                _add_file(root, path, tar, f"{prefix}/{relative}", GIT_FILE_LIMIT, notes)


def _add_file(root: Path, path: Path, tar: tarfile.TarFile, name: str, limit: int, notes: list[str]) -> None:
    try:
        status = os.lstat(path)
        data = hostfs.read_bytes(root, path, limit)
    except hostfs.WorkspacePathError as error:
        notes.append(f"left out of the setup copy: {path.relative_to(root).as_posix()} ({str(error).rsplit(': ', 1)[-1]})")
        return
    except OSError:
        return
    executable = 0o755 if status.st_mode & stat.S_IXUSR else 0o644
    # Wheels are zip files, which cannot hold times before 1980: a build from the copy needs real ones.
    tar.addfile(_info(name, tarfile.REGTYPE, executable, len(data), max(status.st_mtime, ZIP_EPOCH)), io.BytesIO(data))


def _add_link(tar: tarfile.TarFile, name: str, path: Path) -> None:
    try:
        target = os.readlink(path)
    except OSError:
        return
    info = _info(name, tarfile.SYMTYPE, 0o777)
    info.linkname = target
    tar.addfile(info)


def _info(name: str, kind: bytes, mode: int, size: int = 0, mtime: float | None = None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = int(time.time() if mtime is None else mtime)
    info.uid = info.gid = 0
    return info


def _gitignore(directory: Path) -> pathspec.PathSpec | None:
    text = hostfs.read_text(directory, directory / ".gitignore", 1 << 20)
    return pathspec.GitIgnoreSpec.from_lines(text.splitlines()) if text else None


def _ignored(path: Path, is_dir: bool, specs: list) -> bool:
    for base, spec in specs:
        if spec.match_file(path.relative_to(base).as_posix() + ("/" if is_dir else "")):
            return True
    return False
