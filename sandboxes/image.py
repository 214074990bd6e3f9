"""Builds the sandbox images from Debian packages alone, with no container registry.

`debootstrap` lays down a minimal Debian root filesystem from the host's apt mirror, the engine
imports it as a base image, and a small Dockerfile (shipped in `images/`) finishes it. One image per
Debian release gives one Python each (RELEASES); every image is also tagged by its Python
(`loopwright-sandbox:py3.9`), the name the environment setup looks for when a project needs that
Python. The bookworm image is the default, `loopwright-sandbox:latest`.

Public: `build_image`, `image_exists`, `python_tag`, PYTHON_LABEL (the releases and their Python: pyversions.RELEASES).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import docker.errors

from loopwright.sandboxes.base import SandboxError
from loopwright.sandboxes.docker import BASE_LABEL, connect
from loopwright.sandboxes.pyversions import RELEASES

DEFAULT_IMAGE = "loopwright-sandbox:latest"
BASE_REPOSITORY = "loopwright-rootfs"
SUITE = "bookworm"
PYTHON_LABEL = "loopwright.python"
"""On a sandbox image: its Python's major.minor version."""
PACKAGES = (
    "python3",
    "python3-pip",
    "python3-venv",
    "python3-pytest",
    "git",
    "ca-certificates",
    "coreutils",
    "procps",
)
DEB822_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
LEGACY_SOURCES = Path("/etc/apt/sources.list")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BUILD_TIMEOUT_S = 1800


def image_exists(tag: str = DEFAULT_IMAGE) -> bool:
    """Whether the engine has `tag`; raises SandboxError when the engine is not reachable."""
    client = connect()
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    finally:
        client.close()
    return True


def python_tag(image: str, python: str) -> str:
    """`loopwright-sandbox:py3.9` for image `loopwright-sandbox:<any tag>` and Python 3.9."""
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{repository}:py{python}"


def default_tag(release: str) -> str:
    """The tag `loopwright sandbox build --release` makes: `latest` for bookworm, else the Python's."""
    return DEFAULT_IMAGE if release == SUITE else python_tag(DEFAULT_IMAGE, RELEASES[release])


def find_mirror(
    deb822: Path = DEB822_SOURCES, legacy: Path = LEGACY_SOURCES, suite: str = SUITE
) -> str:
    """The Debian mirror the host's apt uses, preferring the entry that serves `suite` itself."""
    candidates: list[tuple[str, list[str]]] = []
    if deb822.is_file():
        for stanza in re.split(r"\n\s*\n", deb822.read_text()):
            fields = _deb822_fields(stanza)
            if "deb" in fields.get("types", "").split() and fields.get("uris"):
                candidates.append((fields["uris"].split()[0], fields.get("suites", "").split()))
    if legacy.is_file():
        for line in legacy.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb":
                candidates.append((words[1], [words[2]]))
    if not candidates:
        raise SandboxError(
            f"no Debian mirror found in {deb822} or {legacy}; pass one explicitly (--mirror URL)"
        )
    for uri, suites in candidates:
        if suite in suites:
            return uri
    return candidates[0][0]


def _deb822_fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in stanza.splitlines():
        if line.startswith("#") or ":" not in line or line[:1].isspace():
            continue
        key, value = line.split(":", 1)
        fields[key.strip().lower()] = value.strip()
    return fields


def build_image(
    tag: str | None = None,
    *,
    release: str = SUITE,
    mirror: str | None = None,
    progress: Callable[[str], None] = print,
) -> str:
    """Build `tag` (default: `default_tag(release)`) offline from the host's Debian mirror; returns the image's id.

    The image is also tagged by its Python (`python_tag`). Needs root (debootstrap creates device
    nodes and chowns files) and a reachable engine. Takes a few minutes; the root filesystem is
    built in a temporary folder and removed after.
    """
    if release not in RELEASES:
        known = ", ".join(RELEASES)
        raise SandboxError(f"unknown Debian release {release!r}; known: {known}")
    tag = tag or default_tag(release)
    python = RELEASES[release]
    if os.geteuid() != 0:
        raise SandboxError("building the sandbox image needs root (debootstrap); run it with sudo")
    if shutil.which("debootstrap") is None:
        raise SandboxError("debootstrap not found; install it (apt-get install debootstrap)")
    mirror = mirror or find_mirror(suite=release)
    client = connect(timeout=BUILD_TIMEOUT_S)
    base_tag = f"{BASE_REPOSITORY}:{release}"
    alias = python_tag(tag, python)
    previous = {found for name in (tag, alias) if (found := _image_id(client, name)) is not None}
    work = Path(tempfile.mkdtemp(prefix="loopwright-image-"))
    try:
        started = time.monotonic()
        build_rootfs(client, release, mirror, progress, work)
        progress(f"finishing {tag}")
        image_id = _finish_image(client, base_tag, tag, python, work / "context", progress)
        repository, _, alias_tag = alias.rpartition(":")
        client.images.get(image_id).tag(repository, alias_tag)
        also = f" (also {alias})" if alias != tag else ""
        progress(f"built {tag}{also} in {time.monotonic() - started:.0f}s")
        for old in previous - {image_id}:
            _remove_replaced(client, old)
        return image_id
    finally:
        _remove_tree(work, progress)
        client.close()


def build_rootfs(client, release: str, mirror: str | None, progress: Callable[[str], None], work: Path | None = None) -> str:
    """debootstrap `release` and import it as `loopwright-rootfs:<release>`, the base every sandbox image starts from."""
    if os.geteuid() != 0:
        raise SandboxError("building the sandbox image needs root (debootstrap); run it with sudo")
    if shutil.which("debootstrap") is None:
        raise SandboxError("debootstrap not found; install it (apt-get install debootstrap)")
    mirror = mirror or find_mirror(suite=release)
    base_tag = f"{BASE_REPOSITORY}:{release}"
    own = work is None
    work = work or Path(tempfile.mkdtemp(prefix="loopwright-rootfs-"))
    try:
        rootfs = work / "rootfs"
        started = time.monotonic()
        progress(f"debootstrap {release} from {mirror} (a few minutes)")
        _debootstrap(rootfs, mirror, release)
        progress(f"root filesystem ready in {time.monotonic() - started:.0f}s; importing as {base_tag}")
        _import_rootfs(client, rootfs, work / "rootfs.tar", base_tag)
        _remove_tree(rootfs, progress)
    finally:
        if own:
            _remove_tree(work, progress)
    return base_tag


def _debootstrap(rootfs: Path, mirror: str, release: str) -> None:
    command = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        release,
        str(rootfs),
        mirror,
    ]
    done = subprocess.run(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    if done.returncode != 0:
        raise SandboxError(f"debootstrap failed (exit {done.returncode}): {_tail(done.stdout)}")
    # Downloaded packages and index files are a third of the size and of no use inside.
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (rootfs / cache).glob("*"):
            if path.is_file() and not path.is_symlink():
                path.unlink()


def _import_rootfs(client, rootfs: Path, tarball: Path, base_tag: str) -> None:
    # GNU tar, not the tarfile module: it keeps hard links, device nodes and numeric owners
    # exactly as debootstrap made them.
    done = subprocess.run(
        ["tar", "--numeric-owner", "--xattrs", "--one-file-system", "-C", str(rootfs), "-cf", str(tarball), "."],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    if done.returncode != 0:
        raise SandboxError(f"packing the root filesystem failed: {_tail(done.stdout)}")
    repository, _, tag = base_tag.partition(":")
    client.api.import_image_from_file(str(tarball), repository=repository, tag=tag)
    tarball.unlink()


def _finish_image(client, base_tag: str, tag: str, python: str, context: Path, progress) -> str:
    context.mkdir()
    dockerfile = resources.files("loopwright.sandboxes").joinpath("images/Dockerfile.offline")
    (context / "Dockerfile").write_text(dockerfile.read_text())
    # The image trusts what the building machine trusts; read now, never stored in the repo.
    if not HOST_CA_BUNDLE.is_file():
        raise SandboxError(f"CA bundle {HOST_CA_BUNDLE} not found; install ca-certificates")
    shutil.copyfile(HOST_CA_BUNDLE, context / "ca.crt")
    try:
        image, logs = client.images.build(
            path=str(context),
            tag=tag,
            buildargs={"BASE": base_tag, "PYTHON": python},
            network_mode="none",
            rm=True,
            forcerm=True,
            labels={"loopwright.image": "sandbox"},
        )
    except docker.errors.BuildError as error:
        raise SandboxError(f"finishing the sandbox image failed: {error.msg}") from None
    for entry in logs:
        line = str(entry.get("stream", "")).strip()
        if line.startswith("Step "):
            progress(line)
    return image.id


def _image_id(client, tag: str) -> str | None:
    try:
        return client.images.get(tag).id
    except docker.errors.ImageNotFound:
        return None


def _remove_replaced(client, old_id: str) -> None:
    """Drop the image `tag` named before, with the dependency images built on it."""
    for derived in client.images.list(filters={"label": f"{BASE_LABEL}={old_id}"}):
        for name in derived.tags or [derived.id]:
            try:
                client.images.remove(name, force=True)
            except docker.errors.APIError:
                pass
    try:
        client.images.remove(old_id)
    except docker.errors.APIError:
        # Still used by a running session's container; the engine keeps it until then.
        pass


def _remove_tree(path: Path, progress: Callable[[str], None]) -> None:
    """Delete a build folder, first unmounting what debootstrap may have left mounted in it.

    An interrupted debootstrap can leave /proc or bind mounts of the host's /dev inside the
    root filesystem; deleting through those would delete host files.
    """
    for mount in sorted(_mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if _mounts_under(path):
        progress(f"left {path} in place: something is still mounted inside it")
        return
    shutil.rmtree(path, ignore_errors=True)


def _mounts_under(path: Path) -> list[str]:
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return []
    prefix = str(path.resolve())
    points = []
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), fields[1])
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return points


def _tail(text: str, lines: int = 5, width: int = 600) -> str:
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept)[-width:] or "(no output)"
