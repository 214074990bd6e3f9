"""The toolchains loopwright knows, by the language evidence.main_language names.

A language without one here (Python) goes the Python way: its image is the
Python sandbox image and its tests get the detected or configured command.

Public: `TOOLCHAINS`, `for_repository`, `language_image`.
"""

from __future__ import annotations

from pathlib import Path

from loopwright.sandboxes.toolchains.base import Toolchain
from loopwright.sandboxes.toolchains.cpp import Cpp
from loopwright.sandboxes.toolchains.evidence import main_language
from loopwright.sandboxes.toolchains.go import Go
from loopwright.sandboxes.toolchains.java import Java
from loopwright.sandboxes.toolchains.node import Node
from loopwright.sandboxes.toolchains.rust import Rust

TOOLCHAINS: dict[str, Toolchain] = {chain.language: chain for chain in (Go(), Rust(), Cpp(), Node(), Java())}
ALIASES = {"javascript": "node"}
"""Evidence's language -> the toolchain's name, where they differ (one Node toolchain serves JavaScript and TypeScript)."""


def for_repository(root: Path, language: str | None = None) -> Toolchain | None:
    """The toolchain of `language`, or of the repository's main language; None for Python and the languages without one."""
    name = language or main_language(root) or "python"
    return TOOLCHAINS.get(ALIASES.get(name, name))


def language_image(image: str, language: str) -> str:
    """`loopwright-sandbox:go` for the sandbox image `loopwright-sandbox:<any tag>`."""
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{repository}:{language}"
