"""Running one command in a container with a timeout that always holds, one `docker exec` per command.

Inside, coreutils `timeout` signals the command's whole process group. Outside, a deadline
on this side stops waiting even when the output stream stays open, which happens when the
command leaves a background process holding its stdout or when the engine wedges.

The sandbox's own commands go through its command runner (runner.py), which falls back to this
when the image has no python3; the setup container uses this directly. The limits, the watch and
the kill from outside are shared with the runner.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from loopwright.sandboxes.base import ExecResult, OutputCap

KILL_GRACE_S = 2
"""Seconds between the polite SIGTERM at the timeout and the SIGKILL."""
HOST_MARGIN_S = 3.0
"""Extra seconds this side waits past the in-container deadline before giving up on it."""
LINGER_S = 1.0
"""How long output may stay open after the command itself exited."""
WATCH_EVERY_S = 0.1
"""How often a running command's watch (such as the storage limit) is asked."""

# `timeout` makes itself a process-group leader with its own pid, which the shell prints
# first (then `exec`s into timeout), so the group can still be killed from outside. stderr joins
# stdout in the container so the two keep their order.
_WRAPPER = f'echo "$$"; exec timeout -k {KILL_GRACE_S} "$0" sh -lc "$1" 2>&1'
_TIMEOUT_EXITS = (124, 137)
LINGER_NOTE = b"\n[background processes still holding the output were killed]\n"


def run_exec(
    api,
    container_id: str,
    command: str,
    *,
    timeout_s: float,
    cap: OutputCap,
    env: dict[str, str] | None = None,
    watch: Callable[[], str | None] | None = None,
) -> ExecResult:
    """Run `command` with `sh -lc` in the container's working directory.

    `watch` is asked every WATCH_EVERY_S while the command runs; a note it returns stops the
    command, ends its output and makes it fail (exit code 1 should it have ended with 0 meanwhile).
    """
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s}")
    started = time.monotonic()
    exec_id = api.exec_create(
        container_id,
        ["sh", "-c", _WRAPPER, f"{timeout_s:.3f}", command],
        environment=[f"{key}={value}" for key, value in validated_environment(env).items()],
    )["Id"]
    stream = api.exec_start(exec_id, stream=True, demux=True)
    reader = _Reader(stream, cap)
    reader.start()
    stop = CommandStop(watch)
    try:
        forced = _wait(api, exec_id, reader, started + timeout_s + KILL_GRACE_S + HOST_MARGIN_S, stop)
    except BaseException:
        # Ctrl-C: the command must not outlive our interest in it.
        kill_in_container(api, container_id, reader.pgid)
        stream.close()
        raise
    if forced:
        kill_in_container(api, container_id, reader.pgid)
        reader.join(KILL_GRACE_S)
        if reader.is_alive():
            stream.close()
            reader.join(1.0)
        if forced == "linger":
            cap.feed(LINGER_NOTE)
    if forced == "watch":
        cap.feed(f"\n[{stop.note}]\n".encode())
    exit_code = _exit_code(api, exec_id)
    duration = time.monotonic() - started
    timed_out = forced == "deadline" or (
        exit_code in _TIMEOUT_EXITS and duration >= timeout_s
    )
    if exit_code is None:
        exit_code = 124 if timed_out else -1
    if stop.note and exit_code == 0:
        exit_code = 1
    return ExecResult(
        exit_code=exit_code,
        output=cap.text(),
        duration_s=duration,
        timed_out=timed_out,
        truncated=cap.truncated,
    )


class _Reader(threading.Thread):
    """Feeds the demultiplexed stream into the cap; learns the process group from line one."""

    def __init__(self, stream, cap: OutputCap) -> None:
        super().__init__(daemon=True, name="loopwright-exec-reader")
        self._stream = stream
        self._cap = cap
        self._first_line = b""
        self.pgid: int | None = None

    def run(self) -> None:
        try:
            for stdout, stderr in self._stream:
                if stdout and self.pgid is None:
                    stdout = self._take_pid(stdout)
                if stdout:
                    self._cap.feed(stdout)
                if stderr:
                    self._cap.feed(stderr)
        except (OSError, ValueError):
            # The stream was closed from the other side to unblock us.
            pass

    def _take_pid(self, chunk: bytes) -> bytes:
        self._first_line += chunk
        line, newline, rest = self._first_line.partition(b"\n")
        if not newline:
            return b""
        self.pgid = int(line) if line.strip().isdigit() else 0
        return rest


class CommandStop:
    """The watch of one command, and the note that stopped it, if one did."""

    def __init__(self, watch: Callable[[], str | None] | None) -> None:
        self._watch = watch
        self.note: str | None = None

    def due(self) -> bool:
        if self._watch is not None:
            self.note = self._watch()
        return self.note is not None


def _wait(api, exec_id: str, reader: _Reader, deadline: float, stop: CommandStop) -> str | None:
    """Block until the output ends; say why we stopped early, if we did."""
    exited_at: float | None = None
    last_poll = time.monotonic()
    while True:
        reader.join(WATCH_EVERY_S)
        if not reader.is_alive():
            return None
        now = time.monotonic()
        if now >= deadline:
            return "deadline"
        if stop.due():
            return "watch"
        if now - last_poll >= 0.5:
            last_poll = now
            if not api.exec_inspect(exec_id)["Running"]:
                exited_at = exited_at or now
                if now - exited_at >= LINGER_S:
                    return "linger"


def kill_in_container(api, container_id: str, pgid: int | None, *pids: int | None) -> None:
    """SIGKILL process group `pgid` and processes `pids` from a `docker exec` of their own."""
    targets = ([f"-{pgid}"] if pgid else []) + [str(pid) for pid in pids if pid]
    if not targets:
        return
    try:
        # Without `--`, procps 4.0's kill reads `-PGID` of a group already gone as -1: every process in the container.
        kill = api.exec_create(container_id, ["kill", "-9", "--", *targets])["Id"]
        api.exec_start(kill)
    except Exception:  # noqa: BLE001 - best effort: the container may already be gone, which kills the group anyway
        pass


def _exit_code(api, exec_id: str) -> int | None:
    for _ in range(100):
        info = api.exec_inspect(exec_id)
        if not info["Running"]:
            return info["ExitCode"]
        time.sleep(0.02)
    return None


def validated_environment(env: dict[str, str] | None) -> dict[str, str]:
    """`env` with its values as strings; a name or value the kernel cannot carry is a ValueError."""
    checked = {}
    for key, value in (env or {}).items():
        if not isinstance(key, str) or not key or "=" in key or "\0" in key or "\0" in str(value):
            raise ValueError(f"invalid environment variable name or value: {key!r}")
        checked[key] = str(value)
    return checked
