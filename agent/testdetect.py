"""Guess the command that runs a project's tests when the user gave none, from evidence: the project's
main language (sandboxes/toolchains/evidence.py counts its source files, with manifests and lockfiles at the
root as extra weight).

A language with a toolchain (Go, Rust, C/C++, JavaScript/TypeScript) gets its toolchain's command, whose output
loopwright reads into per-test results (`go test -json`, libtest's lines, CTest's JUnit report, Jest's JSON). A
Python project that ships a package.json for its docs tooling is still a Python project; the `test` script is
the answer only when JavaScript or TypeScript is what the project is written in and it has one.
"""

from __future__ import annotations

import json
from pathlib import Path

from loopwright.sandboxes import hostfs
from loopwright.sandboxes.toolchains.evidence import language_evidence, main_language
from loopwright.sandboxes.toolchains.go import TEST_COMMAND as GO
from loopwright.sandboxes.toolchains.registry import for_repository
from loopwright.sandboxes.toolchains.rust import TEST_COMMAND as CARGO

__all__ = ["CARGO", "GO", "PYTEST", "detect", "language_evidence", "main_language"]

MANIFEST_BYTES = 1 << 20
PYTEST = "python3 -m pytest -q -rfE --tb=short -p no:cacheprovider"


def detect(root: Path) -> str:
    language = main_language(root)
    if language == "javascript" and not _npm_test_script(root):
        return PYTEST
    chain = for_repository(root, language) if language else None
    if chain is not None:
        return chain.plan(root).test_command
    return PYTEST


def _npm_test_script(root: Path) -> bool:
    if not (root / "package.json").is_file():
        return False
    try:
        scripts = json.loads(hostfs.read_text(root, root / "package.json", MANIFEST_BYTES) or "{}").get("scripts", {})
    except (ValueError, AttributeError, OSError):
        return False
    return isinstance(scripts, dict) and "test" in scripts
