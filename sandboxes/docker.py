"""The Docker sandbox: one long-lived, locked-down container per session.

The repository is bind-mounted read-write at /workspace; everything else the agent does
(processes, network, installed packages) stays inside the container, which is removed on
close, at interpreter exit, or by `cleanup_stale()` after a crash.

A session has two phases, like a person's set-up then work. The setup phase (envimage.py) runs
once per environment, with network, on a copy of the repository: it installs the project
editable with its test dependencies into a virtual environment, and is cached as an image. The
agent phase is this container, started from that image with the network off and the real
workspace mounted where the copy was, so the editable install imports the repository's own code.

Public: `DockerSandbox` (its `setup_report` says what the setup phase made), `connect`,
`cleanup_stale`.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker
import docker.errors
import docker.types
import requests

from loopwright.sandboxes.base import ExecResult, OutputCap, SandboxError
from loopwright.sandboxes.runner import CommandRunner
from loopwright.sandboxes.envimage import BASE_LABEL
from loopwright.sandboxes.storage import WorkspaceGuard, parse_size
from loopwright.sandboxes.toolchains.base import WARM_SCRIPT, Toolchain
from loopwright.sandboxes.toolchains.registry import for_repository

if TYPE_CHECKING:
    from loopwright.sandboxes.envreport import SetupReport

DEFAULT_IMAGE = "loopwright-sandbox:latest"
WORKDIR = "/workspace"
SESSION_LABEL = "loopwright.session"
OWNER_LABEL = "loopwright.owner"
GVISOR = "runsc"
SETUP_RUNTIME = "runc"
"""The setup phase needs the network, which gVisor registered with `--network=none` does not give;
it holds a copy of the repository, never the workspace itself."""
__all__ = ["BASE_LABEL", "DockerSandbox", "cleanup_stale", "connect"]

_live: dict[str, DockerSandbox] = {}
_live_lock = threading.Lock()


def connect(timeout: float = 60) -> docker.DockerClient:
    """A client for the engine named by the DOCKER_* environment, checked with a ping."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SandboxError(
            f"Docker engine not reachable: {reason}; start dockerd or use --sandbox local"
        ) from None
    return client


class DockerSandbox:
    """Commands run with `sh -lc` in /workspace of a container that outlives each command.

    The container has no network unless `network=True`, no Linux capabilities, no privilege
    gain (`no-new-privileges`), and memory, process and CPU limits. Its root file system is
    read-only, /tmp (also HOME) is a tmpfs and the workspace may grow by at most `storage`
    bytes (see storage.py), so what it can write to the host's disk is bounded. `runtime`
    picks the engine's container runtime: `runc`, or `runsc` (gVisor) to put a user-space
    kernel between the commands and the host's; `auto` takes runsc when the engine has it.

    It runs as the host user's uid:gid so files it writes in the repository stay the user's.
    When the host user is root it runs as root, because files the repository holds are root's
    and must stay writable; root inside has every capability dropped, so it cannot mount,
    change file owners, bypass file permissions on files it does not own, or use raw sockets.

    With `install_dependencies`, the setup phase (envimage.py) makes the project's test
    environment once, on the Python the project asks for (or `python`, such as "3.9"), running
    `setup_commands` after the installs, within `setup_timeout_s`; later sessions with the same
    dependency files start from its cached image (`fresh_environment` makes it anew).
    `setup_report` then says what was installed, what failed and why each choice; it is None
    when the setup phase was off. A Python that no image has is a SandboxError (one line).
    """

    host_root: Path
    workdir: str = WORKDIR
    _runner: CommandRunner | None = None

    def __init__(
        self,
        host_root: Path | str,
        *,
        image: str = DEFAULT_IMAGE,
        network: bool = False,
        memory: str = "2g",
        pids: int = 512,
        cpus: float = 2.0,
        install_dependencies: bool = True,
        output_limit: int = 64_000,
        user: str | None = None,
        setup_timeout_s: float = 900.0,
        progress: Callable[[str], None] | None = None,
        read_only_paths: Sequence[Path] = (),
        runtime: str = "runc",
        storage: str | int = "2g",
        python: str | None = None,
        commit_date: str = "",
        setup_commands: Sequence[str] = (),
        fresh_environment: bool = False,
        language: str | None = None,
    ) -> None:
        self.host_root = Path(host_root).resolve()
        if not self.host_root.is_dir():
            raise SandboxError(f"workspace {self.host_root} is not a directory")
        self.session_id = uuid.uuid4().hex[:12]
        self.output_limit = output_limit
        self.setup_report: SetupReport | None = None
        """What the setup phase made (None when it was off): the Python and why, what was installed, what failed."""
        self._session_image: str | None = None
        self._limits = {"mem_limit": memory, "memswap_limit": memory, "pids_limit": pids}
        self._storage = parse_size(storage)
        # /tmp lives in memory; at half of it, filling /tmp ends in "no space left" rather than the OOM killer.
        self._tmp_size = min(self._storage, parse_size(memory) // 2)
        self._cpus = cpus
        self._user = user if user is not None else _host_user()
        self._read_only = _inside(self.host_root, [self.host_root / ".git", *read_only_paths])
        self._progress = progress or (lambda _message: None)
        self._container = None
        self._closed = False
        self._client = connect()
        with _live_lock:
            _live[self.session_id] = self
        try:
            info = self._client.info()
            self._ncpu = info.get("NCPU") or os.cpu_count() or 1
            self.runtime = _choose_runtime(runtime, info.get("Runtimes") or {}, self._progress)
            """The container runtime the commands run under."""
            with ThreadPoolExecutor(1) as pool:
                # Measuring the workspace goes along with starting the container.
                guard = pool.submit(WorkspaceGuard, self.host_root, self._storage, self._read_only)
                chain = for_repository(self.host_root, language)
                if chain is not None:
                    start_image = self._language_environment(chain, image, tuple(setup_commands), setup_timeout_s, fresh_environment, install_dependencies)
                else:
                    start_image = _require_image(self._client, image)
                    if install_dependencies:
                        start_image = self._environment(start_image, python, commit_date, tuple(setup_commands), setup_timeout_s, fresh_environment)
                    elif python:
                        from loopwright.sandboxes.envimage import choose_python

                        start_image = choose_python(self._client, self.host_root, start_image, python)[0].candidate.image
                self._container = self._start(start_image, network=network, user=self._user, runtime=self.runtime)
                self._guard = guard.result()
                if chain is not None:
                    self._warm()
        except BaseException:
            self.close()
            raise

    @property
    def container_id(self) -> str:
        """The agent-phase container's id (for `docker exec` by a person, as `loopwright env shell` does)."""
        if self._container is None:
            raise SandboxError("the sandbox is closed")
        return self._container.id

    @property
    def deps_image(self) -> str | None:
        """The environment image the container started from, if the setup phase made one."""
        report = self.setup_report
        return report.image if report is not None and report.venv else None

    @property
    def deps_cached(self) -> bool:
        """Whether that image already existed, so nothing was installed this session."""
        return self.setup_report is not None and self.setup_report.cached

    def exec(self, command: str, *, timeout_s: float, env: dict[str, str] | None = None) -> ExecResult:
        if self._closed or self._container is None:
            raise SandboxError("the sandbox is closed")
        if self._runner is None:
            # One process in the container runs the session's commands (runner.py), started on first use.
            self._runner = CommandRunner(self._client.api, self._container.id, WORKDIR)
        watch = self._guard.watch()
        try:
            result = self._runner.run(
                command,
                timeout_s=timeout_s,
                env=env,
                cap=OutputCap(self.output_limit),
                watch=watch,
            )
        except (docker.errors.APIError, requests.RequestException) as error:
            # Most often the container is gone: removed from outside, or its engine stopped.
            raise SandboxError(f"sandbox command could not run: {_one_line(error)}") from None
        over = None if watch.note else self._guard.check(result.duration_s)
        if over is None:
            return result
        return replace(result, output=f"{result.output}\n[{over}]\n", exit_code=result.exit_code or 1)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with _live_lock:
            _live.pop(self.session_id, None)
        _remove_labelled(self._client, self.session_id)
        if self._session_image:
            _remove_image(self._client, self._session_image)
        self._client.close()

    def __enter__(self) -> DockerSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self, image: str, *, network: bool, user: str | None, runtime: str, mount: bool = True):
        """The session's container (`mount`: the workspace in, the rest read-only) or the setup container."""
        options = dict(self._limits)
        options["nano_cpus"] = int(min(self._cpus, self._ncpu) * 1e9)
        if not network:
            options["network_mode"] = "none"
        if user is not None:
            options["user"] = user
        environment = {}
        if mount:
            options["read_only"] = True
            options["tmpfs"] = {"/tmp": f"rw,exec,nosuid,nodev,size={self._tmp_size},mode=1777"}
            # HOME must be writable for tools that cache there, and only /tmp is.
            environment["HOME"] = "/tmp"
        try:
            return self._client.containers.run(
                image,
                ["sleep", "infinity"],
                detach=True,
                init=True,
                name=f"loopwright-{self.session_id}-{uuid.uuid4().hex[:4]}",
                labels={SESSION_LABEL: self.session_id, OWNER_LABEL: _owner_token()},
                volumes=self._volumes() if mount else {},
                working_dir=WORKDIR,
                environment=environment,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                runtime=runtime,
                # A process inside can write to PID 1's stdout (/proc/1/fd/1); with a log that would fill the host's disk.
                log_config=docker.types.LogConfig(type=docker.types.LogConfig.types.NONE),
                **options,
            )
        except docker.errors.DockerException as error:
            raise SandboxError(f"could not start the sandbox container: {_one_line(error)}") from None

    def _volumes(self) -> dict[str, dict[str, str]]:
        volumes = {str(self.host_root): {"bind": WORKDIR, "mode": "rw"}}
        # Host git reads this repository after the session (status, diffs, commits): a hook or a config
        # entry planted from inside the sandbox (core.fsmonitor, filters), or a `.git` file pointed
        # elsewhere, would run on the host. Git metadata is mounted read-only, shallowest first.
        for path in self._read_only:
            relative = path.relative_to(self.host_root).as_posix()
            volumes[str(path)] = {"bind": f"{WORKDIR}/{relative}", "mode": "ro"}
        return volumes

    def _environment(self, base: str, python: str | None, commit_date: str, commands: tuple[str, ...], timeout_s: float, fresh: bool) -> str:
        """The setup phase: the project's environment image, made now or found in the cache."""
        from loopwright.sandboxes.envimage import prepare

        made = prepare(
            self._client, self.host_root, image=base, python=python, commit_date=commit_date, setup_commands=commands, timeout_s=timeout_s, **self._setup_phase(fresh)
        )
        image = self._adopt(*made)
        for failure in made[1].failures:
            self._progress(f"setup: could not install {failure.line()}")
        return image

    def _language_environment(self, chain: Toolchain, image: str, commands: tuple[str, ...], timeout_s: float, fresh: bool, install: bool) -> str:
        """The setup phase of a language's toolchain (langenv.py); without it, the language's sandbox image as it is."""
        from loopwright.sandboxes.langenv import prepare_language, require_language_image

        if not install:
            return require_language_image(self._client, image, chain)
        made = prepare_language(self._client, self.host_root, chain, image=image, setup_commands=commands, timeout_s=timeout_s, **self._setup_phase(fresh))
        start_image = self._adopt(*made)
        for failure in made[1].failures:
            self._progress(f"setup: {failure.line()}")
        return start_image

    def _setup_phase(self, fresh: bool) -> dict[str, Any]:
        """What every setup phase is given: its container (network on, root, the setup runtime, a copy rather than the
        mount), the storage limit, the session, progress, whether to make the environment anew, the output cap."""
        return {
            "start": lambda name: self._start(name, network=True, user="0:0", runtime=SETUP_RUNTIME, mount=False),
            "storage": self._storage,
            "session_id": self.session_id,
            "progress": self._progress,
            "fresh": fresh,
            "output_limit": self.output_limit,
        }

    def _adopt(self, image: str, report: SetupReport, temporary: bool) -> str:
        """The setup phase's image and report become the session's; a temporary image goes with the session."""
        self.setup_report = report
        if temporary:
            self._session_image = image
        return image

    def _warm(self) -> None:
        """Put the setup phase's build caches back under /tmp (see toolchains.base.WARM_SCRIPT); none is no error."""
        self.exec(f"[ ! -x {WARM_SCRIPT} ] || {WARM_SCRIPT}", timeout_s=300)


def cleanup_stale(client: docker.DockerClient | None = None) -> list[str]:
    """Remove sandbox containers left by sessions of this machine whose process is gone.

    Returns the names removed. Containers of live sessions and of other machines sharing
    the engine are left alone.
    """
    own_client = client is None
    client = client or connect()
    removed: list[str] = []
    try:
        # The plain listing (labels included): inspecting each container would fail on one removed meanwhile.
        for container in client.api.containers(all=True, filters={"label": SESSION_LABEL}):
            host, _, process = (container.get("Labels") or {}).get(OWNER_LABEL, "").partition("/")
            if host != socket.gethostname() or not process or _process_alive(process):
                continue
            try:
                client.api.remove_container(container["Id"], force=True)
                removed.append((container.get("Names") or [container["Id"][:12]])[0].lstrip("/"))
            except docker.errors.APIError as error:
                # Gone already, or another session's cleanup is removing it right now (409 Conflict).
                if not isinstance(error, docker.errors.NotFound) and error.status_code != 409:
                    raise
    finally:
        if own_client:
            client.close()
    return removed


def _inside(root: Path, paths: Sequence[Path]) -> list[Path]:
    """The existing paths strictly inside `root` (links not followed), without repeats, shallowest first."""
    kept: list[Path] = []
    for path in paths:
        absolute = Path(os.path.abspath(path))
        if root in absolute.parents and os.path.lexists(absolute) and not absolute.is_symlink() and absolute not in kept:
            kept.append(absolute)
    return sorted(kept, key=lambda p: len(p.parts))


def _choose_runtime(wanted: str, registered: dict, progress: Callable[[str], None]) -> str:
    """`wanted` when the engine knows it; for `auto`, gVisor when registered, else runc with a warning."""
    if wanted == "auto":
        if GVISOR in registered:
            return GVISOR
        progress(f"warning: gVisor ({GVISOR}) is not registered with the Docker engine; the sandbox runs under runc")
        return "runc"
    if wanted not in registered:
        known = ", ".join(sorted(registered)) or "none"
        raise SandboxError(
            f"container runtime {wanted!r} is not registered with the Docker engine (it has: {known}); "
            f"install it and add it to the engine's daemon.json, or use --runtime runc"
        )
    return wanted


def _require_image(client: docker.DockerClient, image: str) -> str:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise SandboxError(f"sandbox image {image} not found; run `loopwright sandbox build`") from None
    return image


def _remove_image(client: docker.DockerClient, image: str) -> None:
    try:
        client.images.remove(image, force=True)
    except (docker.errors.DockerException, requests.RequestException):
        pass


def _remove_labelled(client: docker.DockerClient, session_id: str) -> None:
    """Remove every container of the session, including a half-finished setup phase."""
    try:
        containers = client.containers.list(all=True, filters={"label": f"{SESSION_LABEL}={session_id}"})
        for container in containers:
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
    except (docker.errors.DockerException, requests.RequestException):
        # Gone engine, nothing left to remove; cleanup_stale covers a later restart.
        pass


def _host_user() -> str | None:
    """uid:gid of the host user, or None (the image's root) when that is root or unknown."""
    if not hasattr(os, "getuid") or os.getuid() == 0:
        return None
    return f"{os.getuid()}:{os.getgid()}"


def _owner_token(pid: int | None = None) -> str:
    """host/pid:start-time; the start time tells a reused pid from the original process."""
    pid = pid or os.getpid()
    return f"{socket.gethostname()}/{pid}:{_start_time(pid)}"


def _start_time(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def _process_alive(process: str) -> bool:
    pid_text, _, started = process.partition(":")
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError):
        return True
    return _start_time(pid) == started


def _one_line(error: Exception) -> str:
    text = getattr(error, "explanation", None) or str(error)
    return str(text).splitlines()[0] if text else type(error).__name__


@atexit.register
def _close_all() -> None:
    with _live_lock:
        sandboxes = list(_live.values())
    for sandbox in sandboxes:
        sandbox.close()
