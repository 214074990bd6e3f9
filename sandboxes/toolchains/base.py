"""The seam between the sandbox and a language's toolchain: what one language declares, and the plan it makes
for one repository.

A `Toolchain` says which Debian packages make its offline image (and which registry Dockerfile makes it for
users with a registry), the image's environment for the agent phase (offline, caches under /tmp), and makes a
`ToolchainPlan` from a repository's files: the setup-phase commands (network on), the files whose contents
define the environment (its cache key), the build caches the agent phase starts from, and the test command.
The setup phase (langsetup.py) carries a plan out; envimage.py caches its result as an image.

Python has its own, richer path (envplan.py, envsetup.py); a language goes through this seam.

Public: `Toolchain`, `ToolchainPlan`, `SetupStep`, `read_defining`, HOME, WARM, WARM_SCRIPT, RECIPE_VERSION.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from loopwright.sandboxes import hostfs

RECIPE_VERSION = "1"
"""Bump when a toolchain's setup recipe changes, so environments an older one built are not reused."""
HOME = "/opt/loopwright"
WARM = f"{HOME}/warm"
"""Where the setup phase leaves its build caches (copies of folders under /tmp) for the agent phase."""
WARM_SCRIPT = f"{HOME}/warm.sh"
"""Run once as the agent phase starts: puts the caches back under /tmp, the one writable place besides the workspace."""
DEFINING_BYTES = 1 << 20
MAX_DEFINING_FILES = 200


@dataclass(frozen=True)
class SetupStep:
    """One command of the setup phase, run in the copy of the repository at /workspace."""

    name: str
    """What it does, in words (`download the modules`)."""
    command: str
    network: bool = True
    """Whether it fetches: its failure is then a fetch failure, and a result not to keep when it looks like the network's."""
    fallback: SetupStep | None = None
    """Run in its place when it fails for the network: a second source in the image (Rust's Debian crate registry).
    Its success stands for this step's, and it leaves behind (outside the workspace) what makes the agent phase use
    the same source."""
    lacks: str = ""
    """A regular expression over this command's output when it fails: each match's first group names something its
    source lacks (`rand = "^0.3"`), for the report."""


@dataclass(frozen=True)
class ToolchainPlan:
    language: str
    title: str
    """The language as a person names it (`Go`)."""
    steps: tuple[SetupStep, ...]
    test_command: str
    setup_env: dict[str, str] = field(default_factory=dict)
    """On top of the image's environment during the setup phase (the network on)."""
    agent_env: dict[str, str] = field(default_factory=dict)
    """Written into the environment image: the agent phase's environment (the network off)."""
    warm: tuple[str, ...] = ()
    """Folders under /tmp the setup phase fills (build caches) and the agent phase starts from."""
    defining: dict[str, bytes] = field(default_factory=dict)
    """Every file that shapes the environment, with its content: part of the cache key."""
    decisions: tuple[str, ...] = ()
    version_command: str = ""
    packages_command: str = ""
    """Lists what the setup phase fetched, one dependency a line."""

    def cache_key(self, base_image_id: str, setup_commands: tuple[str, ...] = ()) -> str:
        """12 hex digits that change with anything that changes what the setup phase would make."""
        digest = hashlib.sha256(f"{self.language}\0{RECIPE_VERSION}\0{base_image_id}\0".encode())
        for name in sorted(self.defining):
            digest.update(name.encode() + b"\0" + self.defining[name] + b"\0")
        for step in self.steps:
            digest.update(repr(step).encode())
        digest.update(repr(sorted(self.setup_env.items())).encode() + repr(sorted(self.agent_env.items())).encode())
        digest.update("\0".join(setup_commands).encode())
        return digest.hexdigest()[:12]


class Toolchain(Protocol):
    language: str
    """The key evidence.main_language gives (`go`, `rust`, `cpp`)."""
    title: str
    packages: tuple[str, ...]
    """Debian packages of the offline image, on top of the root filesystem's."""
    image_env: dict[str, str]
    """The image's environment: what every command in the agent phase runs with."""
    registry_dockerfile: str
    """The Dockerfile (in sandboxes/) that builds the image from the official one, for users with a registry."""
    image_warmup: str
    """A shell command the image build runs to fill the toolchain's caches under /tmp (Go compiles its standard
    library on first use), whose result every session starts from; "" for none."""
    image_warm: tuple[str, ...]
    """The folders under /tmp that command fills."""

    def plan(self, root: Path) -> ToolchainPlan:
        """The environment for `root`'s tests, from its files alone."""
        ...


def warm_name(folder: str) -> str:
    """The name under WARM of a cache folder under /tmp."""
    return folder.strip("/").replace("/", "_")


def warm_script(folders: list[str]) -> str:
    """The script (WARM_SCRIPT) that puts each of `folders` back under /tmp from its copy under WARM."""
    lines = ["#!/bin/sh", "# Puts the setup phase's build caches back under /tmp (the agent phase's root file system is read-only)."]
    lines += [f"[ -e {folder} ] || cp -a {WARM}/{warm_name(folder)} {folder} 2>/dev/null" for folder in folders]
    return "\n".join([*lines, "exit 0", ""])


def read_defining(root: Path, names: list[str]) -> dict[str, bytes]:
    """The contents of those of `names` (paths relative to `root`) that are files inside it, links not followed."""
    found: dict[str, bytes] = {}
    for name in names[:MAX_DEFINING_FILES]:
        try:
            found[name] = hostfs.read_bytes(root, root / name, DEFINING_BYTES)
        except OSError:
            continue
    return found
