"""The Docker sandbox: one long-lived, locked-down container per session.

The repository is bind-mounted read-write at /workspace; everything else the agent does
(processes, network, installed packages) stays inside the container, which is removed on
close, at interpreter exit, or by `cleanup_stale()` after a crash.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import docker
import docker.errors
import docker.types
import requests

from loopwright.sandboxes.base import ExecResult, OutputCap, SandboxError
from loopwright.sandboxes.deps import STAGING, DependencySpec
from loopwright.sandboxes.docker_exec import run_exec
from loopwright.sandboxes.storage import WorkspaceGuard, parse_size, show_size

DEFAULT_IMAGE = "loopwright-sandbox:latest"
WORKDIR = "/workspace"
SESSION_LABEL = "loopwright.session"
OWNER_LABEL = "loopwright.owner"
BASE_LABEL = "loopwright.base"
"""On a dependency image: the id of the sandbox image it was built on."""
DEPS_MARKER = "/etc/loopwright/deps-session"
"""Written into a dependency image: the id of the session that installed it."""
GVISOR = "runsc"
SETUP_RUNTIME = "runc"
"""The dependency install needs the network, which gVisor registered with `--network=none` does not give;
it holds the requirement files only, never the workspace."""
LAYER_CHECK_EVERY_S = 2.0
"""How often the size of the install container's own layer is asked of the engine (it walks the layer)."""

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

    With `install_dependencies`, the repository's test requirements are installed once into
    an image `loopwright-deps:<hash>` (with network, the only time the network is on unless
    asked) that later sessions with the same requirement files start from.
    """

    host_root: Path
    workdir: str = WORKDIR

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
    ) -> None:
        self.host_root = Path(host_root).resolve()
        if not self.host_root.is_dir():
            raise SandboxError(f"workspace {self.host_root} is not a directory")
        self.session_id = uuid.uuid4().hex[:12]
        self.output_limit = output_limit
        self.deps_image: str | None = None
        """The dependency image the container started from, if any."""
        self.deps_cached = False
        """Whether that image already existed, so nothing was installed this session."""
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
                start_image = _require_image(self._client, image)
                if install_dependencies:
                    spec = DependencySpec.discover(self.host_root)
                    if spec is not None:
                        start_image = self._dependency_image(spec, start_image, setup_timeout_s)
                self._container = self._start(start_image, network=network, user=self._user, runtime=self.runtime)
                self._guard = guard.result()
        except BaseException:
            self.close()
            raise

    def exec(self, command: str, *, timeout_s: float, env: dict[str, str] | None = None) -> ExecResult:
        if self._closed or self._container is None:
            raise SandboxError("the sandbox is closed")
        watch = self._guard.watch()
        try:
            result = run_exec(
                self._client.api,
                self._container.id,
                command,
                timeout_s=timeout_s,
                env=env,
                cap=OutputCap(self.output_limit),
                watch=watch,
            )
        except (docker.errors.APIError, requests.RequestException) as error:
            # Most often the container is gone: removed from outside, or its engine stopped.
            raise SandboxError(f"sandbox command could not run: {_one_line(error)}") from None
        over = None if watch.note else self._guard.check()
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

    def _dependency_image(self, spec: DependencySpec, base_image: str, timeout_s: float) -> str:
        base_id = self._client.images.get(base_image).id
        tag = spec.image_tag(base_id)
        self.deps_image = tag
        try:
            self._client.images.get(tag)
            self.deps_cached = True
            return tag
        except docker.errors.ImageNotFound:
            pass
        self._progress(f"installing the project's test dependencies into {tag} (cached for later runs)")
        # The repository stays out of this networked container; only requirement files go in.
        container = self._start(base_image, network=True, user="0:0", runtime=SETUP_RUNTIME, mount=False)
        try:
            self._install(container, spec, tag, base_id, timeout_s)
        except docker.errors.APIError as error:
            raise SandboxError(f"installing test dependencies failed: {_one_line(error)}") from None
        finally:
            container.remove(force=True)
        return tag

    def _install(self, container, spec: DependencySpec, tag: str, base_id: str, timeout_s: float) -> None:
        """pip install in the setup container, then commit it as the dependency image `tag`."""
        container.put_archive("/", spec.archive())
        cap = OutputCap(self.output_limit)
        watch = _LayerWatch(self._client.api, container.id, self._storage)
        result = run_exec(self._client.api, container.id, spec.install_command(), timeout_s=timeout_s, cap=cap, watch=watch)
        if watch.over or watch.measure():
            raise SandboxError(f"installing test dependencies failed: {watch.over}")
        if result.exit_code != 0 or result.timed_out:
            status = "timed out" if result.timed_out else f"exit {result.exit_code}"
            raise SandboxError(f"installing test dependencies failed ({status}): {_tail(result.output)}")
        finish = (
            f"mkdir -p {os.path.dirname(DEPS_MARKER)} && echo {self.session_id} > {DEPS_MARKER}"
            f" && rm -rf {STAGING}"
        )
        run_exec(self._client.api, container.id, finish, timeout_s=30, cap=OutputCap(4096))
        repository, _, hash12 = tag.partition(":")
        container.commit(
            repository=repository,
            tag=hash12,
            changes=[f"LABEL loopwright.deps={hash12}", f"LABEL {BASE_LABEL}={base_id}"],
        )


def cleanup_stale(client: docker.DockerClient | None = None) -> list[str]:
    """Remove sandbox containers left by sessions of this machine whose process is gone.

    Returns the names removed. Containers of live sessions and of other machines sharing
    the engine are left alone.
    """
    own_client = client is None
    client = client or connect()
    removed: list[str] = []
    try:
        for container in client.containers.list(all=True, filters={"label": SESSION_LABEL}):
            host, _, process = container.labels.get(OWNER_LABEL, "").partition("/")
            if host != socket.gethostname() or not process or _process_alive(process):
                continue
            try:
                container.remove(force=True)
                removed.append(container.name)
            except docker.errors.NotFound:
                pass
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


class _LayerWatch:
    """Watch for the install container: says when its own layer outgrows the storage limit."""

    def __init__(self, api, container_id: str, limit: int) -> None:
        self._api = api
        self._id = container_id
        self._limit = limit
        self._next = 0.0
        self.over: str | None = None

    def __call__(self) -> str | None:
        """The check as a running command's watch: at most every LAYER_CHECK_EVERY_S."""
        if time.monotonic() >= self._next:
            self.measure()
            self._next = time.monotonic() + LAYER_CHECK_EVERY_S
        return self.over

    def measure(self) -> str | None:
        listed = self._api.containers(all=True, size=True, filters={"id": self._id})
        written = (listed[0].get("SizeRw") or 0) if listed else 0
        if written > self._limit:
            self.over = f"the install wrote {show_size(written)}, over the storage limit of {show_size(self._limit)}"
        return self.over


def _require_image(client: docker.DockerClient, image: str) -> str:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise SandboxError(f"sandbox image {image} not found; run `loopwright sandbox build`") from None
    return image


def _remove_labelled(client: docker.DockerClient, session_id: str) -> None:
    """Remove every container of the session, including a half-finished dependency install."""
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


def _tail(text: str, lines: int = 6, width: int = 700) -> str:
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept)[-width:] or "(no output)"


def _one_line(error: Exception) -> str:
    text = getattr(error, "explanation", None) or str(error)
    return str(text).splitlines()[0] if text else type(error).__name__


@atexit.register
def _close_all() -> None:
    with _live_lock:
        sandboxes = list(_live.values())
    for sandbox in sandboxes:
        sandbox.close()
