"""The seam between tools and the place commands run. Imports nothing else of ours."""

from __future__ import annotations

import codecs
import re
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


CUT_NOTE = "\n[... {} bytes of output cut ...]\n"
"""Put where output was cut; the number is exactly the bytes of output not shown."""
CUT_NOTE_PATTERN = re.compile(r"\n\[\.\.\. (\d+) bytes of output cut \.\.\.\]\n")


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
        if not self.truncated:
            return bytes(self._head + self._tail).decode("utf-8", errors="replace")
        # The cut falls between whole characters: a character split there is left out and counted as cut.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        head = decoder.decode(bytes(self._head))
        kept = len(self._head) - len(decoder.getstate()[0])
        split = 0
        while split < min(3, len(self._tail)) and self._tail[split] & 0xC0 == 0x80:  # inside a character
            split += 1
        tail = bytes(self._tail[split:]).decode("utf-8", errors="replace")
        cut = self.total - kept - (len(self._tail) - split)
        return head + CUT_NOTE.format(cut) + tail
