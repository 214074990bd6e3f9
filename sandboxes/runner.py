"""A session's commands through one runner process in its container, instead of a `docker exec` each.

A `docker exec` costs the engine a new process set-up through the runtime (tens of milliseconds under
runc, more under gVisor) plus the create / start / inspect calls. The runner (runner_program.py) is
started once, with stdin and stdout attached, and each command is then one request and a few frames.

The runner lives where the commands do, so everything from it is untrusted bytes: frames have fixed
or capped sizes, carry no objects (fixed binary fields, raw output bytes), and each must pass an HMAC
keyed with a secret sent over stdin when the runner starts; one bad frame ends the runner. The host
keeps its own deadline, storage watch and Ctrl-C: when the runner does not answer in time or ends
mid-command, the command's process group is killed with a `docker exec` of `kill` as before, and the
next command starts a new runner. An image without python3 runs every command through `run_exec`.
"""

from __future__ import annotations

import hmac
import json
import queue
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from loopwright.sandboxes import runner_program as program
from loopwright.sandboxes.base import ExecResult, OutputCap
from loopwright.sandboxes.docker_exec import (
    HOST_MARGIN_S,
    KILL_GRACE_S,
    LINGER_S,
    LINGER_NOTE,
    WATCH_EVERY_S,
    CommandStop,
    kill_in_container,
    run_exec,
    validated_environment,
)

START_TIMEOUT_S = 30.0
"""How long a new runner has to say it is ready."""
DOCKER_HEADER = 8
"""Each piece of an attached, non-tty stream: stream number (1 stdout, 2 stderr), 3 zero bytes, length."""
RUNNER_ENDED_NOTE = "the sandbox's command runner ended during this command, which was stopped; the next command starts a new runner"
RUNNER_FORGED_NOTE = "the sandbox's command runner sent a malformed or forged frame; the command was stopped and the next command starts a new runner"


class Unavailable(Exception):
    """The runner could not start (no python3 in the image, or it never said it was ready)."""


@dataclass(frozen=True)
class Exited:
    code: int
    flags: int


class CommandRunner:
    """Runs commands as `sh -lc` would, in `workdir` of a container, through one long-lived runner process.

    The runner starts with the first command and again after one is lost; the container's removal ends it.
    """

    def __init__(self, api, container_id: str, workdir: str) -> None:
        self._api = api
        self._container_id = container_id
        self._workdir = workdir
        self._lock = threading.Lock()
        self._link: RunnerStream | None = None
        self._started_once = False
        self._unavailable = False
        self._next_id = 0

    def run(
        self,
        command: str,
        *,
        timeout_s: float,
        cap: OutputCap,
        env: dict[str, str] | None = None,
        watch: Callable[[], str | None] | None = None,
    ) -> ExecResult:
        """As `run_exec`: the command's result, its timeout always held, `watch` asked while it runs."""
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        env = validated_environment(env)
        with self._lock:
            link = self._ready_link()
            if link is None:
                return run_exec(self._api, self._container_id, command, timeout_s=timeout_s, cap=cap, env=env, watch=watch)
            return self._run(link, command, timeout_s, cap, env, CommandStop(watch))

    def _ready_link(self) -> RunnerStream | None:
        """The live runner, started when there is none; None when this container cannot have one."""
        if self._link is not None and self._link.alive:
            return self._link
        self._link = None
        if self._unavailable:
            return None
        try:
            self._link = self._start()
        except Unavailable:
            # A runner that worked before and cannot start again now: the next command tries again.
            self._unavailable = not self._started_once
            return None
        self._started_once = True
        return self._link

    def _start(self) -> RunnerStream:
        source = resources.files(program.__package__).joinpath("runner_program.py").read_bytes()
        exec_id = self._api.exec_create(
            self._container_id,
            ["python3", "-I", "-S", "-c", program.BOOTSTRAP, str(len(source))],
            stdin=True, stdout=True, stderr=True, tty=False, workdir="/",
        )["Id"]
        sock = self._api.exec_start(exec_id, socket=True)
        key = secrets.token_bytes(32)
        link = RunnerStream(sock, key)
        try:
            link.send_raw(source)
            link.send({"op": "hello", "key": key.hex()})
            link.wait_ready(START_TIMEOUT_S)
        except (OSError, Unavailable) as error:
            link.close()
            raise Unavailable(str(error)) from None
        return link

    def _run(self, link: RunnerStream, command: str, timeout_s: float, cap: OutputCap, env: dict[str, str], stop: CommandStop) -> ExecResult:
        self._next_id += 1
        ident = self._next_id
        started = time.monotonic()
        link.expect(ident, cap)
        request = {
            "op": "run", "id": ident, "command": command, "env": env, "cwd": self._workdir,
            "timeout": timeout_s, "grace": KILL_GRACE_S, "linger": LINGER_S,
        }
        try:
            outcome = self._wait(link, ident, request, started + timeout_s + KILL_GRACE_S + LINGER_S + HOST_MARGIN_S, stop)
        except BaseException:
            # Ctrl-C: the command must not outlive our interest in it.
            self._interrupt(link, ident)
            raise
        finally:
            link.expect(None, None)
        duration = time.monotonic() - started
        if isinstance(outcome, Exited):
            exit_code, timed_out = outcome.code, bool(outcome.flags & program.TIMED_OUT)
            if outcome.flags & program.LINGERED:
                cap.feed(LINGER_NOTE)
        else:
            self._abandon(link)
            timed_out = outcome == "deadline"
            exit_code = 124 if timed_out else -1
            if outcome == "ended":
                # Most often the container is gone, which is the caller's error to report.
                self._api.inspect_container(self._container_id)
            if outcome != "deadline":
                note = RUNNER_FORGED_NOTE if outcome == "malformed" else RUNNER_ENDED_NOTE
                cap.feed(f"\n[{note}]\n".encode())
        if stop.note:
            cap.feed(f"\n[{stop.note}]\n".encode())
            if exit_code == 0:
                exit_code = 1
        return ExecResult(exit_code=exit_code, output=cap.text(), duration_s=duration, timed_out=timed_out, truncated=cap.truncated)

    def _wait(self, link: RunnerStream, ident: int, request: dict, deadline: float, stop: CommandStop) -> Exited | str:
        """Sends `request`; the command's exit, or why we stopped waiting: `deadline`, or how the runner was lost."""
        try:
            link.send(request)
        except OSError:
            return "ended"
        stopping = False
        while True:
            event = link.next_event(ident, WATCH_EVERY_S)
            if event is not None:
                return event
            now = time.monotonic()
            if now >= deadline:
                return "deadline"
            if not stopping and stop.due():
                stopping = True
                try:
                    link.send({"op": "kill", "id": ident})
                except OSError:
                    return "ended"
                deadline = min(deadline, now + KILL_GRACE_S + HOST_MARGIN_S)

    def _interrupt(self, link: RunnerStream, ident: int) -> None:
        """Kill the command through the runner, or, when it does not answer quickly, from outside."""
        try:
            link.send({"op": "kill", "id": ident})
            give_up = time.monotonic() + KILL_GRACE_S
            while time.monotonic() < give_up:
                event = link.next_event(ident, 0.1)
                if isinstance(event, Exited):
                    return
                if event is not None:
                    break
        except OSError:
            pass
        self._abandon(link)

    def _abandon(self, link: RunnerStream) -> None:
        """End the runner and the command's group from outside; the next command starts a new runner."""
        kill_in_container(self._api, self._container_id, link.pgid, link.runner_pid)
        link.close()
        if self._link is link:
            self._link = None


class RunnerStream(threading.Thread):
    """The attached stream of one runner: requests out; frames in, checked, output fed to the command's cap.

    `sock` is the engine's hijacked connection (or any connected socket carrying the same bytes).
    """

    def __init__(self, sock, key: bytes) -> None:
        super().__init__(daemon=True, name="loopwright-runner-reader")
        self._sock = sock
        self._raw = getattr(sock, "_sock", sock)
        # The client's read timeout would end a quiet command's stream.
        self._raw.settimeout(None)
        self._key = key
        self._sequence = 0
        self._lock = threading.Lock()
        self._ident: int | None = None
        self._cap: OutputCap | None = None
        self._events: queue.Queue = queue.Queue()
        self.alive = True
        self.runner_pid: int | None = None
        self.pgid: int | None = None
        self.start()

    def send_raw(self, data: bytes) -> None:
        self._raw.sendall(data)

    def send(self, request: dict) -> None:
        body = json.dumps(request).encode()
        self._raw.sendall(program.REQUEST_HEADER.pack(len(body)) + body)

    def wait_ready(self, timeout_s: float) -> None:
        try:
            kind, *values = self._events.get(timeout=timeout_s)
        except queue.Empty:
            raise Unavailable("the command runner did not start in time") from None
        if kind != "ready":
            raise Unavailable("the command runner did not start")
        (self.runner_pid,) = values

    def expect(self, ident: int | None, cap: OutputCap | None) -> None:
        """Frames of command `ident` go to `cap` from now on; those of any other command are dropped."""
        with self._lock:
            self._ident, self._cap = ident, cap
            if ident is not None:
                self.pgid = None
        while ident is not None and not self._events.empty():
            event = self._events.get_nowait()
            if event[0] == "lost":
                self._events.put(event)
                break

    def next_event(self, ident: int, timeout_s: float) -> Exited | str | None:
        """The exit of command `ident`, `ended` / `malformed` when the runner is lost, or None after `timeout_s`."""
        try:
            kind, *values = self._events.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if kind == "lost":
            self._events.put((kind, *values))
            return values[0]
        if kind == "exit" and values[0] == ident:
            return Exited(values[1], values[2])
        return None

    def close(self) -> None:
        self.alive = False
        try:
            self._raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self._sock.close()
        except OSError:
            pass

    def run(self) -> None:
        reason = "ended"
        try:
            self._read()
        except _Malformed:
            reason = "malformed"
        except (OSError, ValueError):
            pass
        finally:
            self.close()
            self._events.put(("lost", reason))

    def _read(self) -> None:
        """Undoes the engine's stream multiplexing; stdout goes to the frame parser, stderr is dropped."""
        stream_bytes = bytearray()
        frames = bytearray()
        stream, left = 0, 0
        while True:
            data = self._raw.recv(1 << 17)
            if not data:
                return
            stream_bytes += data
            while stream_bytes:
                if left == 0:
                    if len(stream_bytes) < DOCKER_HEADER:
                        break
                    stream, left = stream_bytes[0], int.from_bytes(stream_bytes[4:8], "big")
                    if stream not in (1, 2) or stream_bytes[1:4] != b"\0\0\0":
                        raise _Malformed
                    del stream_bytes[:DOCKER_HEADER]
                    continue
                piece = stream_bytes[:left]
                del stream_bytes[:len(piece)]
                left -= len(piece)
                if stream == 1:
                    frames += piece
                    self._frames(frames)

    def _frames(self, buffer: bytearray) -> None:
        """Handles the whole frames at the start of `buffer` and removes them."""
        while len(buffer) >= program.HEADER.size:
            kind, ident, size = program.HEADER.unpack_from(buffer)
            if size != program.PAYLOAD_SIZES.get(kind, size) or size > program.MAX_OUTPUT or kind not in b"RSOX":
                raise _Malformed
            end = program.HEADER.size + size + program.TAG_SIZE
            if len(buffer) < end:
                return
            head = bytes(buffer[:program.HEADER.size])
            payload = bytes(buffer[program.HEADER.size:end - program.TAG_SIZE])
            expected = program.tag(self._key, self._sequence, head, payload)
            if not hmac.compare_digest(expected, bytes(buffer[end - program.TAG_SIZE:end])):
                raise _Malformed
            del buffer[:end]
            if (kind == b"R") != (self._sequence == 0):
                raise _Malformed
            self._sequence += 1
            self._dispatch(kind, ident, payload)

    def _dispatch(self, kind: bytes, ident: int, payload: bytes) -> None:
        if kind == b"R":
            version, pid = program.READY.unpack(payload)
            if version != program.VERSION or not 1 < pid < 1 << 22:
                raise _Malformed
            self._events.put(("ready", pid))
            return
        with self._lock:
            if ident != self._ident:
                return
            if kind == b"O" and self._cap is not None:
                self._cap.feed(payload)
            elif kind == b"S":
                (pgid,) = program.STARTED.unpack(payload)
                if self.pgid is not None or not 1 < pgid < 1 << 22:
                    raise _Malformed
                self.pgid = pgid
            else:
                code, flags = program.EXITED.unpack(payload)
                self._events.put(("exit", ident, code, flags))


class _Malformed(Exception):
    """A frame that is not what the runner sends: bad header, size or tag."""
