"""What a repository needs installed to run its tests, and a stable hash of it.

Only the requirement files travel into the install container, never the repository, and
local-path requirements (`-e .`, `./pkg`) are left out: the cached image holds third-party
packages only, so it stays valid while the project's own code changes.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from loopwright.sandboxes import hostfs

STAGING = "/tmp/loopwright-deps"
REQUIREMENT_GLOBS = ("requirements*.txt", "test-requirements*.txt", "requirements/*.txt")
TEST_EXTRAS = ("test", "tests", "testing", "dev")
PYPROJECT_REQUIREMENTS = ".pyproject-requirements.txt"
DEPS_REPOSITORY = "loopwright-deps"
FORMAT_VERSION = "1"
REQUIREMENTS_BYTES = 1 << 20
"""Larger requirement files are read as empty: the host reads nothing of unbounded size from the workspace."""
"""Bump when the install recipe changes, so images built by an older recipe are not reused."""

_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)(\s+|=)(\S+)")
_EDITABLE = re.compile(r"^(-e|--editable)(\s+|=)")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[([^\]]*)\])?")


@dataclass(frozen=True)
class DependencySpec:
    """Requirement files to install, as they will lie in the install container."""

    files: dict[str, bytes] = field(default_factory=dict)
    """Path relative to STAGING -> content, local-path requirements removed."""
    entry_points: tuple[str, ...] = ()
    """The files handed to pip with -r; the others are only included by them."""

    @classmethod
    def discover(cls, root: Path) -> DependencySpec | None:
        """The repository's test requirements, or None when it declares none."""
        files: dict[str, bytes] = {}
        entries: list[str] = []
        for pattern in REQUIREMENT_GLOBS:
            for path in sorted(root.glob(pattern)):
                if path.is_file() and not path.is_symlink():
                    relative = path.relative_to(root).as_posix()
                    if relative not in entries:
                        entries.append(relative)
                    _collect(root, path, files)
        pyproject = _pyproject_requirements(root, root / "pyproject.toml")
        if pyproject:
            files[PYPROJECT_REQUIREMENTS] = pyproject.encode()
            entries.append(PYPROJECT_REQUIREMENTS)
        if not entries:
            return None
        return cls(files=files, entry_points=tuple(entries))

    def image_tag(self, base_image_id: str) -> str:
        """`loopwright-deps:<hash12>`, changing with any requirement or with the base image."""
        digest = hashlib.sha256(f"{FORMAT_VERSION}\0{base_image_id}\0".encode())
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + self.files[name] + b"\0")
        digest.update("\0".join(self.entry_points).encode())
        return f"{DEPS_REPOSITORY}:{digest.hexdigest()[:12]}"

    def archive(self) -> bytes:
        """A tar of the staged files, to unpack at `/`."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name, content in sorted(self.files.items()):
                info = tarfile.TarInfo(str(PurePosixPath(STAGING.lstrip("/")) / name))
                info.size = len(content)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(content))
        return buffer.getvalue()

    def install_command(self) -> str:
        requirements = " ".join(f"-r '{STAGING}/{name}'" for name in self.entry_points)
        return (
            f"cd '{STAGING}' && python3 -m pip install --no-input --no-cache-dir "
            f"--progress-bar off {requirements}"
        )


def _collect(root: Path, path: Path, files: dict[str, bytes]) -> None:
    """Stage `path` and every requirement file it includes that lies inside `root`."""
    relative = path.relative_to(root).as_posix()
    if relative in files:
        return
    kept: list[str] = []
    files[relative] = b""
    for line in _logical_lines(hostfs.read_text(root, path, REQUIREMENTS_BYTES) or ""):
        include = _INCLUDE.match(line)
        if include:
            target = (path.parent / include.group(3)).resolve()
            if target.is_file() and not target.is_symlink() and target.is_relative_to(root.resolve()):
                _collect(root, root / target.relative_to(root.resolve()), files)
                kept.append(line)
            continue
        requirement = _EDITABLE.sub("", line)
        if _is_local(requirement):
            continue
        kept.append(requirement)
    files[relative] = ("\n".join(kept) + "\n").encode()


def _logical_lines(text: str) -> list[str]:
    joined = re.sub(r"\\\n", "", text)
    lines = []
    for line in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            lines.append(line)
    return lines


def _is_local(requirement: str) -> bool:
    return requirement.startswith((".", "/", "file:", "~")) or requirement in {".", ".."}


def _pyproject_requirements(root: Path, path: Path) -> str:
    """The project's dependencies plus its test extra, without the project itself."""
    text = hostfs.read_text(root, path, REQUIREMENTS_BYTES)
    if text is None:
        return ""
    try:
        project = tomllib.loads(text).get("project", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return ""
    if not isinstance(project, dict):
        return ""
    extras = project.get("optional-dependencies") or {}
    chosen = next((name for name in TEST_EXTRAS if name in extras), None)
    own_name = _normalize(str(project.get("name", "")))
    wanted: list[str] = []
    _expand(list(project.get("dependencies") or []), extras, own_name, wanted, set())
    if chosen:
        _expand(list(extras[chosen]), extras, own_name, wanted, {chosen})
    return "\n".join(wanted) + "\n" if wanted else ""


def _expand(
    requirements: list[str], extras: dict, own_name: str, wanted: list[str], seen: set[str]
) -> None:
    """Append requirements, replacing `own-project[extra]` by that extra's requirements."""
    for requirement in requirements:
        match = _NAME.match(str(requirement))
        if match and own_name and _normalize(match.group(1)) == own_name:
            for extra in (match.group(3) or "").split(","):
                extra = extra.strip()
                if extra and extra not in seen and extra in extras:
                    seen.add(extra)
                    _expand(list(extras[extra]), extras, own_name, wanted, seen)
            continue
        if str(requirement) not in wanted:
            wanted.append(str(requirement))


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
