"""The local sandbox: commands run directly on this machine, in the repository.

It isolates nothing. A command can read and write anything the user can and reach the
network; only the timeout, the output cap and a clean environment (no API keys) apply.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from loopwright.sandboxes.base import ExecResult, OutputCap, SandboxError

UNISOLATED_WARNING = (
    "the local sandbox runs commands directly on this machine, with your files and network; "
    "use the Docker sandbox for isolation"
)
KILL_GRACE_S = 2.0
"""Seconds between the polite SIGTERM at the timeout and the SIGKILL."""
LINGER_S = 1.0
"""How long output may stay open after the command itself exited."""
PASSED_THROUGH = ("PATH", "HOME", "LANG")


class LocalSandbox:
    """Runs `sh -c` in `host_root` with a minimal environment: PATH, HOME, LANG and `env`.

    See UNISOLATED_WARNING: callers should tell the user before choosing this sandbox.
    """

    host_root: Path

    def __init__(self, host_root: Path | str, *, output_limit: int = 64_000) -> None:
        self.host_root = Path(host_root).resolve()
        if not self.host_root.is_dir():
            raise SandboxError(f"workspace {self.host_root} is not a directory")
        self.workdir = str(self.host_root)
        self.output_limit = output_limit
        self._closed = False

    def exec(self, command: str, *, timeout_s: float, env: dict[str, str] | None = None) -> ExecResult:
        if self._closed:
            raise SandboxError("the sandbox is closed")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        environment = {key: os.environ[key] for key in PASSED_THROUGH if key in os.environ}
        environment.setdefault("LANG", "C.UTF-8")
        environment.update(env or {})
        cap = OutputCap(self.output_limit)
        started = time.monotonic()
        # A session of its own makes the command's process group killable as a whole.
        process = subprocess.Popen(
            ["/bin/sh", "-c", command],
            cwd=self.host_root,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        reader = threading.Thread(target=_pump, args=(process.stdout, cap), daemon=True)
        reader.start()
        timed_out = False
        try:
            timed_out = _wait(process, timeout_s)
            reader.join(LINGER_S)
            if reader.is_alive():
                # Background children still hold the output; they end with the command.
                _signal_group(process.pid, signal.SIGKILL)
                reader.join(KILL_GRACE_S)
                if not timed_out:
                    cap.feed(b"\n[background processes still holding the output were killed]\n")
        except BaseException:
            _signal_group(process.pid, signal.SIGKILL)
            raise
        if not reader.is_alive() and process.stdout is not None:
            process.stdout.close()
        code = process.returncode
        return ExecResult(
            exit_code=128 - code if code < 0 else code,
            output=cap.text(),
            duration_s=time.monotonic() - started,
            timed_out=timed_out,
            truncated=cap.truncated,
        )

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> LocalSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _wait(process: subprocess.Popen, timeout_s: float) -> bool:
    """Wait for the command; past the timeout, end its whole group. True when it timed out."""
    try:
        process.wait(timeout_s)
        return False
    except subprocess.TimeoutExpired:
        pass
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    # Children that ignored SIGTERM, or outlived the shell, go too.
    _signal_group(process.pid, signal.SIGKILL)
    process.wait()
    return True


def _pump(stream, cap: OutputCap) -> None:
    while chunk := stream.read1(65536):
        cap.feed(chunk)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass
