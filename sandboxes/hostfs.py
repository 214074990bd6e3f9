"""Workspace files read and written from the host, never through a link out of the workspace.

The sandbox can write the workspace at any moment, including while the host is about to open a path in it:
checking a path with `realpath` and then opening it leaves a window in which a folder is swapped for a link
to `/home/user/.ssh`. So every open here walks the path one component at a time from the workspace's own
folder with `O_NOFOLLOW`: a component that is (or became) a link fails the open instead of being followed.
Links inside the workspace that point inside it are honoured by resolving them first. Reads are bounded
(a size limit, regular files only: a FIFO would block the host forever).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class WorkspacePathError(OSError):
    """A path that leaves the workspace, is not a regular file, is too large, or changed under us."""


def inside(root: Path, path: Path) -> Path:
    """`path` with every link resolved; refuses a result outside `root`."""
    root = Path(os.path.realpath(root))
    resolved = Path(os.path.realpath(path if path.is_absolute() else root / path))
    if resolved != root and root not in resolved.parents:
        raise WorkspacePathError(f"{path}: outside the workspace")
    return resolved


def read_bytes(root: Path, path: Path, limit: int) -> bytes:
    """The bytes of a regular file inside `root`, at most `limit` of them (WorkspacePathError past that)."""
    fd = _open(root, path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise WorkspacePathError(f"{path}: not a regular file")
        if info.st_size > limit:
            raise WorkspacePathError(f"{path}: {info.st_size} bytes, over the limit of {limit}")
        chunks, total = [], 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise WorkspacePathError(f"{path}: grew past the limit of {limit} bytes while being read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(root: Path, path: Path, limit: int) -> str | None:
    """A text file's content, or None when it is missing, not a regular file, too large or behind a link out."""
    try:
        return read_bytes(root, path, limit).decode("utf-8", errors="replace")
    except OSError:
        return None


def write_atomic(root: Path, path: Path, data: bytes) -> None:
    """Replace (or create) the file at `path` through a temporary sibling, keeping its mode; creates folders."""
    target = inside(root, path)
    parent = _open_dir(root, target.parent, create=True)
    temporary = f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        try:
            mode: int | None = stat.S_IMODE(os.stat(target.name, dir_fd=parent, follow_symlinks=False).st_mode)
        except FileNotFoundError:
            mode = None
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if mode is not None:
                    os.fchmod(handle.fileno(), mode)
        except BaseException:
            os.unlink(temporary, dir_fd=parent)
            raise
        os.replace(temporary, target.name, src_dir_fd=parent, dst_dir_fd=parent)
    finally:
        os.close(parent)


def unlink(root: Path, path: Path) -> None:
    """Remove a file (or a link itself) inside `root`; a missing file is fine."""
    absolute = Path(os.path.abspath(path if path.is_absolute() else root / path))
    parent = _open_dir(root, inside(root, absolute.parent), create=False)
    try:
        os.unlink(absolute.name, dir_fd=parent)
    except FileNotFoundError:
        pass
    finally:
        os.close(parent)


def _open(root: Path, path: Path, flags: int) -> int:
    target = inside(root, path)
    parent = _open_dir(root, target.parent, create=False)
    try:
        return os.open(target.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    except OSError as error:
        if error.errno == 40:  # ELOOP: the last component became a link after it was resolved
            raise WorkspacePathError(f"{path}: changed into a link while being opened") from None
        raise
    finally:
        os.close(parent)


def _open_dir(root: Path, folder: Path, create: bool) -> int:
    """A descriptor of `folder` (resolved, inside `root`) reached without following any link."""
    root = Path(os.path.realpath(root))
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in folder.relative_to(root).parts:
            if create:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as error:
                if error.errno in (20, 40):  # ENOTDIR, ELOOP: not a folder, or a link planted since
                    raise WorkspacePathError(f"{folder}: not a folder inside the workspace") from None
                raise
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd
