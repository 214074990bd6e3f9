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
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import docker
import docker.errors
import requests

from loopwright.sandboxes.base import ExecResult, OutputCap, SandboxError
from loopwright.sandboxes.deps import STAGING, DependencySpec
from loopwright.sandboxes.docker_exec import run_exec

DEFAULT_IMAGE = "loopwright-sandbox:latest"
WORKDIR = "/workspace"
SESSION_LABEL = "loopwright.session"
OWNER_LABEL = "loopwright.owner"
BASE_LABEL = "loopwright.base"
"""On a dependency image: the id of the sandbox image it was built on."""
DEPS_MARKER = "/etc/loopwright/deps-session"
"""Written into a dependency image: the id of the session that installed it."""

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
    gain (`no-new-privileges`), and memory, process and CPU limits. It runs as the host
    user's uid:gid so files it writes in the repository stay the user's. When the host user
    is root it runs as root, because files the repository holds are root's and must stay
    writable; root inside has every capability dropped, so it cannot mount, change file
    owners, bypass file permissions on files it does not own, or use raw sockets.

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
            start_image = _require_image(self._client, image)
            if install_dependencies:
                spec = DependencySpec.discover(self.host_root)
                if spec is not None:
                    start_image = self._dependency_image(spec, start_image, setup_timeout_s)
            self._container = self._start(start_image, network=network, user=self._user)
        except BaseException:
            self.close()
            raise

    def exec(self, command: str, *, timeout_s: float, env: dict[str, str] | None = None) -> ExecResult:
        if self._closed or self._container is None:
            raise SandboxError("the sandbox is closed")
        try:
            return run_exec(
                self._client.api,
                self._container.id,
                command,
                timeout_s=timeout_s,
                env=env,
                cap=OutputCap(self.output_limit),
            )
        except (docker.errors.APIError, requests.RequestException) as error:
            # Most often the container is gone: removed from outside, or its engine stopped.
            raise SandboxError(f"sandbox command could not run: {_one_line(error)}") from None

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

    def _start(self, image: str, *, network: bool, user: str | None, mount: bool = True):
        ncpu = self._client.info().get("NCPU") or os.cpu_count() or 1
        options = dict(self._limits)
        options["nano_cpus"] = int(min(self._cpus, ncpu) * 1e9)
        if not network:
            options["network_mode"] = "none"
        if user is not None:
            options["user"] = user
        # HOME must be writable for tools that cache there; the host uid has no home inside.
        environment = {"HOME": "/tmp"} if user not in (None, "0", "0:0") else {}
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
        container = self._start(base_image, network=True, user="0:0", mount=False)
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
        result = run_exec(self._client.api, container.id, spec.install_command(), timeout_s=timeout_s, cap=cap)
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
