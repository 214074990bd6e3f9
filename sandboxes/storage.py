"""How much a sandbox may write to the host's disk, and the watch that holds it to that.

The container's own file system is read-only and its scratch space (/tmp) is a size-limited tmpfs,
so the one place its writes reach the host's disk is the workspace, a bind mount. Docker's own
disk quota (`--storage-opt size=`) needs overlay2 on xfs with project quotas, which ordinary hosts
(ext4) lack, and it would not cover a bind mount anyway. So the workspace is watched from the host:

- cheaply and often: one `statvfs` of the workspace's file system (microseconds, nothing the
  container can fake) says how much space and how many inodes that file system lost since the
  last exact measure. While that loss keeps the workspace's possible growth within the limit,
  nothing more is done. The watch runs every tenth of a second while a command runs and once
  after it, so a command is stopped within a fraction of a second of crossing the limit.
- exactly, only when that bound is crossed: a walk of the workspace that sums what its files
  take on disk. Space used by others on the same file system then shows as theirs, not ours.

Space freed by others between two exact measures can hide as much growth until the next one; the
bound is about the disk filling up, which such frees also hold off.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

BLOCK = 4096
"""Every file and folder counts for at least this much, so a flood of empty files (inodes) counts too."""

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(value: str | int) -> int:
    """Bytes from `2g`, `512m`, `1.5GiB` or a plain number of bytes (binary units, as Docker reads them)."""
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(value)
        if not match:
            raise ValueError(f"not a size: {value!r} (use a number with k, m, g or t, such as 2g)")
        size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if size <= 0:
        raise ValueError(f"a size must be positive, got {value!r}")
    return size


def show_size(size: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(size) >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def disk_usage(root: Path, skip: Iterable[Path] = ()) -> int:
    """What the tree under `root` takes on disk: links never followed, hard links once, each entry at least BLOCK.

    Reads metadata only, never a file's content; folders in `skip` (read-only mounts) are left out.
    """
    skipped = {os.fspath(path) for path in skip}
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [os.fspath(root)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    stat = entry.stat(follow_symlinks=False)
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if stat.st_nlink > 1 and not is_dir:
                    if (stat.st_dev, stat.st_ino) in seen:
                        continue
                    seen.add((stat.st_dev, stat.st_ino))
                if is_dir and entry.path in skipped:
                    continue
                total += max(stat.st_blocks * 512, BLOCK)
                if is_dir:
                    stack.append(entry.path)
    return total


class WorkspaceGuard:
    """Says when the workspace has grown more than `limit` bytes past its size when the guard was made."""

    def __init__(self, root: Path, limit: int, skip: Iterable[Path] = ()) -> None:
        self.root = root
        self.limit = limit
        self._skip = tuple(skip)
        self._free = self._free_now()
        began = time.monotonic()
        self._start = disk_usage(root, self._skip)
        self._walk_s = time.monotonic() - began
        """What an exact measure last cost."""
        self._next_measure = 0.0
        self.grown = 0
        """Growth at the last exact measure."""

    def check(self, ran_s: float = 0.0) -> str | None:
        """After a command that ran `ran_s` seconds: None while within the limit; past it, a note for the model
        saying so and what to do.

        The free space of a shared disk moves with every other process on it, so space others freed meanwhile
        can hide the command's growth from the cheap bound; a command that ran ten times longer than an exact
        measure costs is therefore always measured exactly (at most a tenth more time)."""
        exact = ran_s >= 10 * self._walk_s
        return self.message() if self.past(self.limit, eager=True, exact=exact) else None

    def watch(self) -> CommandWatch:
        """The watch of one command, for `run_exec`."""
        return CommandWatch(self, self.grown if self.past(self.limit, eager=True) else self.limit)

    def past(self, line: int, *, eager: bool, exact: bool = False) -> bool:
        """Whether the growth is over `line`: exactly measured only once the cheap bound says it may be.

        While a command runs (not `eager`), exact measures take at most a tenth of the time, so a large
        workspace is walked less often rather than all the time.
        """
        try:
            bound = self.grown + self._free - self._free_now()
        except OSError:
            # The workspace itself is gone from the host: nothing left to fill.
            return False
        if bound <= line and not exact:
            return False
        now = time.monotonic()
        if not eager and now < self._next_measure:
            return False
        self._free = self._free_now()
        self.grown = disk_usage(self.root, self._skip) - self._start
        self._walk_s = time.monotonic() - now
        self._next_measure = now + 10 * self._walk_s
        return self.grown > line

    def message(self) -> str:
        return (
            f"storage limit: the workspace grew by {show_size(self.grown)} in this session, over the sandbox's "
            f"limit of {show_size(self.limit)}, so this command counts as failed. Delete what is not needed "
            f"(build output, downloads, generated data) before going on."
        )

    def _free_now(self) -> int:
        """Free space of the workspace's file system, each free inode counted as one BLOCK."""
        stat = os.statvfs(self.root)
        return stat.f_bavail * stat.f_frsize + stat.f_favail * BLOCK


class CommandWatch:
    """Stops a command that takes the workspace past the limit.

    A command started with the workspace already past the limit is stopped only when it adds to
    it, so that it can still delete.
    """

    def __init__(self, guard: WorkspaceGuard, line: int) -> None:
        self._guard = guard
        self._line = line
        self.note: str | None = None
        """Why the command was stopped, once it was."""

    def __call__(self) -> str | None:
        if self._guard.past(self._line, eager=False):
            self.note = self._guard.message()
        return self.note
