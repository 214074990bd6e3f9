"""The seam between tools and the place commands run. Imports nothing else of ours."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str
    """stdout and stderr interleaved, capped (see `truncated`)."""
    duration_s: float
    timed_out: bool = False
    truncated: bool = False


@runtime_checkable
class Sandbox(Protocol):
    host_root: Path
    """The workspace on the host."""
    workdir: str
    """The same workspace as commands inside the sandbox see it."""

    def exec(self, command: str, *, timeout_s: float, env: dict[str, str] | None = None) -> ExecResult:
        """Run a shell command in the workspace. A command past its timeout is killed; the sandbox survives."""
        ...

    def close(self) -> None:
        """Release everything the sandbox holds. Safe to call twice."""
        ...


class SandboxError(Exception):
    """The sandbox could not be started or used; the message is one line for the user."""


class OutputCap:
    """Collects a stream of output, keeping its head and tail within `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.limit // 2 - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self._tail += chunk
            excess = len(self._tail) - self.limit // 2
            if excess > 0:
                del self._tail[:excess]

    @property
    def truncated(self) -> bool:
        return self.total > len(self._head) + len(self._tail)

    def text(self) -> str:
        head = self._head.decode("utf-8", errors="replace")
        tail = self._tail.decode("utf-8", errors="replace")
        if not self.truncated:
            return head + tail
        cut = self.total - len(self._head) - len(self._tail)
        return f"{head}\n[... {cut} bytes of output cut ...]\n{tail}"
